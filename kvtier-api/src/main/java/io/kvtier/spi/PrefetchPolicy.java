package io.kvtier.spi;

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
}
