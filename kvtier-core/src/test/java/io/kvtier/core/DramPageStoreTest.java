package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.spi.PageStore;
import io.kvtier.spi.TierKind;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Random;
import org.junit.jupiter.api.Test;

class DramPageStoreTest {

  private static final int PAGE = 4096;

  @Test
  void capacity_isWholePagesOfTheBytes() {
    try (var store = new DramPageStore("dram", 10 * PAGE + 100, PAGE)) {
      assertThat(store.kind()).isEqualTo(TierKind.DRAM);
      assertThat(store.name()).isEqualTo("dram");
      assertThat(store.pageBytes()).isEqualTo(PAGE);
      assertThat(store.capacityPages()).isEqualTo(10);
      assertThat(store.freePages()).isEqualTo(10);
      assertThat(store.freeRuns()).isEqualTo(1);
      assertThat(store.largestFreeRun()).isEqualTo(10);
    }
  }

  @Test
  void constructor_rejectsPoolSmallerThanAPage() {
    assertThatThrownBy(() -> new DramPageStore("small", PAGE - 1, PAGE))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'small'")
        .hasMessageContaining("0 pages");
    assertThatThrownBy(() -> new DramPageStore("huge", 1L << 40, 64))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("pages");
  }

  @Test
  void writeThenRead_roundTripsRandomBytes() {
    var random = new Random(42);
    try (var store = new DramPageStore("dram", 16L * PAGE, PAGE);
        var arena = Arena.ofConfined()) {
      var written = new ArrayList<byte[]>();
      var used = new ArrayList<Long>();
      for (int i = 0; i < 16; i++) {
        long slot = store.allocate(-1);
        byte[] bytes = new byte[i == 3 ? 100 : PAGE];
        random.nextBytes(bytes);
        store.write(slot, MemorySegment.ofArray(bytes));
        written.add(bytes);
        used.add(slot);
      }
      for (int i = 0; i < 16; i++) {
        byte[] expected = written.get(i);
        MemorySegment dst = arena.allocate(expected.length);
        store.read(used.get(i), dst);
        assertThat(dst.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(expected);
      }
    }
  }

  @Test
  void copy_duplicatesAPage() {
    var random = new Random(7);
    try (var store = new DramPageStore("dram", 4L * PAGE, PAGE)) {
      long a = store.allocate(-1);
      long b = store.allocate(-1);
      byte[] bytes = new byte[PAGE];
      random.nextBytes(bytes);
      store.write(a, MemorySegment.ofArray(bytes));
      store.copy(a, b);
      byte[] back = new byte[PAGE];
      store.read(b, MemorySegment.ofArray(back));
      assertThat(back).isEqualTo(bytes);
    }
  }

  @Test
  void segment_aliasesThePage() {
    try (var store = new DramPageStore("dram", 4L * PAGE, PAGE)) {
      long slot = store.allocate(2);
      MemorySegment page = store.segment(slot).orElseThrow();
      assertThat(page.byteSize()).isEqualTo(PAGE);
      assertThat(page.address() % PAGE).isZero();
      page.set(ValueLayout.JAVA_LONG, 8, 0x1234_5678_9abc_def0L);
      byte[] back = new byte[16];
      store.read(slot, MemorySegment.ofArray(back));
      assertThat(MemorySegment.ofArray(back).get(ValueLayout.JAVA_LONG_UNALIGNED, 8))
          .isEqualTo(0x1234_5678_9abc_def0L);
      store.write(slot, MemorySegment.ofArray(new byte[] {1, 2, 3}));
      assertThat(page.get(ValueLayout.JAVA_BYTE, 2)).isEqualTo((byte) 3);
      assertThat(store.segment(slot + 1).orElseThrow().address()).isEqualTo(page.address() + PAGE);
    }
  }

  @Test
  void allocate_honoursHintAndRunsOutWithNoSpace() {
    try (var store = new DramPageStore("dram", 4L * PAGE, PAGE)) {
      assertThat(store.allocate(2)).isEqualTo(2);
      assertThat(store.allocate(3)).isEqualTo(3);
      assertThat(store.allocate(4)).isZero(); // out-of-range hint: no preference
      assertThat(store.allocate(-1)).isEqualTo(1);
      assertThat(store.freePages()).isZero();
      assertThat(store.allocate(-1)).isEqualTo(PageStore.NO_SPACE);
      store.free(2);
      assertThat(store.freePages()).isEqualTo(1);
      assertThat(store.allocate(-1)).isEqualTo(2);
    }
  }

  @Test
  void badSlotsAndOversizeSegments_areRejected() {
    try (var store = new DramPageStore("dram", 4L * PAGE, PAGE)) {
      long slot = store.allocate(-1);
      var small = MemorySegment.ofArray(new byte[PAGE]);
      assertThatThrownBy(() -> store.write(4, small))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("out of range");
      assertThatThrownBy(() -> store.read(-1, small)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> store.segment(1L << 33))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> store.free(4)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> store.write(slot, MemorySegment.ofArray(new byte[PAGE + 1])))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("larger than a page");
      assertThatThrownBy(() -> store.read(slot, MemorySegment.ofArray(new byte[PAGE + 1])))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> store.free(slot + 1))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("not in use");
      store.free(slot);
      assertThatThrownBy(() -> store.free(slot))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("not in use");
      assertThat(store.freePages()).isEqualTo(4);
    }
  }

  @Test
  void useAfterClose_throwsAndCloseIsIdempotent() {
    var store = new DramPageStore("hostmem", 4L * PAGE, PAGE);
    long slot = store.allocate(-1);
    MemorySegment page = store.segment(slot).orElseThrow();
    assertThat(store.isClosed()).isFalse();
    store.close();
    store.close();
    assertThat(store.isClosed()).isTrue();
    var buf = MemorySegment.ofArray(new byte[8]);
    assertThatThrownBy(() -> store.read(slot, buf))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("tier 'hostmem' is closed");
    assertThatThrownBy(() -> store.write(slot, buf)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> store.allocate(-1)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> store.free(slot)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> store.segment(slot)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> store.copy(slot, slot)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(store::freePages).isInstanceOf(IllegalStateException.class);
    // the arena is released: a segment handed out earlier is no longer usable
    assertThatThrownBy(() -> page.get(ValueLayout.JAVA_BYTE, 0))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void pagesLargerThanTheAlignment_andOddSizes_work() {
    try (var store = new DramPageStore("odd", 5L * 3000, 3000)) {
      assertThat(store.capacityPages()).isEqualTo(5);
      long slot = store.allocate(4);
      byte[] bytes = new byte[3000];
      new Random(3).nextBytes(bytes);
      store.write(slot, MemorySegment.ofArray(bytes));
      assertThat(store.segment(slot).orElseThrow().toArray(ValueLayout.JAVA_BYTE)).isEqualTo(bytes);
    }
  }

  @Test
  void poolLargerThan2GiB_spansChunks() {
    int page = 64 << 20;
    long capacity = (2L << 30) + page; // 33 pages in chunks of 16, 16 and 1
    try (var store = new DramPageStore("big", capacity, page);
        var arena = Arena.ofConfined()) {
      assertThat(store.capacityPages()).isEqualTo(33);
      var slots = new HashSet<Long>();
      long previous = -1;
      for (int i = 0; i < 33; i++) {
        long slot = store.allocate(previous < 0 ? -1 : previous + 1);
        assertThat(slot).isEqualTo(i);
        slots.add(slot);
        MemorySegment pattern = arena.allocate(64);
        pattern.fill((byte) (i + 1));
        pattern.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, slot * 0x0101_0101_0101L);
        store.write(slot, pattern);
        store.segment(slot).orElseThrow().set(ValueLayout.JAVA_BYTE, page - 1, (byte) ~i);
        previous = slot;
      }
      assertThat(store.allocate(-1)).isEqualTo(PageStore.NO_SPACE);
      MemorySegment back = arena.allocate(64);
      for (long slot : slots) {
        store.read(slot, back);
        assertThat(back.get(ValueLayout.JAVA_LONG_UNALIGNED, 0))
            .isEqualTo(slot * 0x0101_0101_0101L);
        assertThat(back.get(ValueLayout.JAVA_BYTE, 63)).isEqualTo((byte) (slot + 1));
        assertThat(store.segment(slot).orElseThrow().get(ValueLayout.JAVA_BYTE, page - 1))
            .isEqualTo((byte) ~slot);
      }
      for (long slot : slots) {
        store.free(slot);
      }
      assertThat(store.freePages()).isEqualTo(33);
      assertThat(store.freeRuns()).isEqualTo(1);
      assertThat(store.largestFreeRun()).isEqualTo(33);
    }
  }

  @Test
  void tierSpec_opensADramStore() {
    var spec = new DramTierSpec("t", 8L * PAGE);
    assertThat(spec.kind()).isEqualTo(TierKind.DRAM);
    assertThat(spec.capacityBytes()).isEqualTo(8L * PAGE);
    try (PageStore store = spec.open(PAGE)) {
      assertThat(store).isInstanceOf(DramPageStore.class);
      assertThat(store.name()).isEqualTo("t");
      assertThat(store.capacityPages()).isEqualTo(8);
    }
    assertThatThrownBy(() -> new DramTierSpec("t", 0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new DramTierSpec(" ", 1)).isInstanceOf(IllegalArgumentException.class);
  }
}
