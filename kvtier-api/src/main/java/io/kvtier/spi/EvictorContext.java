package io.kvtier.spi;

/**
 * What a tier's evictor is created with.
 *
 * @param tierName the tier's name
 * @param tierOrdinal the tier's position, 0 for the top
 * @param capacityPages the tier's capacity
 * @param blocks read-only view of block attributes
 * @param tierCount how many tiers the cache has: the tier at {@code tierCount - 1} is the last,
 *     whose evictions drop blocks rather than demote them
 */
public record EvictorContext(
    String tierName, int tierOrdinal, long capacityPages, BlockView blocks, int tierCount) {

  /** Validates the tier's position. */
  public EvictorContext {
    if (tierOrdinal < 0 || tierOrdinal >= tierCount) {
      throw new IllegalArgumentException(
          "tier ordinal " + tierOrdinal + " outside [0, " + tierCount + ")");
    }
  }

  /**
   * A context for the last tier of a cache of {@code tierOrdinal + 1} tiers.
   *
   * @param tierName the tier's name
   * @param tierOrdinal the tier's position, 0 for the top
   * @param capacityPages the tier's capacity
   * @param blocks read-only view of block attributes
   */
  public EvictorContext(String tierName, int tierOrdinal, long capacityPages, BlockView blocks) {
    this(tierName, tierOrdinal, capacityPages, blocks, tierOrdinal + 1);
  }

  /**
   * Whether this tier is the cache's last: an eviction there drops the block.
   *
   * @return true for the last tier
   */
  public boolean lastTier() {
    return tierOrdinal == tierCount - 1;
  }
}
