package io.kvtier.spi;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * How the cache treats agent hints and quotas, as {@link io.kvtier.KvCacheBuilder#warmPrefixes} and
 * {@link io.kvtier.KvCacheBuilder#tenantQuota(long, int)} set them.
 *
 * <p>Warm prefixes (the prefix sibling sub-agents of one type share, see {@link
 * io.kvtier.Request#agent(String)}, and the prefixes of expected workflow steps, see {@link
 * io.kvtier.KvCache#expect(String, java.util.List)}) are held with <em>soft pins</em>: a pin keeps
 * a prefix in the top tier under any eviction policy, the pinned prefixes together hold at most
 * {@code warmBlocks} blocks (the nearest steps first), each pin ends {@code warmTtl} after the hint
 * that last refreshed it, and a pin gives way, least urgent first, whenever an allocation finds
 * nothing else to evict. So hints can never make a request fail for lack of pages.
 *
 * @param warmBlocks the most blocks soft pins may hold, counted as the sum of the pinned prefixes'
 *     lengths; 0 turns warm prefixes off; {@link #DEFAULT_WARM_BLOCKS} for a quarter of the top
 *     tier
 * @param warmTtl how long a soft pin lasts after its last refresh, positive
 * @param tenantQuotas per tenant salt, the most top-tier pages charged to that tenant
 */
public record HintConfig(int warmBlocks, Duration warmTtl, Map<Long, Integer> tenantQuotas) {

  /** {@code warmBlocks} value for a quarter of the top tier's pages. */
  public static final int DEFAULT_WARM_BLOCKS = -1;

  /**
   * The default {@code warmTtl}: one hour. A sub-agent type's prefix is asked for again whenever
   * the parent launches that type again, which in real Claude Code sessions came from seconds to
   * hours later (13 min to 4.5 h for 10 of the 36 sibling pairs); the cap on warm blocks, not the
   * TTL, bounds what the pins cost.
   */
  public static final Duration DEFAULT_WARM_TTL = Duration.ofHours(1);

  /**
   * Validates the values and copies the map.
   *
   * @throws IllegalArgumentException for a negative cap other than the default, a non-positive
   *     duration, or a negative quota
   * @throws NullPointerException when the duration or the map is null
   */
  public HintConfig {
    Objects.requireNonNull(warmTtl, "warmTtl");
    if (warmBlocks < 0 && warmBlocks != DEFAULT_WARM_BLOCKS) {
      throw new IllegalArgumentException("warmBlocks must not be negative, was " + warmBlocks);
    }
    if (warmTtl.isNegative() || warmTtl.isZero()) {
      throw new IllegalArgumentException("warmTtl must be positive, was " + warmTtl);
    }
    tenantQuotas = Map.copyOf(tenantQuotas);
    for (Map.Entry<Long, Integer> e : tenantQuotas.entrySet()) {
      if (e.getValue() < 0) {
        throw new IllegalArgumentException(
            "the quota of tenant salt "
                + e.getKey()
                + " must not be negative, was "
                + e.getValue());
      }
    }
  }

  /**
   * Warm prefixes on a quarter of the top tier for ten minutes; no quotas.
   *
   * @return the defaults
   */
  public static HintConfig defaults() {
    return new HintConfig(DEFAULT_WARM_BLOCKS, DEFAULT_WARM_TTL, Map.of());
  }
}
