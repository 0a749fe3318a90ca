package io.kvtier.hbm;

import io.kvtier.spi.PageStore;
import io.kvtier.spi.SlotAllocator;
import io.kvtier.spi.TierKind;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;

/**
 * A GPU HBM tier's pages: slots of device memory that kvtier allocated, or block ids inside KV
 * tensors an engine registered ({@link HbmRegion}), with asynchronous, batched copies between them
 * and host memory.
 *
 * <h2>Allocation</h2>
 *
 * <p>A page is {@code segments} segments of {@code pageBytes / segments} bytes. When kvtier
 * allocates, it takes one block of device memory and lays it out as engines do for layer-split KV:
 * segment {@code i} of every page in its own slab, {@code base + i * capacity * segmentBytes}, page
 * {@code p} at {@code p * segmentBytes} in it (one segment: plain contiguous pages). A registered
 * region describes its own bases and strides. Either way the native region maps a slot to its
 * segments, and a {@link SlotAllocator} hands out slots in O(1), preferring the caller's hint so a
 * sequence's pages stay adjacent and its copies coalesce.
 *
 * <h2>Copies and ordering</h2>
 *
 * <p>Two device streams: {@code in} carries host-to-device and device-to-device copies, {@code out}
 * device-to-host copies, so that onboarding and offloading overlap (a GPU has a copy engine per
 * direction). Each call is one transfer however many pages and segments it names: the shim
 * coalesces adjacent pieces and issues them together (see {@code native/hbm/kvtier_hbm.h}).
 *
 * <p>Copies on one stream run in order. Across the two streams the store tracks hazards per slot:
 * {@code lastIn[slot]} and {@code lastOut[slot]} hold the latest copy on each stream that touched
 * the slot. A new copy on one stream first makes that stream wait, on the device and without
 * blocking the host, for the other stream's unfinished copy of every slot it touches. So a read of
 * a page orders after a write still in flight (read-after-write: the reader sees the new bytes,
 * never the old or a torn mix), and a write to a page orders after a read of it still in flight
 * (write-after-read: an offload of a freed page is not overwritten by the next owner's onboarding).
 * This is the discipline whose absence garbled output in vLLM issue #45704. A page is handed to the
 * engine only when its incoming copy has completed: {@link #whenReady(long[])} completes then, the
 * synchronous {@link #read}, {@link #write} and {@link #copy} return only then, and {@link
 * #segment(long)} never exposes device memory.
 *
 * <h2>Completion</h2>
 *
 * <p>Each copy records an event; a completion thread per stream waits on the events in stream order
 * (sleeping in the driver, not spinning), retires the copy (destroys its event, releases any
 * staging buffer) and completes an internal future. The futures that callers receive complete on
 * the tier's completion executor ({@link HbmTierSpec#completions}) or the executor passed in, never
 * on the completion thread, so a caller's callback that blocks on another copy cannot deadlock it.
 * A copy that fails on the device completes its future exceptionally with an {@link HbmException}.
 *
 * <h2>Concurrency</h2>
 *
 * <p>Thread-safe. One lock guards the slot allocator, the hazard arrays and submission, so that the
 * order in which copies reach each stream is the order in which their hazards were recorded; it is
 * held only to enqueue work (microseconds), never while bytes move. Completion threads take it
 * briefly to retire a copy. Host buffers passed to asynchronous methods must stay valid until the
 * returned future completes. {@link #close()} stops new submissions, waits for every copy in
 * flight, then frees the streams, the region description, kvtier's device memory (never a
 * registered region's) and the pinned buffers and host registrations made through this store.
 */
public final class HbmPageStore implements PageStore {

  private final String name;
  private final HbmNative lib;
  private final int device;
  private final int pageBytes;
  private final int capacity;
  private final int segments;
  private final long segmentBytes;
  private final long[] bases;
  private final long[] strides;
  private final boolean registered;
  private final long ownedMemory;
  private final long region;
  private final Executor completions;
  private final HbmStream in;
  private final HbmStream out;

  private static final long[] NO_EVENTS = new long[0];

  private final Object lock = new Object();

  /** Guarded by {@link #lock}. */
  private final SlotAllocator slots;

  /** Latest copy on {@link #in} that touched each slot. Guarded by {@link #lock}. */
  private final HbmStream.Copy[] lastIn;

  /** Latest copy on {@link #out} that touched each slot. Guarded by {@link #lock}. */
  private final HbmStream.Copy[] lastOut;

  /** Output cell of the submit native. Guarded by {@link #lock}. */
  private final long[] eventOut = new long[1];

  /** Pinned buffers and registrations made through this store. Guarded by {@link #lock}. */
  private final List<AutoCloseable> hostResources = new ArrayList<>();

  private volatile boolean closed;

  HbmPageStore(HbmTierSpec spec, HbmNative lib, int pageBytes) {
    this.name = spec.name();
    this.lib = lib;
    this.device = spec.device();
    this.completions = spec.completionExecutor();
    HbmRegion r = spec.region();
    if (pageBytes < 1) {
      throw new IllegalArgumentException(
          "tier '" + name + "': pageBytes must be positive, was " + pageBytes);
    }
    this.pageBytes = pageBytes;
    if (r != null) {
      if (r.pageBytes() != pageBytes) {
        throw new IllegalArgumentException(
            "tier '"
                + name
                + "': the registered region holds pages of "
                + r.pageBytes()
                + " bytes ("
                + r.segments()
                + " x "
                + r.segmentBytes()
                + "), but the layout's pages are "
                + pageBytes
                + " bytes: describe the region with the layout's segment size");
      }
      this.registered = true;
      this.capacity = (int) r.blocks();
      this.segments = r.segments();
      this.segmentBytes = r.segmentBytes();
      this.bases = r.bases();
      this.strides = r.strides();
      this.ownedMemory = 0;
    } else {
      this.registered = false;
      this.segments = spec.segments();
      if (pageBytes % segments != 0) {
        throw new IllegalArgumentException(
            "tier '"
                + name
                + "': a page of "
                + pageBytes
                + " bytes does not split into "
                + segments
                + " equal segments");
      }
      this.segmentBytes = pageBytes / segments;
      long pages = spec.capacityBytes() / pageBytes;
      if (pages < 1 || pages > Integer.MAX_VALUE) {
        throw new IllegalArgumentException(
            "tier '"
                + name
                + "': "
                + spec.capacityBytes()
                + " bytes / "
                + pageBytes
                + " bytes per page = "
                + pages
                + " pages; must be 1 to "
                + Integer.MAX_VALUE
                + " (change the tier's capacity or the page size)");
      }
      this.capacity = (int) pages;
      this.ownedMemory = lib.deviceAlloc(device, pages * pageBytes);
      this.bases = new long[segments];
      this.strides = new long[segments];
      for (int i = 0; i < segments; i++) {
        bases[i] = ownedMemory + i * pages * segmentBytes;
        strides[i] = segmentBytes;
      }
    }
    long regionHandle = 0;
    HbmStream inStream = null;
    try {
      regionHandle = lib.regionCreate(device, capacity, segmentBytes, bases, strides);
      inStream = new HbmStream(lib, device, "kvtier-hbm-" + name + "-in", this::retire);
      this.out = new HbmStream(lib, device, "kvtier-hbm-" + name + "-out", this::retire);
    } catch (RuntimeException e) {
      if (inStream != null) {
        inStream.close();
      }
      if (regionHandle != 0) {
        lib.regionDestroy(regionHandle);
      }
      if (ownedMemory != 0) {
        lib.deviceFree(device, ownedMemory);
      }
      throw e;
    }
    this.region = regionHandle;
    this.in = inStream;
    this.slots = new SlotAllocator(capacity);
    this.lastIn = new HbmStream.Copy[capacity];
    this.lastOut = new HbmStream.Copy[capacity];
    if (spec.copyMode() != HbmCopyMode.AUTO) {
      in.setCopyMode(spec.copyMode());
      out.setCopyMode(spec.copyMode());
    }
  }

  // ---- geometry -----------------------------------------------------------------------------

  @Override
  public TierKind kind() {
    return TierKind.HBM;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public int pageBytes() {
    return pageBytes;
  }

  @Override
  public long capacityPages() {
    return capacity;
  }

  /**
   * The build this store runs on.
   *
   * @return the variant
   */
  public HbmVariant variant() {
    return lib.variant();
  }

  /**
   * The device index.
   *
   * @return the device
   */
  public int device() {
    return device;
  }

  /**
   * Segments per page (1 for contiguous pages, {@code 2 * layers} for layer-split ones).
   *
   * @return the count
   */
  public int segments() {
    return segments;
  }

  /**
   * Whether the pages are an engine's registered region rather than memory kvtier allocated.
   *
   * @return true for a registered region
   */
  public boolean isRegistered() {
    return registered;
  }

  /**
   * The device address of one segment of a slot, for an engine's block table when kvtier owns the
   * memory. Not host-addressable.
   *
   * @param slot the slot
   * @param segment the segment, {@code [0, segments())}
   * @return the device address
   */
  public long deviceAddress(long slot, int segment) {
    ensureOpen();
    int s = checkSlot(slot);
    Objects.checkIndex(segment, segments);
    return bases[segment] + s * strides[segment];
  }

  // ---- slots --------------------------------------------------------------------------------

  @Override
  public long freePages() {
    synchronized (lock) {
      ensureOpen();
      return slots.freeCount();
    }
  }

  @Override
  public long allocate(long hint) {
    synchronized (lock) {
      ensureOpen();
      return slots.allocatePage(hint);
    }
  }

  /**
   * Returns a slot. A copy of the slot still in flight finishes undisturbed: the next owner's
   * writes are ordered after it.
   *
   * @param slot a slot in use
   */
  @Override
  public void free(long slot) {
    synchronized (lock) {
      ensureOpen();
      slots.freePage(slot, name);
    }
  }

  @Override
  public long freeRuns() {
    synchronized (lock) {
      ensureOpen();
      return slots.freeRuns();
    }
  }

  @Override
  public long largestFreeRun() {
    synchronized (lock) {
      ensureOpen();
      return slots.largestFreeRun();
    }
  }

  /**
   * Device memory is not host-addressable, so this is always empty (on the emulated device too,
   * which behaves like the real one).
   *
   * @param slot the slot
   * @return empty
   */
  @Override
  public Optional<MemorySegment> segment(long slot) {
    ensureOpen();
    checkSlot(slot);
    return Optional.empty();
  }

  // ---- synchronous copies -------------------------------------------------------------------

  /** Copies {@code src} into the slot and returns once the bytes are on the device. */
  @Override
  public void write(long slot, MemorySegment src) {
    int s = checkSlotOpen(slot);
    long bytes = checkSize(src);
    if (src.isNative()) {
      await(submit(in, HbmNative.H2D, new long[] {s}, new long[] {src.address()}, 1, bytes, null));
      return;
    }
    try (Arena staging = Arena.ofConfined()) {
      MemorySegment tmp = staging.allocate(Math.max(1, bytes), 64);
      MemorySegment.copy(src, 0, tmp, 0, bytes);
      await(submit(in, HbmNative.H2D, new long[] {s}, new long[] {tmp.address()}, 1, bytes, null));
    }
  }

  /**
   * Copies the slot into {@code dst}, after any write of the slot still in flight, and returns once
   * the bytes are in {@code dst}.
   */
  @Override
  public void read(long slot, MemorySegment dst) {
    int s = checkSlotOpen(slot);
    long bytes = checkSize(dst);
    checkWritable(dst);
    if (dst.isNative()) {
      await(submit(out, HbmNative.D2H, new long[] {s}, new long[] {dst.address()}, 1, bytes, null));
      return;
    }
    try (Arena staging = Arena.ofConfined()) {
      MemorySegment tmp = staging.allocate(Math.max(1, bytes), 64);
      await(submit(out, HbmNative.D2H, new long[] {s}, new long[] {tmp.address()}, 1, bytes, null));
      MemorySegment.copy(tmp, 0, dst, 0, bytes);
    }
  }

  /** Copies one slot to another on the device and returns once done. */
  @Override
  public void copy(long from, long to) {
    await(copyAsyncInternal(new long[] {from}, new long[] {to}));
  }

  // ---- asynchronous copies ------------------------------------------------------------------

  /**
   * Host to device on the store's own stream; {@code executor} is where the future completes.
   *
   * @param slot the slot
   * @param src the bytes; must stay valid until the future completes
   * @param executor where the returned future completes
   * @return completes when the bytes are on the device
   */
  @Override
  public CompletableFuture<Void> writeAsync(long slot, MemorySegment src, Executor executor) {
    return writeAsync(new long[] {slot}, new MemorySegment[] {src}, executor);
  }

  /**
   * Device to host on the store's own stream, ordered after any write of the slot in flight.
   *
   * @param slot the slot
   * @param dst the destination; must stay valid until the future completes
   * @param executor where the returned future completes
   * @return completes when the bytes are in {@code dst}
   */
  @Override
  public CompletableFuture<Void> readAsync(long slot, MemorySegment dst, Executor executor) {
    return readAsync(new long[] {slot}, new MemorySegment[] {dst}, executor);
  }

  /**
   * Host to device, completing on the tier's completion executor.
   *
   * @param slot the slot
   * @param src the bytes, at most a page; must stay valid until the future completes
   * @return completes when the bytes are on the device
   */
  public CompletableFuture<Void> writeAsync(long slot, MemorySegment src) {
    return writeAsync(slot, src, completions);
  }

  /**
   * Device to host, completing on the tier's completion executor.
   *
   * @param slot the slot
   * @param dst the destination, at most a page; must stay valid until the future completes
   * @return completes when the bytes are in {@code dst}
   */
  public CompletableFuture<Void> readAsync(long slot, MemorySegment dst) {
    return readAsync(slot, dst, completions);
  }

  /**
   * Gathers many host pages into many slots as one transfer (each page scattered into its
   * segments).
   *
   * @param slotIds distinct destination slots
   * @param srcs one host segment per slot, all the same size (at most a page)
   * @return completes when every page is on the device
   */
  public CompletableFuture<Void> writeAsync(long[] slotIds, MemorySegment[] srcs) {
    return writeAsync(slotIds, srcs, completions);
  }

  /**
   * As {@link #writeAsync(long[], MemorySegment[])}, completing on {@code executor}.
   *
   * @param slotIds distinct destination slots
   * @param srcs one host segment per slot, all the same size
   * @param executor where the returned future completes
   * @return completes when every page is on the device
   */
  public CompletableFuture<Void> writeAsync(
      long[] slotIds, MemorySegment[] srcs, Executor executor) {
    long[] s = checkSlots(slotIds, true);
    return transfer(true, s, hostBatch(srcs, s.length, false), 0, executor);
  }

  /**
   * Scatters a host buffer of {@code slotIds.length} whole pages, back to back, into the slots as
   * one transfer.
   *
   * @param slotIds distinct destination slots
   * @param packed {@code slotIds.length * pageBytes()} bytes of native memory
   * @return completes when every page is on the device
   */
  public CompletableFuture<Void> writeAsync(long[] slotIds, MemorySegment packed) {
    long[] s = checkSlots(slotIds, true);
    long[] addresses = packedAddresses(packed, s.length);
    return publish(submit(in, HbmNative.H2D, s, addresses, s.length, pageBytes, null), completions);
  }

  /**
   * Copies many slots out to many host pages as one transfer, each ordered after any write of its
   * slot in flight.
   *
   * @param slotIds source slots
   * @param dsts one writable host segment per slot, all the same size (at most a page)
   * @return completes when every page is in host memory
   */
  public CompletableFuture<Void> readAsync(long[] slotIds, MemorySegment[] dsts) {
    return readAsync(slotIds, dsts, completions);
  }

  /**
   * As {@link #readAsync(long[], MemorySegment[])}, completing on {@code executor}.
   *
   * @param slotIds source slots
   * @param dsts one writable host segment per slot, all the same size
   * @param executor where the returned future completes
   * @return completes when every page is in host memory
   */
  public CompletableFuture<Void> readAsync(
      long[] slotIds, MemorySegment[] dsts, Executor executor) {
    long[] s = checkSlots(slotIds, false);
    return transfer(false, s, hostBatch(dsts, s.length, true), 0, executor);
  }

  /**
   * Gathers whole pages of the slots into a host buffer, back to back, as one transfer.
   *
   * @param slotIds source slots
   * @param packed {@code slotIds.length * pageBytes()} bytes of writable native memory
   * @return completes when every page is in {@code packed}
   */
  public CompletableFuture<Void> readAsync(long[] slotIds, MemorySegment packed) {
    long[] s = checkSlots(slotIds, false);
    checkWritable(packed);
    long[] addresses = packedAddresses(packed, s.length);
    return publish(
        submit(out, HbmNative.D2H, s, addresses, s.length, pageBytes, null), completions);
  }

  /**
   * True: a batch of pages, or the same byte range of each, goes to or from the device as one
   * transfer, so the cache hands this store whole batches and copies layer by layer through it.
   *
   * @return true
   */
  @Override
  public boolean transfersBatches() {
    return true;
  }

  /**
   * Copies bytes {@code [offset, offset + length)} of each host page into the same bytes of its
   * slot, as one transfer on the host-to-device stream. Called once per layer, the copies land in
   * order, each future completing as its layer is on the device.
   *
   * @param slotIds distinct destination slots
   * @param pages one host page per slot, each at least {@code offset + length} bytes; must stay
   *     valid until the future completes
   * @param offset first byte of the range within a page
   * @param length bytes of the range
   * @return completes, on the tier's completion executor, when every range is on the device
   */
  @Override
  public CompletableFuture<Void> writePagesAsync(
      long[] slotIds, MemorySegment[] pages, long offset, long length) {
    long[] s = checkSlots(slotIds, true);
    return transfer(
        true, s, rangeBatch(pages, s.length, offset, length, false), offset, completions);
  }

  /**
   * Copies bytes {@code [offset, offset + length)} of each slot into the same bytes of its host
   * page, as one transfer on the device-to-host stream, ordered after any write of the slots in
   * flight.
   *
   * @param slotIds source slots
   * @param pages one writable host page per slot, each at least {@code offset + length} bytes
   * @param offset first byte of the range within a page
   * @param length bytes of the range
   * @return completes, on the tier's completion executor, when every range is in host memory
   */
  @Override
  public CompletableFuture<Void> readPagesAsync(
      long[] slotIds, MemorySegment[] pages, long offset, long length) {
    long[] s = checkSlots(slotIds, false);
    return transfer(
        false, s, rangeBatch(pages, s.length, offset, length, true), offset, completions);
  }

  /**
   * Copies slots to other slots on the device (copy-on-write of a branch's pages) as one transfer.
   *
   * @param from source slots
   * @param to distinct destination slots, none of them a source
   * @return completes when every page is copied
   */
  public CompletableFuture<Void> copyAsync(long[] from, long[] to) {
    return publish(copyAsyncInternal(from, to), completions);
  }

  /**
   * Completes when every copy into the slots that was submitted so far has completed: the moment
   * from which the engine may put the pages in a block table.
   *
   * @param slotIds the slots
   * @return a future, already complete when nothing is in flight into them
   */
  public CompletableFuture<Void> whenReady(long... slotIds) {
    List<CompletableFuture<Void>> pending = new ArrayList<>();
    synchronized (lock) {
      ensureOpen();
      for (long slot : slotIds) {
        HbmStream.Copy c = lastIn[checkSlot(slot)];
        if (c != null && !c.retired() && !pending.contains(c.done)) {
          pending.add(c.done);
        }
      }
    }
    if (pending.isEmpty()) {
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<Void> all =
        pending.size() == 1
            ? pending.get(0)
            : CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new));
    return all.thenApplyAsync(v -> v, completions);
  }

  /**
   * Whether no copy into the slot is in flight.
   *
   * @param slot the slot
   * @return true when its bytes may be used
   */
  public boolean isReady(long slot) {
    synchronized (lock) {
      ensureOpen();
      HbmStream.Copy c = lastIn[checkSlot(slot)];
      return c == null || c.retired();
    }
  }

  // ---- host memory --------------------------------------------------------------------------

  /**
   * Pinned host memory that the device copies to and from at full speed. Closed with the store at
   * the latest.
   *
   * @param bytes size
   * @return the buffer
   */
  public PinnedBuffer allocatePinned(long bytes) {
    if (bytes < 1) {
      throw new IllegalArgumentException("bytes must be positive, was " + bytes);
    }
    synchronized (lock) {
      ensureOpen();
      PinnedBuffer b = new PinnedBuffer(lib, bytes, this::forget);
      hostResources.add(b);
      return b;
    }
  }

  /**
   * Pins existing host memory (a DRAM tier's pages) so that copies DMA straight to and from it,
   * with no staging copy. Unpinned when the registration or the store closes.
   *
   * @param memory native memory that outlives the registration
   * @return the registration
   */
  public HostRegistration registerHost(MemorySegment memory) {
    if (!memory.isNative() || memory.byteSize() == 0) {
      throw new IllegalArgumentException("only non-empty native memory can be registered");
    }
    synchronized (lock) {
      ensureOpen();
      HostRegistration r = new HostRegistration(lib, memory, this::forget);
      hostResources.add(r);
      return r;
    }
  }

  private void forget(AutoCloseable resource) {
    synchronized (lock) {
      hostResources.remove(resource);
    }
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  @Override
  public boolean isClosed() {
    return closed;
  }

  @Override
  public void close() {
    List<AutoCloseable> resources;
    synchronized (lock) {
      if (closed) {
        return;
      }
      closed = true;
      resources = new ArrayList<>(hostResources);
    }
    RuntimeException failure = null;
    for (Runnable step :
        List.<Runnable>of(
            in::close,
            out::close,
            () -> lib.regionDestroy(region),
            () -> {
              if (ownedMemory != 0) {
                lib.deviceFree(device, ownedMemory);
              }
            })) {
      try {
        step.run();
      } catch (RuntimeException e) {
        failure = chain(failure, e);
      }
    }
    for (AutoCloseable r : resources) {
      try {
        r.close();
      } catch (Exception e) {
        failure = chain(failure, e);
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

  private static RuntimeException chain(RuntimeException first, Exception next) {
    if (first == null) {
      return next instanceof RuntimeException re ? re : new IllegalStateException(next);
    }
    first.addSuppressed(next);
    return first;
  }

  // ---- package-private: benchmarks and tests ------------------------------------------------

  /** One raw contiguous copy on the stream of its direction, with no slot bookkeeping. */
  CompletableFuture<Void> rawAsync(long dst, long src, long bytes, boolean toDevice) {
    HbmStream s = toDevice ? in : out;
    HbmStream.Copy c =
        submit(
            s,
            toDevice ? HbmNative.RAW_H2D : HbmNative.RAW_D2H,
            new long[] {dst},
            new long[] {src},
            1,
            bytes,
            null);
    return c.done;
  }

  /** Delays every later copy on the host-to-device stream (emulated build only). */
  void delayIncoming(long nanos) {
    in.setDelay(nanos);
  }

  /**
   * Holds every copy that reaches the host-to-device stream until {@link #delayIncoming(long)} is
   * called again (emulated build only).
   */
  void pauseIncoming() {
    in.setDelay(-1L); // KVT_HBM_DELAY_PAUSE, UINT64_MAX
  }

  /** Delays every later copy on the device-to-host stream (emulated build only). */
  void delayOutgoing(long nanos) {
    out.setDelay(nanos);
  }

  HbmNative lib() {
    return lib;
  }

  // ---- internals ----------------------------------------------------------------------------

  private HbmStream.Copy copyAsyncInternal(long[] from, long[] to) {
    long[] f = checkSlots(from, false);
    long[] t = checkSlots(to, true);
    if (f.length != t.length) {
      throw new IllegalArgumentException(
          "from (" + f.length + ") and to (" + t.length + ") must be equally long");
    }
    BitSet targets = new BitSet(capacity);
    for (long slot : t) {
      targets.set((int) slot);
    }
    for (long slot : f) {
      if (targets.get((int) slot)) {
        throw new IllegalArgumentException(
            "tier '" + name + "': slot " + slot + " is both a source and a destination");
      }
    }
    return submit(in, HbmNative.D2D, f, t, f.length, pageBytes, null);
  }

  private HbmStream.Copy submit(
      HbmStream stream,
      int direction,
      long[] blocks,
      long[] other,
      int n,
      long bytes,
      AutoCloseable release) {
    return submit(stream, direction, blocks, other, n, 0, bytes, release);
  }

  /**
   * Submits one copy of bytes {@code [offset, offset + bytes)} of each page: waits on the other
   * stream's unfinished copies of every touched slot, issues the copy, records it as the latest on
   * its stream for those slots, and queues it for completion.
   */
  private HbmStream.Copy submit(
      HbmStream stream,
      int direction,
      long[] blocks,
      long[] other,
      int n,
      long offset,
      long bytes,
      AutoCloseable release) {
    boolean raw = direction == HbmNative.RAW_H2D || direction == HbmNative.RAW_D2H;
    synchronized (lock) {
      if (closed) {
        closeQuietly(release);
        throw closedException();
      }
      HbmStream.Copy[] mine = stream == in ? lastIn : lastOut;
      HbmStream.Copy[] theirs = stream == in ? lastOut : lastIn;
      List<HbmStream.Copy> waits = null;
      if (!raw) {
        waits = hazards(theirs, blocks, n, null);
        if (direction == HbmNative.D2D) {
          waits = hazards(theirs, other, n, waits);
        }
      }
      long[] waitEvents = waits == null ? NO_EVENTS : new long[waits.size()];
      for (int i = 0; i < waitEvents.length; i++) {
        waitEvents[i] = waits.get(i).event;
      }
      try {
        lib.submit(
            stream.handle(),
            waitEvents,
            waitEvents.length,
            region,
            direction,
            blocks,
            other,
            n,
            offset,
            bytes,
            eventOut);
      } catch (HbmException e) {
        closeQuietly(release);
        if (e.status() == HbmNative.E_INVALID || e.status() == HbmNative.E_RANGE) {
          throw new IllegalArgumentException(e.getMessage(), e);
        }
        throw e;
      }
      HbmStream.Copy c = new HbmStream.Copy(stream, eventOut[0], release);
      if (!raw) {
        for (int i = 0; i < n; i++) {
          mine[(int) blocks[i]] = c;
          if (direction == HbmNative.D2D) {
            mine[(int) other[i]] = c;
          }
        }
      }
      stream.enqueue(c);
      return c;
    }
  }

  /** The other stream's unfinished copies that touch these slots, each once; null if none. */
  private static List<HbmStream.Copy> hazards(
      HbmStream.Copy[] theirs, long[] slotIds, int n, List<HbmStream.Copy> into) {
    List<HbmStream.Copy> waits = into;
    for (int i = 0; i < n; i++) {
      HbmStream.Copy c = theirs[(int) slotIds[i]];
      if (c != null && !c.retired()) {
        if (waits == null) {
          waits = new ArrayList<>(2);
        }
        if (!containsIdentity(waits, c)) {
          waits.add(c);
        }
      }
    }
    return waits;
  }

  private static boolean containsIdentity(List<HbmStream.Copy> list, HbmStream.Copy c) {
    for (HbmStream.Copy x : list) {
      if (x == c) {
        return true;
      }
    }
    return false;
  }

  /** Retires a copy on its stream's completion thread. */
  private void retire(HbmStream.Copy c, int status) {
    RuntimeException failure = null;
    synchronized (lock) {
      long event = c.event;
      c.event = 0;
      try {
        lib.eventDestroy(event);
      } catch (HbmException e) {
        failure = e;
      }
    }
    try {
      if (c.release != null) {
        c.release.close();
      }
    } catch (Exception e) {
      failure = chain(failure, e);
    }
    if (status != HbmNative.OK) {
      c.done.completeExceptionally(lib.failure(status, "copy on the device"));
    } else if (failure != null) {
      c.done.completeExceptionally(failure);
    } else {
      c.done.complete(null);
    }
  }

  private CompletableFuture<Void> publish(HbmStream.Copy c, Executor executor) {
    Objects.requireNonNull(executor, "executor");
    return c.done.thenApplyAsync(v -> v, executor);
  }

  private static void await(HbmStream.Copy c) {
    await(c.done);
  }

  private static void await(CompletableFuture<Void> f) {
    try {
      f.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw e;
    }
  }

  /**
   * One copy of bytes {@code [offset, offset + b.bytes)} of each page between the slots and a host
   * batch, on the stream of its direction, completing on {@code executor}.
   */
  private CompletableFuture<Void> transfer(
      boolean toDevice, long[] slotIds, Batch b, long offset, Executor executor) {
    return publish(
        submit(
            toDevice ? in : out,
            toDevice ? HbmNative.H2D : HbmNative.D2H,
            slotIds,
            b.addresses,
            slotIds.length,
            offset,
            b.bytes,
            b.staging),
        executor);
  }

  /** Host addresses and byte count of a batch, staging heap segments through native memory. */
  private record Batch(long[] addresses, long bytes, AutoCloseable staging) {}

  private Batch hostBatch(MemorySegment[] segs, int n, boolean intoHost) {
    if (segs.length != n) {
      throw new IllegalArgumentException(
          "tier '" + name + "': " + n + " slots but " + segs.length + " host segments");
    }
    long bytes = n == 0 ? 0 : checkSize(segs[0]);
    for (MemorySegment seg : segs) {
      if (checkSize(seg) != bytes) {
        throw new IllegalArgumentException(
            "tier '"
                + name
                + "': the host segments of one batch must be equally long ("
                + bytes
                + " and "
                + seg.byteSize()
                + ")");
      }
    }
    return rangeBatch(segs, n, 0, bytes, intoHost); // the first `bytes` of each page
  }

  /**
   * The page addresses of a range batch: each page's own start when all are native (the shim copies
   * the range at the same offset), else a staging buffer holding only the ranges, addressed so that
   * {@code address + offset} is the range's first byte.
   */
  private Batch rangeBatch(
      MemorySegment[] pages, int n, long offset, long length, boolean intoHost) {
    Objects.requireNonNull(pages, "pages");
    if (pages.length != n) {
      throw new IllegalArgumentException(
          "tier '" + name + "': " + n + " slots but " + pages.length + " host pages");
    }
    if (offset < 0 || length < 0 || offset > pageBytes - length) {
      throw new IllegalArgumentException(
          "tier '"
              + name
              + "': bytes ["
              + offset
              + ", "
              + offset
              + " + "
              + length
              + ") are not inside a page of "
              + pageBytes
              + " bytes");
    }
    boolean heap = false;
    for (MemorySegment page : pages) {
      if (page.byteSize() < offset + length) {
        throw new IllegalArgumentException(
            "tier '"
                + name
                + "': a host page of "
                + page.byteSize()
                + " bytes does not hold bytes ["
                + offset
                + ", "
                + (offset + length)
                + ")");
      }
      if (intoHost) {
        checkWritable(page);
      }
      heap |= !page.isNative();
    }
    long[] addresses = new long[n];
    if (!heap) {
      for (int i = 0; i < n; i++) {
        addresses[i] = pages[i].address();
      }
      return new Batch(addresses, length, null);
    }
    Arena arena = Arena.ofShared();
    MemorySegment tmp = arena.allocate(Math.max(1, length * n), 64);
    for (int i = 0; i < n; i++) {
      addresses[i] = tmp.address() + i * length - offset;
      if (!intoHost) {
        MemorySegment.copy(pages[i], offset, tmp, i * length, length);
      }
    }
    MemorySegment[] targets = pages.clone();
    AutoCloseable release =
        () -> {
          try {
            if (intoHost) {
              for (int i = 0; i < n; i++) {
                MemorySegment.copy(tmp, i * length, targets[i], offset, length);
              }
            }
          } finally {
            arena.close();
          }
        };
    return new Batch(addresses, length, release);
  }

  private long[] packedAddresses(MemorySegment packed, int n) {
    if (!packed.isNative()) {
      throw new IllegalArgumentException(
          "tier '" + name + "': a packed batch must be native memory");
    }
    if (packed.byteSize() != (long) n * pageBytes) {
      throw new IllegalArgumentException(
          "tier '"
              + name
              + "': a packed batch of "
              + n
              + " pages must be "
              + ((long) n * pageBytes)
              + " bytes, was "
              + packed.byteSize());
    }
    long[] addresses = new long[n];
    for (int i = 0; i < n; i++) {
      addresses[i] = packed.address() + (long) i * pageBytes;
    }
    return addresses;
  }

  private long[] checkSlots(long[] slotIds, boolean distinct) {
    Objects.requireNonNull(slotIds, "slots");
    if (closed) {
      throw closedException();
    }
    for (long slot : slotIds) {
      checkSlot(slot);
    }
    if (distinct && slotIds.length > 1) {
      BitSet seen = new BitSet(capacity);
      for (long slot : slotIds) {
        if (seen.get((int) slot)) {
          throw new IllegalArgumentException(
              "tier '" + name + "': slot " + slot + " is a destination twice in one batch");
        }
        seen.set((int) slot);
      }
    }
    return slotIds.clone();
  }

  private void ensureOpen() {
    if (closed) {
      throw closedException();
    }
  }

  private IllegalStateException closedException() {
    return new IllegalStateException("tier '" + name + "' is closed");
  }

  private int checkSlotOpen(long slot) {
    ensureOpen();
    return checkSlot(slot);
  }

  private int checkSlot(long slot) {
    return SlotAllocator.checkSlot(slot, capacity, name);
  }

  private long checkSize(MemorySegment segment) {
    long bytes = segment.byteSize();
    if (bytes > pageBytes) {
      throw new IllegalArgumentException(
          "tier '"
              + name
              + "': segment of "
              + bytes
              + " bytes is larger than a page ("
              + pageBytes
              + " bytes)");
    }
    return bytes;
  }

  private void checkWritable(MemorySegment segment) {
    if (segment.isReadOnly()) {
      throw new IllegalArgumentException("tier '" + name + "': the destination is read-only");
    }
  }

  private static void closeQuietly(AutoCloseable c) {
    if (c != null) {
      try {
        c.close();
      } catch (Exception ignored) {
        // nothing was copied; the staging buffer is all there is to release
      }
    }
  }

  @Override
  public String toString() {
    return "HbmPageStore[name="
        + name
        + ", variant="
        + lib.variant().id()
        + ", device="
        + device
        + ", pageBytes="
        + pageBytes
        + ", capacityPages="
        + capacity
        + ", segments="
        + segments
        + (registered ? ", registered" : "")
        + (closed ? ", closed]" : "]");
  }
}
