package io.kvtier.nvme;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.spi.BlockRecord;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SlabStoreTest extends NvmeStoreTest {

  static final long SLOT = SlabPageStore.HEADER_BLOCK + SlabPageStore.roundUp(PAGE);

  static Path file(Path dir) {
    return dir.resolve("pages.slab");
  }

  @Override
  NvmeTier.Spec spec(Path dir, long capacityBytes, NvmeOptions options) {
    return NvmeTier.slab("slab", file(dir), capacityBytes, options);
  }

  static long slotOffset(long slot) {
    return SlabPageStore.HEADER_BLOCK + slot * SLOT;
  }

  @Override
  long[] corruptPayloads(Path dir, long[] slots) throws Exception {
    Corrupt.flip(file(dir), slotOffset(slots[2]) + SlabPageStore.HEADER_BLOCK + 1000);
    Corrupt.flip(file(dir), slotOffset(slots[6]) + SlabPageStore.HEADER_BLOCK + PAGE - 1);
    return new long[] {slots[2], slots[6]};
  }

  @Test
  void corruptHeader_isDroppedAtRecovery_andAMissOnRead() throws Exception {
    try (Arena arena = Arena.ofConfined()) {
      try (NvmePageStore store = open()) {
        for (int i = 0; i < 4; i++) {
          store.writeBlock(i, TestPages.block(i), TestPages.page(arena, PAGE, i));
        }
      }
      Corrupt.flip(file(dir), slotOffset(1) + NvmePageHeader.TOKENS_OFFSET + 5);
      NvmeOptions headersOnly = NvmeOptions.builder().verifyPayloadsOnRecovery(false).build();
      try (NvmePageStore store = open(headersOnly)) {
        List<Long> recovered = new ArrayList<>();
        store.recover((slot, block) -> recovered.add(slot));
        assertThat(recovered).containsExactlyInAnyOrder(0L, 2L, 3L);
        assertThat(store.droppedPages()).isEqualTo(1);
        assertThat(store.corruptPages()).isEqualTo(1);
        assertThat(store.readBlock(1, TestPages.block(1), arena.allocate(PAGE, 4096))).isFalse();
      }
    }
  }

  @Test
  void aBlockWithMoreTokensThanAHeaderBlockHolds_isRejected() {
    try (Arena arena = Arena.ofConfined();
        NvmePageStore store = open()) {
      BlockRecord huge = new BlockRecord(1, 2, 3, 4, 3, 4, new int[SlabPageStore.MAX_TOKENS + 1]);
      assertThatThrownBy(() -> store.writeBlock(0, huge, arena.allocate(PAGE)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("token ids");
      assertThat(store.isDegraded()).isFalse();
      BlockRecord most = new BlockRecord(1, 2, 3, 4, 3, 4, new int[SlabPageStore.MAX_TOKENS]);
      store.writeBlock(0, most, TestPages.page(arena, PAGE, 5));
      assertThat(store.readBlock(0, most, arena.allocate(PAGE))).isTrue();
    }
  }

  @Test
  void aSecondOpenOfTheSameFile_fails_andAnotherPageSizeIsRefused() throws Exception {
    try (NvmePageStore store = open()) {
      assertThat(store.isClosed()).isFalse();
      assertThatThrownBy(this::open)
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("in use");
    }
    assertThatThrownBy(() -> spec(dir, (long) PAGE * PAGES, NvmeOptions.defaults()).open(PAGE * 2))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("pages of " + PAGE + " bytes");
    Path other = dir.resolve("not-a-slab");
    Files.writeString(other, "precious data");
    assertThatThrownBy(() -> NvmeTier.slab("slab", other, PAGE).open(PAGE))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("not a kvtier slab");
    assertThat(Files.readString(other)).isEqualTo("precious data");
  }

  @Test
  void anIoError_degradesTheStore_andIsThrownAsUncheckedIoException() throws Exception {
    try (Arena arena = Arena.ofConfined();
        NvmePageStore store = open()) {
      MemorySegment page = TestPages.page(arena, PAGE, 1);
      store.writeBlock(0, TestPages.block(1), page);
      // Pull the file descriptor from under the store: every later system call fails (EBADF).
      DirectIo.close(((SlabPageStore) store).fd());
      assertThatThrownBy(() -> store.writeBlock(1, TestPages.block(2), page))
          .isInstanceOf(UncheckedIOException.class)
          .hasMessageContaining("pwrite");
      assertThat(store.isDegraded()).isTrue();
      assertThatThrownBy(() -> store.readBlock(0, TestPages.block(1), arena.allocate(PAGE)))
          .isInstanceOf(UncheckedIOException.class);
      assertThat(store.ioErrors()).isEqualTo(2);
      assertThat(store.misses()).isZero();
    }
  }

  @Test
  void slabWithNoDirectIo_behavesTheSame() {
    try (Arena arena = Arena.ofConfined();
        NvmePageStore store = open(NvmeOptions.builder().directIo(false).build())) {
      assertThat(((SlabPageStore) store).directIo()).isFalse();
      store.writeBlock(3, TestPages.block(3), TestPages.page(arena, PAGE, 3));
      MemorySegment dst = arena.allocate(PAGE);
      assertThat(store.readBlock(3, TestPages.block(3), dst)).isTrue();
      assertThat(dst.mismatch(TestPages.page(arena, PAGE, 3))).isEqualTo(-1);
    }
  }
}
