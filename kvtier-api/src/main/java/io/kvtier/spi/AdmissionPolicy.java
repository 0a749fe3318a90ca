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
   * TinyLFU's doorkeeper for slow tiers: admits a block into tier {@code fromTier} or below only
   * when a frequency sketch (Count-Min, 4-bit counters, halved as it ages) estimates that its
   * content was used at least {@code minUses} times, counting the uses of its earlier lives in the
   * cache: each time a block is offered to tier {@code fromTier}, its key counts once plus once per
   * hit it had. So a one-hit block (computed, never reused, evicted) is not written to NVMe, while
   * the same content computed again is, on its second eviction. Unlike {@link #afterHits(int)}, the
   * count survives the block leaving the cache. Tiers above {@code fromTier} admit everything. Each
   * call returns a fresh filter with its own sketch (about 4 MiB); a filter may serve one cache.
   *
   * @param fromTier the first tier it filters (1 for the tier below the top)
   * @param minUses uses needed, 1 to 15 (1 admits everything)
   * @return the policy
   * @throws IllegalArgumentException for a tier below 1 or uses out of range
   */
  static AdmissionPolicy frequencySketch(int fromTier, int minUses) {
    if (fromTier < 1) {
      throw new IllegalArgumentException("fromTier must be at least 1, was " + fromTier);
    }
    if (minUses < 1 || minUses > 15) {
      throw new IllegalArgumentException("minUses must be in [1, 15], was " + minUses);
    }
    return KvTierProvider.get().frequencySketch(fromTier, minUses);
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
