package io.kvtier.spi;

import io.kvtier.NextStep;
import io.kvtier.PauseKind;
import java.time.Duration;

/**
 * What to copy up into faster tiers before it is asked for. Hooks are called by the cache's
 * metadata writer and must return quickly: they only ask the {@link PrefetchContext} to schedule.
 */
public interface PrefetchPolicy {

  /**
   * A session paused.
   *
   * @param sessionId the session
   * @param kind why
   * @param expected the engine's estimate
   * @param context where to schedule prefetches
   */
  default void onPause(
      String sessionId, PauseKind kind, Duration expected, PrefetchContext context) {}

  /**
   * A session resumed.
   *
   * @param sessionId the session
   * @param context where to schedule prefetches
   */
  default void onResume(String sessionId, PrefetchContext context) {}

  /**
   * The engine forecast a workflow step (see {@link io.kvtier.KvCache#expect(String,
   * java.util.List)}); called once per step of each forecast.
   *
   * @param step the step
   * @param context where to schedule prefetches
   */
  default void onExpect(NextStep step, PrefetchContext context) {}

  /**
   * Prefetches nothing.
   *
   * @return the policy
   */
  static PrefetchPolicy none() {
    return new PrefetchPolicy() {};
  }

  /**
   * Brings a session's prefix back to the top tier when it resumes.
   *
   * @return the policy
   */
  static PrefetchPolicy onResume() {
    return new PrefetchPolicy() {
      @Override
      public void onResume(String sessionId, PrefetchContext context) {
        context.promoteSession(sessionId);
      }
    };
  }

  /**
   * Brings the prefix of every forecast workflow step at most {@code withinSteps} steps away up to
   * the top tier, so that it is there when the step runs (KVFlow's overlapped prefetch).
   *
   * @param withinSteps the farthest step to prefetch, 0 or more (0: only the step that runs next)
   * @return the policy
   */
  static PrefetchPolicy nextSteps(int withinSteps) {
    if (withinSteps < 0) {
      throw new IllegalArgumentException("withinSteps must not be negative, was " + withinSteps);
    }
    return new PrefetchPolicy() {
      @Override
      public void onExpect(NextStep step, PrefetchContext context) {
        if (step.stepsAway() <= withinSteps) {
          context.promote(step);
        }
      }
    };
  }
}
