/**
 * kvtier's public API: the engine-facing cache types ({@code io.kvtier}), the plug-in SPIs for
 * tiers and policies ({@code io.kvtier.spi}) and the event types ({@code io.kvtier.event}).
 *
 * <p>The engine itself lives in {@code io.kvtier.core}, found at run time through {@link
 * io.kvtier.spi.KvTierProvider}.
 */
module io.kvtier.api {
  exports io.kvtier;
  exports io.kvtier.spi;
  exports io.kvtier.event;

  uses io.kvtier.spi.KvTierProvider;
}
