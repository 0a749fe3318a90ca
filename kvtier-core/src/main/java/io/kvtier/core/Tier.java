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

  /** Pages copied from one slot of this tier to another to make runs of consecutive slots. */
  long movedPages;

  long hitBlocks;
  long errors;
  final java.util.concurrent.atomic.LongAdder bytesIn = new java.util.concurrent.atomic.LongAdder();
  final java.util.concurrent.atomic.LongAdder bytesOut =
      new java.util.concurrent.atomic.LongAdder();

  /** Copies from this tier, by destination ordinal; added to by whichever thread copies. */
  private final LinkCounters[] linksOut = new LinkCounters[PrefixIndex.MAX_TIERS];

  /** Pages, bytes and nanoseconds of the copies over one link. */
  static final class LinkCounters {
    final java.util.concurrent.atomic.LongAdder pages = new java.util.concurrent.atomic.LongAdder();
    final java.util.concurrent.atomic.LongAdder bytes = new java.util.concurrent.atomic.LongAdder();
    final java.util.concurrent.atomic.LongAdder nanos = new java.util.concurrent.atomic.LongAdder();
  }

  Tier(int ordinal, TierSpec spec, PageStore store) {
    this.ordinal = ordinal;
    this.name = spec.name();
    this.spec = spec;
    this.store = store;
    this.pages = new PageAllocator(ordinal, store);
    this.inFlight = new int[(int) Math.min(Integer.MAX_VALUE - 8, store.capacityPages())];
    for (int i = 0; i < linksOut.length; i++) {
      linksOut[i] = new LinkCounters();
    }
  }

  /** The counters of the copies from this tier to the tier of ordinal {@code to}. */
  LinkCounters linkTo(int to) {
    return linksOut[to];
  }

  /**
   * References held by copies in flight, per slot: the invariant check counts them beside the
   * index's and the leases'. A plain array, since every transferred page updates it twice.
   */
  private final int[] inFlight;

  void inFlight(int slot, int delta) {
    inFlight[slot] += delta;
  }

  int inFlightRefs(int slot) {
    return inFlight[slot];
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
        !usable(),
        movedPages);
  }
}
