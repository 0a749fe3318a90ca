package io.kvtier.spi;

import io.kvtier.NextStep;

/** What a prefetch policy may ask the cache to do. */
public interface PrefetchContext {

  /**
   * Schedules copying the session's current prefix into the top tier, behind onboarding for waiting
   * requests. Does nothing when it is already there.
   *
   * @param sessionId the session
   */
  void promoteSession(String sessionId);

  /**
   * Schedules copying the cached part of a workflow step's prefix (its tokens, or its agent type's
   * shared prefix when it names no tokens) from lower tiers into the top tier, behind onboarding
   * for waiting requests. Best effort: blocks already in the top tier are left alone, and the copy
   * stops where the top tier or the step's tenant quota has no room left.
   *
   * @param step the step
   */
  default void promote(NextStep step) {}
}
