package io.kvtier;

/**
 * The cache's clock, in nanoseconds, for TTLs and priority durations. Tests and the trace replay
 * install their own so that time passes without waiting.
 */
@FunctionalInterface
public interface Ticker {

  /**
   * Current time.
   *
   * @return nanoseconds from an arbitrary origin, never decreasing
   */
  long read();

  /**
   * The system's monotonic clock.
   *
   * @return a ticker over {@link System#nanoTime()}
   */
  static Ticker system() {
    return System::nanoTime;
  }
}
