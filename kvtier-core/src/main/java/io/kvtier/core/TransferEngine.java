package io.kvtier.core;

import io.kvtier.KvTierException;
import io.kvtier.spi.BlockRecord;
import io.kvtier.spi.PageStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.PriorityBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Moves page bytes between tiers, off the cache's lock.
 *
 * <h2>Queues</h2>
 *
 * One queue per link (source tier, destination tier), ordered by {@link Priority} and then by
 * submission: onboarding for a waiting request goes before prefetch, which goes before offload
 * (write-through). Each link has its own worker threads, so a slow NVMe write never delays a
 * DRAM-to-HBM onboarding. A task is a batch of page copies: a request's pages, or a run of blocks.
 * Within a batch, pages that are contiguous in both tiers' memory are moved as one copy.
 *
 * <h2>Backpressure and cancellation</h2>
 *
 * A link admits at most {@code maxBytesInFlight} bytes of copies at once (a semaphore of one permit
 * per page, taken by the worker before it copies; a task larger than the bound is copied in chunks
 * of the bound), so a burst of offloads cannot starve the memory bandwidth of onboarding on another
 * link. Submitting never blocks: the cache submits under its lock. A task whose future was
 * cancelled before it started is skipped.
 *
 * <h2>Safety</h2>
 *
 * The engine calls {@link #submit} only after it has protected both ends: the source page holds a
 * reference (or its copy is marked busy) and the destination page is allocated but not yet visible
 * in the index. It makes the destination visible, and drops the source protection, only when the
 * task's future completes: a page is never freed at its source before its copy is complete, and
 * never exposed at its destination before.
 */
final class TransferEngine implements AutoCloseable {

  /** Who is waiting for a copy. */
  enum Priority {
    ONBOARD,
    PREFETCH,
    OFFLOAD
  }

  /** One page to copy; {@code record} identifies the block for verifying stores. */
  record PageCopy(int srcSlot, int dstSlot, BlockRecord record) {}

  /**
   * A batch's progress layer by layer (layer-wise pre-loading). A page's bytes are layer-major:
   * layer {@code l}'s keys and values are bytes {@code [l · layerBytes, (l + 1) · layerBytes)}.
   * When both stores address their pages as memory and no store verifies blocks, the batch is
   * copied layer 0 of every page first, then layer 1, and each layer's future completes as soon as
   * its bytes are in place; otherwise every layer completes with the batch. A failed or cancelled
   * batch fails the layers not yet complete.
   */
  static final class Layers {
    private final int count;
    final long layerBytes;
    // How many layers have landed, and the failure that ended the rest; futures exist only for the
    // layers someone asked for (most onboardings are waited for whole), all under this object.
    private int landed;
    private Throwable failure;
    private List<CompletableFuture<Void>> asked;

    /**
     * @param count layers, at least 1
     * @param layerBytes bytes of one layer (keys and values) in a page
     */
    Layers(int count, long layerBytes) {
      this.count = count;
      this.layerBytes = layerBytes;
    }

    int count() {
      return count;
    }

    /** Completes when layer {@code l} has landed; fails if the batch failed before it did. */
    synchronized CompletableFuture<Void> layer(int l) {
      if (l < landed) {
        return CompletableFuture.completedFuture(null);
      }
      if (failure != null) {
        return CompletableFuture.failedFuture(failure);
      }
      if (asked == null) {
        asked = new java.util.ArrayList<>(java.util.Collections.nCopies(count, null));
      }
      if (asked.get(l) == null) {
        asked.set(l, new CompletableFuture<>());
      }
      return asked.get(l);
    }

    /** Layers below {@code upTo} have landed. */
    void complete(int upTo) {
      List<CompletableFuture<Void>> due = new java.util.ArrayList<>();
      synchronized (this) {
        if (failure != null || upTo <= landed) {
          return;
        }
        for (int l = landed; l < upTo && asked != null; l++) {
          if (asked.get(l) != null) {
            due.add(asked.get(l));
          }
        }
        landed = upTo;
      }
      for (CompletableFuture<Void> f : due) { // outside the lock: callbacks may run here
        f.complete(null);
      }
    }

    /** Every layer has landed ({@code err} null), or those left fail with {@code err}. */
    void settle(Throwable err) {
      if (err == null) {
        complete(count);
        return;
      }
      List<CompletableFuture<Void>> due = new java.util.ArrayList<>();
      synchronized (this) {
        if (failure != null || landed == count) {
          return;
        }
        failure = err;
        for (int l = landed; l < count && asked != null; l++) {
          if (asked.get(l) != null) {
            due.add(asked.get(l));
          }
        }
      }
      for (CompletableFuture<Void> f : due) {
        f.completeExceptionally(err);
      }
    }
  }

  private static final class Task implements Comparable<Task> {
    // Changed only while the task is out of its queue (promote), so the queue's order holds.
    Priority priority;
    long seq;
    final List<PageCopy> copies;
    final Layers layers;
    final CompletableFuture<Void> future = new CompletableFuture<>();

    Task(Priority priority, long seq, List<PageCopy> copies, Layers layers) {
      this.priority = priority;
      this.seq = seq;
      this.copies = copies;
      this.layers = layers;
    }

    @Override
    public int compareTo(Task o) {
      int c = priority.compareTo(o.priority);
      return c != 0 ? c : Long.compare(seq, o.seq);
    }
  }

  private final class Link {
    final Tier src;
    final Tier dst;
    final PriorityBlockingQueue<Task> queue = new PriorityBlockingQueue<>();
    final Semaphore inFlight;
    final int maxPermits;
    final Thread[] workers;

    Link(Tier src, Tier dst, int workerCount) {
      this.src = src;
      this.dst = dst;
      int permitBytes = Math.max(1, src.store.pageBytes());
      this.maxPermits = Math.clamp(maxBytesInFlight / permitBytes, 1, Integer.MAX_VALUE);
      this.inFlight = new Semaphore(maxPermits);
      this.workers = new Thread[workerCount];
      for (int i = 0; i < workerCount; i++) {
        workers[i] =
            Thread.ofPlatform()
                .daemon()
                .name("kvtier-transfer-" + src.name + "-" + dst.name + "-" + i)
                .start(this::run);
      }
    }

    void run() {
      while (!closed) {
        Task t;
        try {
          t = queue.poll(100, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
          return;
        }
        if (t == null || t.future.isDone()) {
          continue;
        }
        try {
          // One permit per page; a task larger than the bound goes in chunks of the bound, so it
          // neither waits for more permits than exist nor puts more bytes in flight than allowed.
          List<PageCopy> copies = t.copies;
          MemorySegment[][] ends =
              t.layers != null && copies.size() <= maxPermits
                  ? layerable(src, dst, copies, t.layers)
                  : null;
          if (ends != null) {
            inFlight.acquire(copies.size());
            try {
              copyLayered(src, dst, copies, ends, t.layers);
            } finally {
              inFlight.release(copies.size());
            }
          }
          for (int from = ends != null ? copies.size() : 0; from < copies.size(); ) {
            int n = Math.min(maxPermits, copies.size() - from);
            inFlight.acquire(n);
            try {
              copyNow(src, dst, copies.subList(from, from + n));
            } finally {
              inFlight.release(n);
            }
            from += n;
          }
          if (t.layers != null) {
            t.layers.settle(null); // every layer is in before the batch's waiters run
          }
          t.future.complete(null);
        } catch (InterruptedException e) {
          t.future.cancel(false);
          return;
        } catch (Throwable e) {
          if (t.layers != null) {
            t.layers.settle(e);
          }
          t.future.completeExceptionally(e);
        }
      }
    }
  }

  private final long maxBytesInFlight;
  private final ConcurrentHashMap<Long, Link> links = new ConcurrentHashMap<>();
  private final AtomicLong seq = new AtomicLong();
  private volatile boolean closed;

  TransferEngine(long maxBytesInFlight) {
    this.maxBytesInFlight = maxBytesInFlight;
  }

  /** Queues a batch of copies from {@code src} to {@code dst}; never blocks. */
  CompletableFuture<Void> submit(Tier src, Tier dst, Priority priority, List<PageCopy> copies) {
    return submit(src, dst, priority, copies, null);
  }

  /**
   * Queues a batch of copies whose progress {@code layers} (null for none) follows layer by layer;
   * never blocks.
   */
  CompletableFuture<Void> submit(
      Tier src, Tier dst, Priority priority, List<PageCopy> copies, Layers layers) {
    if (closed) {
      KvTierException e = new KvTierException("the transfer engine is closed");
      if (layers != null) {
        layers.settle(e);
      }
      return CompletableFuture.failedFuture(e);
    }
    Link link =
        links.computeIfAbsent(((long) src.ordinal << 32) | dst.ordinal, k -> new Link(src, dst, 2));
    Task t = new Task(priority, seq.incrementAndGet(), List.copyOf(copies), layers);
    if (layers != null) {
      // The worker settles the layers before it completes the task; this covers every other way a
      // task ends (cancelled at close).
      t.future.whenComplete((v, e) -> layers.settle(e));
    }
    link.queue.add(t);
    return t.future;
  }

  /**
   * Raises a queued task (a prefetch that a request now waits for) to {@link Priority#ONBOARD},
   * behind the onboarding already queued; a task already copying, done or unknown is left alone.
   *
   * @param task the future {@link #submit} returned
   * @return true if the task was queued below onboarding and now is not
   */
  boolean promote(CompletableFuture<Void> task) {
    for (Link link : links.values()) {
      for (Task t : link.queue) {
        if (t.future != task) {
          continue;
        }
        if (t.priority == Priority.ONBOARD || !link.queue.remove(t)) {
          return false; // already urgent, or a worker took it meanwhile
        }
        t.priority = Priority.ONBOARD;
        t.seq = seq.incrementAndGet();
        link.queue.add(t);
        return true;
      }
    }
    return false;
  }

  /**
   * The source and destination segments of every copy when the batch can go layer by layer: more
   * than one layer, pages of one size that the layers divide, no verifying store, the source
   * addresses each page as memory, and so does the destination or it {@linkplain
   * PageStore#transfersBatches() transfers byte ranges of a batch} (a device tier: then {@code
   * ends[1]} is null). Null otherwise.
   */
  static MemorySegment[][] layerable(Tier src, Tier dst, List<PageCopy> copies, Layers layers) {
    int pageBytes = src.store.pageBytes();
    if (layers.count() < 2
        || pageBytes != dst.store.pageBytes()
        || layers.layerBytes * layers.count() > pageBytes) {
      return null;
    }
    boolean ranges = dst.store.transfersBatches();
    MemorySegment[][] ends = {new MemorySegment[copies.size()], null};
    if (!ranges) {
      ends[1] = new MemorySegment[copies.size()];
    }
    for (int i = 0; i < copies.size(); i++) {
      PageCopy c = copies.get(i);
      if (c.record() != null) {
        return null;
      }
      Optional<MemorySegment> s = src.store.segment(c.srcSlot());
      if (s.isEmpty()) {
        return null;
      }
      ends[0][i] = s.get();
      if (!ranges) {
        Optional<MemorySegment> d = dst.store.segment(c.dstSlot());
        if (d.isEmpty()) {
          return null;
        }
        ends[1][i] = d.get();
      }
    }
    return ends;
  }

  /**
   * Copies layer 0 of every page, then layer 1, and so on, completing each layer's future as its
   * bytes land; what follows the last layer in a page (a smaller namespace's padding) goes last.
   * Into a store that transfers ranges ({@code ends[1]} null), every layer is submitted at once as
   * one range transfer of the whole batch, in layer order on the store's queue, and each layer
   * completes as its transfer does.
   */
  static void copyLayered(
      Tier src, Tier dst, List<PageCopy> copies, MemorySegment[][] ends, Layers layers) {
    Tier.LinkCounters link = src.linkTo(dst.ordinal);
    long t0 = System.nanoTime();
    try {
      int n = ends[0].length;
      long pageBytes = src.store.pageBytes();
      long lb = layers.layerBytes;
      long rest = pageBytes - lb * layers.count();
      if (ends[1] == null) {
        copyLayeredRanges(dst, copies, ends[0], layers, rest);
      } else {
        for (int l = 0; l < layers.count(); l++) {
          for (int i = 0; i < n; i++) {
            MemorySegment.copy(ends[0][i], l * lb, ends[1][i], l * lb, lb);
          }
          layers.complete(l + 1);
        }
        if (rest > 0) {
          for (int i = 0; i < n; i++) {
            MemorySegment.copy(ends[0][i], pageBytes - rest, ends[1][i], pageBytes - rest, rest);
          }
        }
      }
      long bytes = n * pageBytes;
      src.bytesOut.add(bytes);
      dst.bytesIn.add(bytes);
      link.pages.add(n);
      link.bytes.add(bytes);
    } finally {
      link.nanos.add(System.nanoTime() - t0);
    }
  }

  /**
   * One range transfer per layer (and one for the rest), all submitted before the first is waited
   * for, so the store's queue never idles between layers. A failure is thrown only once every
   * transfer submitted has ended: the source pages stay protected while any of them reads.
   */
  private static void copyLayeredRanges(
      Tier dst, List<PageCopy> copies, MemorySegment[] pages, Layers layers, long rest) {
    long[] slots = dstSlots(copies);
    long lb = layers.layerBytes;
    int count = layers.count() + (rest > 0 ? 1 : 0);
    List<CompletableFuture<Void>> transfers = new java.util.ArrayList<>(count);
    RuntimeException failure = null;
    for (int l = 0; l < count && failure == null; l++) {
      long length = l < layers.count() ? lb : rest;
      try {
        transfers.add(dst.store.writePagesAsync(slots, pages, l * lb, length));
      } catch (RuntimeException e) {
        failure = e;
      }
    }
    for (int l = 0; l < transfers.size(); l++) {
      try {
        transfers.get(l).join();
        if (failure == null && l < layers.count()) {
          layers.complete(l + 1);
        }
      } catch (RuntimeException e) {
        failure = failure == null ? e : failure;
      }
    }
    if (failure != null) {
      throw ioFailure(dst, failure);
    }
  }

  private static long[] dstSlots(List<PageCopy> copies) {
    long[] slots = new long[copies.size()];
    for (int i = 0; i < slots.length; i++) {
      slots[i] = copies.get(i).dstSlot();
    }
    return slots;
  }

  /** The failure of a store's transfer, as the engine reports a store's I/O failure. */
  private static RuntimeException ioFailure(Tier t, RuntimeException e) {
    Throwable cause =
        e instanceof java.util.concurrent.CompletionException && e.getCause() != null
            ? e.getCause()
            : e;
    if (cause instanceof KvTierException k) {
      return k;
    }
    return new TierIoException(
        t, cause instanceof RuntimeException re ? re : new IllegalStateException(cause));
  }

  /**
   * Copies synchronously on the calling thread: for demotion during eviction, where the source page
   * is freed right after.
   *
   * @throws VerificationFailedException if a verifying store found a different block or corruption
   */
  static void copyNow(Tier src, Tier dst, List<PageCopy> copies) {
    // The link's counters: pages and bytes as each copy completes, the time around the whole
    // call (a failed copy's time counts, its bytes do not).
    Tier.LinkCounters link = src.linkTo(dst.ordinal);
    long t0 = System.nanoTime();
    try {
      copyPages(src, dst, copies, link);
    } finally {
      link.nanos.add(System.nanoTime() - t0);
    }
  }

  private static void copyPages(Tier src, Tier dst, List<PageCopy> copies, Tier.LinkCounters link) {
    PageStore from = src.store;
    PageStore to = dst.store;
    int pageBytes = Math.min(from.pageBytes(), to.pageBytes());
    if (copyBatch(src, dst, copies)) {
      long bytes = (long) copies.size() * pageBytes;
      src.bytesOut.add(bytes);
      dst.bytesIn.add(bytes);
      link.pages.add(copies.size());
      link.bytes.add(bytes);
      return;
    }
    int i = 0;
    while (i < copies.size()) {
      PageCopy c = copies.get(i);
      Optional<MemorySegment> s = from.segment(c.srcSlot());
      Optional<MemorySegment> d = to.segment(c.dstSlot());
      if (s.isPresent() && d.isPresent() && c.record() == null) {
        // Batch a run of slots consecutive in both tiers into one copy when both stores can
        // address the run as one segment.
        int run = 1;
        while (i + run < copies.size()
            && copies.get(i + run).srcSlot() == c.srcSlot() + run
            && copies.get(i + run).dstSlot() == c.dstSlot() + run
            && copies.get(i + run).record() == null) {
          run++;
        }
        while (run > 1) {
          Optional<MemorySegment> sr = from.segment(c.srcSlot(), run);
          Optional<MemorySegment> dr = to.segment(c.dstSlot(), run);
          if (sr.isPresent() && dr.isPresent() && from.pageBytes() == to.pageBytes()) {
            MemorySegment.copy(sr.get(), 0, dr.get(), 0, (long) run * pageBytes);
            break;
          }
          run /= 2;
        }
        if (run == 1) {
          MemorySegment.copy(s.get(), 0, d.get(), 0, pageBytes);
        }
        long bytes = (long) run * pageBytes;
        src.bytesOut.add(bytes);
        dst.bytesIn.add(bytes);
        link.pages.add(run);
        link.bytes.add(bytes);
        i += run;
        continue;
      }
      if (d.isPresent()) {
        if (!read(src, c, d.get().asSlice(0, pageBytes))) {
          throw new VerificationFailedException(src, c);
        }
      } else if (s.isPresent()) {
        write(dst, c, s.get().asSlice(0, pageBytes));
      } else {
        try (Arena arena = Arena.ofConfined()) {
          MemorySegment staging = arena.allocate(pageBytes, 4096);
          if (!read(src, c, staging)) {
            throw new VerificationFailedException(src, c);
          }
          write(dst, c, staging);
        }
      }
      src.bytesOut.add(pageBytes);
      dst.bytesIn.add(pageBytes);
      link.pages.increment();
      link.bytes.add(pageBytes);
      i++;
    }
  }

  /**
   * Moves the whole batch as one transfer when one end {@linkplain PageStore#transfersBatches()
   * transfers batches} (a device tier), the other addresses every page as memory, pages are of one
   * size and no store verifies blocks; returns false, having copied nothing, otherwise.
   */
  private static boolean copyBatch(Tier src, Tier dst, List<PageCopy> copies) {
    boolean in = dst.store.transfersBatches() && !src.store.transfersBatches();
    boolean out = src.store.transfersBatches() && !dst.store.transfersBatches();
    if (!(in || out) || src.store.pageBytes() != dst.store.pageBytes()) {
      return false;
    }
    PageStore host = in ? src.store : dst.store;
    MemorySegment[] pages = new MemorySegment[copies.size()];
    long[] slots = new long[copies.size()];
    for (int i = 0; i < pages.length; i++) {
      PageCopy c = copies.get(i);
      Optional<MemorySegment> seg = host.segment(in ? c.srcSlot() : c.dstSlot());
      if (c.record() != null || seg.isEmpty()) {
        return false;
      }
      pages[i] = seg.get();
      slots[i] = in ? c.dstSlot() : c.srcSlot();
    }
    Tier device = in ? dst : src;
    try {
      (in
              ? device.store.writePagesAsync(slots, pages, 0, device.store.pageBytes())
              : device.store.readPagesAsync(slots, pages, 0, device.store.pageBytes()))
          .join();
    } catch (RuntimeException e) {
      throw ioFailure(device, e);
    }
    return true;
  }

  /** An I/O failure of one tier's store during a copy. */
  static final class TierIoException extends KvTierException {
    private static final long serialVersionUID = 1L;
    final transient Tier tier;

    TierIoException(Tier tier, RuntimeException cause) {
      super("tier '" + tier.name + "' failed during a copy: " + cause.getMessage(), cause);
      this.tier = tier;
    }
  }

  private static boolean read(Tier t, PageCopy c, MemorySegment dst) {
    try {
      return t.store.readBlock(c.srcSlot(), c.record(), dst);
    } catch (KvTierException e) {
      throw e;
    } catch (RuntimeException e) {
      throw new TierIoException(t, e);
    }
  }

  private static void write(Tier t, PageCopy c, MemorySegment src) {
    try {
      t.store.writeBlock(c.dstSlot(), c.record(), src);
    } catch (KvTierException e) {
      throw e;
    } catch (RuntimeException e) {
      throw new TierIoException(t, e);
    }
  }

  /** A lower tier's page did not hold the block the index expected (corruption or collision). */
  static final class VerificationFailedException extends KvTierException {
    private static final long serialVersionUID = 1L;

    final transient Tier tier;

    VerificationFailedException(Tier tier, PageCopy c) {
      super(
          "tier '"
              + tier.name
              + "' slot "
              + c.srcSlot()
              + " failed verification for "
              + c.record()
              + ": counted as a miss");
      this.tier = tier;
    }
  }

  @Override
  public void close() {
    closed = true;
    for (Link l : links.values()) {
      for (Thread w : l.workers) {
        w.interrupt();
      }
      Task t;
      while ((t = l.queue.poll()) != null) {
        t.future.cancel(false);
      }
    }
    for (Link l : links.values()) {
      for (Thread w : l.workers) {
        try {
          w.join(2000);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }
}
