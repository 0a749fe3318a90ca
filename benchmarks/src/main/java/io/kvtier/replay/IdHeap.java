package io.kvtier.replay;

import java.util.Arrays;

/**
 * An indexed binary min-heap of {@code int} ids ordered by two {@code long} keys (lexicographic),
 * with O(log n) add, remove and re-key and O(1) peek and membership: the ordering core of {@link
 * BeladyPolicy}. {@code slot[id]} is the id's heap position plus one, 0 when absent.
 *
 * <p>Not thread-safe: single writer.
 */
final class IdHeap {

  static final int EMPTY = -1;

  private int[] ids = new int[64];
  private long[] k1 = new long[64];
  private long[] k2 = new long[64];
  private int[] slot = new int[64];
  private int size;

  int size() {
    return size;
  }

  boolean contains(int id) {
    return id >= 0 && id < slot.length && slot[id] != 0;
  }

  int peek() {
    return size == 0 ? EMPTY : ids[0];
  }

  /** Adds the id, or re-keys it when present. */
  void put(int id, long a, long b) {
    if (contains(id)) {
      int pos = slot[id] - 1;
      if (pos > 0 && less(a, b, k1[(pos - 1) >>> 1], k2[(pos - 1) >>> 1])) {
        up(pos, id, a, b);
      } else {
        down(pos, id, a, b);
      }
      return;
    }
    if (id >= slot.length) {
      slot = Arrays.copyOf(slot, Math.max(id + 1, slot.length * 2));
    }
    if (size == ids.length) {
      ids = Arrays.copyOf(ids, size * 2);
      k1 = Arrays.copyOf(k1, size * 2);
      k2 = Arrays.copyOf(k2, size * 2);
    }
    up(size++, id, a, b);
  }

  boolean remove(int id) {
    if (!contains(id)) {
      return false;
    }
    int pos = slot[id] - 1;
    slot[id] = 0;
    int last = --size;
    if (pos != last) {
      int m = ids[last];
      long a = k1[last];
      long b = k2[last];
      if (pos > 0 && less(a, b, k1[(pos - 1) >>> 1], k2[(pos - 1) >>> 1])) {
        up(pos, m, a, b);
      } else {
        down(pos, m, a, b);
      }
    }
    return true;
  }

  private void up(int pos, int id, long a, long b) {
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

  private void down(int pos, int id, long a, long b) {
    int half = size >>> 1;
    while (pos < half) {
      int c = 2 * pos + 1;
      int r = c + 1;
      if (r < size && less(k1[r], k2[r], k1[c], k2[c])) {
        c = r;
      }
      if (!less(k1[c], k2[c], a, b)) {
        break;
      }
      place(pos, ids[c], k1[c], k2[c]);
      pos = c;
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
}
