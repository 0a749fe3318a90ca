package io.kvtier.nvme;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.spi.BlockRecord;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Pages larger than one I/O piece ({@link SlabPageStore#CHUNK}): the slab reads them in pieces and
 * checksums each piece while the next ones are read, and writes them the same way. A byte flipped
 * on disk anywhere (header, first, middle or last piece) must still fail the verified read: a
 * counted miss, never served, dropped at warm restart.
 */
class SlabPiecesTest {

  /** Four pieces, the last one short; a whole number of 4 KiB blocks (reads go straight to dst). */
  static final int ALIGNED = 3 * SlabPageStore.CHUNK + 64 * 1024;

  /** Three pieces, the last one not a whole block (reads go through the bounce buffer). */
  static final int UNALIGNED = 2 * SlabPageStore.CHUNK + 12_345;

  static final int PAGES = 3;

  @TempDir Path dir;

  Path file() {
    return dir.resolve("pages.slab");
  }

  NvmePageStore open(int page, NvmeOptions options) {
    return NvmeTier.slab("slab", file(), (long) page * PAGES, options).open(page);
  }

  static long slotOffset(int page, long slot) {
    return SlabPageStore.HEADER_BLOCK
        + slot * (SlabPageStore.HEADER_BLOCK + SlabPageStore.roundUp(page));
  }

  /** File offset of the byte to flip in slot 1. */
  static long target(int page, String where) {
    long header = slotOffset(page, 1);
    long payload = header + SlabPageStore.HEADER_BLOCK;
    return switch (where) {
      case "header" -> header + NvmePageHeader.TOKENS_OFFSET + 5;
      case "first" -> payload + 10;
      case "middle" -> payload + SlabPageStore.CHUNK + SlabPageStore.CHUNK / 2;
      case "last" -> payload + page - 1;
      default -> throw new IllegalArgumentException(where);
    };
  }

  @Test
  void directSlabs_movePagesInPieces_withNativeAio() {
    try (NvmePageStore store = open(ALIGNED, NvmeOptions.defaults())) {
      SlabPageStore slab = (SlabPageStore) store;
      // O_DIRECT is refused by some file systems; where it is granted, pieces must be in use.
      assertThat(slab.pipelined()).isEqualTo(slab.directIo());
    }
    try (NvmePageStore store = open(ALIGNED, NvmeOptions.builder().directIo(false).build())) {
      assertThat(((SlabPageStore) store).pipelined()).isFalse();
    }
  }

  @ParameterizedTest(name = "page {0}, direct I/O {1}")
  @CsvSource({ALIGNED + ", true", ALIGNED + ", false", UNALIGNED + ", true", UNALIGNED + ", false"})
  void multiPiecePages_roundTrip_intoAlignedAndHeapBuffers(int page, boolean directIo) {
    NvmeOptions options = NvmeOptions.builder().directIo(directIo).build();
    try (Arena arena = Arena.ofConfined()) {
      try (NvmePageStore store = open(page, options)) {
        for (int slot = 0; slot < PAGES; slot++) {
          store.writeBlock(slot, TestPages.block(slot), TestPages.page(arena, page, slot));
        }
        // A heap source cannot take direct I/O: it is copied piece by piece.
        MemorySegment heapSource =
            MemorySegment.ofArray(TestPages.page(arena, page, 7).toArray(ValueLayout.JAVA_BYTE));
        store.writeBlock(2, TestPages.block(7), heapSource);
        checkAll(store, page, arena);
      }
      // Pages written in pieces read back in one call, and the other way round: one format.
      try (NvmePageStore store = open(page, NvmeOptions.builder().directIo(!directIo).build())) {
        checkAll(store, page, arena);
      }
    }
  }

  private static void checkAll(NvmePageStore store, int page, Arena arena) {
    MemorySegment aligned = arena.allocate(page, 4096);
    MemorySegment heap = MemorySegment.ofArray(new byte[page]);
    for (int slot = 0; slot < PAGES; slot++) {
      long seed = slot == 2 ? 7 : slot;
      for (MemorySegment dst : new MemorySegment[] {aligned, heap}) {
        dst.fill((byte) 0x55);
        assertThat(store.readBlock(slot, TestPages.block(seed), dst)).isTrue();
        assertThat(dst.mismatch(TestPages.page(arena, page, seed))).isEqualTo(-1);
      }
    }
    assertThat(store.misses()).isZero();
    assertThat(store.corruptPages()).isZero();
  }

  @ParameterizedTest(name = "byte flipped in the {0}, page {1}, direct I/O {2}")
  @CsvSource({
    "header, " + ALIGNED + ", true",
    "first,  " + ALIGNED + ", true",
    "middle, " + ALIGNED + ", true",
    "last,   " + ALIGNED + ", true",
    "header, " + UNALIGNED + ", true",
    "first,  " + UNALIGNED + ", true",
    "middle, " + UNALIGNED + ", true",
    "last,   " + UNALIGNED + ", true",
    "middle, " + ALIGNED + ", false",
    "last,   " + UNALIGNED + ", false"
  })
  void aByteFlippedInAnyPiece_isACountedMiss_neverServed(String where, int page, boolean directIo)
      throws Exception {
    NvmeOptions options = NvmeOptions.builder().directIo(directIo).build();
    try (Arena arena = Arena.ofConfined()) {
      try (NvmePageStore store = open(page, options)) {
        for (int slot = 0; slot < PAGES; slot++) {
          store.writeBlock(slot, TestPages.block(slot), TestPages.page(arena, page, slot));
        }
      }
      Corrupt.flip(file(), target(page, where));

      NvmeOptions headersOnly =
          NvmeOptions.builder().directIo(directIo).verifyPayloadsOnRecovery(false).build();
      try (NvmePageStore store = open(page, headersOnly)) {
        store.recover((slot, block) -> {});
        long corruptAtRecovery = store.corruptPages();
        assertThat(corruptAtRecovery).isEqualTo(where.equals("header") ? 1 : 0);
        for (MemorySegment dst :
            new MemorySegment[] {
              arena.allocate(page, 4096), MemorySegment.ofArray(new byte[page])
            }) {
          assertThat(store.readBlock(1, TestPages.block(1), dst)).isFalse();
          for (int slot : new int[] {0, 2}) {
            assertThat(store.readBlock(slot, TestPages.block(slot), dst)).isTrue();
            assertThat(dst.mismatch(TestPages.page(arena, page, slot))).isEqualTo(-1);
          }
        }
        assertThat(store.misses()).isEqualTo(2);
        assertThat(store.corruptPages()).isEqualTo(corruptAtRecovery + 2);
        assertThatThrownBy(() -> store.read(1, arena.allocate(page, 4096)))
            .isInstanceOf(CorruptPageException.class)
            .hasMessageContaining("bad checksum");
        assertThat(store.isDegraded()).isFalse();
      }

      try (NvmePageStore store = open(page, options)) {
        Map<Long, BlockRecord> recovered = new HashMap<>();
        store.recover(recovered::put);
        assertThat(recovered).containsOnlyKeys(0L, 2L);
        // A page dropped at the first restart had its header cleared at that store's close.
        int dropped = where.equals("header") ? 0 : 1;
        assertThat(store.droppedPages()).isEqualTo(dropped);
        assertThat(store.corruptPages()).isEqualTo(dropped);
      }
    }
  }

  @Test
  void anLz4PageShorterThanItsSlot_isReadOnlyAsFarAsItsPayload_andStillVerified() throws Exception {
    NvmeOptions lz4 = NvmeOptions.builder().lz4(true).build();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment page = TestPages.compressiblePage(arena, ALIGNED, 3);
      try (NvmePageStore store = open(ALIGNED, lz4)) {
        store.writeBlock(1, TestPages.block(1), page);
        MemorySegment dst = arena.allocate(ALIGNED, 4096);
        assertThat(store.readBlock(1, TestPages.block(1), dst)).isTrue();
        assertThat(dst.mismatch(page)).isEqualTo(-1);
      }
      Corrupt.flip(file(), target(ALIGNED, "first"));
      try (NvmePageStore store = open(ALIGNED, lz4)) {
        assertThat(store.readBlock(1, TestPages.block(1), arena.allocate(ALIGNED, 4096))).isFalse();
        assertThat(store.misses()).isEqualTo(1);
        assertThat(store.corruptPages()).isEqualTo(1);
      }
    }
  }
}
