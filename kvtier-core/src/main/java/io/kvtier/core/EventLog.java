package io.kvtier.core;

import io.kvtier.event.CacheEvent;
import io.kvtier.event.EventBatch;
import java.util.ArrayList;
import java.util.List;

/**
 * The bounded replay buffer of cache events: a ring of the last {@code capacity} events, indexed by
 * sequence number ({@code seq & mask}). Sequence numbers start at 1 and never repeat. A reader that
 * asks for an event older than the ring holds is told how many it missed.
 *
 * <p>Not thread-safe: written and read under the cache's metadata lock.
 */
final class EventLog {
  private final CacheEvent[] ring;
  private final int mask;
  private long nextSeq = 1;

  EventLog(int capacity) {
    this.ring = new CacheEvent[capacity];
    this.mask = capacity - 1;
  }

  long nextSeq() {
    return nextSeq++;
  }

  void append(CacheEvent e) {
    ring[(int) (e.seq() & mask)] = e;
  }

  long lastSeq() {
    return nextSeq - 1;
  }

  EventBatch read(long fromSeq, int max) {
    if (max < 1) {
      throw new IllegalArgumentException("max must be at least 1, was " + max);
    }
    if (fromSeq < 0) {
      throw new IllegalArgumentException("fromSeq must not be negative, was " + fromSeq);
    }
    long oldest = Math.max(1, nextSeq - ring.length);
    long from = fromSeq == 0 ? oldest : fromSeq;
    long missed = from < oldest ? oldest - from : 0;
    long start = Math.max(from, oldest);
    List<CacheEvent> out = new ArrayList<>((int) Math.min(max, Math.max(0, nextSeq - start)));
    long s = start;
    while (s < nextSeq && out.size() < max) {
      out.add(ring[(int) (s & mask)]);
      s++;
    }
    return new EventBatch(out, Math.max(s, from), missed);
  }
}
