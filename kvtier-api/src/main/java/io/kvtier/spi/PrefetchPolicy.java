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
   * Demote-and-return for human pauses: while a session is paused its blocks may be demoted like
   * any others (so the top tier holds active sessions), and {@code lead} before the predicted
   * resume they are copied back up, so that the session's next request finds them in the top tier.
   *
   * <p>On a pause with an estimate ({@code expected} non-null and not negative) it schedules {@link
   * PrefetchContext#promoteSession(String)} at pause time + {@code expected} &minus; {@code lead}
   * ({@link PrefetchContext#promoteSessionAfter(String, Duration)}); when that is not after the
   * pause, it promotes at once. A pause without an estimate schedules nothing. The cache cancels
   * the scheduled promotion when the session resumes, pauses again or ends; a resume promotes
   * nothing, because the request that follows it onboards what it matched itself, ahead of
   * prefetches in the transfer queues (combine with {@link #onResume()} for an engine that resumes
   * sessions well before their requests). Combine with a {@link RetentionPolicy} that does not pin
   * the paused session for the whole pause, or nothing is demoted.
   *
   * <p>The promotion yields to the requests around it: it copies the path root first (a request
   * needs its prefix from the root, and the top tier evicts leaf first, so a partial copy is the
   * part that stays), it holds at most a quarter of the top tier in unused prefetched pages and
   * copies in flight, and it takes only free pages, dead blocks and blocks last used before the
   * paused session's own last request. Where that finds no room, the rest of the path stays below
   * for the request to onboard. See {@link io.kvtier.KvCache#prefetchStats()} for how many
   * prefetched pages were used and how many were evicted unused.
   *
   * @param lead how long before the predicted resume to start the copy; zero or more
   * @return the policy
   * @throws IllegalArgumentException if {@code lead} is null or negative
   */
  static PrefetchPolicy beforeResume(Duration lead) {
    if (lead == null || lead.isNegative()) {
      throw new IllegalArgumentException("lead must be zero or more, was " + lead);
    }
    return new PrefetchPolicy() {
      @Override
      public void onPause(
          String sessionId, PauseKind kind, Duration expected, PrefetchContext context) {
        if (expected == null || expected.isNegative()) {
          return;
        }
        Duration delay = expected.minus(lead);
        if (delay.isNegative() || delay.isZero()) {
          context.promoteSession(sessionId);
        } else {
          context.promoteSessionAfter(sessionId, delay);
        }
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
