package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.spi.BlockRecord;
import io.kvtier.spi.PageStore;
import io.kvtier.spi.TierKind;
import io.kvtier.spi.TierSpec;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The transfer engine on its own, between tiers whose stores are instrumented: which copies run, in
 * what order, how many at once, as how many memory copies, and what a failure names.
 */
@Timeout(value = 20, unit = TimeUnit.SECONDS)
class TransferEngineTest {
  static final int PAGE = 64;
  static final int PAGES = 64;

  final List<AutoCloseable> toClose = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : toClose.reversed()) {
      c.close();
    }
  }

  /**
   * A DRAM store that records what the engine does with it. {@code addressable} false hides its
   * memory, so copies go through {@link #read}/{@link #writeBlock}; a latch per slot holds the
   * first access of that slot (on the copying thread).
   */
  static final class Instrumented implements PageStore {
    final DramPageStore pages;
    final boolean addressable;
    final Map<Long, CountDownLatch> holds = new ConcurrentHashMap<>();
    final Map<Long, CountDownLatch> reached = new ConcurrentHashMap<>();
    final List<Long> firstSlots = new CopyOnWriteArrayList<>();
    final AtomicInteger runSegments = new AtomicInteger();
    final AtomicInteger touched = new AtomicInteger();
    final Map<Long, AtomicInteger> touches = new ConcurrentHashMap<>();
    final AtomicInteger concurrentWrites = new AtomicInteger();
    final AtomicInteger maxConcurrentWrites = new AtomicInteger();
    volatile RuntimeException failReads;
    volatile RuntimeException failWrites;

    /** Like a device tier: no addresses, and batches or ranges move as transfers the test lands. */
    volatile boolean batches;

    final List<Transfer> transfers = new CopyOnWriteArrayList<>();

    Instrumented(String name, boolean addressable) {
      this.pages = new DramPageStore(name, (long) PAGE * PAGES, PAGE);
      this.addressable = addressable;
    }

    /** A DRAM tier spec whose store is this one. */
    TierSpec spec() {
      Instrumented store = this;
      return new TierSpec() {
        @Override
        public String name() {
          return store.name();
        }

        @Override
        public TierKind kind() {
          return TierKind.DRAM;
        }

        @Override
        public long capacityBytes() {
          return (long) PAGE * PAGES;
        }

        @Override
        public PageStore open(int pageBytes) {
          return store;
        }
      };
    }

    /** A store that, like the HBM tier, has no host addresses and moves whole batches. */
    static Instrumented device(String name) {
      Instrumented s = new Instrumented(name, false);
      s.batches = true;
      return s;
    }

    /** One batch transfer, held until the test lands or fails it. */
    record Transfer(
        boolean in,
        Instrumented store,
        long[] slots,
        MemorySegment[] host,
        long offset,
        long length,
        CompletableFuture<Void> done) {
      void land() {
        for (int i = 0; i < slots.length; i++) {
          MemorySegment page = store.pages.segment(slots[i]).orElseThrow();
          if (in) {
            MemorySegment.copy(host[i], offset, page, offset, length);
          } else {
            MemorySegment.copy(page, offset, host[i], offset, length);
          }
        }
        done.complete(null);
      }
    }

    Transfer awaitTransfer(int index) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (transfers.size() <= index) {
        assertThat(System.nanoTime()).as("transfer %d submitted", index).isLessThan(deadline);
        Thread.sleep(1);
      }
      return transfers.get(index);
    }

    @Override
    public boolean transfersBatches() {
      return batches;
    }

    @Override
    public CompletableFuture<Void> writePagesAsync(
        long[] slots, MemorySegment[] host, long offset, long length) {
      if (!batches) {
        return PageStore.super.writePagesAsync(slots, host, offset, length);
      }
      Transfer t =
          new Transfer(
              true, this, slots.clone(), host.clone(), offset, length, new CompletableFuture<>());
      transfers.add(t);
      return t.done;
    }

    @Override
    public CompletableFuture<Void> readPagesAsync(
        long[] slots, MemorySegment[] host, long offset, long length) {
      if (!batches) {
        return PageStore.super.readPagesAsync(slots, host, offset, length);
      }
      Transfer t =
          new Transfer(
              false, this, slots.clone(), host.clone(), offset, length, new CompletableFuture<>());
      transfers.add(t);
      return t.done;
    }

    /** Holds the first copy that touches {@code slot} until the returned latch opens. */
    CountDownLatch hold(long slot) {
      CountDownLatch l = new CountDownLatch(1);
      holds.put(slot, l);
      reached.put(slot, new CountDownLatch(1));
      return l;
    }

    void awaitReached(long slot) throws InterruptedException {
      assertThat(reached.get(slot).await(10, TimeUnit.SECONDS)).isTrue();
    }

    private void touch(long slot) {
      touched.incrementAndGet();
      touches.computeIfAbsent(slot, k -> new AtomicInteger()).incrementAndGet();
      firstSlots.add(slot);
      CountDownLatch r = reached.get(slot);
      if (r != null) {
        r.countDown();
      }
      CountDownLatch h = holds.remove(slot);
      if (h != null) {
        try {
          h.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted while held", e);
        }
      }
    }

    int touches(long slot) {
      AtomicInteger n = touches.get(slot);
      return n == null ? 0 : n.get();
    }

    @Override
    public Optional<MemorySegment> segment(long slot) {
      if (!addressable) {
        return Optional.empty();
      }
      touch(slot);
      return pages.segment(slot);
    }

    @Override
    public Optional<MemorySegment> segment(long slot, int count) {
      if (!addressable) {
        return Optional.empty();
      }
      if (count > 1) {
        runSegments.incrementAndGet();
      }
      return pages.segment(slot, count);
    }

    @Override
    public void read(long slot, MemorySegment dst) {
      touch(slot);
      if (failReads != null) {
        throw failReads;
      }
      pages.read(slot, dst);
    }

    @Override
    public void write(long slot, MemorySegment src) {
      int now = concurrentWrites.incrementAndGet();
      maxConcurrentWrites.accumulateAndGet(now, Math::max);
      try {
        touch(slot);
        if (failWrites != null) {
          throw failWrites;
        }
        Thread.sleep(1);
        pages.write(slot, src);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      } finally {
        concurrentWrites.decrementAndGet();
      }
    }

    @Override
    public void writeBlock(long slot, BlockRecord block, MemorySegment src) {
      write(slot, src);
    }

    @Override
    public boolean readBlock(long slot, BlockRecord expected, MemorySegment dst) {
      read(slot, dst);
      return true;
    }

    @Override
    public TierKind kind() {
      return TierKind.DRAM;
    }

    @Override
    public String name() {
      return pages.name();
    }

    @Override
    public int pageBytes() {
      return PAGE;
    }

    @Override
    public long capacityPages() {
      return PAGES;
    }

    @Override
    public long freePages() {
      return pages.freePages();
    }

    @Override
    public long allocate(long hint) {
      return pages.allocate(hint);
    }

    @Override
    public void free(long slot) {
      pages.free(slot);
    }

    @Override
    public long freeRuns() {
      return pages.freeRuns();
    }

    @Override
    public long largestFreeRun() {
      return pages.largestFreeRun();
    }

    @Override
    public boolean isClosed() {
      return pages.isClosed();
    }

    @Override
    public void close() {
      pages.close();
    }
  }

  Tier tier(int ordinal, Instrumented store) {
    toClose.add(store);
    return new Tier(ordinal, store.spec(), store);
  }

  TransferEngine engine(long maxBytesInFlight) {
    TransferEngine e = new TransferEngine(maxBytesInFlight);
    toClose.add(e);
    return e;
  }

  static List<TransferEngine.PageCopy> copies(int srcFrom, int... dst) {
    List<TransferEngine.PageCopy> l = new ArrayList<>();
    for (int i = 0; i < dst.length; i++) {
      l.add(new TransferEngine.PageCopy(srcFrom + i, dst[i], null));
    }
    return l;
  }

  static void fill(Instrumented s, int slot, int value) {
    s.pages.segment(slot).orElseThrow().fill((byte) value);
  }

  static byte byteAt(Instrumented s, int slot) {
    return s.pages.segment(slot).orElseThrow().get(ValueLayout.JAVA_BYTE, PAGE - 1);
  }

  @Test
  void queuedOnboarding_runsBeforeEarlierQueuedOffload_andPrefetchInBetween() throws Exception {
    Instrumented from = new Instrumented("from", true);
    Instrumented to = new Instrumented("to", true);
    Tier a = tier(1, from);
    Tier b = tier(0, to);
    TransferEngine e = engine(1L << 20);
    CountDownLatch first = from.hold(0);
    CountDownLatch second = from.hold(1);
    var busy1 = e.submit(a, b, TransferEngine.Priority.OFFLOAD, copies(0, 40));
    var busy2 = e.submit(a, b, TransferEngine.Priority.OFFLOAD, copies(1, 41));
    from.awaitReached(0);
    from.awaitReached(1); // both workers of the link are held
    var offload1 = e.submit(a, b, TransferEngine.Priority.OFFLOAD, copies(10, 50));
    var offload2 = e.submit(a, b, TransferEngine.Priority.OFFLOAD, copies(11, 51));
    var prefetch = e.submit(a, b, TransferEngine.Priority.PREFETCH, copies(12, 52));
    var onboard = e.submit(a, b, TransferEngine.Priority.ONBOARD, copies(13, 53));
    first.countDown(); // one worker goes on alone and drains the queue in priority order
    CompletableFuture.allOf(busy1, offload1, offload2, prefetch, onboard).get(10, TimeUnit.SECONDS);
    second.countDown();
    busy2.get(10, TimeUnit.SECONDS);
    List<Long> order = from.firstSlots.stream().filter(s -> s >= 10).toList();
    assertThat(order).containsExactly(13L, 12L, 10L, 11L);
  }

  @Test
  void pagesConsecutiveInBothTiers_moveAsOneCopy() throws Exception {
    Instrumented from = new Instrumented("from", true);
    Instrumented to = new Instrumented("to", true);
    TransferEngine e = engine(1L << 20);
    for (int i = 0; i < 12; i++) {
      fill(from, 10 + i, 100 + i);
    }
    Tier a = tier(1, from);
    Tier b = tier(0, to);
    e.submit(a, b, TransferEngine.Priority.ONBOARD, copies(10, 20, 21, 22, 23, 24, 25, 26, 27))
        .get(10, TimeUnit.SECONDS);
    assertThat(from.runSegments.get()).as("one run segment on each side").isEqualTo(1);
    assertThat(to.runSegments.get()).isEqualTo(1);
    // a gap in the destination splits the batch into two runs: [18] and [19, 20, 21]
    e.submit(a, b, TransferEngine.Priority.ONBOARD, copies(18, 40, 42, 43, 44))
        .get(10, TimeUnit.SECONDS);
    assertThat(from.runSegments.get()).isEqualTo(2);
    assertThat(to.runSegments.get()).isEqualTo(2);
    for (int i = 0; i < 8; i++) {
      assertThat(byteAt(to, 20 + i)).isEqualTo((byte) (100 + i));
    }
    assertThat(byteAt(to, 40)).isEqualTo((byte) 108);
    for (int i = 0; i < 3; i++) {
      assertThat(byteAt(to, 42 + i)).isEqualTo((byte) (109 + i));
    }
    assertThat(b.bytesIn.sum()).isEqualTo(12L * PAGE);
  }

  @Test
  void bytesInFlight_neverExceedTheBound_evenForTasksLargerThanIt() throws Exception {
    Instrumented from = new Instrumented("from", true);
    Instrumented to = new Instrumented("to", false); // copies are writes the store can count
    Tier a = tier(1, from);
    Tier b = tier(0, to);
    TransferEngine e = engine(PAGE); // one page in flight per link
    List<CompletableFuture<Void>> all = new ArrayList<>();
    int dst = 0;
    for (int task = 0; task < 12; task++) {
      int n = 1 + task % 3; // tasks of 1 to 3 pages: up to three times the bound
      int[] slots = IntStream.range(dst, dst + n).toArray();
      all.add(e.submit(a, b, TransferEngine.Priority.OFFLOAD, copies(dst, slots)));
      dst += n;
    }
    CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
    assertThat(to.touched.get()).isEqualTo(dst);
    assertThat(to.maxConcurrentWrites.get())
        .as("two workers, but a bound of one page: never two copies at once")
        .isEqualTo(1);
  }

  @Test
  void cancelledQueuedTask_neverRuns() throws Exception {
    Instrumented from = new Instrumented("from", true);
    Instrumented to = new Instrumented("to", true);
    Tier a = tier(1, from);
    Tier b = tier(0, to);
    TransferEngine e = engine(1L << 20);
    CountDownLatch hold0 = from.hold(0);
    CountDownLatch hold1 = from.hold(1);
    var busy1 = e.submit(a, b, TransferEngine.Priority.OFFLOAD, copies(0, 40));
    var busy2 = e.submit(a, b, TransferEngine.Priority.OFFLOAD, copies(1, 41));
    from.awaitReached(0);
    from.awaitReached(1);
    var cancelled = e.submit(a, b, TransferEngine.Priority.ONBOARD, copies(20, 50, 51));
    var after = e.submit(a, b, TransferEngine.Priority.OFFLOAD, copies(30, 60));
    assertThat(cancelled.cancel(false)).isTrue();
    hold0.countDown();
    hold1.countDown();
    CompletableFuture.allOf(busy1, busy2, after).get(10, TimeUnit.SECONDS);
    assertThat(from.touches(20) + from.touches(21) + to.touches(50) + to.touches(51))
        .as("the cancelled task touched neither store")
        .isZero();
    assertThat(cancelled).isCancelled();
  }

  @Test
  void ioFailures_nameTheTierThatFailed() throws Exception {
    Instrumented src = new Instrumented("dram", true);
    Instrumented disk = new Instrumented("nvme", false);
    Tier top = tier(0, src);
    Tier lower = tier(1, disk);
    TransferEngine e = engine(1L << 20);
    disk.failWrites = new java.io.UncheckedIOException(new java.io.IOException("disk full"));
    var offload = e.submit(top, lower, TransferEngine.Priority.OFFLOAD, copies(0, 0));
    assertThatThrownBy(() -> offload.get(10, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .cause()
        .isInstanceOfSatisfying(
            TransferEngine.TierIoException.class, x -> assertThat(x.tier).isSameAs(lower))
        .hasMessageContaining("tier 'nvme'")
        .hasMessageContaining("disk full");
    disk.failWrites = null;
    disk.failReads = new java.io.UncheckedIOException(new java.io.IOException("bad sector"));
    var onboard = e.submit(lower, top, TransferEngine.Priority.ONBOARD, copies(3, 3));
    assertThatThrownBy(() -> onboard.get(10, TimeUnit.SECONDS))
        .cause()
        .isInstanceOfSatisfying(
            TransferEngine.TierIoException.class, x -> assertThat(x.tier).isSameAs(lower))
        .hasMessageContaining("tier 'nvme'");
    // a synchronous copy (demotion) reports the same way
    assertThatThrownBy(() -> TransferEngine.copyNow(lower, top, copies(4, 4)))
        .isInstanceOfSatisfying(
            TransferEngine.TierIoException.class, x -> assertThat(x.tier).isSameAs(lower));
  }

  @Test
  void close_cancelsQueuedWork_andRefusesNewWork() throws Exception {
    Instrumented from = new Instrumented("from", true);
    Instrumented to = new Instrumented("to", true);
    Tier a = tier(1, from);
    Tier b = tier(0, to);
    TransferEngine e = engine(1L << 20);
    CountDownLatch hold0 = from.hold(0);
    CountDownLatch hold1 = from.hold(1);
    var busy1 = e.submit(a, b, TransferEngine.Priority.OFFLOAD, copies(0, 40));
    var busy2 = e.submit(a, b, TransferEngine.Priority.OFFLOAD, copies(1, 41));
    from.awaitReached(0);
    from.awaitReached(1);
    var queued1 = e.submit(a, b, TransferEngine.Priority.ONBOARD, copies(20, 50));
    var queued2 = e.submit(a, b, TransferEngine.Priority.OFFLOAD, copies(21, 51));
    e.close(); // interrupts the held workers
    hold0.countDown();
    hold1.countDown();
    assertThat(queued1).isCancelled();
    assertThat(queued2).isCancelled();
    assertThat(busy1).isDone();
    assertThat(busy2).isDone();
    assertThat(from.touches(20) + from.touches(21)).isZero();
    assertThat(e.submit(a, b, TransferEngine.Priority.ONBOARD, copies(22, 52)))
        .isCompletedExceptionally();
    e.close(); // idempotent
  }

  /** Whether the destination page holds the source page's bytes over {@code [from, to)}. */
  static boolean same(
      Instrumented src, int srcSlot, Instrumented dst, int dstSlot, int from, int to) {
    MemorySegment a = src.pages.segment(srcSlot).orElseThrow();
    MemorySegment b = dst.pages.segment(dstSlot).orElseThrow();
    return MemorySegment.mismatch(a, from, to, b, from, to) == -1;
  }

  @Test
  void layeredBatch_copiesLayerZeroOfEveryPageFirst_andCompletesEachLayerAsItLands()
      throws Exception {
    Instrumented from = new Instrumented("from", true);
    Instrumented to = new Instrumented("to", true);
    Tier a = tier(1, from);
    Tier b = tier(0, to);
    TransferEngine e = engine(1L << 20);
    int layers = 4;
    int lb = PAGE / layers;
    for (int i = 0; i < 3; i++) {
      for (int k = 0; k < PAGE; k++) {
        from.pages.segment(i).orElseThrow().set(ValueLayout.JAVA_BYTE, k, (byte) (7 * i + k + 1));
      }
    }
    TransferEngine.Layers progress = new TransferEngine.Layers(layers, lb);
    // What the destination held when each layer completed: layer l of all three pages, and none of
    // layer l + 1 (the callbacks run on the copying thread, between layers).
    List<String> seen = new CopyOnWriteArrayList<>();
    for (int l = 0; l < layers; l++) {
      int layer = l;
      progress
          .layer(l)
          .thenRun(
              () -> {
                boolean landed = true;
                boolean nextLanded = false;
                for (int i = 0; i < 3; i++) {
                  landed &= same(from, i, to, 30 + i, layer * lb, (layer + 1) * lb);
                  if (layer + 1 < layers) {
                    nextLanded |= same(from, i, to, 30 + i, (layer + 1) * lb, (layer + 2) * lb);
                  }
                }
                seen.add(layer + ":" + landed + "/" + nextLanded);
              });
    }
    CountDownLatch held = from.hold(0); // the batch waits until the callbacks are in place
    var done = e.submit(a, b, TransferEngine.Priority.ONBOARD, copies(0, 30, 31, 32), progress);
    from.awaitReached(0);
    assertThat(progress.layer(0)).isNotDone();
    held.countDown();
    done.get(10, TimeUnit.SECONDS);
    assertThat(seen)
        .containsExactly("0:true/false", "1:true/false", "2:true/false", "3:true/false");
    for (int i = 0; i < 3; i++) {
      assertThat(same(from, i, to, 30 + i, 0, PAGE)).isTrue();
    }
    assertThat(a.linkTo(0).pages.sum()).isEqualTo(3);
  }

  @Test
  void layeredBatch_betweenStoresWithoutAddresses_completesEveryLayerWithTheBatch()
      throws Exception {
    Instrumented from = new Instrumented("from", false);
    Instrumented to = new Instrumented("to", true);
    Tier a = tier(1, from);
    Tier b = tier(0, to);
    TransferEngine e = engine(1L << 20);
    fill(from, 5, 42);
    TransferEngine.Layers progress = new TransferEngine.Layers(4, PAGE / 4);
    CountDownLatch held = from.hold(5);
    var done = e.submit(a, b, TransferEngine.Priority.ONBOARD, copies(5, 20), progress);
    from.awaitReached(5);
    for (int l = 0; l < 4; l++) {
      assertThat(progress.layer(l)).as("layer %d before the page landed", l).isNotDone();
    }
    held.countDown();
    done.get(10, TimeUnit.SECONDS);
    for (int l = 0; l < 4; l++) {
      progress.layer(l).get(10, TimeUnit.SECONDS); // settled by the batch's completion
    }
    assertThat(byteAt(to, 20)).isEqualTo((byte) 42);
  }

  @Test
  void layeredBatch_thatFails_failsTheLayersNotYetLanded() {
    Instrumented from = new Instrumented("from", false);
    Instrumented to = new Instrumented("to", true);
    Tier a = tier(1, from);
    Tier b = tier(0, to);
    TransferEngine e = engine(1L << 20);
    from.failReads = new IllegalStateException("device gone");
    TransferEngine.Layers progress = new TransferEngine.Layers(2, PAGE / 2);
    var done = e.submit(a, b, TransferEngine.Priority.ONBOARD, copies(1, 2), progress);
    // Blocking waits: the layers settle on the copying thread while this one may already run.
    for (int l = 0; l < 2; l++) {
      int layer = l;
      assertThatThrownBy(() -> progress.layer(layer).get(10, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .hasRootCauseMessage("device gone");
    }
    assertThatThrownBy(() -> done.get(10, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .hasRootCauseMessage("device gone");
  }

  @Test
  void layeredBatch_intoAStoreThatTransfersRanges_sendsOneRangePerLayer_eachLayerLandingWithIt()
      throws Exception {
    Instrumented from = new Instrumented("from", true);
    Instrumented to = Instrumented.device("hbm");
    Tier a = tier(1, from);
    Tier b = tier(0, to);
    TransferEngine e = engine(1L << 20);
    int layers = 4;
    int lb = PAGE / layers;
    for (int i = 0; i < 3; i++) {
      for (int k = 0; k < PAGE; k++) {
        from.pages.segment(i).orElseThrow().set(ValueLayout.JAVA_BYTE, k, (byte) (5 * i + k + 1));
      }
    }
    TransferEngine.Layers progress = new TransferEngine.Layers(layers, lb);
    var done = e.submit(a, b, TransferEngine.Priority.ONBOARD, copies(0, 40, 41, 42), progress);
    // Every layer is submitted before the first lands, so the device's queue never idles.
    for (int l = 0; l < layers; l++) {
      Instrumented.Transfer t = to.awaitTransfer(l);
      assertThat(t.in()).isTrue();
      assertThat(t.slots()).containsExactly(40, 41, 42);
      assertThat(t.offset()).isEqualTo((long) l * lb);
      assertThat(t.length()).isEqualTo(lb);
    }
    for (int l = 0; l < layers; l++) {
      assertThat(progress.layer(l)).as("layer %d before its transfer", l).isNotDone();
      to.transfers.get(l).land();
      progress.layer(l).get(10, TimeUnit.SECONDS);
      if (l + 1 < layers) {
        assertThat(progress.layer(l + 1)).as("layer %d", l + 1).isNotDone();
      }
    }
    done.get(10, TimeUnit.SECONDS);
    assertThat(to.transfers).hasSize(layers);
    for (int i = 0; i < 3; i++) {
      assertThat(same(from, i, to, 40 + i, 0, PAGE)).isTrue();
    }
    assertThat(a.linkTo(0).pages.sum()).isEqualTo(3);
  }

  @Test
  void layeredRanges_thatFail_failTheLayersLeft_onlyOnceEveryTransferHasEnded() throws Exception {
    Instrumented from = new Instrumented("from", true);
    Instrumented to = Instrumented.device("hbm");
    Tier a = tier(1, from);
    Tier b = tier(0, to);
    TransferEngine e = engine(1L << 20);
    TransferEngine.Layers progress = new TransferEngine.Layers(4, PAGE / 4);
    var done = e.submit(a, b, TransferEngine.Priority.ONBOARD, copies(0, 7, 8), progress);
    to.awaitTransfer(3);
    to.transfers.get(0).land();
    progress.layer(0).get(10, TimeUnit.SECONDS);
    to.transfers.get(1).done().completeExceptionally(new IllegalStateException("xid 79"));
    to.transfers.get(2).land();
    // Transfer 3 still reads the source pages: the batch must not end (and free them) before it.
    assertThat(done).isNotDone();
    to.transfers.get(3).land();
    assertThatThrownBy(() -> done.get(10, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .hasCauseInstanceOf(TransferEngine.TierIoException.class)
        .hasMessageContaining("tier 'hbm'")
        .hasRootCauseMessage("xid 79");
    for (int l = 1; l < 4; l++) {
      int layer = l;
      assertThatThrownBy(() -> progress.layer(layer).get(10, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .hasRootCauseMessage("xid 79");
    }
    assertThat(progress.layer(0)).isCompleted();
  }

  @Test
  void wholePages_toAndFromAStoreThatTransfersBatches_goAsOneTransferEachWay() throws Exception {
    Instrumented host = new Instrumented("dram", true);
    Instrumented device = Instrumented.device("hbm");
    Tier dram = tier(1, host);
    Tier hbm = tier(0, device);
    TransferEngine e = engine(1L << 20);
    for (int i = 0; i < 4; i++) {
      fill(host, i, 60 + i);
    }
    var in = e.submit(dram, hbm, TransferEngine.Priority.ONBOARD, copies(0, 10, 11, 12, 13));
    Instrumented.Transfer t = device.awaitTransfer(0);
    assertThat(t.in()).isTrue();
    assertThat(t.slots()).containsExactly(10, 11, 12, 13);
    assertThat(t.offset()).isZero();
    assertThat(t.length()).isEqualTo(PAGE);
    assertThat(in).isNotDone();
    t.land();
    in.get(10, TimeUnit.SECONDS);
    var out = e.submit(hbm, dram, TransferEngine.Priority.OFFLOAD, copies(10, 20, 21, 22, 23));
    Instrumented.Transfer back = device.awaitTransfer(1);
    assertThat(back.in()).isFalse();
    assertThat(back.slots()).containsExactly(10, 11, 12, 13);
    back.land();
    out.get(10, TimeUnit.SECONDS);
    assertThat(device.transfers).hasSize(2);
    for (int i = 0; i < 4; i++) {
      assertThat(byteAt(host, 20 + i)).isEqualTo((byte) (60 + i));
    }
    assertThat(device.touched).as("no page went through read or write alone").hasValue(0);
  }

  @Test
  void promotedPrefetch_runsBeforePrefetchQueuedEarlier_andBehindOnboardingAlreadyQueued()
      throws Exception {
    Instrumented from = new Instrumented("from", true);
    Instrumented to = new Instrumented("to", true);
    Tier a = tier(1, from);
    Tier b = tier(0, to);
    TransferEngine e = engine(1L << 20);
    CountDownLatch first = from.hold(0);
    CountDownLatch second = from.hold(1);
    var busy1 = e.submit(a, b, TransferEngine.Priority.OFFLOAD, copies(0, 40));
    var busy2 = e.submit(a, b, TransferEngine.Priority.OFFLOAD, copies(1, 41));
    from.awaitReached(0);
    from.awaitReached(1); // both workers of the link are held
    var prefetch1 = e.submit(a, b, TransferEngine.Priority.PREFETCH, copies(10, 50));
    var prefetch2 = e.submit(a, b, TransferEngine.Priority.PREFETCH, copies(11, 51));
    var onboard = e.submit(a, b, TransferEngine.Priority.ONBOARD, copies(12, 52));
    assertThat(e.promote(prefetch2)).isTrue();
    assertThat(e.promote(prefetch2)).as("already urgent").isFalse();
    assertThat(e.promote(onboard)).isFalse();
    first.countDown();
    CompletableFuture.allOf(busy1, prefetch1, prefetch2, onboard).get(10, TimeUnit.SECONDS);
    second.countDown();
    busy2.get(10, TimeUnit.SECONDS);
    assertThat(from.firstSlots.stream().filter(x -> x >= 10).toList())
        .containsExactly(12L, 11L, 10L);
    assertThat(e.promote(prefetch1)).as("done").isFalse();
  }
}
