package io.kvtier.core;

/**
 * Block ids for the prefix index: a bitmap with two summary levels, about 0.13 bytes per id.
 *
 * <h2>Layout</h2>
 *
 * <pre>
 *   used[w]     bit i set: id 64w+i is taken
 *   partial[s]  bit j set: word 64s+j has at least one free id
 *   empty[s]    bit j set: word 64s+j is entirely free (64 consecutive free ids)
 * </pre>
 *
 * <h2>Allocation</h2>
 *
 * The index asks for "the previous block's id + 1" when it extends a chain, so that a chain's ids
 * (and its token ids, stored by id) stay contiguous and match with one sequential compare: that
 * hint is honoured in O(1) whenever it is free. Without a usable hint it starts the new chain at an
 * entirely free word, which leaves 63 ids of room to grow, and falls back to any free id. Summary
 * scans start from cursors that only move back when an id below them is freed, so allocation is
 * amortised O(1); it is not worst-case O(1) like the page allocator, and does not need to be: block
 * ids are internal and allocated once per cached block.
 *
 * <p>Not thread-safe: owned by the index, under the cache's lock.
 */
final class IdAllocator {
  static final int NONE = -1;

  private final int capacity;
  private final long[] used;
  private final long[] partial;
  private final long[] empty;
  private int emptyCursor;
  private int partialCursor;
  private int free;

  IdAllocator(int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be at least 1, was " + capacity);
    }
    this.capacity = capacity;
    int words = (capacity + 63) >>> 6;
    this.used = new long[words];
    this.partial = new long[(words + 63) >>> 6];
    this.empty = new long[partial.length];
    int tail = capacity & 63;
    if (tail != 0) {
      used[words - 1] = -1L << tail; // ids past the capacity are permanently taken
    }
    for (int w = 0; w < words; w++) {
      summarise(w);
    }
    this.free = capacity;
  }

  int capacity() {
    return capacity;
  }

  int freeCount() {
    return free;
  }

  boolean isFree(int id) {
    return id >= 0 && id < capacity && (used[id >>> 6] & (1L << id)) == 0;
  }

  /** Takes {@code hint} if it is free, else an id at the start of a free word, else any id. */
  int allocate(int hint) {
    if (isFree(hint)) {
      take(hint);
      return hint;
    }
    int w = findSet(empty, emptyCursor);
    if (w >= 0) {
      emptyCursor = w;
    } else {
      w = findSet(partial, partialCursor);
      if (w < 0) {
        return NONE;
      }
      partialCursor = w;
    }
    int id = (w << 6) + Long.numberOfTrailingZeros(~used[w]);
    take(id);
    return id;
  }

  void free(int id) {
    if (id < 0 || id >= capacity || (used[id >>> 6] & (1L << id)) == 0) {
      throw new IllegalStateException("block id " + id + " is not allocated");
    }
    int w = id >>> 6;
    used[w] &= ~(1L << id);
    free++;
    summarise(w);
    if (w < partialCursor) {
      partialCursor = w;
    }
    if (w < emptyCursor && used[w] == 0) {
      emptyCursor = w;
    }
  }

  private void take(int id) {
    int w = id >>> 6;
    used[w] |= 1L << id;
    free--;
    summarise(w);
  }

  private void summarise(int w) {
    long bit = 1L << w;
    int s = w >>> 6;
    if (used[w] == -1L) {
      partial[s] &= ~bit;
    } else {
      partial[s] |= bit;
    }
    if (used[w] == 0) {
      empty[s] |= bit;
    } else {
      empty[s] &= ~bit;
    }
  }

  /** The first word index at or after {@code fromWord} whose summary bit is set, or -1. */
  private static int findSet(long[] summary, int fromWord) {
    int s = fromWord >>> 6;
    if (s >= summary.length) {
      return -1;
    }
    long bits = summary[s] & (-1L << fromWord);
    while (bits == 0) {
      if (++s == summary.length) {
        return -1;
      }
      bits = summary[s];
    }
    return (s << 6) + Long.numberOfTrailingZeros(bits);
  }

  long footprintBytes() {
    return 8L * (used.length + partial.length + empty.length);
  }
}
