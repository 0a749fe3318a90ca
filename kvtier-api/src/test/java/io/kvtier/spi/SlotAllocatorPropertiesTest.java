package io.kvtier.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.BitSet;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/** Random allocate/free sequences checked against a {@link BitSet} of free slots. */
class SlotAllocatorPropertiesTest {

  @Property(tries = 300)
  void matchesBitSetModel(
      @ForAll @IntRange(min = 1, max = 300) int capacity,
      @ForAll @Size(max = 600) List<@IntRange(min = 0, max = 1_000_000) Integer> ops) {
    var slots = new SlotAllocator(capacity);
    var model = new BitSet(capacity);
    model.set(0, capacity);
    int last = -1;
    for (int op : ops) {
      int arg = op / 4;
      switch (op % 4) {
        case 0 -> last = allocate(slots, model, arg % (capacity + 4) - 2);
        case 1 -> last = allocate(slots, model, last < 0 ? -1 : last + 1);
        case 2 -> {
          int allocated = capacity - model.cardinality();
          if (allocated > 0) {
            int slot = nthClear(model, arg % allocated);
            slots.free(slot);
            model.set(slot);
          }
        }
        default -> {
          if (!model.isEmpty()) {
            int slot = nthSet(model, arg % model.cardinality());
            assertThatThrownBy(() -> slots.free(slot)).isInstanceOf(IllegalArgumentException.class);
          }
        }
      }
      assertMatches(slots, model, capacity);
    }
  }

  private static int allocate(SlotAllocator slots, BitSet model, int hint) {
    int slot = slots.allocate(hint);
    if (model.isEmpty()) {
      assertThat(slot).isEqualTo(SlotAllocator.NO_SPACE);
      return -1;
    }
    assertThat(slot).isBetween(0, slots.capacity() - 1);
    assertThat(model.get(slot)).as("slot %d handed out while in use", slot).isTrue();
    if (hint >= 0 && hint < slots.capacity() && model.get(hint)) {
      assertThat(slot).as("free hint honoured").isEqualTo(hint);
    } else if (hint >= 0) {
      int start = model.previousClearBit(slot) + 1;
      int runLength = model.nextClearBit(slot) - start;
      assertThat(sizeClass(runLength))
          .as("blocked sequence: run from the highest size class")
          .isEqualTo(sizeClass(largestRun(model)));
      assertThat(slot)
          .as("blocked sequence: middle of a long run, start of a short one")
          .isEqualTo(runLength >= SlotAllocator.BLOCKED_SPLIT_MIN ? start + runLength / 2 : start);
    } else {
      assertThat(slot == 0 || !model.get(slot - 1)).as("first slot of a run").isTrue();
      int runLength = model.nextClearBit(slot) - slot;
      assertThat(sizeClass(runLength))
          .as("run from the highest size class")
          .isEqualTo(sizeClass(largestRun(model)));
    }
    model.clear(slot);
    return slot;
  }

  private static void assertMatches(SlotAllocator slots, BitSet model, int capacity) {
    assertThat(slots.freeCount()).isEqualTo(model.cardinality());
    assertThat(slots.freeRuns()).isEqualTo(runs(model));
    assertThat(slots.largestFreeRun()).isEqualTo(largestRun(model));
    for (int s = 0; s < capacity; s++) {
      assertThat(slots.isFree(s)).isEqualTo(model.get(s));
    }
  }

  private static int runs(BitSet model) {
    int runs = 0;
    for (int s = model.nextSetBit(0); s >= 0; s = model.nextSetBit(model.nextClearBit(s))) {
      runs++;
    }
    return runs;
  }

  private static int largestRun(BitSet model) {
    int largest = 0;
    for (int s = model.nextSetBit(0); s >= 0; ) {
      int end = model.nextClearBit(s);
      largest = Math.max(largest, end - s);
      s = model.nextSetBit(end);
    }
    return largest;
  }

  private static int sizeClass(int length) {
    return 31 - Integer.numberOfLeadingZeros(length);
  }

  private static int nthSet(BitSet bits, int n) {
    int s = bits.nextSetBit(0);
    for (int i = 0; i < n; i++) {
      s = bits.nextSetBit(s + 1);
    }
    return s;
  }

  private static int nthClear(BitSet bits, int n) {
    int s = bits.nextClearBit(0);
    for (int i = 0; i < n; i++) {
      s = bits.nextClearBit(s + 1);
    }
    return s;
  }
}
