package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** {@link IndexedHeap} against a {@link TreeSet} of {@code (k1, k2, id)}. */
class IndexedHeapPropertiesTest {

  record Op(int kind, int id, long k1, long k2) {}

  record Entry(long k1, long k2, int id) {}

  private static final Comparator<Entry> ORDER =
      Comparator.comparingLong(Entry::k1).thenComparingLong(Entry::k2).thenComparingInt(Entry::id);

  @Provide
  Arbitrary<List<Op>> ops() {
    Arbitrary<Integer> ids =
        Arbitraries.oneOf(Arbitraries.integers().between(0, 40), Arbitraries.of(1 << 20, 70_001));
    Arbitrary<Long> keys =
        Arbitraries.oneOf(
            Arbitraries.longs().between(-3, 3), Arbitraries.of(Long.MIN_VALUE, Long.MAX_VALUE));
    return Combinators.combine(Arbitraries.integers().between(0, 3), ids, keys, keys)
        .as(Op::new)
        .list()
        .ofMaxSize(400);
  }

  @Property(tries = 300)
  void behavesLikeSortedSet(@ForAll("ops") List<Op> ops) {
    IndexedHeap heap = new IndexedHeap(1);
    TreeSet<Entry> model = new TreeSet<>(ORDER);
    Map<Integer, Entry> byId = new HashMap<>();
    for (Op op : ops) {
      Entry old = byId.get(op.id());
      switch (op.kind()) {
        case 0 -> {
          if (old == null) {
            heap.add(op.id(), op.k1(), op.k2());
            Entry e = new Entry(op.k1(), op.k2(), op.id());
            model.add(e);
            byId.put(op.id(), e);
          }
        }
        case 1 -> {
          assertThat(heap.remove(op.id())).isEqualTo(old != null);
          if (old != null) {
            model.remove(old);
            byId.remove(op.id());
          }
        }
        case 2 -> {
          assertThat(heap.update(op.id(), op.k1(), op.k2())).isEqualTo(old != null);
          if (old != null) {
            model.remove(old);
            Entry e = new Entry(op.k1(), op.k2(), op.id());
            model.add(e);
            byId.put(op.id(), e);
          }
        }
        default -> {
          int top = heap.peek();
          if (top != IndexedHeap.EMPTY) {
            assertThat(heap.remove(top)).isTrue();
            model.remove(byId.remove(top));
          }
        }
      }
      assertThat(heap.size()).isEqualTo(model.size());
      assertThat(heap.contains(op.id())).isEqualTo(byId.containsKey(op.id()));
      if (model.isEmpty()) {
        assertThat(heap.peek()).isEqualTo(IndexedHeap.EMPTY);
      } else {
        Entry min = model.first();
        int top = heap.peek();
        assertThat(byId).containsKey(top);
        assertThat(heap.key1(top)).isEqualTo(min.k1());
        assertThat(heap.key2(top)).isEqualTo(min.k2());
      }
    }
    long prev1 = Long.MIN_VALUE;
    long prev2 = Long.MIN_VALUE;
    while (heap.size() > 0) {
      int top = heap.peek();
      long a = heap.key1(top);
      long b = heap.key2(top);
      assertThat(a > prev1 || (a == prev1 && b >= prev2)).as("drain order").isTrue();
      Entry e = byId.remove(top);
      assertThat(e).isNotNull();
      assertThat(e.k1()).isEqualTo(a);
      assertThat(e.k2()).isEqualTo(b);
      heap.remove(top);
      prev1 = a;
      prev2 = b;
    }
    assertThat(byId).isEmpty();
  }
}
