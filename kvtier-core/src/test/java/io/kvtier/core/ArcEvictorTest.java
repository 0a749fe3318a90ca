package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.spi.Evictor;
import org.junit.jupiter.api.Test;

class ArcEvictorTest {

  private final FakeBlocks blocks = new FakeBlocks(256);

  private ArcEvictor evictor(long capacity) {
    return (ArcEvictor) ArcEvictor.POLICY.newEvictor(blocks.context(capacity));
  }

  private void insertLeaf(Evictor e, int b) {
    blocks.evictable[b] = true;
    e.onInsert(b);
  }

  private static int evictNext(Evictor e) {
    int v = e.victim();
    if (v != Evictor.NONE) {
      e.onRemove(v);
    }
    return v;
  }

  @Test
  void blocksSeenTwice_moveToT2_andSurviveBlocksSeenOnce() {
    ArcEvictor e = evictor(8);
    for (int b = 0; b < 8; b++) {
      insertLeaf(e, b);
    }
    e.onAccess(2);
    e.onAccess(5);
    assertThat(e.listOf(2)).isEqualTo(ArcEvictor.T2);
    assertThat(e.listOf(0)).isEqualTo(ArcEvictor.T1);
    for (int i = 0; i < 6; i++) {
      assertThat(evictNext(e)).isNotIn(2, 5);
    }
    assertThat(e.ghosts1()).isEqualTo(6);
  }

  @Test
  void ghostHitInB1_growsTheTargetAndEntersT2() {
    ArcEvictor e = evictor(4);
    blocks.fingerprint[0] = 77;
    insertLeaf(e, 0);
    insertLeaf(e, 1);
    assertThat(evictNext(e)).isEqualTo(0);
    assertThat(e.target()).isZero();
    blocks.fingerprint[9] = 77;
    insertLeaf(e, 9);
    assertThat(e.listOf(9)).isEqualTo(ArcEvictor.T2);
    assertThat(e.target()).isEqualTo(1.0);
    assertThat(e.ghosts1()).isZero();
  }

  @Test
  void ghostHitInB2_shrinksTheTarget() {
    ArcEvictor e = evictor(4);
    blocks.fingerprint[0] = 77;
    blocks.fingerprint[1] = 88;
    insertLeaf(e, 0);
    insertLeaf(e, 1);
    evictNext(e); // 0 -> B1
    blocks.fingerprint[2] = 77;
    insertLeaf(e, 2); // B1 hit: p = 1, block 2 in T2
    e.onAccess(1); // 1 -> T2
    e.onRemove(2); // from T2 -> B2
    assertThat(e.ghosts2()).isEqualTo(1);
    blocks.fingerprint[3] = 77;
    insertLeaf(e, 3);
    assertThat(e.target()).isZero();
    assertThat(e.listOf(3)).isEqualTo(ArcEvictor.T2);
  }

  @Test
  void ghosts_stayWithinArcsBounds() {
    ArcEvictor e = evictor(5);
    int present = 0;
    for (int b = 0; b < 200; b++) {
      blocks.fingerprint[b] = 1000 + b % 37; // contents recur, so ghosts are hit
      insertLeaf(e, b);
      present++;
      if (b % 3 == 0) {
        e.onAccess(b);
      }
      while (present > 5) {
        assertThat(evictNext(e)).isNotEqualTo(Evictor.NONE);
        present--;
      }
      assertThat(e.ghosts1() + e.ghosts2()).isLessThanOrEqualTo(10);
      assertThat(e.target()).isBetween(0.0, 5.0);
    }
  }

  @Test
  void interiorBlocks_areNeverVictims() {
    ArcEvictor e = evictor(4);
    blocks.evictable[0] = false;
    e.onInsert(0);
    assertThat(e.victim()).isEqualTo(Evictor.NONE);
    insertLeaf(e, 1);
    assertThat(e.victim()).isEqualTo(1);
    blocks.evictable[0] = true;
    e.onEvictable(0, true);
    assertThat(e.victim()).isEqualTo(0);
  }

  @Test
  void doubleInsert_isRejected() {
    ArcEvictor e = evictor(4);
    insertLeaf(e, 0);
    assertThatThrownBy(() -> e.onInsert(0)).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void fingerprintFifo_removesOldestLiveMember() {
    FingerprintFifo f = new FingerprintFifo();
    for (long k = 0; k < 100; k++) {
      f.add(k);
    }
    for (long k = 0; k < 100; k += 2) {
      assertThat(f.remove(k)).isTrue();
    }
    assertThat(f.size()).isEqualTo(50);
    assertThat(f.removeOldest()).isTrue();
    assertThat(f.contains(1)).isFalse();
    assertThat(f.contains(3)).isTrue();
    for (int i = 0; i < 1000; i++) {
      f.add(5000 + i);
      f.remove(5000 + i);
    }
    assertThat(f.size()).isEqualTo(49);
    while (f.removeOldest()) {
      // drain
    }
    assertThat(f.size()).isZero();
  }
}
