package io.kvtier.spi;

/**
 * Whether a block may enter a lower tier (on demotion or write-through). The top tier admits
 * everything the engine computes.
 */
@FunctionalInterface
public interface AdmissionPolicy {

  /**
   * Decides.
   *
   * @param tierOrdinal the tier the block would enter
   * @param block the block id
   * @param blocks the block view
   * @return true to admit
   */
  boolean admit(int tierOrdinal, int block, BlockView blocks);

  /**
   * Admits everything.
   *
   * @return the policy
   */
  static AdmissionPolicy always() {
    return (tier, block, blocks) -> true;
  }

  /**
   * Admits blocks that were hit at least {@code k} times: a frequency filter that keeps one-hit
   * blocks out of slow tiers.
   *
   * @param k hits required, at least 1
   * @return the policy
   */
  static AdmissionPolicy afterHits(int k) {
    if (k < 1) {
      throw new IllegalArgumentException("k must be at least 1, was " + k);
    }
    return (tier, block, blocks) -> blocks.hits(block) >= k;
  }

  /**
   * Admits blocks of at least the given retention priority.
   *
   * @param minPriority 0 to 100
   * @return the policy
   */
  static AdmissionPolicy minPriority(int minPriority) {
    if (minPriority < 0 || minPriority > 100) {
      throw new IllegalArgumentException("minPriority must be in [0, 100], was " + minPriority);
    }
    return (tier, block, blocks) -> blocks.priority(block) >= minPriority;
  }
}
