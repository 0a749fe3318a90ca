package io.kvtier.replay;

import io.kvtier.Ticker;

/**
 * The replay's clock: time is whatever the trace says, so an hour of traffic replays in seconds.
 * Set before each request from the request's timestamp; never goes backwards.
 *
 * <p>Not thread-safe: one replay drives one ticker.
 */
final class VirtualTicker implements Ticker {

  private long nanos;

  @Override
  public long read() {
    return nanos;
  }

  /** Moves the clock to {@code t} nanoseconds, or leaves it where it is when {@code t} is past. */
  void advanceTo(long t) {
    if (t > nanos) {
      nanos = t;
    }
  }
}
