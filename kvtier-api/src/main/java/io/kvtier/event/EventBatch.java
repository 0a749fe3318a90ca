package io.kvtier.event;

import java.util.List;

/**
 * Events returned by one call to {@link io.kvtier.KvCache#events(long, int)}.
 *
 * @param events the events, in sequence order
 * @param nextSeq the sequence number to ask for next
 * @param missed events between the requested sequence number and the oldest still buffered; if
 *     non-zero, the consumer fell behind and its view of the cache is incomplete
 */
public record EventBatch(List<CacheEvent> events, long nextSeq, long missed) {

  /**
   * Copies the list.
   *
   * @throws NullPointerException when {@code events} is null
   */
  public EventBatch {
    events = List.copyOf(events);
  }

  /**
   * Whether the consumer fell behind.
   *
   * @return true if events were lost
   */
  public boolean fellBehind() {
    return missed > 0;
  }
}
