package io.kvtier;

import java.util.List;

/**
 * Counters of a cache since it was built, and its occupancy now.
 *
 * @param lookups requests acquired
 * @param requestedTokens tokens those requests carried
 * @param hitTokens leading tokens they found cached
 * @param cachedBlocks blocks in the prefix index now
 * @param evictedBlocks blocks evicted from the index since it was built
 * @param activeLeases leases open now
 * @param metadataBytesPerBlock index metadata per cached block, excluding token ids and page bytes
 * @param tiers each tier's occupancy, in builder order
 */
public record CacheStats(
    long lookups,
    long requestedTokens,
    long hitTokens,
    long cachedBlocks,
    long evictedBlocks,
    int activeLeases,
    int metadataBytesPerBlock,
    List<TierStats> tiers) {

  /**
   * Copies the tier list.
   *
   * @throws NullPointerException when {@code tiers} is null
   */
  public CacheStats {
    tiers = List.copyOf(tiers);
  }

  /**
   * Fraction of requested tokens that were found cached.
   *
   * @return hitTokens / requestedTokens, or 0 before the first lookup
   */
  public double tokenHitRate() {
    return requestedTokens == 0 ? 0.0 : (double) hitTokens / requestedTokens;
  }
}
