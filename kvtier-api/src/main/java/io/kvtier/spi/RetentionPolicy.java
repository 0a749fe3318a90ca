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
