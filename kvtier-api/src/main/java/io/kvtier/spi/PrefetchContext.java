package io.kvtier.spi;

import io.kvtier.NextStep;
import java.time.Duration;

/** What a prefetch policy may ask the cache to do. */
public interface PrefetchContext {

  /**
   * Starts copying the session's current path (its latest committed sequence, from its deepest
   * block up to the root) from lower tiers into the top tier, behind onboarding for waiting
   * requests. Asynchronous and best effort: blocks already in the top tier are left alone, the copy
   * stops at the first block no tier holds any more and where the top tier or the session's quota
   * has no room left, and a failed copy only means less was promoted. Does nothing for an unknown
   * session or one with nothing cached.
   *
   * @param sessionId the session
   */
  void promoteSession(String sessionId);

  /**
   * Schedules {@link #promoteSession(String)} for {@code delay} from now on the cache's ticker: it
   * runs at the first cache operation after that, provided the session's path is still the one it
   * had when scheduled. It replaces any promotion already scheduled for the session, and the cache
   * cancels it when the session resumes, pauses again or ends. A delay of zero or less promotes at
   * once. The default does nothing.
   *
   * @param sessionId the session
   * @param delay how long from now
   */
  default void promoteSessionAfter(String sessionId, Duration delay) {}

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
