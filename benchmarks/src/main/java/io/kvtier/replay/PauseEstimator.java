package io.kvtier.replay;

import io.kvtier.PauseKind;
import java.time.Duration;
import java.util.PriorityQueue;

/**
 * What an engine would guess about a pause: the running median of the pauses of the same kind seen
 * so far in the replay (a pause is seen when the session's next request arrives, never earlier),
 * starting from a prior per kind until there is one observation. The replay passes this estimate to
 * {@link io.kvtier.Session#pause}, never the true gap, which only the trace knows.
 *
 * <p>Priors: {@link PauseKind#TOOL} 9 s (the median tool-call gap of public agent traces), {@link
 * PauseKind#HUMAN} 5 min, {@link PauseKind#UNKNOWN} 30 s. The median is kept with two heaps, O(log
 * n) per observation.
 *
 * <p>Not thread-safe: one per replay.
 */
final class PauseEstimator {

  private final Median[] medians = new Median[PauseKind.values().length];

  PauseEstimator() {
    for (int i = 0; i < medians.length; i++) {
      medians[i] = new Median();
    }
  }

  static long priorMs(PauseKind kind) {
    return switch (kind) {
      case TOOL -> 9_000;
      case HUMAN -> 300_000;
      case UNKNOWN -> 30_000;
    };
  }

  void observe(PauseKind kind, long ms) {
    medians[kind.ordinal()].add(ms);
  }

  Duration estimate(PauseKind kind) {
    Median m = medians[kind.ordinal()];
    return Duration.ofMillis(m.isEmpty() ? priorMs(kind) : m.median());
  }

  private static final class Median {
    private final PriorityQueue<Long> low = new PriorityQueue<>((a, b) -> Long.compare(b, a));
    private final PriorityQueue<Long> high = new PriorityQueue<>();

    boolean isEmpty() {
      return low.isEmpty();
    }

    void add(long v) {
      if (low.isEmpty() || v <= low.peek()) {
        low.add(v);
      } else {
        high.add(v);
      }
      if (low.size() > high.size() + 1) {
        high.add(low.poll());
      } else if (high.size() > low.size()) {
        low.add(high.poll());
      }
    }

    long median() {
      return low.peek();
    }
  }
}
