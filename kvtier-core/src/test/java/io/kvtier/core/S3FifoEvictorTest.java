package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.spi.Evictor;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class S3FifoEvictorTest {

  private final FakeBlocks blocks = new FakeBlocks(64);

  private S3FifoEvictor evictor(long capacity) {
    return (S3FifoEvictor) S3FifoEvictor.POLICY.newEvictor(blocks.context(capacity));
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
  void oneHitBlocks_areEvictedBeforeBlocksAccessedTwice() {
    S3FifoEvictor e = evictor(10);
    for (int b = 0; b < 6; b++) {
      insertLeaf(e, b);
    }
    for (int b : new int[] {1, 3, 5}) {
      e.onAccess(b);
      e.onAccess(b);
    }
    List<Integer> order = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      order.add(evictNext(e));
    }
    assertThat(order.subList(0, 3)).containsExactly(0, 2, 4);
    assertThat(order.subList(3, 6)).containsExactlyInAnyOrder(1, 3, 5);
    assertThat(evictNext(e)).isEqualTo(Evictor.NONE);
  }

  @Test
  void mainQueueBlock_survivesAFloodOfOneHitBlocks() {
    S3FifoEvictor e = evictor(10);
    insertLeaf(e, 0);
    e.onAccess(0);
    insertLeaf(e, 1);
    assertThat(evictNext(e)).isEqualTo(1); // 0 was promoted to M on the way
    assertThat(e.queueOf(0)).isEqualTo(S3FifoEvictor.MAIN);
    for (int b = 2; b < 40; b++) {
      insertLeaf(e, b);
      assertThat(evictNext(e)).isEqualTo(b);
    }
    assertThat(e.queueOf(0)).isEqualTo(S3FifoEvictor.MAIN);
  }

  @Test
  void ghostHit_entersMainQueue() {
    S3FifoEvictor e = evictor(10);
    blocks.fingerprint[0] = 100;
    insertLeaf(e, 0);
    assertThat(e.queueOf(0)).isEqualTo(S3FifoEvictor.SMALL);
    assertThat(evictNext(e)).isEqualTo(0);
    assertThat(e.ghostSize()).isEqualTo(1);

    blocks.fingerprint[7] = 100; // the same content comes back under another id
    blocks.fingerprint[8] = 200;
    insertLeaf(e, 7);
    insertLeaf(e, 8);
    assertThat(e.queueOf(7)).isEqualTo(S3FifoEvictor.MAIN);
    assertThat(e.queueOf(8)).isEqualTo(S3FifoEvictor.SMALL);
    assertThat(e.ghostSize()).as("a ghost hit consumes the entry").isZero();

    e.onRemove(7); // leaving from M leaves no ghost
    assertThat(e.ghostSize()).isZero();
    blocks.fingerprint[9] = 100;
    insertLeaf(e, 9);
    assertThat(e.queueOf(9)).isEqualTo(S3FifoEvictor.SMALL);
  }

  @Test
  void ghostQueue_isBoundedAndForgetsTheOldestFirst() {
    S3FifoEvictor e = evictor(10); // |S| target 1, ghost bound 9
    for (int b = 0; b < 30; b++) {
      blocks.fingerprint[b] = 1000 + b;
      insertLeaf(e, b);
      e.onRemove(b);
    }
    assertThat(e.ghostSize()).isEqualTo(9);
    blocks.fingerprint[40] = 1000; // forgotten long ago
    blocks.fingerprint[41] = 1029; // the newest ghost
    blocks.fingerprint[42] = 1021; // the oldest one still remembered
    insertLeaf(e, 40);
    insertLeaf(e, 41);
    insertLeaf(e, 42);
    assertThat(e.queueOf(40)).isEqualTo(S3FifoEvictor.SMALL);
    assertThat(e.queueOf(41)).isEqualTo(S3FifoEvictor.MAIN);
    assertThat(e.queueOf(42)).isEqualTo(S3FifoEvictor.MAIN);
  }

  @Test
  void nonEvictableBlocks_areNeverReturned() {
    S3FifoEvictor e = evictor(10);
    for (int b = 0; b < 5; b++) {
      e.onInsert(b); // interior blocks: not evictable
    }
    e.onAccess(1);
    e.onAccess(1);
    e.onAccess(1);
    assertThat(e.victim()).isEqualTo(Evictor.NONE);
    assertThat(e.smallSize() + e.mainSize()).isEqualTo(5);

    blocks.evictable[3] = true;
    e.onEvictable(3, true);
    assertThat(e.victim()).isEqualTo(3);
    assertThat(e.victim()).as("victim() does not remove").isEqualTo(3);

    blocks.evictable[3] = false;
    e.onEvictable(3, false);
    blocks.evictable[1] = true; // accessed on probation: promoted, then its count runs down
    e.onEvictable(1, true);
    assertThat(e.victim()).isEqualTo(1);
    assertThat(e.queueOf(1)).isEqualTo(S3FifoEvictor.MAIN);
  }

  @Test
  void evictableBlockPromotedDuringTheScan_isFound() {
    S3FifoEvictor e = evictor(100); // |S| target 10: with few blocks M is preferred
    e.onInsert(0);
    blocks.fingerprint[1] = 5;
    insertLeaf(e, 1);
    e.onRemove(1);
    blocks.fingerprint[2] = 5;
    e.onInsert(2); // ghost hit: M holds a pinned block
    insertLeaf(e, 3);
    e.onAccess(3); // in S with a count: it gets promoted before it may go
    assertThat(e.queueOf(2)).isEqualTo(S3FifoEvictor.MAIN);
    assertThat(e.victim()).isEqualTo(3);
    assertThat(e.queueOf(3)).isEqualTo(S3FifoEvictor.MAIN);
  }

  @Test
  void mainQueueBlockWithAFullCount_isFoundOnceItRunsDown() {
    S3FifoEvictor e = evictor(10);
    blocks.fingerprint[1] = 7;
    insertLeaf(e, 1);
    e.onRemove(1); // left from S: its fingerprint is a ghost
    blocks.fingerprint[0] = 7;
    e.onInsert(0); // pinned for now; the ghost hit puts it in M
    assertThat(e.queueOf(0)).isEqualTo(S3FifoEvictor.MAIN);
    for (int i = 0; i < 5; i++) {
      e.onAccess(0); // capped at 3
    }
    blocks.evictable[0] = true;
    e.onEvictable(0, true);
    assertThat(e.victim()).isEqualTo(0);
  }

  @Test
  void aBlockThatCannotGo_isParkedWithItsCount_andAUseOnProbationPromotesItWhenItComesBack() {
    S3FifoEvictor e = evictor(10);
    e.onInsert(0); // pinned
    e.onAccess(0);
    e.onInsert(1); // an interior block
    assertThat(e.victim()).isEqualTo(Evictor.NONE);
    assertThat(e.queueOf(0)).as("still on probation, count kept").isEqualTo(S3FifoEvictor.SMALL);
    assertThat(e.smallSize()).as("parked blocks still count in their queue").isEqualTo(2);
    insertLeaf(e, 2);
    blocks.evictable[0] = true;
    e.onEvictable(0, true); // used while parked on probation: back in M
    assertThat(e.victim()).isEqualTo(2);
    assertThat(e.queueOf(0)).as("its count promoted it").isEqualTo(S3FifoEvictor.MAIN);
  }

  @Test
  void aParentThatBecomesALeaf_comesBackAtTheHead_notAsTheOldest() {
    S3FifoEvictor e = evictor(10);
    e.onInsert(0); // a shared prefix: interior, parked
    insertLeaf(e, 1);
    insertLeaf(e, 2);
    blocks.evictable[0] = true;
    e.onEvictable(0, true); // its last child went
    assertThat(e.victim()).as("the oldest leaf that waited in the queue").isEqualTo(1);
  }

  @Test
  void victim_isStableUntilTheVictimChanges() {
    S3FifoEvictor e = evictor(20); // |S| target 2
    for (int b = 0; b < 4; b++) {
      insertLeaf(e, b);
    }
    e.onAccess(0);
    int v = e.victim();
    assertThat(v).isEqualTo(1);
    assertThat(e.victim()).isEqualTo(v);
    e.onAccess(v);
    assertThat(e.victim()).isNotEqualTo(v);
    v = e.victim();
    blocks.evictable[v] = false;
    e.onEvictable(v, false);
    int w = e.victim();
    assertThat(w).isNotEqualTo(v);
    e.onRemove(w);
    e.onInsert(w); // the id comes back: a fresh block, not the old choice
    assertThat(e.victim()).isNotEqualTo(Evictor.NONE);
  }

  @Test
  void onInsert_twice_isRejected() {
    S3FifoEvictor e = evictor(10);
    e.onInsert(2);
    assertThatThrownBy(() -> e.onInsert(2)).isInstanceOf(IllegalStateException.class);
    e.onRemove(2);
    e.onRemove(2); // forgetting a forgotten block is harmless
    e.onInsert(2);
    assertThat(e.queueOf(2))
        .as("it left from S, so it comes back as a ghost hit")
        .isEqualTo(S3FifoEvictor.MAIN);
  }

  @Test
  void capacity_mustBePositive() {
    assertThatThrownBy(() -> new S3FifoEvictor(blocks, 0))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
