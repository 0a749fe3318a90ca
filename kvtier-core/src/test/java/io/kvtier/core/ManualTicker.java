package io.kvtier.core;

import io.kvtier.Ticker;
import java.time.Duration;

/** A clock the test moves by hand. */
final class ManualTicker implements Ticker {
  private long now = 1_000_000_000L;

  @Override
  public long read() {
    return now;
  }

  void advance(Duration d) {
    now += d.toNanos();
  }
}
