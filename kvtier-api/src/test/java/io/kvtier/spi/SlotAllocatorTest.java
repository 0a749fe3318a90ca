package io.kvtier.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class SlotAllocatorTest {

  @Test
  void constructor_rejectsEmptyCapacity() {
    assertThatThrownBy(() -> new SlotAllocator(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("capacity");
  }

  @Test
  void new_allocator_isOneFreeRun() {
    var slots = new SlotAllocator(100);
    assertThat(slots.capacity()).isEqualTo(100);
    assertThat(slots.freeCount()).isEqualTo(100);
    assertThat(slots.freeRuns()).isEqualTo(1);
    assertThat(slots.largestFreeRun()).isEqualTo(100);
  }

  @Test
  void allocate_withoutHint_takesFirstSlotsInOrder() {
    var slots = new SlotAllocator(8);
    assertThat(slots.allocate(-1)).isZero();
    assertThat(slots.allocate(-1)).isEqualTo(1);
    assertThat(slots.allocate(-1)).isEqualTo(2);
    assertThat(slots.freeRuns()).isEqualTo(1);
    assertThat(slots.largestFreeRun()).isEqualTo(5);
  }

  @Test
  void twoSequencesGrowingInStep_doNotInterleave() {
    var slots = new SlotAllocator(64);
    int a = slots.allocate(-1);
    int b = slots.allocate(-1);
    int[] seqA = new int[8];
    int[] seqB = new int[8];
    seqA[0] = a;
    seqB[0] = b;
    for (int i = 1; i < 8; i++) {
      seqA[i] = slots.allocate(seqA[i - 1] + 1);
      seqB[i] = slots.allocate(seqB[i - 1] + 1);
    }
    int breaksA = 0;
    int breaksB = 0;
    for (int i = 1; i < 8; i++) {
      breaksA += seqA[i] == seqA[i - 1] + 1 ? 0 : 1;
      breaksB += seqB[i] == seqB[i - 1] + 1 ? 0 : 1;
    }
    assertThat(breaksA + breaksB).isLessThanOrEqualTo(1);
  }

  @Test
  void allocate_honoursFreeHint_anywhereInItsRun() {
    var slots = new SlotAllocator(1000);
    assertThat(slots.allocate(999)).isEqualTo(999); // last slot of the run
    assertThat(slots.allocate(700)).isEqualTo(700); // interior: run start found by bitmap scan
    assertThat(slots.allocate(300)).isEqualTo(300); // interior, start several words back
    assertThat(slots.allocate(301)).isEqualTo(301); // first slot of a run
    assertThat(slots.allocate(0)).isZero();
    assertThat(slots.freeRuns()).isEqualTo(3); // [1..299] [302..699] [701..998]
    assertThat(slots.largestFreeRun()).isEqualTo(398);
    assertThat(slots.isFree(300)).isFalse();
    assertThat(slots.isFree(299)).isTrue();
    assertThat(slots.isFree(302)).isTrue();
  }

  @Test
  void allocate_ignoresOutOfRangeOrTakenHint() {
    var slots = new SlotAllocator(4);
    assertThat(slots.allocate(7))
        .isEqualTo(2); // past the end: a blocked sequence, middle of [0..3]
    assertThat(slots.allocate(2)).isZero(); // taken: runs [0..1] and [3] are too short to split
    assertThat(slots.allocate(-5)).isIn(1, 3);
  }

  @Test
  void allocate_withoutHint_prefersLongestRun() {
    var slots = new SlotAllocator(20);
    for (int i = 0; i < 20; i++) {
      slots.allocate(-1);
    }
    for (int i = 1; i <= 3; i++) {
      slots.free(i); // run [1..3], class 1
    }
    for (int i = 8; i <= 17; i++) {
      slots.free(i); // run [8..17], class 3
    }
    assertThat(slots.allocate(-1)).isEqualTo(8);
    assertThat(slots.allocate(9)).isEqualTo(9);
    assertThat(slots.largestFreeRun()).isEqualTo(8);
  }

  @Test
  void sequences_growingWithNextSlotHints_stayContiguous() {
    var slots = new SlotAllocator(64);
    int a = slots.allocate(-1);
    int b = slots.allocate(32);
    int lastA = a;
    int lastB = b;
    for (int i = 0; i < 10; i++) {
      lastA = slots.allocate(lastA + 1);
      lastB = slots.allocate(lastB + 1);
    }
    assertThat(lastA).isEqualTo(a + 10);
    assertThat(lastB).isEqualTo(b + 10);
    assertThat(slots.freeRuns()).isEqualTo(2);
  }

  @Test
  void sequence_whoseNextSlotIsTaken_continuesInTheMiddleOfTheLongestRun() {
    var slots = new SlotAllocator(64);
    int a = slots.allocate(-1);
    int other = slots.allocate(a + 1);
    for (int i = 40; i < 64; i++) {
      slots.allocate(i);
    }
    // free run [2..39]: the blocked sequence leaves [2..20] to the one that blocked it
    assertThat(slots.allocate(a + 1)).isEqualTo(other + 1 + 38 / 2);
  }

  @Test
  void free_coalescesWithBothNeighbours() {
    var slots = new SlotAllocator(10);
    for (int i = 0; i < 10; i++) {
      slots.allocate(-1);
    }
    slots.free(3);
    slots.free(5);
    assertThat(slots.freeRuns()).isEqualTo(2);
    slots.free(4);
    assertThat(slots.freeRuns()).isEqualTo(1);
    assertThat(slots.largestFreeRun()).isEqualTo(3);
    slots.free(0);
    slots.free(9);
    slots.free(1);
    slots.free(8);
    slots.free(2);
    slots.free(6);
    assertThat(slots.freeRuns()).isEqualTo(2);
    slots.free(7);
    assertThat(slots.freeRuns()).isEqualTo(1);
    assertThat(slots.largestFreeRun()).isEqualTo(10);
    assertThat(slots.freeCount()).isEqualTo(10);
  }

  @Test
  void free_ofFreeSlot_isRejectedAndChangesNothing() {
    var slots = new SlotAllocator(10);
    int a = slots.allocate(-1);
    int b = slots.allocate(-1);
    slots.free(a);
    assertThatThrownBy(() -> slots.free(a))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("slot " + a)
        .hasMessageContaining("already free");
    assertThatThrownBy(() -> slots.free(5))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("already free");
    assertThat(slots.freeCount()).isEqualTo(9);
    assertThat(slots.freeRuns()).isEqualTo(2);
    assertThat(slots.isFree(b)).isFalse();
  }

  @Test
  void runResizedByOneSlotWithinItsSizeClass_keepsItsPlaceInTheList() {
    var slots = new SlotAllocator(30);
    for (int i = 0; i < 30; i++) {
      slots.allocate(-1);
    }
    // Three runs of size class 2 (4..7 slots). Each reaches class 2 as it grows, so the class's
    // list is [20..24], [10..16], [0..5], newest first; [10..16] is the middle node.
    freeRange(slots, 0, 5);
    freeRange(slots, 10, 16);
    freeRange(slots, 20, 24);
    assertThat(slots.freeRuns()).isEqualTo(3);
    assertThat(slots.largestFreeRun()).isEqualTo(7);

    assertThat(slots.allocate(10)).isEqualTo(10); // head of the middle run: node moves to 11
    assertThat(slots.largestFreeRun()).isEqualTo(6); // walks the whole list: 5, 6, 6
    slots.free(10); // merges back: node moves to 10
    assertThat(slots.largestFreeRun()).isEqualTo(7);
    assertThat(slots.allocate(16)).isEqualTo(16); // tail of the middle run: tags only
    slots.free(16);
    assertThat(slots.freeRuns()).isEqualTo(3);
    assertThat(slots.freeCount()).isEqualTo(18);

    // Worst fit takes class 2 from its head, still in the original order (unlinking and
    // reinserting would have put [10..16] first): [20..24] until it drops to class 1, then
    // [10..16], then [0..5].
    var taken = new TreeSet<Integer>();
    int[] firstSeven = new int[7];
    for (int i = 0; i < 18; i++) {
      int slot = slots.allocate(-1);
      if (i < firstSeven.length) {
        firstSeven[i] = slot;
      }
      taken.add(slot);
    }
    assertThat(firstSeven).containsExactly(20, 21, 10, 11, 12, 13, 0);
    assertThat(taken)
        .hasSize(18)
        .allMatch(s -> s <= 5 || (s >= 10 && s <= 16) || (s >= 20 && s <= 24));
    assertThat(slots.allocate(-1)).isEqualTo(SlotAllocator.NO_SPACE);
  }

  private static void freeRange(SlotAllocator slots, int first, int last) {
    for (int s = first; s <= last; s++) {
      slots.free(s);
    }
  }

  @Test
  void tryFree_reportsAFreeSlotAndChangesNothing() {
    var slots = new SlotAllocator(4);
    int a = slots.allocate(-1);
    assertThat(slots.tryFree(a)).isTrue();
    assertThat(slots.tryFree(a)).isFalse();
    assertThat(slots.tryFree(3)).isFalse();
    assertThat(slots.freeCount()).isEqualTo(4);
    assertThat(slots.freeRuns()).isEqualTo(1);
    assertThatThrownBy(() -> slots.tryFree(4))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("out of range");
  }

  @Test
  void pageStoreHelpers_mapHintsAndNoSpace_andWordTheirErrorsWithTheTier() {
    var slots = new SlotAllocator(3);
    assertThat(slots.allocatePage(2)).isEqualTo(2);
    long other = slots.allocatePage(Long.MAX_VALUE); // out of range: no hint
    assertThat(other).isBetween(0L, 1L);
    assertThat(slots.allocatePage(-5)).isBetween(0L, 1L).isNotEqualTo(other);
    assertThat(slots.allocatePage(0)).isEqualTo(PageStore.NO_SPACE);
    slots.freePage(2, "t");
    assertThat(slots.isFree(2)).isTrue();
    assertThatThrownBy(() -> slots.freePage(2, "t"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("tier 't': slot 2 is not in use");
    assertThatThrownBy(() -> slots.freePage(3, "t"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("tier 't': slot 3 is out of range [0, 3)");
    assertThatThrownBy(() -> SlotAllocator.checkSlot(-1, 3, "t"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("out of range");
    assertThat(SlotAllocator.checkSlot(1, 3, "t")).isEqualTo(1);
    assertThat(slots.freeCount()).isEqualTo(1);
  }

  @Test
  void free_outOfRange_isRejected() {
    var slots = new SlotAllocator(10);
    assertThatThrownBy(() -> slots.free(10))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("out of range");
    assertThatThrownBy(() -> slots.free(-1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> slots.isFree(10)).isInstanceOf(IllegalArgumentException.class);
    assertThat(slots.freeCount()).isEqualTo(10);
  }

  @Test
  void allocate_whenFull_returnsNoSpace() {
    var slots = new SlotAllocator(3);
    slots.allocate(-1);
    slots.allocate(-1);
    slots.allocate(-1);
    assertThat(slots.allocate(-1)).isEqualTo(SlotAllocator.NO_SPACE);
    assertThat(slots.allocate(1)).isEqualTo(SlotAllocator.NO_SPACE);
    assertThat(slots.freeRuns()).isZero();
    assertThat(slots.largestFreeRun()).isZero();
    slots.free(1);
    assertThat(slots.allocate(-1)).isEqualTo(1);
  }

  @Test
  void capacityOfOne_works() {
    var slots = new SlotAllocator(1);
    assertThat(slots.allocate(0)).isZero();
    assertThat(slots.allocate(-1)).isEqualTo(SlotAllocator.NO_SPACE);
    slots.free(0);
    assertThat(slots.isFree(0)).isTrue();
    assertThat(slots.largestFreeRun()).isEqualTo(1);
  }
}
