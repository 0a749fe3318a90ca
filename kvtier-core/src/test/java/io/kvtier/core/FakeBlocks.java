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
  final int[] turns;
  final io.kvtier.PauseKind[] pause;
  final long[] expectedPause;
  final int[] returningTurns;
  final io.kvtier.PauseKind[] returningPause;

  FakeBlocks(int n) {
    fingerprint = new long[n];
    lastAccess = new long[n];
    hits = new int[n];
    priority = new int[n];
    depth = new int[n];
    dead = new boolean[n];
    evictable = new boolean[n];
    turns = new int[n];
    pause = new io.kvtier.PauseKind[n];
    expectedPause = new long[n];
    returningTurns = new int[n];
    returningPause = new io.kvtier.PauseKind[n];
    Arrays.fill(turns, 1);
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

  @Override
  public int turns(int block) {
    return turns[block];
  }

  @Override
  public io.kvtier.PauseKind pauseKind(int block) {
    return pause[block];
  }

  @Override
  public long expectedPause(int block) {
    return expectedPause[block];
  }

  @Override
  public int returningTurns(int block) {
    return returningTurns[block];
  }

  @Override
  public io.kvtier.PauseKind returningPauseKind(int block) {
    return returningPause[block];
  }
}
