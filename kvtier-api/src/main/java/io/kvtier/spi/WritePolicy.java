package io.kvtier.spi;

/**
 * When a block computed in the top tier is copied to the tier below it.
 *
 * <ul>
 *   <li>{@link #writeBack()}: only when the top tier evicts it (demotion), if the {@link
 *       AdmissionPolicy} admits it; otherwise it is discarded.
 *   <li>{@link #writeThrough()}: as soon as it is committed, asynchronously, so that eviction from
 *       the top tier later is a cheap drop.
 *   <li>{@link #writeThroughAfterHits(int)}: once it has been hit {@code k} times (a frequency
 *       filter: one-hit blocks never cost a lower-tier write until they are evicted).
 * </ul>
 *
 * @param mode the mode
 * @param hits for {@link Mode#AFTER_HITS}, the hits that trigger the copy
 */
public record WritePolicy(Mode mode, int hits) {

  /** The modes. */
  public enum Mode {
    /** Copy down on eviction only. */
    WRITE_BACK,
    /** Copy down on commit. */
    WRITE_THROUGH,
    /** Copy down after k hits. */
    AFTER_HITS
  }

  /**
   * Validates the hit count.
   *
   * @throws IllegalArgumentException when mode is null or hits is out of range
   */
  public WritePolicy {
    if (mode == null) {
      throw new IllegalArgumentException("mode must not be null");
    }
    if (mode == Mode.AFTER_HITS && hits < 1) {
      throw new IllegalArgumentException("hits must be at least 1, was " + hits);
    }
  }

  /**
   * Copy down on eviction only.
   *
   * @return the policy
   */
  public static WritePolicy writeBack() {
    return new WritePolicy(Mode.WRITE_BACK, 0);
  }

  /**
   * Copy down on commit.
   *
   * @return the policy
   */
  public static WritePolicy writeThrough() {
    return new WritePolicy(Mode.WRITE_THROUGH, 0);
  }

  /**
   * Copy down once a block has been hit {@code k} times.
   *
   * @param k hits, at least 1
   * @return the policy
   */
  public static WritePolicy writeThroughAfterHits(int k) {
    return new WritePolicy(Mode.AFTER_HITS, k);
  }
}
