package io.kvtier.cxl;

import static io.kvtier.cxl.SharedPoolFixtures.block;
import static io.kvtier.cxl.SharedPoolFixtures.page;
import static io.kvtier.cxl.SharedPoolFixtures.pageSegment;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.spi.BlockRecord;
import io.kvtier.spi.PageStore;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A shared pool seen by two stores in one JVM (each its own member of the pool, as two processes
 * would be): publishing, finding, verifying, leases, reclamation and recovery. The cross-process
 * behaviour with real second processes is {@link SharedPoolCrossProcessTest}.
 */
class SharedPoolTest {

  private static final int PAGE = 8192;
  private static final int PAGES = 32;

  @TempDir(factory = ShmTempDirFactory.class)
  Path dir;

  private SharedPool open(SharedPoolOptions options) {
    return CxlTier.sharedPool("shared", dir.resolve("pool"), (long) PAGE * PAGES, options)
        .open(PAGE);
  }

  private SharedPool open() {
    return open(SharedPoolOptions.defaults());
  }

  @Test
  void aBlockWrittenByOneStore_isFoundAndReadVerifiedByAnother() {
    try (SharedPool a = open();
        SharedPool b = open()) {
      assertThat(Files.exists(Path.of(dir.resolve("pool") + ".dir"))).isTrue();
      long slot = a.allocate(-1);
      a.writeBlock(slot, block(1), pageSegment(1, PAGE));
      assertThat(b.ownerPid(slot)).isEqualTo(ProcessHandle.current().pid());

      long found = b.lookup(block(1));
      assertThat(found).isEqualTo(slot);
      byte[] out = new byte[PAGE];
      assertThat(b.readBlock(found, block(1), MemorySegment.ofArray(out))).isTrue();
      assertThat(out).isEqualTo(page(1, PAGE));
      b.release(found);
      assertThat(b.verifyFailures()).isZero();
      assertThat(b.lookup(block(2))).isEqualTo(SharedPool.NOT_FOUND);
    }
  }

  @Test
  void aBlockWhoseTokensDiffer_isNotFound_andAWrongExpectationIsAMiss() {
    try (SharedPool a = open();
        SharedPool b = open()) {
      long slot = a.allocate(-1);
      a.writeBlock(slot, block(1), pageSegment(1, PAGE));
      int[] tokens = block(1).tokens();
      tokens[3]++;
      BlockRecord collision =
          new BlockRecord(
              block(1).keyHi(),
              block(1).keyLo(),
              block(1).parentHi(),
              block(1).parentLo(),
              block(1).rootHi(),
              block(1).rootLo(),
              tokens);
      assertThat(b.lookup(collision)).isEqualTo(SharedPool.NOT_FOUND);
      assertThat(b.verifyFailures()).isEqualTo(1);
      assertThat(a.readBlock(slot, collision, MemorySegment.ofArray(new byte[PAGE]))).isFalse();
      assertThat(a.verifyFailures()).isEqualTo(1);
    }
  }

  @Test
  void corruptedBytes_failTheChecksum_andAreNeverServed() {
    try (SharedPool a = open();
        SharedPool b = open()) {
      long slot = a.allocate(-1);
      a.writeBlock(slot, block(4), pageSegment(4, PAGE));
      MemorySegment view = a.segment(slot).orElseThrow();
      view.set(ValueLayout.JAVA_BYTE, 100, (byte) (view.get(ValueLayout.JAVA_BYTE, 100) + 1));
      long found = b.lookup(block(4));
      assertThat(found).isEqualTo(slot);
      assertThat(b.readBlock(found, block(4), MemorySegment.ofArray(new byte[PAGE]))).isFalse();
      assertThat(b.verifyFailures()).isEqualTo(1);
      // a read of the wrong length is a miss too: the checksum covers the bytes as written
      assertThat(b.readBlock(found, block(4), MemorySegment.ofArray(new byte[PAGE / 2]))).isFalse();
      b.release(found);
    }
  }

  @Test
  void publish_afterAZeroCopyWrite_makesThePageFindable_andTheFirstCopyWins() {
    try (SharedPool a = open();
        SharedPool b = open()) {
      long slot = a.allocate(-1);
      MemorySegment.copy(pageSegment(5, PAGE), 0, a.segment(slot).orElseThrow(), 0, PAGE);
      assertThat(a.publish(slot, block(5))).isTrue();
      long other = b.allocate(-1);
      b.write(other, pageSegment(5, PAGE));
      assertThat(b.publish(other, block(5))).as("a second copy of a published block").isFalse();
      long found = b.lookup(block(5));
      assertThat(found).isEqualTo(slot);
      byte[] out = new byte[PAGE];
      assertThat(b.readBlock(found, block(5), MemorySegment.ofArray(out))).isTrue();
      assertThat(out).isEqualTo(page(5, PAGE));
      b.release(found);
      a.free(slot);
      assertThat(b.lookup(block(5))).isEqualTo(SharedPool.NOT_FOUND);
      assertThat(b.publish(other, block(5))).as("once the first is gone").isTrue();
    }
  }

  @Test
  void allocation_isCoordinated_noSlotIsEverOwnedTwice() {
    try (SharedPool a = open();
        SharedPool b = open()) {
      List<Long> all = new ArrayList<>();
      for (int i = 0; i < PAGES; i++) {
        all.add((i % 2 == 0 ? a : b).allocate(-1));
      }
      assertThat(all).doesNotContain(PageStore.NO_SPACE).doesNotHaveDuplicates();
      assertThat(a.allocate(-1)).isEqualTo(PageStore.NO_SPACE);
      assertThat(b.allocate(-1)).isEqualTo(PageStore.NO_SPACE);
      assertThat(a.freePages()).isZero();
      assertThatThrownBy(() -> a.free(all.get(1)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("not in use by this process");
      assertThatThrownBy(() -> a.write(all.get(1), pageSegment(0, PAGE)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("not allocated by this process");
      b.free(all.get(1));
      assertThat(a.allocate(-1)).isEqualTo(all.get(1));
    }
  }

  @Test
  void aLeasedPage_freedByItsOwner_isNotReusedUntilTheLastReaderReleases() {
    try (SharedPool a = open();
        SharedPool b = open()) {
      long slot = a.allocate(-1);
      a.writeBlock(slot, block(7), pageSegment(7, PAGE));
      long leased = b.lookup(block(7));
      assertThat(b.lookup(block(7))).isEqualTo(leased);
      a.free(slot);
      assertThat(a.lookup(block(7))).as("gone from the directory").isEqualTo(SharedPool.NOT_FOUND);
      for (int i = 0; i < PAGES - 1; i++) {
        assertThat(a.allocate(-1)).isNotEqualTo(slot).isNotEqualTo(PageStore.NO_SPACE);
      }
      assertThat(a.allocate(slot)).as("still leased").isEqualTo(PageStore.NO_SPACE);
      byte[] out = new byte[PAGE];
      assertThat(b.readBlock(leased, block(7), MemorySegment.ofArray(out))).isTrue();
      assertThat(out).isEqualTo(page(7, PAGE));
      b.release(leased);
      assertThat(a.allocate(-1)).as("one lease left").isEqualTo(PageStore.NO_SPACE);
      b.release(leased);
      assertThat(a.allocate(-1)).isEqualTo(slot);
      assertThatThrownBy(() -> b.release(leased))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("no read lease");
    }
  }

  @Test
  void anExpiredReadLease_stopsProtectingThePage() throws Exception {
    SharedPoolOptions shortLease =
        SharedPoolOptions.builder().readLease(Duration.ofMillis(100)).build();
    try (SharedPool a = open();
        SharedPool b = open(shortLease)) {
      long slot = a.allocate(-1);
      a.writeBlock(slot, block(8), pageSegment(8, PAGE));
      long leased = b.lookup(block(8));
      a.free(slot);
      assertThat(a.reclaim()).isZero();
      Thread.sleep(250);
      assertThat(a.reclaim()).isEqualTo(1);
      assertThat(a.allocate(slot)).isEqualTo(slot);
      // the late reader's release changes nothing, and its read would be a miss
      b.release(leased);
      a.writeBlock(slot, block(9), pageSegment(9, PAGE));
      assertThat(b.lookup(block(9))).isEqualTo(slot);
      b.release(slot);
    }
  }

  @Test
  void aClosedStoresBlocks_stayFindable_andAreAdoptedByRecover() {
    Map<Long, BlockRecord> written = new HashMap<>();
    try (SharedPool b = open()) {
      try (SharedPool a = open()) {
        for (int i = 0; i < 5; i++) {
          long slot = a.allocate(-1);
          a.writeBlock(slot, block(i), pageSegment(i, PAGE));
          written.put(slot, block(i));
        }
        a.allocate(-1); // owned, never published: returns to the pool on close
        assertThat(b.freePages()).isEqualTo(PAGES - 6);
      }
      assertThat(b.freePages()).isEqualTo(PAGES - 5);
      long found = b.lookup(block(3));
      assertThat(written).containsKey(found);
      b.release(found);
      Map<Long, BlockRecord> recovered = new HashMap<>();
      b.recover(recovered::put);
      assertThat(recovered).isEqualTo(written);
      byte[] out = new byte[PAGE];
      for (var e : recovered.entrySet()) {
        assertThat(b.readBlock(e.getKey(), e.getValue(), MemorySegment.ofArray(out))).isTrue();
        assertThat(out).isEqualTo(page((int) e.getValue().keyLo(), PAGE));
      }
      b.free(found);
    }
  }

  @Test
  void aFullPool_reclaimsPagesOfClosedStores() {
    try (SharedPool b = open()) {
      try (SharedPool a = open()) {
        for (int i = 0; i < PAGES; i++) {
          a.writeBlock(a.allocate(-1), block(i), pageSegment(i, PAGE));
        }
      }
      for (int i = 0; i < PAGES; i++) {
        assertThat(b.allocate(-1)).isNotEqualTo(PageStore.NO_SPACE);
      }
      assertThat(b.lookup(block(0))).isEqualTo(SharedPool.NOT_FOUND);
    }
  }

  @Test
  void reopening_withAnotherShape_failsClearly() {
    try (SharedPool a = open()) {
      assertThat(a.capacityPages()).isEqualTo(PAGES);
      assertThatThrownBy(
              () ->
                  CxlTier.sharedPool(
                          "shared",
                          dir.resolve("pool"),
                          (long) PAGE * PAGES,
                          SharedPoolOptions.defaults())
                      .open(PAGE * 2))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("was created for " + PAGES + " pages of " + PAGE);
    }
  }

  @Test
  void tooManyTokens_orProcesses_areRejected() {
    SharedPoolOptions one = SharedPoolOptions.builder().maxBlockTokens(8).maxProcesses(1).build();
    try (SharedPool a = open(one)) {
      long slot = a.allocate(-1);
      assertThatThrownBy(() -> a.writeBlock(slot, block(1), pageSegment(1, PAGE)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("maxBlockTokens 8");
      assertThatThrownBy(() -> open(one))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("maxProcesses");
    }
  }

  @Test
  void options_validateOnce() {
    assertThatThrownBy(() -> SharedPoolOptions.builder().readLease(Duration.ZERO).build())
        .hasMessageContaining("readLease");
    assertThatThrownBy(() -> SharedPoolOptions.builder().maxProcesses(300).build())
        .hasMessageContaining("maxProcesses must be in [1, 256]");
    assertThatThrownBy(() -> SharedPoolOptions.builder().maxBlockTokens(0).build())
        .hasMessageContaining("maxBlockTokens");
    assertThat(SharedPoolOptions.defaults().readLease()).isEqualTo(Duration.ofSeconds(5));
  }

  @Test
  void useAfterClose_failsClearly() {
    SharedPool a = open();
    long slot = a.allocate(-1);
    a.close();
    a.close();
    assertThatThrownBy(() -> a.lookup(block(1))).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> a.publish(slot, block(1))).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(a::reclaim).isInstanceOf(IllegalStateException.class);
  }
}
