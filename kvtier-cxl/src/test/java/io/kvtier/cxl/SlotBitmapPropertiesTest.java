package io.kvtier.cxl;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvtier.spi.PageStore;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

class SlotBitmapPropertiesTest {

  @Property(tries = 200)
  void randomAllocateAndFree_keepsTheBitmapEqualToAModel(
      @ForAll @IntRange(min = 1, max = 300) int capacity,
      @ForAll @Size(max = 600) List<@IntRange(min = -1, max = 320) Integer> ops) {
    SlotBitmap bitmap = new SlotBitmap(capacity);
    BitSet used = new BitSet();
    List<Long> held = new ArrayList<>();
    for (int op : ops) {
      if (op % 3 == 0 && !held.isEmpty()) {
        long slot = held.remove(op % held.size());
        bitmap.release(slot);
        used.clear((int) slot);
      } else {
        long slot = bitmap.allocate(op);
        if (used.cardinality() == capacity) {
          assertThat(slot).isEqualTo(PageStore.NO_SPACE);
          continue;
        }
        assertThat(slot).isBetween(0L, capacity - 1L);
        assertThat(used.get((int) slot)).as("slot %d handed out twice", slot).isFalse();
        if (op >= 0 && op < capacity && !used.get(op)) {
          assertThat(slot).isEqualTo(op);
        }
        used.set((int) slot);
        held.add(slot);
      }
      assertThat(bitmap.free()).isEqualTo(capacity - used.cardinality());
    }
    assertThat(bitmap.freeRuns()).isEqualTo(modelRuns(used, capacity));
    assertThat(bitmap.largestFreeRun()).isEqualTo(modelLargest(used, capacity));
  }

  private static long modelRuns(BitSet used, int capacity) {
    long runs = 0;
    for (int s = 0; s < capacity; s++) {
      if (!used.get(s) && (s == 0 || used.get(s - 1))) {
        runs++;
      }
    }
    return runs;
  }

  private static long modelLargest(BitSet used, int capacity) {
    long best = 0;
    long run = 0;
    for (int s = 0; s < capacity; s++) {
      run = used.get(s) ? 0 : run + 1;
      best = Math.max(best, run);
    }
    return best;
  }
}
