package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvtier.spi.Evictor;
import org.junit.jupiter.api.Test;

class PriorityLruEvictorTest {

  private final FakeBlocks blocks = new FakeBlocks(16);
  private final Evictor evictor = PriorityLruEvictor.POLICY.newEvictor(blocks.context(100));

  private void insertLeaf(int b, int priority, long at) {
    blocks.priority[b] = priority;
    blocks.lastAccess[b] = at;
    blocks.evictable[b] = true;
    evictor.onInsert(b);
  }

  private int evictNext() {
    int v = evictor.victim();
    if (v != Evictor.NONE) {
      evictor.onRemove(v);
    }
    return v;
  }

  @Test
  void victims_comeByPriorityThenRecency() {
    insertLeaf(1, 50, 1);
    insertLeaf(2, 10, 9);
    insertLeaf(3, 10, 5);
    insertLeaf(4, 80, 0);
    insertLeaf(5, 50, 2);
    assertThat(new int[] {evictNext(), evictNext(), evictNext(), evictNext(), evictNext()})
        .containsExactly(3, 2, 1, 5, 4);
    assertThat(evictNext()).isEqualTo(Evictor.NONE);
  }

  @Test
  void onPriorityChange_reRanksTheBlock() {
    insertLeaf(1, 10, 1);
    insertLeaf(2, 20, 2);
    assertThat(evictor.victim()).isEqualTo(1);
    blocks.priority[1] = 90; // a request raised it
    evictor.onPriorityChange(1);
    assertThat(evictor.victim()).isEqualTo(2);
    blocks.priority[1] = 0; // its duration expired
    evictor.onPriorityChange(1);
    assertThat(evictor.victim()).isEqualTo(1);
  }

  @Test
  void onAccess_reRanksWithinAPriority() {
    insertLeaf(1, 30, 1);
    insertLeaf(2, 30, 2);
    blocks.lastAccess[1] = 3;
    evictor.onAccess(1);
    assertThat(evictor.victim()).isEqualTo(2);
  }

  @Test
  void nonEvictableBlocks_areNeverVictims() {
    insertLeaf(1, 0, 1);
    insertLeaf(2, 100, 2);
    blocks.evictable[1] = false;
    evictor.onEvictable(1, false);
    blocks.priority[1] = 0;
    evictor.onPriorityChange(1);
    assertThat(evictor.victim()).isEqualTo(2);
    blocks.evictable[2] = false;
    evictor.onEvictable(2, false);
    assertThat(evictor.victim()).isEqualTo(Evictor.NONE);
    blocks.evictable[1] = true;
    evictor.onEvictable(1, true);
    assertThat(evictor.victim()).isEqualTo(1);
  }
}
