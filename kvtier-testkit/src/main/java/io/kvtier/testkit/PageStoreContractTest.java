package io.kvtier.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.spi.PageStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The tier contract: what every {@link PageStore} must do. Extend it in the tier's tests and
 * implement {@link #open(int, int)}; every test method here then runs against that tier.
 *
 * <p>Stores are opened small (a few pages of a few KiB) so the suite is fast for every tier.
 */
public abstract class PageStoreContractTest {

  /** Bytes per page in most tests. */
  protected static final int PAGE = 4096;

  /** Pages in most tests. */
  protected static final int PAGES = 16;

  private final List<PageStore> opened = new ArrayList<>();
  private ExecutorService executor;

  /** Creates the suite. */
  protected PageStoreContractTest() {}

  /**
   * Opens a fresh, empty store of the tier under test.
   *
   * @param pageBytes bytes per page
   * @param pages capacity in pages
   * @return the open store
   * @throws Exception if the tier cannot be opened
   */
  protected abstract PageStore open(int pageBytes, int pages) throws Exception;

  private PageStore store(int pageBytes, int pages) throws Exception {
    PageStore s = open(pageBytes, pages);
    opened.add(s);
    return s;
  }

  /** Starts the executor for asynchronous variants. */
  @BeforeEach
  public void startExecutor() {
    executor = Executors.newFixedThreadPool(2);
  }

  /**
   * Closes everything the test opened.
   *
   * @throws InterruptedException if interrupted while stopping the executor
   */
  @AfterEach
  public void closeAll() throws InterruptedException {
    for (PageStore s : opened) {
      s.close();
    }
    executor.shutdownNow();
    executor.awaitTermination(10, TimeUnit.SECONDS);
  }

  private static MemorySegment random(Arena arena, int bytes, long seed) {
    byte[] b = new byte[bytes];
    new Random(seed).nextBytes(b);
    MemorySegment seg = arena.allocate(bytes);
    MemorySegment.copy(b, 0, seg, ValueLayout.JAVA_BYTE, 0, bytes);
    return seg;
  }

  /**
   * Capacity and page size are what was asked for.
   *
   * @throws Exception on failure to open
   */
  @Test
  public void reportsItsGeometry() throws Exception {
    PageStore s = store(PAGE, PAGES);
    assertThat(s.pageBytes()).isEqualTo(PAGE);
    assertThat(s.capacityPages()).isEqualTo(PAGES);
    assertThat(s.freePages()).isEqualTo(PAGES);
    assertThat(s.isClosed()).isFalse();
    assertThat(s.name()).isNotEmpty();
    assertThat(s.kind()).isNotNull();
  }

  /**
   * Every slot can be allocated once; then the store is full; freed slots come back.
   *
   * @throws Exception on failure to open
   */
  @Test
  public void allocatesEverySlotOnce_thenReportsNoSpace() throws Exception {
    PageStore s = store(PAGE, PAGES);
    Set<Long> slots = new HashSet<>();
    for (int i = 0; i < PAGES; i++) {
      long slot = s.allocate(-1);
      assertThat(slot).isBetween(0L, (long) PAGES - 1);
      assertThat(slots.add(slot)).as("slot %d handed out twice", slot).isTrue();
    }
    assertThat(s.allocate(-1)).isEqualTo(PageStore.NO_SPACE);
    assertThat(s.freePages()).isZero();
    long back = slots.iterator().next();
    s.free(back);
    assertThat(s.freePages()).isEqualTo(1);
    assertThat(s.allocate(-1)).isEqualTo(back);
  }

  /**
   * A free hint is honoured, so sequences stay contiguous.
   *
   * @throws Exception on failure to open
   */
  @Test
  public void honoursAFreeHint() throws Exception {
    PageStore s = store(PAGE, PAGES);
    long first = s.allocate(-1);
    long next = s.allocate(first + 1);
    assertThat(next).isEqualTo(first + 1);
    assertThat(s.largestFreeRun()).isEqualTo(PAGES - 2);
    assertThat(s.freeRuns()).isEqualTo(first == 0 ? 1 : 2);
  }

  /**
   * Random bytes written to every page read back identically, full and partial pages.
   *
   * @throws Exception on failure to open
   */
  @Test
  public void roundTripsRandomBytes() throws Exception {
    PageStore s = store(PAGE, PAGES);
    try (Arena arena = Arena.ofConfined()) {
      long[] slots = new long[PAGES];
      for (int i = 0; i < PAGES; i++) {
        slots[i] = s.allocate(-1);
        s.write(slots[i], random(arena, PAGE, i));
      }
      for (int i = 0; i < PAGES; i++) {
        MemorySegment dst = arena.allocate(PAGE);
        s.read(slots[i], dst);
        assertThat(dst.mismatch(random(arena, PAGE, i))).as("page %d", i).isEqualTo(-1L);
      }
      MemorySegment half = random(arena, PAGE / 2, 99);
      s.write(slots[3], half);
      MemorySegment back = arena.allocate(PAGE / 2);
      s.read(slots[3], back);
      assertThat(back.mismatch(half)).isEqualTo(-1L);
    }
  }

  /**
   * Copying a slot to another duplicates its bytes.
   *
   * @throws Exception on failure to open
   */
  @Test
  public void copiesBetweenSlots() throws Exception {
    PageStore s = store(PAGE, PAGES);
    try (Arena arena = Arena.ofConfined()) {
      long a = s.allocate(-1);
      long b = s.allocate(-1);
      s.write(a, random(arena, PAGE, 7));
      s.copy(a, b);
      MemorySegment dst = arena.allocate(PAGE);
      s.read(b, dst);
      assertThat(dst.mismatch(random(arena, PAGE, 7))).isEqualTo(-1L);
    }
  }

  /**
   * The asynchronous variants complete with the same bytes, many in flight at once.
   *
   * @throws Exception on failure to open
   */
  @Test
  public void asyncVariantsRoundTrip() throws Exception {
    PageStore s = store(PAGE, PAGES);
    try (Arena arena = Arena.ofShared()) {
      long[] slots = new long[PAGES];
      List<CompletableFuture<Void>> writes = new ArrayList<>();
      for (int i = 0; i < PAGES; i++) {
        slots[i] = s.allocate(-1);
        writes.add(s.writeAsync(slots[i], random(arena, PAGE, 100 + i), executor));
      }
      CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
      MemorySegment[] dst = new MemorySegment[PAGES];
      List<CompletableFuture<Void>> reads = new ArrayList<>();
      for (int i = 0; i < PAGES; i++) {
        dst[i] = arena.allocate(PAGE);
        reads.add(s.readAsync(slots[i], dst[i], executor));
      }
      CompletableFuture.allOf(reads.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
      for (int i = 0; i < PAGES; i++) {
        assertThat(dst[i].mismatch(random(arena, PAGE, 100 + i))).isEqualTo(-1L);
      }
    }
  }

  /**
   * Bad slots and oversized segments are rejected and change nothing.
   *
   * @throws Exception on failure to open
   */
  @Test
  public void rejectsBadInput() throws Exception {
    PageStore s = store(PAGE, PAGES);
    try (Arena arena = Arena.ofConfined()) {
      long slot = s.allocate(-1);
      s.write(slot, random(arena, PAGE, 1));
      assertThatThrownBy(() -> s.write(PAGES, arena.allocate(PAGE)))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> s.read(-1, arena.allocate(PAGE)))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> s.write(slot, arena.allocate(PAGE + 1)))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> s.read(slot, arena.allocate(PAGE + 1)))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> s.free(PAGES + 3)).isInstanceOf(IllegalArgumentException.class);
      long freeSlot = s.allocate(-1);
      s.free(freeSlot);
      assertThatThrownBy(() -> s.free(freeSlot)).isInstanceOf(IllegalArgumentException.class);
      assertThat(s.freePages()).isEqualTo(PAGES - 1);
      MemorySegment dst = arena.allocate(PAGE);
      s.read(slot, dst);
      assertThat(dst.mismatch(random(arena, PAGE, 1))).isEqualTo(-1L);
    }
  }

  /**
   * Close is idempotent and every later use fails with {@link IllegalStateException}.
   *
   * @throws Exception on failure to open
   */
  @Test
  public void closeIsIdempotent_andUseAfterCloseFails() throws Exception {
    PageStore s = store(PAGE, PAGES);
    long slot = s.allocate(-1);
    s.close();
    s.close();
    assertThat(s.isClosed()).isTrue();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment seg = arena.allocate(PAGE);
      assertThatThrownBy(() -> s.allocate(-1)).isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(() -> s.free(slot)).isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(() -> s.write(slot, seg)).isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(() -> s.read(slot, seg)).isInstanceOf(IllegalStateException.class);
    }
  }

  /**
   * Stores of several page sizes hold independent bytes.
   *
   * @throws Exception on failure to open
   */
  @Test
  public void supportsOtherPageSizes() throws Exception {
    for (int pageBytes : new int[] {64, 8192, 64 * 1024}) {
      PageStore s = store(pageBytes, 4);
      try (Arena arena = Arena.ofConfined()) {
        long slot = s.allocate(-1);
        s.write(slot, random(arena, pageBytes, pageBytes));
        MemorySegment dst = arena.allocate(pageBytes);
        s.read(slot, dst);
        assertThat(dst.mismatch(random(arena, pageBytes, pageBytes))).isEqualTo(-1L);
      }
    }
  }
}
