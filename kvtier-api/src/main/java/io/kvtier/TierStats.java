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
    boolean degraded) {}
