package io.kvtier;

import io.kvtier.spi.TierKind;

/**
 * One tier's occupancy at a moment.
 *
 * @param name the tier's name
 * @param kind what kind of memory it is
 * @param pageBytes bytes per page
 * @param capacityPages pages it can hold
 * @param usedPages pages allocated
 * @param freeRuns maximal runs of consecutive free pages
 * @param largestFreeRun pages in the longest free run
 * @param evictions blocks evicted from the tier since it opened
 * @param hitBlocks matched blocks whose fastest copy was in this tier
 * @param bytesIn bytes copied into the tier (onboarding, demotion, write-through)
 * @param bytesOut bytes copied out of the tier
 * @param errors I/O errors and failed verifications
 * @param degraded whether the cache stopped using the tier after errors
 * @param movedPages pages copied from one slot of the tier to another since it opened, to give a
 *     lease (a speculative branch, or a long prompt in a full tier) one run of consecutive slots or
 *     to move kept branch pages out of the way of a freed run; the cost of whole free runs
 */
public record TierStats(
    String name,
    TierKind kind,
    int pageBytes,
    long capacityPages,
    long usedPages,
    long freeRuns,
    long largestFreeRun,
    long evictions,
    long hitBlocks,
    long bytesIn,
    long bytesOut,
    long errors,
    boolean degraded,
    long movedPages) {

  /**
   * Occupancy without the moved-pages count (0).
   *
   * @param name the tier's name
   * @param kind what kind of memory it is
   * @param pageBytes bytes per page
   * @param capacityPages pages it can hold
   * @param usedPages pages allocated
   * @param freeRuns maximal runs of consecutive free pages
   * @param largestFreeRun pages in the longest free run
   * @param evictions blocks evicted from the tier since it opened
   * @param hitBlocks matched blocks whose fastest copy was in this tier
   * @param bytesIn bytes copied into the tier
   * @param bytesOut bytes copied out of the tier
   * @param errors I/O errors and failed verifications
   * @param degraded whether the cache stopped using the tier after errors
   */
  public TierStats(
      String name,
      TierKind kind,
      int pageBytes,
      long capacityPages,
      long usedPages,
      long freeRuns,
      long largestFreeRun,
      long evictions,
      long hitBlocks,
      long bytesIn,
      long bytesOut,
      long errors,
      boolean degraded) {
    this(
        name,
        kind,
        pageBytes,
        capacityPages,
        usedPages,
        freeRuns,
        largestFreeRun,
        evictions,
        hitBlocks,
        bytesIn,
        bytesOut,
        errors,
        degraded,
        0);
  }
}
