package io.kvtier.cxl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.spi.PageStore;
import io.kvtier.spi.TierKind;
import io.kvtier.spi.TierSpec;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CxlTierTest {

  private static final int PAGE = 4096;
  private static final int PAGES = 100;

  @TempDir(factory = ShmTempDirFactory.class)
  Path dir;

  private TierSpec spec() {
    return CxlTier.file("cxl", dir.resolve("pool"), (long) PAGES * PAGE + 123);
  }

  @Test
  void spec_describesACxlTier() {
    TierSpec spec = spec();
    assertThat(spec.name()).isEqualTo("cxl");
    assertThat(spec.kind()).isEqualTo(TierKind.CXL);
    assertThat(spec.capacityBytes()).isEqualTo((long) PAGES * PAGE + 123);
  }

  @Test
  void open_createsAndExtendsTheFileToWholePages() throws Exception {
    try (PageStore store = spec().open(PAGE)) {
      assertThat(store.kind()).isEqualTo(TierKind.CXL);
      assertThat(store.name()).isEqualTo("cxl");
      assertThat(store.pageBytes()).isEqualTo(PAGE);
      assertThat(store.capacityPages()).isEqualTo(PAGES);
      assertThat(store.freePages()).isEqualTo(PAGES);
      assertThat(store.freeRuns()).isEqualTo(1);
      assertThat(store.largestFreeRun()).isEqualTo(PAGES);
      assertThat(Files.size(dir.resolve("pool"))).isEqualTo((long) PAGES * PAGE);
    }
  }

  @Test
  void writeThenRead_roundTripsRandomBytesInEverySlot() {
    Random random = new Random(42);
    byte[][] pages = new byte[PAGES][PAGE];
    try (PageStore store = spec().open(PAGE);
        Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(PAGE);
      long[] slots = new long[PAGES];
      for (int i = 0; i < PAGES; i++) {
        slots[i] = store.allocate(-1);
        random.nextBytes(pages[i]);
        store.write(slots[i], MemorySegment.ofArray(pages[i]));
      }
      assertThat(store.allocate(-1)).isEqualTo(PageStore.NO_SPACE);
      for (int i = PAGES - 1; i >= 0; i--) {
        buf.fill((byte) 0);
        store.read(slots[i], buf);
        assertThat(buf.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)).isEqualTo(pages[i]);
        assertThat(store.segment(slots[i]).orElseThrow().mismatch(MemorySegment.ofArray(pages[i])))
            .isEqualTo(-1);
      }
    }
  }

  @Test
  void partialPages_touchOnlyTheStartOfTheSlot() {
    try (PageStore store = spec().open(PAGE)) {
      long slot = store.allocate(-1);
      store.write(slot, MemorySegment.ofArray(filled(PAGE, (byte) 7)));
      store.write(slot, MemorySegment.ofArray(filled(10, (byte) 9)));
      byte[] head = new byte[12];
      store.read(slot, MemorySegment.ofArray(head));
      assertThat(head).startsWith(filled(10, (byte) 9)).endsWith((byte) 7, (byte) 7);
    }
  }

  @Test
  void copy_duplicatesAPage() {
    try (PageStore store = spec().open(PAGE)) {
      long a = store.allocate(-1);
      long b = store.allocate(-1);
      byte[] bytes = new byte[PAGE];
      new Random(1).nextBytes(bytes);
      store.write(a, MemorySegment.ofArray(bytes));
      store.copy(a, b);
      byte[] out = new byte[PAGE];
      store.read(b, MemorySegment.ofArray(out));
      assertThat(out).isEqualTo(bytes);
    }
  }

  @Test
  void bytes_surviveCloseAndReopenOfTheSameFile() {
    byte[] bytes = new byte[PAGE];
    new Random(7).nextBytes(bytes);
    try (PageStore store = spec().open(PAGE)) {
      store.write(store.allocate(5), MemorySegment.ofArray(bytes));
    }
    try (PageStore store = spec().open(PAGE)) {
      byte[] out = new byte[PAGE];
      store.read(5, MemorySegment.ofArray(out));
      assertThat(out).isEqualTo(bytes);
    }
  }

  @Test
  void open_whileAnotherStoreHoldsTheFile_fails() {
    try (PageStore first = spec().open(PAGE)) {
      assertThat(first.isClosed()).isFalse();
      assertThatThrownBy(() -> spec().open(PAGE))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("in use");
    }
  }

  @Test
  void allocate_prefersTheHintAndKeepsSequencesContiguous() {
    try (PageStore store = spec().open(PAGE)) {
      assertThat(store.allocate(10)).isEqualTo(10);
      assertThat(store.allocate(11)).isEqualTo(11);
      assertThat(store.allocate(10)).isBetween(0L, PAGES - 1L).isNotEqualTo(10).isNotEqualTo(11);
      assertThat(store.freePages()).isEqualTo(PAGES - 3);
      store.free(11);
      assertThat(store.freePages()).isEqualTo(PAGES - 2);
      assertThat(store.allocate(11)).isEqualTo(11);
    }
  }

  @Test
  void freeRuns_andLargestFreeRun_followAllocations() {
    try (PageStore store = spec().open(PAGE)) {
      for (int i = 0; i < PAGES; i++) {
        store.allocate(i);
      }
      assertThat(store.freeRuns()).isZero();
      assertThat(store.largestFreeRun()).isZero();
      for (int i = 0; i < PAGES; i += 2) {
        store.free(i);
      }
      assertThat(store.freeRuns()).isEqualTo(PAGES / 2);
      assertThat(store.largestFreeRun()).isEqualTo(1);
      store.free(1);
      store.free(3);
      assertThat(store.largestFreeRun()).isEqualTo(5);
    }
  }

  @Test
  void allocate_neverHandsOutASlotTwice() {
    try (PageStore store = spec().open(PAGE)) {
      Set<Long> seen = new HashSet<>();
      long slot;
      while ((slot = store.allocate(-1)) != PageStore.NO_SPACE) {
        assertThat(seen.add(slot)).as("slot %d handed out twice", slot).isTrue();
      }
      assertThat(seen).hasSize(PAGES);
    }
  }

  @Test
  void badSlot_isRejected() {
    try (PageStore store = spec().open(PAGE)) {
      MemorySegment page = MemorySegment.ofArray(new byte[PAGE]);
      assertThatThrownBy(() -> store.write(-1, page))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("out of range");
      assertThatThrownBy(() -> store.read(PAGES, page))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> store.segment(PAGES)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> store.copy(0, PAGES)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> store.free(PAGES)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> store.free(3))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("not in use");
      long slot = store.allocate(-1);
      store.free(slot);
      assertThatThrownBy(() -> store.free(slot)).isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void oversizeSegment_isRejected() {
    try (PageStore store = spec().open(PAGE)) {
      long slot = store.allocate(-1);
      MemorySegment big = MemorySegment.ofArray(new byte[PAGE + 1]);
      assertThatThrownBy(() -> store.write(slot, big))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("more than a page");
      assertThatThrownBy(() -> store.read(slot, big)).isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void useAfterClose_failsClearly_andCloseIsIdempotent() {
    PageStore store = spec().open(PAGE);
    long slot = store.allocate(-1);
    MemorySegment view = store.segment(slot).orElseThrow();
    MemorySegment page = MemorySegment.ofArray(new byte[PAGE]);
    store.close();
    assertThat(store.isClosed()).isTrue();
    assertThatCode(store::close).doesNotThrowAnyException();
    assertThatThrownBy(() -> store.write(slot, page))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("closed");
    assertThatThrownBy(() -> store.read(slot, page)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> store.allocate(-1)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> store.free(slot)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(store::freePages).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> store.segment(slot)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> store.copy(slot, slot)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> view.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void badArguments_areRejectedUpFront() {
    Path pool = dir.resolve("pool");
    assertThatThrownBy(() -> CxlTier.file("", pool, PAGE))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> CxlTier.file("cxl", null, PAGE))
        .isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> CxlTier.file("cxl", pool, 0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> CxlTier.file("cxl", pool, PAGE - 1).open(PAGE))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("less than one page");
    assertThatThrownBy(() -> CxlTier.file("cxl", dir.resolve("missing/pool"), PAGE).open(PAGE))
        .isInstanceOf(java.io.UncheckedIOException.class)
        .hasMessageContaining("missing");
  }

  private static byte[] filled(int n, byte b) {
    byte[] bytes = new byte[n];
    java.util.Arrays.fill(bytes, b);
    return bytes;
  }
}
