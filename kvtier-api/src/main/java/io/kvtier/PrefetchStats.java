package io.kvtier;

/**
 * What the {@link io.kvtier.spi.PrefetchPolicy prefetch policy}'s copies into the top tier did,
 * since the cache was built. A prefetched page is <em>unused</em> from when its copy lands until a
 * request matches its block (then it counts as used) or the top tier evicts it first (then it
 * counts as wasted).
 *
 * @param pages pages copied into the top tier by prefetches
 * @param used of those, pages a request matched before they left the top tier
 * @param wasted of those, pages the top tier evicted before any request matched them
 * @param wastedBytes the bytes of the wasted pages
 * @param skipped pages a prefetch left in the lower tier: over the cap on unused prefetched pages,
 *     or no room in the top tier without evicting a block used more recently than the prefetched
 *     path
 * @param unused prefetched pages in the top tier now that no request has matched yet
 */
public record PrefetchStats(
    long pages, long used, long wasted, long wastedBytes, long skipped, long unused) {

  /** No prefetch so far. */
  public static final PrefetchStats NONE = new PrefetchStats(0, 0, 0, 0, 0, 0);
}
