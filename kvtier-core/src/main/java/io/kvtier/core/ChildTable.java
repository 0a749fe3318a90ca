package io.kvtier.core;

import java.util.Arrays;

/**
 * Maps (parent, hash of the child's first block of tokens) to the child edge's head block: how the
 * prefix index finds the next edge at a branching point.
 *
 * <h2>Layout</h2>
 *
 * Open addressing with linear probing over three parallel arrays; deletion shifts later entries of
 * a probe run back (Knuth 6.4, algorithm R), so there are no tombstones and lookups never degrade.
 * A slot is empty when {@code child == EMPTY}. The table doubles at 50% load.
 *
 * <pre>
 *   slot i:  parent[i] (int)  hash[i] (long)  child[i] (int)     20 bytes per slot
 * </pre>
 *
 * <h2>Concurrency</h2>
 *
 * Not thread-safe; owned by the cache's metadata lock. Lookups do not allocate.
 */
final class ChildTable {
  static final int EMPTY = -1;

  private int[] parents;
  private long[] hashes;
  private int[] children;
  private int mask;
  private int size;

  ChildTable(int expectedEntries) {
    int cap = Integer.highestOneBit(Math.max(16, expectedEntries * 2 - 1)) << 1;
    allocate(cap);
  }

  private void allocate(int cap) {
    parents = new int[cap];
    hashes = new long[cap];
    children = new int[cap];
    Arrays.fill(children, EMPTY);
    mask = cap - 1;
  }

  private static int slot(int parent, long hash, int mask) {
    long h = hash ^ (parent * 0x9E3779B97F4A7C15L);
    h ^= h >>> 29;
    h *= 0xBF58476D1CE4E5B9L;
    h ^= h >>> 32;
    return (int) h & mask;
  }

  /** The child of {@code parent} whose first block hashes to {@code hash}, or {@link #EMPTY}. */
  int get(int parent, long hash) {
    int i = slot(parent, hash, mask);
    while (true) {
      int c = children[i];
      if (c == EMPTY) {
        return EMPTY;
      }
      if (parents[i] == parent && hashes[i] == hash) {
        return c;
      }
      i = (i + 1) & mask;
    }
  }

  /** Adds or replaces an entry. */
  void put(int parent, long hash, int child) {
    if ((size + 1) * 2 > mask + 1) {
      grow();
    }
    int i = slot(parent, hash, mask);
    while (children[i] != EMPTY) {
      if (parents[i] == parent && hashes[i] == hash) {
        children[i] = child;
        return;
      }
      i = (i + 1) & mask;
    }
    parents[i] = parent;
    hashes[i] = hash;
    children[i] = child;
    size++;
  }

  /** Removes an entry; returns whether it was there. */
  boolean remove(int parent, long hash) {
    int i = slot(parent, hash, mask);
    while (true) {
      if (children[i] == EMPTY) {
        return false;
      }
      if (parents[i] == parent && hashes[i] == hash) {
        break;
      }
      i = (i + 1) & mask;
    }
    // Backward-shift deletion.
    int hole = i;
    int j = (i + 1) & mask;
    while (children[j] != EMPTY) {
      int home = slot(parents[j], hashes[j], mask);
      boolean movable = ((j - home) & mask) >= ((j - hole) & mask);
      if (movable) {
        parents[hole] = parents[j];
        hashes[hole] = hashes[j];
        children[hole] = children[j];
        hole = j;
      }
      j = (j + 1) & mask;
    }
    children[hole] = EMPTY;
    size--;
    return true;
  }

  private void grow() {
    int[] op = parents;
    long[] oh = hashes;
    int[] oc = children;
    allocate((mask + 1) << 1);
    size = 0;
    for (int i = 0; i < oc.length; i++) {
      if (oc[i] != EMPTY) {
        put(op[i], oh[i], oc[i]);
      }
    }
  }

  int size() {
    return size;
  }

  long footprintBytes() {
    return (long) (mask + 1) * (4 + 8 + 4);
  }
}
