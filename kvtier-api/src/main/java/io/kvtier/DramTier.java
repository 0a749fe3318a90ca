package io.kvtier;

import io.kvtier.spi.KvTierProvider;
import io.kvtier.spi.TierSpec;

/** Host DRAM tiers, off the Java heap. */
public final class DramTier {
  private DramTier() {}

  /**
   * Off-heap host memory of {@code capacityBytes}, allocated when the cache is built and sliced
   * into pages. Larger than 2 GiB is fine.
   *
   * @param capacityBytes bytes of page memory
   * @return the tier
   */
  public static TierSpec offHeap(long capacityBytes) {
    return offHeap("dram", capacityBytes);
  }

  /**
   * A named off-heap DRAM tier.
   *
   * @param name the tier's name in stats and events
   * @param capacityBytes bytes of page memory
   * @return the tier
   */
  public static TierSpec offHeap(String name, long capacityBytes) {
    if (capacityBytes <= 0) {
      throw new IllegalArgumentException("capacityBytes must be positive, was " + capacityBytes);
    }
    return KvTierProvider.get().dram(name, capacityBytes);
  }
}
