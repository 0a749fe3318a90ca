package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.BitSet;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

class IdAllocatorPropertiesTest {

  @Property(tries = 200)
  void neverHandsOutAnIdTwice_andHonoursFreeHints(
      @ForAll @IntRange(min = 1, max = 300) int capacity,
      @ForAll @Size(max = 400) List<@IntRange(min = -1, max = 320) Integer> ops) {
    IdAllocator ids = new IdAllocator(capacity);
    BitSet taken = new BitSet();
    for (int op : ops) {
      if (op >= 0 && op < capacity && taken.get(op) && (op & 1) == 0) {
        ids.free(op);
        taken.clear(op);
        continue;
      }
      int id = ids.allocate(op);
      if (taken.cardinality() == capacity) {
        assertThat(id).isEqualTo(IdAllocator.NONE);
        continue;
      }
      assertThat(id).isBetween(0, capacity - 1);
      assertThat(taken.get(id)).as("id %d handed out twice", id).isFalse();
      if (op >= 0 && op < capacity && !taken.get(op)) {
        assertThat(id).as("a free hint is honoured").isEqualTo(op);
      }
      taken.set(id);
      assertThat(ids.freeCount()).isEqualTo(capacity - taken.cardinality());
    }
    for (int i = 0; i < capacity; i++) {
      assertThat(ids.isFree(i)).isEqualTo(!taken.get(i));
    }
  }

  @org.junit.jupiter.api.Test
  void newChainsStartAtAnEntirelyFreeWord_andDoubleFreeIsRejected() {
    IdAllocator ids = new IdAllocator(256);
    int a = ids.allocate(-1);
    int b = ids.allocate(-1);
    assertThat(a).isZero();
    assertThat(b).isEqualTo(64);
    assertThat(ids.allocate(a + 1)).isEqualTo(1);
    ids.free(b);
    assertThatThrownBy(() -> ids.free(b)).isInstanceOf(IllegalStateException.class);
    assertThat(ids.isFree(300)).isFalse();
  }
}
