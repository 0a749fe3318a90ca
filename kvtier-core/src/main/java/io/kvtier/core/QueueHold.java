package io.kvtier.core;

import java.util.Arrays;
import java.util.BitSet;

/**
 * The blocks {@link KvCacheImpl#holdQueue} holds for the engine's waiting queue: pinned in the
 * index, head of the queue first, at most {@code budget} blocks. One per cache; every method runs
 * under the cache's lock.
 *
 * <p>Blocks are kept in the order they were held (the head's prefix root first, the last request's
 * deepest block last), so {@link #yieldLast()} gives way from the back of the queue and from leaves
 * up: a block it unpins is the deepest held one, and becomes evictable at once unless a lease or a
 * session still pins it.
 */
final class QueueHold {
  private final PrefixIndex index;
  private int[] blocks = new int[64];
  private long[] fingerprints = new long[64];
  private int count;
  private final BitSet held = new BitSet();
  private long yields;

  QueueHold(PrefixIndex index) {
    this.index = index;
  }

  /** Whether {@code b} is held. */
  boolean holds(int b) {
    return held.get(b);
  }

  /** How many blocks are held. */
  int size() {
    return count;
  }

  /** How many held blocks gave way to a lease's allocation so far. */
  long yields() {
    return yields;
  }

  /** Holds {@code b} (not held yet): pins it. */
  void add(int b) {
    if (count == blocks.length) {
      blocks = Arrays.copyOf(blocks, count * 2);
      fingerprints = Arrays.copyOf(fingerprints, count * 2);
    }
    index.pin(b);
    blocks[count] = b;
    fingerprints[count] = index.fingerprint(b);
    count++;
    held.set(b);
  }

  /** Releases every held block. */
  void clear() {
    while (count > 0) {
      release();
    }
  }

  /**
   * Releases the most recently held block, for a lease's allocation that found nothing else to
   * evict.
   *
   * @return whether a block was released
   */
  boolean yieldLast() {
    if (count == 0) {
      return false;
    }
    release();
    yields++;
    return true;
  }

  private void release() {
    count--;
    int b = blocks[count];
    held.clear(b);
    // A pinned block is never removed from the index, so the check only guards against a bug
    // elsewhere turning into a corrupted pin count.
    if (index.sameBlock(b, fingerprints[count])) {
      index.unpin(b);
    }
  }

  /** Counts each held block once in {@code pins} (for the invariant check). */
  void countPins(int[] pins) {
    for (int k = 0; k < count; k++) {
      pins[blocks[k]]++;
    }
  }
}
