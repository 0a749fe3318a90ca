package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class IndexedHeapTest {

  @Test
  void peek_onEmpty_returnsEmpty() {
    IndexedHeap h = new IndexedHeap();
    assertThat(h.peek()).isEqualTo(IndexedHeap.EMPTY);
    assertThat(h.size()).isZero();
    assertThat(h.contains(0)).isFalse();
    assertThat(h.contains(-5)).isFalse();
  }

  @Test
  void peek_ordersByFirstKeyThenSecond() {
    IndexedHeap h = new IndexedHeap(1);
    h.add(3, 5, 0);
    h.add(1, 2, 9);
    h.add(2, 2, -1);
    h.add(7, 2, 3);
    assertThat(h.peek()).isEqualTo(2);
    h.remove(2);
    assertThat(h.peek()).isEqualTo(7);
    h.update(3, Long.MIN_VALUE, 0);
    assertThat(h.peek()).isEqualTo(3);
    assertThat(h.key1(3)).isEqualTo(Long.MIN_VALUE);
    assertThat(h.size()).isEqualTo(3);
  }

  @Test
  void add_growsForLargeIds() {
    IndexedHeap h = new IndexedHeap(2);
    h.add(1_000_000, 1, 1);
    h.add(0, 2, 2);
    h.add(5_000_000, 0, 0);
    assertThat(h.peek()).isEqualTo(5_000_000);
    assertThat(h.contains(1_000_000)).isTrue();
    assertThat(h.contains(999_999)).isFalse();
  }

  @Test
  void add_rejectsDuplicateAndNegativeIds() {
    IndexedHeap h = new IndexedHeap();
    h.add(4, 0, 0);
    assertThatThrownBy(() -> h.add(4, 1, 1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> h.add(-1, 1, 1)).isInstanceOf(IllegalArgumentException.class);
    assertThat(h.size()).isEqualTo(1);
  }

  @Test
  void removeAndUpdate_ofAbsentId_returnFalse() {
    IndexedHeap h = new IndexedHeap();
    h.add(1, 0, 0);
    assertThat(h.remove(2)).isFalse();
    assertThat(h.remove(1_000)).isFalse();
    assertThat(h.update(2, 0, 0)).isFalse();
    assertThat(h.contains(2)).isFalse();
    assertThat(h.remove(1)).isTrue();
    assertThat(h.remove(1)).isFalse();
    assertThat(h.peek()).isEqualTo(IndexedHeap.EMPTY);
  }
}
