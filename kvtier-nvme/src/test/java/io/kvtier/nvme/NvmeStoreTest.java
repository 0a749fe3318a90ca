package io.kvtier.nvme;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.spi.BlockRecord;
import io.kvtier.spi.PageStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What both NVMe stores promise beyond the tier contract: verified reads, warm restart, LZ4, and
 * detection of bytes corrupted on disk. Subclasses open their store and know how to corrupt it.
 */
abstract class NvmeStoreTest {

  static final int PAGE = 64 * 1024;
  static final int PAGES = 16;

  @TempDir Path dir;

  abstract NvmeTier.Spec spec(Path dir, long capacityBytes, NvmeOptions options);

  /**
   * Flips bytes on disk in the payload of some stored pages of a closed store.
   *
   * @return the slots whose payload was hit, or an empty array when unknown
   */
  abstract long[] corruptPayloads(Path dir, long[] slots) throws Exception;

  NvmePageStore open(NvmeOptions options) {
    return spec(dir, (long) PAGE * PAGES, options).open(PAGE);
  }

  NvmePageStore open() {
    return open(NvmeOptions.defaults());
  }

  @Test
  void readBlock_servesOnlyTheBlockItWasAskedFor() {
    try (Arena arena = Arena.ofConfined();
        NvmePageStore store = open()) {
      long slot = store.allocate(-1);
      store.writeBlock(slot, TestPages.block(1), TestPages.page(arena, PAGE, 1));
      MemorySegment dst = arena.allocate(PAGE, 4096);
      assertThat(store.readBlock(slot, TestPages.block(1), dst)).isTrue();
      assertThat(dst.mismatch(TestPages.page(arena, PAGE, 1))).isEqualTo(-1);

      BlockRecord b = TestPages.block(1);
      int[] tokens = b.tokens();
      tokens[15]++;
      BlockRecord oneTokenOff =
          new BlockRecord(
              b.keyHi(), b.keyLo(), b.parentHi(), b.parentLo(), b.rootHi(), b.rootLo(), tokens);
      BlockRecord otherRoot =
          new BlockRecord(
              b.keyHi(), b.keyLo(), b.parentHi(), b.parentLo(), b.rootHi(), 0, b.tokens());
      assertThat(store.readBlock(slot, oneTokenOff, dst)).isFalse();
      assertThat(store.readBlock(slot, otherRoot, dst)).isFalse();
      assertThat(store.readBlock(store.allocate(-1), b, dst)).as("never written").isFalse();
      assertThat(store.readBlock(slot, b, arena.allocate(PAGE / 2))).as("short dst").isFalse();
      assertThat(store.misses()).isEqualTo(4);
      assertThat(store.verifiesBlocks()).as("the cache must send block records").isTrue();
      assertThat(store.corruptPages()).isZero();
      assertThat(store.isDegraded()).isFalse();
    }
  }

  @Test
  void untypedPages_readBackButNeverMatchABlock() {
    try (Arena arena = Arena.ofConfined();
        NvmePageStore store = open()) {
      long slot = store.allocate(-1);
      store.write(slot, TestPages.page(arena, PAGE, 3));
      MemorySegment dst = arena.allocate(PAGE);
      store.read(slot, dst);
      assertThat(dst.mismatch(TestPages.page(arena, PAGE, 3))).isEqualTo(-1);
      assertThat(store.readBlock(slot, TestPages.block(3), dst)).isFalse();
    }
  }

  @Test
  void warmRestart_recoversIntactPages_andAllocatesTheirSlots() {
    Map<Long, BlockRecord> written = new HashMap<>();
    try (Arena arena = Arena.ofConfined()) {
      try (NvmePageStore store = open()) {
        for (int i = 0; i < 6; i++) {
          long slot = store.allocate(-1);
          store.writeBlock(slot, TestPages.block(i), TestPages.page(arena, PAGE, i));
          written.put(slot, TestPages.block(i));
        }
        long untyped = store.allocate(-1);
        store.write(untyped, TestPages.page(arena, PAGE, 77));
        long freed = written.keySet().iterator().next();
        written.remove(freed);
        store.free(freed);
      }
      try (NvmePageStore store = open()) {
        Map<Long, BlockRecord> recovered = new HashMap<>();
        store.recover((slot, block) -> recovered.put(slot, block));
        assertThat(recovered).isEqualTo(written);
        assertThat(store.recoveredPages()).isEqualTo(5);
        assertThat(store.freePages()).isEqualTo(PAGES - 5);
        MemorySegment dst = arena.allocate(PAGE, 4096);
        for (var e : recovered.entrySet()) {
          assertThat(store.readBlock(e.getKey(), e.getValue(), dst)).isTrue();
          long seed = e.getValue().keyHi();
          assertThat(dst.mismatch(TestPages.page(arena, PAGE, seed))).isEqualTo(-1);
        }
        for (int i = 0; i < PAGES - 5; i++) {
          assertThat(recovered).doesNotContainKey(store.allocate(-1));
        }
        assertThat(store.allocate(-1)).isEqualTo(PageStore.NO_SPACE);
        assertThatThrownBy(() -> store.recover((s, b) -> {}))
            .isInstanceOf(IllegalStateException.class);
      }
    }
  }

  @Test
  void lz4_roundTripsCompressibleAndRandomPages() {
    NvmeOptions lz4 = NvmeOptions.builder().lz4(true).build();
    try (Arena arena = Arena.ofConfined()) {
      try (NvmePageStore store = open(lz4)) {
        store.writeBlock(0, TestPages.block(0), TestPages.compressiblePage(arena, PAGE, 0));
        store.writeBlock(1, TestPages.block(1), TestPages.page(arena, PAGE, 1));
        store.allocate(0);
        store.allocate(1);
      }
      try (NvmePageStore store = open(NvmeOptions.defaults())) {
        store.recover((s, b) -> {});
        assertThat(store.recoveredPages()).isEqualTo(2);
        MemorySegment dst = arena.allocate(PAGE, 4096);
        assertThat(store.readBlock(0, TestPages.block(0), dst)).isTrue();
        assertThat(dst.mismatch(TestPages.compressiblePage(arena, PAGE, 0))).isEqualTo(-1);
        MemorySegment unaligned = arena.allocate(PAGE + 8).asSlice(8);
        assertThat(store.readBlock(1, TestPages.block(1), unaligned)).isTrue();
        assertThat(unaligned.mismatch(TestPages.page(arena, PAGE, 1))).isEqualTo(-1);
      }
    }
  }

  @Test
  void bytesCorruptedOnDisk_areCountedMisses_neverServed() throws Exception {
    long[] slots = new long[8];
    try (Arena arena = Arena.ofConfined()) {
      try (NvmePageStore store = open()) {
        for (int i = 0; i < slots.length; i++) {
          slots[i] = store.allocate(-1);
          store.writeBlock(slots[i], TestPages.block(i), TestPages.page(arena, PAGE, i));
        }
      }
      long[] hit = corruptPayloads(dir, slots);

      NvmeOptions headersOnly = NvmeOptions.builder().verifyPayloadsOnRecovery(false).build();
      int bad = 0;
      try (NvmePageStore store = open(headersOnly)) {
        store.recover((s, b) -> {});
        MemorySegment dst = arena.allocate(PAGE, 4096);
        for (int i = 0; i < slots.length; i++) {
          if (store.readBlock(slots[i], TestPages.block(i), dst)) {
            assertThat(dst.mismatch(TestPages.page(arena, PAGE, i))).isEqualTo(-1);
          } else {
            bad++;
            long slot = slots[i];
            assertThatThrownBy(() -> store.read(slot, arena.allocate(PAGE)))
                .isInstanceOf(CorruptPageException.class);
          }
        }
        assertThat(bad).isPositive();
        assertThat(store.misses()).isEqualTo(bad);
        assertThat(store.corruptPages()).isGreaterThanOrEqualTo(bad);
        assertThat(store.isDegraded()).isFalse();
      }
      for (long slot : hit) {
        assertThat(slot).isIn(slotsAsObjects(slots));
      }

      try (NvmePageStore store = open()) {
        Map<Long, BlockRecord> recovered = new HashMap<>();
        store.recover(recovered::put);
        assertThat(recovered).hasSize(slots.length - bad);
        assertThat(store.droppedPages()).isEqualTo(bad);
        MemorySegment dst = arena.allocate(PAGE, 4096);
        for (var e : recovered.entrySet()) {
          assertThat(store.readBlock(e.getKey(), e.getValue(), dst)).isTrue();
        }
      }
    }
  }

  private static Object[] slotsAsObjects(long[] slots) {
    Object[] o = new Object[slots.length];
    for (int i = 0; i < slots.length; i++) {
      o[i] = slots[i];
    }
    return o;
  }
}
