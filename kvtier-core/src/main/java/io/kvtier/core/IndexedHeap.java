package io.kvtier.core;

import java.util.Arrays;

/**
 * A binary min-heap of {@code int} ids (block ids, {@code 0} to {@code 2^31 - 1}) ordered by two
 * {@code long} keys, compared lexicographically: {@code k1} first, then {@code k2}.
 *
 * <p><b>Layout.</b> Three parallel arrays indexed by heap position ({@code ids}, {@code k1}, {@code
 * k2}; the keys sit beside the id so a sift compares without touching the id's other state) and one
 * array indexed by id, {@code slot[id]}, holding the id's heap position plus one ({@code 0} means
 * absent, so the array grows by zero-filled copy). Every move during a sift rewrites the slot of
 * the id it moves; {@link #remove(int)} and {@link #update(int, long, long)} find an id in O(1) and
 * restore the heap order in O(log n) by sifting up or down from its position.
 *
 * <p><b>Allocation.</b> None per operation; the arrays double when an id or the size outgrows them.
 *
 * <p><b>Concurrency.</b> Not thread-safe: single writer, the cache's metadata lock (the evictors
 * that own a heap are called under it).
 *
 * <p>References: the indexed priority queue of Sedgewick and Wayne, <i>Algorithms</i> (4th ed.),
 * §2.4 ({@code IndexMinPQ}); Caffeine's and Netty's timer heaps keep positions the same way.
 */
final class IndexedHeap {

  /** What {@link #peek()} returns when the heap is empty. */
  static final int EMPTY = -1;

  private static final int MAX_ARRAY = Integer.MAX_VALUE - 8;

  private int[] ids;
  private long[] k1;
  private long[] k2;
  private int[] slot;
  private int size;

  IndexedHeap() {
    this(16);
  }

  IndexedHeap(int initialCapacity) {
    int c = Math.max(1, initialCapacity);
    ids = new int[c];
    k1 = new long[c];
    k2 = new long[c];
    slot = new int[c];
  }

  int size() {
    return size;
  }

  boolean isEmpty() {
    return size == 0;
  }

  boolean contains(int id) {
    return id >= 0 && id < slot.length && slot[id] != 0;
  }

  /**
   * The id with the smallest keys.
   *
   * @return the id, or {@link #EMPTY}
   */
  int peek() {
    return size == 0 ? EMPTY : ids[0];
  }

  /**
   * Adds an id that is not in the heap.
   *
   * @throws IllegalArgumentException if the id is negative or already present
   */
  void add(int id, long key1, long key2) {
    if (id < 0) {
      throw new IllegalArgumentException("negative id " + id);
    }
    if (id >= slot.length) {
      slot = Arrays.copyOf(slot, grownLength(slot.length, id + 1L));
    } else if (slot[id] != 0) {
      throw new IllegalArgumentException("id " + id + " already in the heap");
    }
    if (size == ids.length) {
      int n = grownLength(ids.length, size + 1L);
      ids = Arrays.copyOf(ids, n);
      k1 = Arrays.copyOf(k1, n);
      k2 = Arrays.copyOf(k2, n);
    }
    siftUp(size++, id, key1, key2);
  }

  /**
   * Removes an id if present.
   *
   * @return whether it was present
   */
  boolean remove(int id) {
    if (!contains(id)) {
      return false;
    }
    int pos = slot[id] - 1;
    slot[id] = 0;
    int last = --size;
    if (pos != last) {
      int movedId = ids[last];
      long m1 = k1[last];
      long m2 = k2[last];
      if (pos > 0 && less(m1, m2, k1[(pos - 1) >>> 1], k2[(pos - 1) >>> 1])) {
        siftUp(pos, movedId, m1, m2);
      } else {
        siftDown(pos, movedId, m1, m2);
      }
    }
    return true;
  }

  /**
   * Changes the keys of an id that is in the heap.
   *
   * @return whether it was present (nothing changes if not)
   */
  boolean update(int id, long key1, long key2) {
    if (!contains(id)) {
      return false;
    }
    int pos = slot[id] - 1;
    if (pos > 0 && less(key1, key2, k1[(pos - 1) >>> 1], k2[(pos - 1) >>> 1])) {
      siftUp(pos, id, key1, key2);
    } else {
      siftDown(pos, id, key1, key2);
    }
    return true;
  }

  /** First key of an id in the heap (for tests and diagnostics). */
  long key1(int id) {
    return k1[position(id)];
  }

  /** Second key of an id in the heap (for tests and diagnostics). */
  long key2(int id) {
    return k2[position(id)];
  }

  private int position(int id) {
    if (!contains(id)) {
      throw new IllegalArgumentException("id " + id + " not in the heap");
    }
    return slot[id] - 1;
  }

  private void siftUp(int pos, int id, long a, long b) {
    while (pos > 0) {
      int parent = (pos - 1) >>> 1;
      if (!less(a, b, k1[parent], k2[parent])) {
        break;
      }
      place(pos, ids[parent], k1[parent], k2[parent]);
      pos = parent;
    }
    place(pos, id, a, b);
  }

  private void siftDown(int pos, int id, long a, long b) {
    int half = size >>> 1;
    while (pos < half) {
      int child = 2 * pos + 1;
      int right = child + 1;
      if (right < size && less(k1[right], k2[right], k1[child], k2[child])) {
        child = right;
      }
      if (!less(k1[child], k2[child], a, b)) {
        break;
      }
      place(pos, ids[child], k1[child], k2[child]);
      pos = child;
    }
    place(pos, id, a, b);
  }

  private void place(int pos, int id, long a, long b) {
    ids[pos] = id;
    k1[pos] = a;
    k2[pos] = b;
    slot[id] = pos + 1;
  }

  private static boolean less(long a1, long a2, long b1, long b2) {
    return a1 < b1 || (a1 == b1 && a2 < b2);
  }

  private static int grownLength(int current, long needed) {
    long n = Math.max(needed, 2L * current);
    if (needed > MAX_ARRAY) {
      throw new OutOfMemoryError("heap arrays cannot hold " + needed);
    }
    return (int) Math.min(n, MAX_ARRAY);
  }
}
