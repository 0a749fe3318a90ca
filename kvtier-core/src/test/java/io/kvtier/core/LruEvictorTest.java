package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvtier.spi.Evictor;
import org.junit.jupiter.api.Test;

class LruEvictorTest {

  private final FakeBlocks blocks = new FakeBlocks(16);
  private final Evictor lru = LruEvictor.POLICY.newEvictor(blocks.context(100));

  private void insertLeaf(int b, long at) {
    blocks.lastAccess[b] = at;
    lru.onInsert(b);
    blocks.evictable[b] = true;
    lru.onEvictable(b, true);
  }

  @Test
  void victim_whenNothingEvictable_isNone() {
    assertThat(lru.victim()).isEqualTo(Evictor.NONE);
    blocks.lastAccess[1] = 5;
    lru.onInsert(1);
    assertThat(lru.victim()).isEqualTo(Evictor.NONE);
  }

  @Test
  void victim_isLeastRecentlyUsedEvictableLeaf() {
    insertLeaf(1, 30);
    insertLeaf(2, 10);
    insertLeaf(3, 20);
    assertThat(lru.victim()).isEqualTo(2);
    lru.onRemove(2);
    assertThat(lru.victim()).isEqualTo(3);
  }

  @Test
  void victim_afterAccess_movesBlockToTheBack() {
    insertLeaf(1, 10);
    insertLeaf(2, 20);
    blocks.lastAccess[1] = 30;
    lru.onAccess(1);
    assertThat(lru.victim()).isEqualTo(2);
  }

  @Test
  void victim_skipsBlocksThatStoppedBeingEvictable() {
    insertLeaf(1, 10);
    insertLeaf(2, 20);
    blocks.evictable[1] = false;
    lru.onEvictable(1, false);
    assertThat(lru.victim()).isEqualTo(2);
    blocks.evictable[2] = false;
    lru.onEvictable(2, false);
    assertThat(lru.victim()).isEqualTo(Evictor.NONE);
    // Accessing a pinned block must not make it a candidate.
    blocks.lastAccess[1] = 1;
    lru.onAccess(1);
    assertThat(lru.victim()).isEqualTo(Evictor.NONE);
    blocks.evictable[1] = true;
    lru.onEvictable(1, true);
    assertThat(lru.victim()).isEqualTo(1);
  }

  @Test
  void victim_onTie_isTheDeeperBlock() {
    blocks.depth[4] = 2;
    blocks.depth[5] = 7;
    blocks.depth[6] = 3;
    insertLeaf(4, 10);
    insertLeaf(5, 10);
    insertLeaf(6, 10);
    assertThat(lru.victim()).isEqualTo(5);
    lru.onRemove(5);
    assertThat(lru.victim()).isEqualTo(6);
  }

  @Test
  void onInsert_ofAnAlreadyEvictableBlock_makesItACandidate() {
    blocks.evictable[3] = true;
    blocks.lastAccess[3] = 1;
    lru.onInsert(3);
    assertThat(lru.victim()).isEqualTo(3);
    lru.onEvictable(3, true); // a redundant notification is harmless
    lru.onRemove(3);
    assertThat(lru.victim()).isEqualTo(Evictor.NONE);
  }
}
