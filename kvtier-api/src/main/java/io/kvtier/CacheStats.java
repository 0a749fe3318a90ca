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
 * @param links page copies per link (source tier, destination tier): the links that moved at least
 *     one page, ordered by source and then destination tier
 */
public record CacheStats(
    long lookups,
    long requestedTokens,
    long hitTokens,
    long cachedBlocks,
    long evictedBlocks,
    int activeLeases,
    int metadataBytesPerBlock,
    List<TierStats> tiers,
    List<LinkStats> links) {

  /**
   * Copies the lists.
   *
   * @throws NullPointerException when {@code tiers} or {@code links} is null
   */
  public CacheStats {
    tiers = List.copyOf(tiers);
    links = List.copyOf(links);
  }

  /**
   * Counters without link statistics (no page has moved between tiers).
   *
   * @param lookups requests acquired
   * @param requestedTokens tokens those requests carried
   * @param hitTokens leading tokens they found cached
   * @param cachedBlocks blocks in the prefix index now
   * @param evictedBlocks blocks evicted from the index since it was built
   * @param activeLeases leases open now
   * @param metadataBytesPerBlock index metadata per cached block
   * @param tiers each tier's occupancy, in builder order
   */
  public CacheStats(
      long lookups,
      long requestedTokens,
      long hitTokens,
      long cachedBlocks,
      long evictedBlocks,
      int activeLeases,
      int metadataBytesPerBlock,
      List<TierStats> tiers) {
    this(
        lookups,
        requestedTokens,
        hitTokens,
        cachedBlocks,
        evictedBlocks,
        activeLeases,
        metadataBytesPerBlock,
        tiers,
        List.of());
  }

  /**
   * The copies over one link.
   *
   * @param from the source tier's name
   * @param to the destination tier's name
   * @return its statistics, all zero when no page has moved over it
   */
  public LinkStats link(String from, String to) {
    for (LinkStats l : links) {
      if (l.from().equals(from) && l.to().equals(to)) {
        return l;
      }
    }
    return new LinkStats(from, to, 0, 0, 0);
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
