package io.kvtier.spi;

import io.kvtier.PauseKind;
import java.time.Duration;

/**
 * How long a paused session stays pinned. Explicit pins ({@link io.kvtier.Session#pin(Duration)})
 * and request priorities are not policy: the engine asked for them.
 */
@FunctionalInterface
public interface RetentionPolicy {

  /**
   * The pin for a pause.
   *
   * @param kind why the session paused
   * @param expected the engine's estimate of the pause
   * @return how long to pin; {@link Duration#ZERO} for no pin
   */
  Duration pauseTtl(PauseKind kind, Duration expected);

  /**
   * The pin for a pause, knowing what losing the session's blocks would cost. The cache calls this
   * one; the default ignores the cost and asks {@link #pauseTtl(PauseKind, Duration)}.
   *
   * @param kind why the session paused
   * @param expected the engine's estimate of the pause
   * @param contextTokens the tokens on the session's cached path (what would be recomputed)
   * @param lowerTier whether a lower tier could keep the path after the pin ends (then losing the
   *     top-tier copy costs a copy back, not a recompute)
   * @return how long to pin; {@link Duration#ZERO} for no pin
   */
  default Duration pauseTtl(
      PauseKind kind, Duration expected, long contextTokens, boolean lowerTier) {
    return pauseTtl(kind, expected);
  }

  /**
   * Never pins on pause.
   *
   * @return the policy
   */
  static RetentionPolicy none() {
    return (kind, expected) -> Duration.ZERO;
  }

  /**
   * Pins through tool calls (for twice the estimate, at most 10 minutes), never through human
   * pauses: Continuum's observation that tool-call gaps are short and predictable enough to bridge
   * with a pin while human gaps are not.
   *
   * @return the policy
   */
  static RetentionPolicy toolCallTtl() {
    return toolCallTtl(Duration.ofMinutes(10));
  }

  /**
   * Continuum's rule with the cost of losing the pin: pins through tool calls only, for the
   * estimate times a factor that grows with what the session's path would cost to rebuild, never
   * through human pauses. Rebuilding an {@code n}-token context by prefill costs about {@code n (1
   * + n / 32768)} token-times (the attention term matches the linear ones near 32K tokens for an
   * 8B-class model), while holding it costs {@code n} pages for the pin's length; so the pin lasts
   * {@code 2 (1 + n / 32768)} times the estimate when only recomputing can bring the path back, and
   * just the estimate when a lower tier keeps it (the pin then only saves a copy back: past the
   * estimate the session is demoted), at most {@code max}.
   *
   * @param max the longest pin
   * @return the policy
   */
  static RetentionPolicy costAware(Duration max) {
    if (max.isNegative()) {
      throw new IllegalArgumentException("max must not be negative");
    }
    return new RetentionPolicy() {
      @Override
      public Duration pauseTtl(PauseKind kind, Duration expected) {
        return pauseTtl(kind, expected, 0, false);
      }

      @Override
      public Duration pauseTtl(
          PauseKind kind, Duration expected, long contextTokens, boolean lowerTier) {
        if (kind != PauseKind.TOOL || expected == null || expected.isNegative()) {
          return Duration.ZERO;
        }
        double factor =
            lowerTier ? 1 : 2 * (1 + Math.max(0, contextTokens) / RECOMPUTE_KNEE_TOKENS);
        double nanos = Math.min(max.toNanos(), expected.toNanos() * factor);
        return Duration.ofNanos((long) nanos);
      }
    };
  }

  /** The context length at which prefill's attention costs as much as the rest, in tokens. */
  double RECOMPUTE_KNEE_TOKENS = 32_768;

  /**
   * Like {@link #toolCallTtl()} with another cap.
   *
   * @param max the longest pin
   * @return the policy
   */
  static RetentionPolicy toolCallTtl(Duration max) {
    if (max.isNegative()) {
      throw new IllegalArgumentException("max must not be negative");
    }
    return (kind, expected) -> {
      if (kind != PauseKind.TOOL || expected == null || expected.isNegative()) {
        return Duration.ZERO;
      }
      Duration twice = expected.multipliedBy(2);
      return twice.compareTo(max) > 0 ? max : twice;
    };
  }
}
