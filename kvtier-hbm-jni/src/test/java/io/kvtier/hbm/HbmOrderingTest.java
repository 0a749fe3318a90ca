package io.kvtier.hbm;

import static io.kvtier.hbm.HbmTests.filled;
import static io.kvtier.hbm.HbmTests.random;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Ordering under asynchrony, proved on the emulated device by holding copies in flight (paused
 * until the test releases them, or delayed): a page is never observed, or handed out as ready,
 * before its copy completed, and a copy out of a page is never overwritten by the next write into
 * it. Without the store's cross-stream waits each of these would fail (see {@link
 * #withoutOrdering_aReadRacesADelayedWrite_andSeesOldBytes()}), which is the bug class of vLLM
 * issue #45704.
 */
class HbmOrderingTest {

  private static final int PAGE = 64 * 1024;
  private static final long DELAY_NANOS = TimeUnit.MILLISECONDS.toNanos(300);
  private static final long RESUME_AFTER_MILLIS = 200;

  private HbmPageStore store;
  private Arena arena;
  private long[] liveBefore;

  @BeforeEach
  void open() {
    assumeTrue(
        HbmTests.variant() == HbmVariant.EMULATED, "delays can be injected on the emulated device");
    liveBefore = HbmTests.live(HbmVariant.EMULATED);
    store = HbmTier.emulated(16L * PAGE).layerSplit(8).open(PAGE);
    arena = Arena.ofShared();
  }

  @AfterEach
  void close() {
    if (store != null) {
      store.close();
      arena.close();
      assertThat(HbmTests.live(HbmVariant.EMULATED))
          .as("native objects leaked")
          .isEqualTo(liveBefore);
    }
  }

  @Test
  void withoutOrdering_aReadRacesADelayedWrite_andSeesOldBytes() throws Exception {
    long slot = store.allocate(-1);
    store.write(slot, filled(arena, PAGE, 1));
    store.pauseIncoming();
    try {
      MemorySegment next = filled(arena, PAGE, 2);
      MemorySegment back = filled(arena, PAGE, 0);
      // Raw copies carry no hazard tracking: the device-to-host stream does not wait.
      long page = store.deviceAddress(slot, 0);
      CompletableFuture<Void> write = store.rawAsync(page, next.address(), PAGE / 8, true);
      store.rawAsync(back.address(), page, PAGE / 8, false).get(5, TimeUnit.SECONDS);
      assertThat(write).isNotDone();
      assertThat(back.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 1);
      store.delayIncoming(0);
      write.get(5, TimeUnit.SECONDS);
    } finally {
      store.delayIncoming(0);
    }
  }

  @Test
  void read_rightAfterAHeldWrite_returnsTheNewBytes_onlyOnceTheWriteCompleted() throws Exception {
    long slot = store.allocate(-1);
    store.write(slot, filled(arena, PAGE, 1));
    store.pauseIncoming();
    AtomicLong resumedAt = new AtomicLong();
    Thread resumer =
        Thread.ofPlatform()
            .unstarted(
                () -> {
                  try {
                    Thread.sleep(RESUME_AFTER_MILLIS);
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                  resumedAt.set(System.nanoTime());
                  store.delayIncoming(0);
                });
    try {
      MemorySegment next = random(arena, PAGE, 42);
      CompletableFuture<Void> write = store.writeAsync(slot, next);
      assertThat(write).isNotDone();
      assertThat(store.isReady(slot)).isFalse();

      MemorySegment back = filled(arena, PAGE, 0);
      resumer.start();
      store.read(slot, back); // blocks until the held write has completed
      long returnedAt = System.nanoTime();

      assertThat(back.mismatch(next)).as("first differing byte").isEqualTo(-1L);
      assertThat(resumedAt.get())
          .as("the write was released before the read returned")
          .isPositive();
      assertThat(returnedAt).isGreaterThanOrEqualTo(resumedAt.get());
      write.get(5, TimeUnit.SECONDS);
      assertThat(store.isReady(slot)).isTrue();
    } finally {
      resumer.join();
      store.delayIncoming(0);
    }
  }

  @Test
  void readAsync_afterADelayedWrite_returnsTheNewBytes() throws Exception {
    long[] slots = {store.allocate(-1), store.allocate(-1), store.allocate(-1)};
    store.delayIncoming(DELAY_NANOS);
    MemorySegment[] pages = new MemorySegment[slots.length];
    for (int i = 0; i < slots.length; i++) {
      pages[i] = random(arena, PAGE, i);
    }
    CompletableFuture<Void> write = store.writeAsync(slots, pages);
    MemorySegment packed = filled(arena, (long) slots.length * PAGE, 0);
    store.readAsync(slots, packed).get(5, TimeUnit.SECONDS);
    for (int i = 0; i < slots.length; i++) {
      assertThat(packed.asSlice((long) i * PAGE, PAGE).mismatch(pages[i])).isEqualTo(-1L);
    }
    write.get(5, TimeUnit.SECONDS);
  }

  @Test
  void whenReady_completesOnlyAfterTheIncomingCopy() throws Exception {
    long a = store.allocate(-1);
    long b = store.allocate(a + 1);
    long idle = store.allocate(b + 1);
    store.pauseIncoming();
    try {
      CompletableFuture<Void> write =
          store.writeAsync(
              new long[] {a, b},
              new MemorySegment[] {random(arena, PAGE, 1), random(arena, PAGE, 2)});
      CompletableFuture<Void> ready = store.whenReady(a, b, idle);
      assertThat(store.whenReady(idle)).isDone();
      Thread.sleep(RESUME_AFTER_MILLIS);
      assertThat(ready).as("ready while the copy is still held").isNotDone();
      assertThat(write).isNotDone();
      assertThat(store.isReady(a)).isFalse();
      store.delayIncoming(0);
      ready.get(5, TimeUnit.SECONDS);
      assertThat(store.isReady(a)).isTrue();
      assertThat(store.isReady(b)).isTrue();
    } finally {
      store.delayIncoming(0);
    }
  }

  @Test
  void write_intoAFreedPage_waitsForItsDelayedCopyOut() throws Exception {
    long slot = store.allocate(-1);
    MemorySegment original = random(arena, PAGE, 7);
    store.write(slot, original);
    store.delayOutgoing(DELAY_NANOS);
    MemorySegment offloaded = filled(arena, PAGE, 0);
    CompletableFuture<Void> offload = store.readAsync(slot, offloaded);
    store.free(slot);
    long reused = store.allocate(slot);
    assertThat(reused).isEqualTo(slot);
    store.write(reused, filled(arena, PAGE, 9)); // must not overtake the delayed offload
    offload.get(5, TimeUnit.SECONDS);
    assertThat(offloaded.mismatch(original)).as("offloaded bytes were overwritten").isEqualTo(-1L);
    MemorySegment now = filled(arena, PAGE, 0);
    store.read(reused, now);
    assertThat(now.mismatch(filled(arena, PAGE, 9))).isEqualTo(-1L);
  }

  @Test
  void copyOnDevice_ofAPageBeingWritten_copiesTheNewBytes() throws Exception {
    long from = store.allocate(-1);
    long to = store.allocate(-1);
    store.delayIncoming(DELAY_NANOS);
    MemorySegment bytes = random(arena, PAGE, 3);
    store.writeAsync(from, bytes);
    store.delayIncoming(0);
    store.copy(from, to);
    MemorySegment back = filled(arena, PAGE, 0);
    store.read(to, back);
    assertThat(back.mismatch(bytes)).isEqualTo(-1L);
  }

  @Test
  void copiesOnOneStream_completeInSubmissionOrder() throws Exception {
    store.delayIncoming(TimeUnit.MILLISECONDS.toNanos(20));
    List<Long> order = new ArrayList<>();
    List<CompletableFuture<Void>> writes = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      long slot = store.allocate(-1);
      long index = i;
      writes.add(
          store
              .writeAsync(slot, random(arena, PAGE, i), Runnable::run)
              .thenRun(
                  () -> {
                    synchronized (order) {
                      order.add(index);
                    }
                  }));
    }
    CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
    assertThat(order).containsExactly(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L);
  }

  @Test
  void close_waitsForCopiesInFlight() throws Exception {
    long slot = store.allocate(-1);
    store.delayIncoming(DELAY_NANOS);
    CompletableFuture<Void> write = store.writeAsync(slot, random(arena, PAGE, 5));
    store.close();
    assertThat(write).succeedsWithin(5, TimeUnit.SECONDS);
    assertThat(store.isClosed()).isTrue();
  }

  @Test
  void concurrentWritersAndReaders_onDistinctPages_alwaysReadWhatWasWritten() throws Exception {
    store.delayIncoming(TimeUnit.MICROSECONDS.toNanos(200));
    store.delayOutgoing(TimeUnit.MICROSECONDS.toNanos(100));
    int threads = 4;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CountDownLatch start = new CountDownLatch(1);
    List<Future<Integer>> results = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      long slot = store.allocate(-1);
      int id = t;
      results.add(
          pool.submit(
              () -> {
                start.await();
                int checked = 0;
                try (Arena local = Arena.ofShared()) {
                  MemorySegment back = local.allocate(PAGE, 64);
                  for (int round = 0; round < 40; round++) {
                    MemorySegment src = random(local, PAGE, id * 1000L + round);
                    store.writeAsync(slot, src); // not awaited: the read must order after it
                    store.read(slot, back);
                    assertThat(back.mismatch(src)).isEqualTo(-1L);
                    checked++;
                  }
                }
                return checked;
              }));
    }
    start.countDown();
    for (Future<Integer> r : results) {
      assertThat(r.get(60, TimeUnit.SECONDS)).isEqualTo(40);
    }
    pool.shutdown();
  }
}
