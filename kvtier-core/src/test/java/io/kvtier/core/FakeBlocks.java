package io.kvtier.core;

import io.kvtier.spi.BlockView;
import io.kvtier.spi.EvictorContext;
import java.util.Arrays;

/** A {@link BlockView} over settable arrays, for evictor tests. */
final class FakeBlocks implements BlockView {

  long now;
  final long[] fingerprint;
  final long[] lastAccess;
  final int[] hits;
  final int[] priority;
  final int[] depth;
  final boolean[] dead;
  final boolean[] evictable;

  FakeBlocks(int n) {
    fingerprint = new long[n];
    lastAccess = new long[n];
    hits = new int[n];
    priority = new int[n];
    depth = new int[n];
    dead = new boolean[n];
    evictable = new boolean[n];
    Arrays.fill(priority, 35);
    Arrays.fill(depth, 1);
    for (int i = 0; i < n; i++) {
      fingerprint[i] = 0x1000L + i;
    }
  }

  EvictorContext context(long capacityPages) {
    return new EvictorContext("test", 0, capacityPages, this);
  }

  @Override
  public long now() {
    return now;
  }

  @Override
  public int token(int block, int index) {
    return (int) fingerprint(block) + index;
  }

  @Override
  public long fingerprint(int block) {
    return fingerprint[block];
  }

  @Override
  public long lastAccess(int block) {
    return lastAccess[block];
  }

  @Override
  public int hits(int block) {
    return hits[block];
  }

  @Override
  public int priority(int block) {
    return priority[block];
  }

  @Override
  public int depth(int block) {
    return depth[block];
  }

  @Override
  public boolean dead(int block) {
    return dead[block];
  }

  @Override
  public boolean evictable(int block) {
    return evictable[block];
  }
}
