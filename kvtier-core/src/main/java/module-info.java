/**
 * The kvtier engine. Exports nothing: applications reach it through {@code io.kvtier.api}, which
 * finds it as a {@link io.kvtier.spi.KvTierProvider}.
 */
module io.kvtier.core {
  requires io.kvtier.api;

  provides io.kvtier.spi.KvTierProvider with
      io.kvtier.core.CoreProvider;
}
