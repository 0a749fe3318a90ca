package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.spi.Evictor;
import org.junit.jupiter.api.Test;

class TinyLfuEvictorTest {

  private final FakeBlocks blocks = new FakeBlocks(256);

  private TinyLfuEvictor evictor(long capacity) {
    return (TinyLfuEvictor) TinyLfuEvictor.POLICY.newEvictor(blocks.context(capacity));
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
  void newBlocks_enterTheWindow_andOverflowToProbationAsCandidates() {
    TinyLfuEvictor e = evictor(100); // a window of 1 block
    insertLeaf(e, 0);
    assertThat(e.segmentOf(0)).isEqualTo(TinyLfuEvictor.WINDOW);
    insertLeaf(e, 1);
    assertThat(e.segmentOf(0)).isEqualTo(TinyLfuEvictor.PROBATION);
    assertThat(e.isCandidate(0)).isTrue();
    assertThat(e.victim()).isEqualTo(0);
    e.onAccess(1);
    assertThat(e.segmentOf(1)).isEqualTo(TinyLfuEvictor.WINDOW);
    e.onAccess(0);
    assertThat(e.segmentOf(0)).isEqualTo(TinyLfuEvictor.PROTECTED);
    assertThat(e.isCandidate(0)).isFalse();
    assertThat(e.victim()).isEqualTo(0); // only protected and the window are left
  }

  @Test
  void frequentBlocks_surviveAScanOfOneHitBlocks() {
    TinyLfuEvictor e = evictor(10);
    for (int b = 0; b < 5; b++) {
      insertLeaf(e, b);
      for (int i = 0; i < 4; i++) {
        e.onAccess(b);
      }
    }
    for (int b = 5; b < 10; b++) {
      insertLeaf(e, b);
    }
    for (int b = 10; b < 110; b++) { // fewer increments than one aging period (10 x 16)
      insertLeaf(e, b);
      int v = evictNext(e);
      assertThat(v).as("evicting for %d", b).isGreaterThanOrEqualTo(5);
    }
    for (int b = 0; b < 5; b++) {
      assertThat(e.segmentOf(b)).isNotEqualTo(TinyLfuEvictor.NOT_QUEUED);
    }
  }

  @Test
  void candidate_isAdmittedOnlyWhenMoreFrequentThanTheVictim() {
    TinyLfuEvictor e = evictor(10); // a window of 1 block
    blocks.fingerprint[50] = 777; // content seen often before, under another id
    insertLeaf(e, 50);
    for (int i = 0; i < 5; i++) {
      e.onAccess(50);
    }
    e.onRemove(50);

    insertLeaf(e, 0);
    blocks.fingerprint[1] = 777;
    insertLeaf(e, 1);
    insertLeaf(e, 2); // probation: 0 (oldest), 1 (newest candidate)
    assertThat(e.frequency(1)).isGreaterThan(e.frequency(0));
    assertThat(evictNext(e)).isEqualTo(0);
    assertThat(e.isCandidate(1)).isFalse();
    assertThat(e.segmentOf(1)).isEqualTo(TinyLfuEvictor.PROBATION);

    insertLeaf(e, 3); // probation: 1 (admitted), 2 (newest candidate, seen once)
    assertThat(evictNext(e)).isEqualTo(2);
    assertThat(e.segmentOf(1)).isEqualTo(TinyLfuEvictor.PROBATION);
  }

  @Test
  void interiorBlocks_areNeverVictims_andLeaveTheWindowForMain() {
    TinyLfuEvictor e = evictor(10);
    blocks.evictable[0] = false;
    e.onInsert(0);
    blocks.evictable[1] = false;
    e.onInsert(1);
    insertLeaf(e, 2);
    assertThat(e.victim()).isEqualTo(2);
    assertThat(e.segmentOf(0)).isEqualTo(TinyLfuEvictor.PROBATION);
    e.onRemove(2);
    assertThat(e.victim()).isEqualTo(Evictor.NONE);
    blocks.evictable[1] = true;
    e.onEvictable(1, true);
    assertThat(e.victim()).isEqualTo(1);
  }

  @Test
  void victim_isStableUntilRemoved() {
    TinyLfuEvictor e = evictor(20);
    for (int b = 0; b < 20; b++) {
      insertLeaf(e, b);
    }
    int v = e.victim();
    assertThat(e.victim()).isEqualTo(v);
    e.onRemove(v);
    assertThat(e.victim()).isNotEqualTo(v);
  }

  @Test
  void doubleInsert_isRejected() {
    TinyLfuEvictor e = evictor(4);
    insertLeaf(e, 0);
    assertThatThrownBy(() -> e.onInsert(0)).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void sketch_countsAndAges() {
    FrequencySketch s = new FrequencySketch(16);
    for (int i = 0; i < 20; i++) {
      s.increment(42);
    }
    assertThat(s.frequency(42)).isEqualTo(15);
    assertThat(s.frequency(43)).isLessThanOrEqualTo(1);
    for (long k = 1000; k < 1000 + 10L * s.width(); k++) {
      s.increment(k);
    }
    assertThat(s.frequency(42)).isLessThan(15);
  }
}
