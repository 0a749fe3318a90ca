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
 */
public record TierStats(
    String name,
    TierKind kind,
    int pageBytes,
    long capacityPages,
    long usedPages,
    long freeRuns,
    long largestFreeRun,
    long evictions) {}
