package io.kvtier.core;

import java.util.Arrays;
import java.util.BitSet;

/**
 * The blocks {@link KvCacheImpl#holdQueue} holds for the engine's waiting queue: pinned in the
 * index, head of the queue first, at most {@code budget} blocks. One per cache; every method runs
 * under the cache's lock.
 *
 * <p>A new hold pins its blocks before the previous one lets go of its own ({@link #renew()}, then
 * {@link #releasePrevious()}), so a block both hold keeps its pin throughout: only the blocks that
 * enter or leave the hold change evictability and touch the evictors, not the whole hold on every
 * call.
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
  private int[] previous = new int[64];
  private long[] previousFingerprints = new long[64];
  private int previousCount;
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

  /**
   * Starts a new, empty hold; the blocks held so far keep their pins until {@link
   * #releasePrevious()}.
   */
  void renew() {
    releasePrevious();
    int[] b = previous;
    long[] f = previousFingerprints;
    previous = blocks;
    previousFingerprints = fingerprints;
    previousCount = count;
    blocks = b;
    fingerprints = f;
    count = 0;
    held.clear();
  }

  /** Unpins the blocks of the hold before the last {@link #renew()}. */
  void releasePrevious() {
    while (previousCount > 0) {
      previousCount--;
      unpin(previous[previousCount], previousFingerprints[previousCount]);
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
    held.clear(blocks[count]);
    unpin(blocks[count], fingerprints[count]);
  }

  private void unpin(int b, long fingerprint) {
    // A pinned block is never removed from the index, so the check only guards against a bug
    // elsewhere turning into a corrupted pin count.
    if (index.sameBlock(b, fingerprint)) {
      index.unpin(b);
    }
  }

  /** Counts each held block once in {@code pins} (for the invariant check). */
  void countPins(int[] pins) {
    for (int k = 0; k < count; k++) {
      pins[blocks[k]]++;
    }
    for (int k = 0; k < previousCount; k++) {
      pins[previous[k]]++;
    }
  }
}
