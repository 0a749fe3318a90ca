package io.kvtier.spi;

/**
 * What happens to the pages of a discarded speculative branch.
 *
 * @param keepAsCache whether the discarded branch's full blocks stay in the index as low-priority,
 *     first-to-evict cache (they cost nothing until memory is needed)
 * @param maxKeptPagesPerSession at most this many discarded-branch pages per session are kept
 *     (leases without a session share one allowance); the rest are freed at once
 */
public record BranchPolicy(boolean keepAsCache, int maxKeptPagesPerSession) {

  /** Discarded-branch pages a session may keep as cache under {@link #defaults()}. */
  public static final int DEFAULT_CAP_PAGES = 64;

  /**
   * Validates the cap.
   *
   * @throws IllegalArgumentException when the cap is negative
   */
  public BranchPolicy {
    if (maxKeptPagesPerSession < 0) {
      throw new IllegalArgumentException(
          "maxKeptPagesPerSession must not be negative, was " + maxKeptPagesPerSession);
    }
  }

  /**
   * The builder's default: {@link #capPerSession(int) capPerSession}({@value #DEFAULT_CAP_PAGES}).
   * A discarded branch's blocks nearest the fork point stay as dead, first-to-evict cache, which a
   * retry or a backtrack down a path first rejected can reuse, at most {@value #DEFAULT_CAP_PAGES}
   * pages per session, so that what speculation leaves behind stays bounded per session; the rest
   * of the branch is freed at once (as whole runs where it was allocated from free space).
   *
   * @return the policy
   */
  public static BranchPolicy defaults() {
    return capPerSession(DEFAULT_CAP_PAGES);
  }

  /**
   * Frees a discarded branch's own pages at once, as whole runs.
   *
   * @return the policy
   */
  public static BranchPolicy freeNow() {
    return new BranchPolicy(false, 0);
  }

  /**
   * Keeps discarded branches' committed blocks as low-priority cache, without a cap.
   *
   * @return the policy
   */
  public static BranchPolicy keepAll() {
    return new BranchPolicy(true, Integer.MAX_VALUE);
  }

  /**
   * Keeps discarded branches' committed blocks as low-priority cache, up to {@code pages} per
   * session.
   *
   * @param pages the cap
   * @return the policy
   */
  public static BranchPolicy capPerSession(int pages) {
    return new BranchPolicy(true, pages);
  }
}
