package io.kvtier.replay;

import java.util.Arrays;

/**
 * An open-addressing map from {@code long} to non-negative {@code int} (linear probing, no
 * removal): the dense numbering of a trace's block hash ids, without boxing tens of millions of
 * keys.
 */
final class LongIntMap {

  /** What {@link #get(long)} returns for an absent key. */
  static final int ABSENT = -1;

  private long[] keys;
  private int[] values;
  private int size;
  private int shift;

  LongIntMap() {
    keys = new long[64];
    values = new int[64];
    Arrays.fill(values, ABSENT);
    shift = 64 - 6;
  }

  int size() {
    return size;
  }

  int get(long key) {
    int mask = keys.length - 1;
    for (int i = index(key); values[i] != ABSENT; i = (i + 1) & mask) {
      if (keys[i] == key) {
        return values[i];
      }
    }
    return ABSENT;
  }

  /** The value of {@code key}, or {@code value} after storing it when the key is new. */
  int putIfAbsent(long key, int value) {
    if (2 * (size + 1) > keys.length) {
      grow();
    }
    int mask = keys.length - 1;
    int i = index(key);
    while (values[i] != ABSENT) {
      if (keys[i] == key) {
        return values[i];
      }
      i = (i + 1) & mask;
    }
    keys[i] = key;
    values[i] = value;
    size++;
    return value;
  }

  private int index(long key) {
    long h = key * 0x9E3779B97F4A7C15L;
    return (int) ((h ^ (h >>> 29)) >>> shift) & (keys.length - 1);
  }

  private void grow() {
    long[] oldKeys = keys;
    int[] oldValues = values;
    keys = new long[oldKeys.length * 2];
    values = new int[oldKeys.length * 2];
    Arrays.fill(values, ABSENT);
    shift--;
    int mask = keys.length - 1;
    for (int k = 0; k < oldKeys.length; k++) {
      if (oldValues[k] != ABSENT) {
        int i = index(oldKeys[k]);
        while (values[i] != ABSENT) {
          i = (i + 1) & mask;
        }
        keys[i] = oldKeys[k];
        values[i] = oldValues[k];
      }
    }
  }
}
