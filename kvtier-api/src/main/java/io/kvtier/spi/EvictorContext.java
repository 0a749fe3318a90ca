package io.kvtier.spi;

/**
 * What a tier's evictor is created with.
 *
 * @param tierName the tier's name
 * @param tierOrdinal the tier's position, 0 for the top
 * @param capacityPages the tier's capacity
 * @param blocks read-only view of block attributes
 */
public record EvictorContext(
    String tierName, int tierOrdinal, long capacityPages, BlockView blocks) {}
