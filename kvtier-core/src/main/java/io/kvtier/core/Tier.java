package io.kvtier.core;

import io.kvtier.TierStats;
import io.kvtier.spi.Evictor;
import io.kvtier.spi.PageStore;
import io.kvtier.spi.TierSpec;

/**
 * One level of the tier chain: its store, the allocator of its page handles, its evictor, the heap
 * of its dead evictable blocks, and its counters. Guarded by the cache's lock, except the byte
 * counters, which transfer threads add to.
 */
final class Tier {
  final int ordinal;
  final String name;
  final TierSpec spec;
  final PageStore store;
  final PageAllocator pages;
  final IndexedHeap dead = new IndexedHeap(256);
  Evictor evictor;
  boolean degraded;

  long evictions;
  long hitBlocks;
  long errors;
  final java.util.concurrent.atomic.LongAdder bytesIn = new java.util.concurrent.atomic.LongAdder();
  final java.util.concurrent.atomic.LongAdder bytesOut =
      new java.util.concurrent.atomic.LongAdder();

  Tier(int ordinal, TierSpec spec, PageStore store) {
    this.ordinal = ordinal;
    this.name = spec.name();
    this.spec = spec;
    this.store = store;
    this.pages = new PageAllocator(ordinal, store);
  }

  /** References held by copies in flight, per slot (for the invariant check). */
  private final java.util.Map<Integer, Integer> inFlight = new java.util.HashMap<>();

  void inFlight(int slot, int delta) {
    inFlight.merge(slot, delta, (a, b) -> a + b == 0 ? null : a + b);
  }

  int inFlightRefs(int slot) {
    return inFlight.getOrDefault(slot, 0);
  }

  boolean usable() {
    return !degraded && !store.isDegraded();
  }

  TierStats stats(boolean closed) {
    return new TierStats(
        name,
        store.kind(),
        store.pageBytes(),
        store.capacityPages(),
        closed ? 0 : pages.usedPages(),
        closed ? 0 : pages.freeRuns(),
        closed ? 0 : pages.largestFreeRun(),
        evictions,
        hitBlocks,
        bytesIn.sum(),
        bytesOut.sum(),
        errors,
        !usable());
  }
}
