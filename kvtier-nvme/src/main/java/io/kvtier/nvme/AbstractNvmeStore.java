package io.kvtier.nvme;

import io.kvtier.spi.BlockRecord;
import io.kvtier.spi.SlotAllocator;
import io.kvtier.spi.TierKind;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.zip.CRC32C;

/**
 * What both NVMe stores share: geometry, the slot allocator, the lifecycle guard, the counters,
 * fault handling, scratch buffers and the encode/verify steps around a subclass's raw I/O.
 *
 * <h2>Concurrency</h2>
 *
 * <p>{@code allocate}, {@code free}, {@code recover} and the free-run statistics are guarded by the
 * store's monitor (the cache calls them from its single metadata writer; the lock keeps a stats
 * reader consistent). Reads and writes take no store lock: any number run at once for different
 * slots. Each holds the read side of a lifecycle lock; {@link #close()} takes the write side, so
 * native resources are released only once no call is inside them, and a call after close fails with
 * {@link IllegalStateException} instead of touching freed memory.
 *
 * <h2>Faults</h2>
 *
 * <p>An I/O error or a full disk in any call marks the store degraded, bumps {@link #ioErrors()},
 * is logged once (at WARNING, with the cause), and is thrown as {@link UncheckedIOException}. A
 * corrupt page is not a fault of the store: a verified read counts it and returns false.
 *
 * <h2>Scratch memory</h2>
 *
 * <p>Reads and writes borrow a {@link Scratch} (header, key and bounce buffers, 4096-aligned) from
 * a lock-free pool; at most one per concurrent call is ever allocated, all from one shared arena
 * that {@link #close()} frees.
 */
abstract class AbstractNvmeStore implements NvmePageStore {

  static final System.Logger LOG = System.getLogger("io.kvtier.nvme");
  static final int ALIGN = 4096;

  /** Read outcome: no page stored in the slot. */
  static final int ABSENT = -1;

  /** Read outcome: an intact page that names another block. */
  static final int OTHER_BLOCK = -2;

  final String name;
  final int pageBytes;
  final long capacityPages;
  final NvmeOptions options;

  // @GuardedBy("this")
  private final SlotAllocator slots;

  // @GuardedBy("this")
  private boolean recovered;

  private final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
  private volatile boolean closed;
  private volatile boolean degraded;
  private final AtomicBoolean faultLogged = new AtomicBoolean();
  private final LongAdder misses = new LongAdder();
  private final LongAdder corrupt = new LongAdder();
  private final LongAdder ioErrors = new LongAdder();
  private final LongAdder recoveredPages = new LongAdder();
  private final LongAdder droppedPages = new LongAdder();
  private final Arena scratchArena = Arena.ofShared();
  private final ConcurrentLinkedQueue<Scratch> scratches = new ConcurrentLinkedQueue<>();

  AbstractNvmeStore(String name, int pageBytes, long capacityPages, NvmeOptions options) {
    this.name = name;
    this.pageBytes = pageBytes;
    this.capacityPages = capacityPages;
    this.options = options;
    this.slots = new SlotAllocator((int) capacityPages);
  }

  static long pagesFor(String name, long capacityBytes, int pageBytes) {
    if (pageBytes < 1) {
      throw new IllegalArgumentException("pageBytes must be positive, was " + pageBytes);
    }
    long pages = capacityBytes / pageBytes;
    if (pages < 1) {
      throw new IllegalArgumentException(
          "tier '"
              + name
              + "' has "
              + capacityBytes
              + " bytes, less than one page of "
              + pageBytes
              + " bytes");
    }
    if (pages > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "tier '" + name + "' would hold " + pages + " pages: use larger pages or less capacity");
    }
    return pages;
  }

  // ---- raw I/O, supplied by the store --------------------------------------------------------

  /**
   * Stores header and payload for a slot, replacing what was there.
   *
   * @param header an encoded header, exactly its length
   * @param payload the payload as stored
   * @param scratch the call's scratch buffers
   */
  abstract void store(long slot, MemorySegment header, MemorySegment payload, Scratch scratch)
      throws IOException;

  /**
   * Loads a slot's header into {@code scratch.header} (returned, sliced to its length) and then, if
   * it checks out, its payload. Returns null for an empty slot. {@code dst} may receive the payload
   * directly when the store can do so and the header says it is uncompressed and exactly {@code
   * dst}'s length; then the returned {@link Loaded#payload} is {@code dst}.
   */
  abstract Loaded load(long slot, MemorySegment dst, Scratch scratch) throws IOException;

  /**
   * Encodes a page's header and stores header and payload. By default the payload's CRC is computed
   * first, then {@link #store} runs; a store that can checksum while it writes overrides this.
   *
   * @param block the block's identity, or null for an untyped page
   * @param flags header flags ({@link NvmePageHeader#FLAG_LZ4} or 0)
   * @param pageBytes the page's length before compression
   * @param payload the payload as stored
   */
  void storePage(
      long slot,
      BlockRecord block,
      int flags,
      int pageBytes,
      MemorySegment payload,
      Scratch scratch)
      throws IOException {
    MemorySegment header =
        scratch.header(NvmePageHeader.bytesFor(block == null ? 0 : block.tokenCount()));
    NvmePageHeader.encode(header, block, flags, pageBytes, payload);
    store(slot, header, payload, scratch);
  }

  /**
   * {@link #load} and then the payload's CRC: the returned status is {@link NvmePageHeader#VALID}
   * only when header and payload are both intact. Null for an empty slot. A store that can checksum
   * the payload while the rest of it is still being read overrides this.
   */
  Loaded loadVerified(long slot, MemorySegment dst, Scratch scratch) throws IOException {
    Loaded loaded = load(slot, dst, scratch);
    if (loaded == null || loaded.status() != NvmePageHeader.VALID) {
      return loaded;
    }
    int status = NvmePageHeader.checkPayload(loaded.header(), loaded.payload());
    return status == NvmePageHeader.VALID
        ? loaded
        : new Loaded(status, loaded.header(), loaded.payload());
  }

  /** Forgets a freed slot's page. */
  abstract void erase(long slot) throws IOException;

  /** Visits every stored slot's header for recovery (header checked by the caller). */
  abstract void scan(HeaderVisitor visitor) throws IOException;

  /** Releases files and native handles; called once, with no call in flight. */
  abstract void release() throws IOException;

  /** A loaded page: its header status, header and payload. */
  record Loaded(int status, MemorySegment header, MemorySegment payload) {}

  @FunctionalInterface
  interface HeaderVisitor {
    /**
     * One stored slot.
     *
     * @param slot the slot
     * @param header the header bytes as read (unchecked), or as much of them as could be read
     * @param scratch scratch buffers the visitor may use to read the payload
     */
    void header(long slot, MemorySegment header, Scratch scratch) throws IOException;
  }

  // ---- PageStore ------------------------------------------------------------------------------

  @Override
  public TierKind kind() {
    return TierKind.NVME;
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
    return capacityPages;
  }

  @Override
  public synchronized long freePages() {
    ensureOpen();
    return slots.freeCount();
  }

  @Override
  public synchronized long allocate(long hint) {
    ensureOpen();
    return slots.allocatePage(hint);
  }

  @Override
  public synchronized void free(long slot) {
    ensureOpen();
    slots.freePage(slot, name);
    enter();
    try {
      erase(slot);
    } catch (IOException | RuntimeException e) {
      throw fault("free slot " + slot, e);
    } finally {
      exit();
    }
  }

  @Override
  public synchronized long freeRuns() {
    ensureOpen();
    return slots.freeRuns();
  }

  @Override
  public synchronized long largestFreeRun() {
    ensureOpen();
    return slots.largestFreeRun();
  }

  @Override
  public void write(long slot, MemorySegment src) {
    doWrite(slot, null, src);
  }

  @Override
  public void writeBlock(long slot, BlockRecord block, MemorySegment src) {
    java.util.Objects.requireNonNull(block, "block");
    doWrite(slot, block, src);
  }

  @Override
  public void read(long slot, MemorySegment dst) {
    int status = doRead(slot, null, dst);
    if (status == ABSENT) {
      dst.fill((byte) 0);
    } else if (status != NvmePageHeader.VALID) {
      throw new CorruptPageException(
          "tier '"
              + name
              + "': slot "
              + slot
              + " holds a corrupt page ("
              + NvmePageHeader.describe(status)
              + "); not served");
    }
  }

  @Override
  public boolean readBlock(long slot, BlockRecord expected, MemorySegment dst) {
    java.util.Objects.requireNonNull(expected, "expected");
    int status = doRead(slot, expected, dst);
    if (status == NvmePageHeader.VALID) {
      return true;
    }
    misses.increment();
    return false;
  }

  @Override
  public synchronized void recover(RecoveryVisitor visitor) {
    ensureOpen();
    if (recovered) {
      throw new IllegalStateException("tier '" + name + "': recover() runs once, after open");
    }
    recovered = true;
    enter();
    try {
      scan((slot, header, scratch) -> recoverOne(slot, header, scratch, visitor));
    } catch (IOException | RuntimeException e) {
      throw fault("recover", e);
    } finally {
      exit();
    }
    LOG.log(
        System.Logger.Level.INFO,
        "tier ''{0}'': warm restart recovered {1} pages, dropped {2}",
        name,
        recoveredPages.sum(),
        droppedPages.sum());
  }

  private void recoverOne(long slot, MemorySegment header, Scratch scratch, RecoveryVisitor visitor)
      throws IOException {
    int status = NvmePageHeader.checkHeader(header);
    BlockRecord block = status == NvmePageHeader.VALID ? NvmePageHeader.block(header) : null;
    boolean fits =
        block != null
            && slot >= 0
            && slot < capacityPages
            && NvmePageHeader.pageBytes(header) == pageBytes
            && slots.isFree((int) slot);
    if (fits && options.verifyPayloadsOnRecovery()) {
      Loaded loaded = loadVerified(slot, MemorySegment.NULL, scratch);
      fits =
          loaded != null
              && loaded.status() == NvmePageHeader.VALID
              && NvmePageHeader.names(loaded.header(), block);
      if (!fits) {
        status = NvmePageHeader.BAD_CHECKSUM;
      }
    }
    if (!fits) {
      if (status != NvmePageHeader.VALID) {
        corrupt.increment();
      }
      if (slot >= 0 && (slot >= capacityPages || slots.isFree((int) slot))) {
        droppedPages.increment();
        erase(slot);
      }
      return;
    }
    slots.allocate((int) slot);
    recoveredPages.increment();
    visitor.block(slot, block);
  }

  /** Both stores keep verified headers: the cache must use writeBlock and readBlock with them. */
  @Override
  public boolean verifiesBlocks() {
    return true;
  }

  @Override
  public boolean isDegraded() {
    return degraded;
  }

  @Override
  public long misses() {
    return misses.sum();
  }

  @Override
  public long corruptPages() {
    return corrupt.sum();
  }

  @Override
  public long ioErrors() {
    return ioErrors.sum();
  }

  @Override
  public long recoveredPages() {
    return recoveredPages.sum();
  }

  @Override
  public long droppedPages() {
    return droppedPages.sum();
  }

  @Override
  public boolean isClosed() {
    return closed;
  }

  /** Waits for calls in flight, then releases the store's files. Idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    lifecycle.writeLock().lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      try {
        release();
      } catch (IOException e) {
        throw new UncheckedIOException("tier '" + name + "': cannot close cleanly", e);
      } finally {
        for (Scratch s : scratches) {
          s.closeAsyncIo();
        }
        scratches.clear();
        scratchArena.close();
      }
    } finally {
      lifecycle.writeLock().unlock();
    }
  }

  // ---- the write and read paths ---------------------------------------------------------------

  private void doWrite(long slot, BlockRecord block, MemorySegment src) {
    checkAccess(slot, src, "src");
    enter();
    Scratch scratch = borrow();
    try {
      MemorySegment payload = src;
      int flags = 0;
      if (options.compresses(block)) {
        MemorySegment out = scratch.lz4(Lz4Codec.outputBytes((int) src.byteSize()));
        int n = Lz4Codec.compress(src, out);
        if (n >= 0) {
          payload = out.asSlice(0, n);
          flags = NvmePageHeader.FLAG_LZ4;
        }
      }
      storePage(slot, block, flags, (int) src.byteSize(), payload, scratch);
    } catch (IOException | RuntimeException e) {
      throw fault("write slot " + slot, e);
    } finally {
      scratches.offer(scratch);
      exit();
    }
  }

  /** Reads and verifies; returns VALID, ABSENT, OTHER_BLOCK or a header status. */
  private int doRead(long slot, BlockRecord expected, MemorySegment dst) {
    checkAccess(slot, dst, "dst");
    enter();
    Scratch scratch = borrow();
    try {
      Loaded loaded = loadVerified(slot, dst, scratch);
      if (loaded == null) {
        return ABSENT;
      }
      int status = loaded.status();
      if (status != NvmePageHeader.VALID) {
        corrupt.increment();
        return status;
      }
      MemorySegment header = loaded.header();
      if (expected != null
          && (!NvmePageHeader.names(header, expected)
              || NvmePageHeader.pageBytes(header) != dst.byteSize())) {
        return OTHER_BLOCK;
      }
      int stored = NvmePageHeader.pageBytes(header);
      long n = Math.min(stored, dst.byteSize());
      if (NvmePageHeader.isCompressed(header)) {
        boolean inPlace =
            stored == dst.byteSize() && loaded.payload().asOverlappingSlice(dst).isEmpty();
        MemorySegment page = inPlace ? dst : scratch.inflated(stored);
        if (!Lz4Codec.decompress(loaded.payload(), page.asSlice(0, stored))) {
          corrupt.increment();
          return NvmePageHeader.BAD_LENGTH;
        }
        if (page != dst) {
          MemorySegment.copy(page, 0, dst, 0, n);
        }
      } else if (!sameStart(loaded.payload(), dst)) {
        MemorySegment.copy(loaded.payload(), 0, dst, 0, n);
      }
      if (n < dst.byteSize()) {
        dst.asSlice(n).fill((byte) 0);
      }
      return NvmePageHeader.VALID;
    } catch (IOException | RuntimeException e) {
      throw fault("read slot " + slot, e);
    } finally {
      scratches.offer(scratch);
      exit();
    }
  }

  // ---- helpers ----------------------------------------------------------------------------------

  /** Whether the payload was read straight into the destination (nothing to copy). */
  private static boolean sameStart(MemorySegment payload, MemorySegment dst) {
    return payload.isNative() && dst.isNative() && payload.address() == dst.address();
  }

  UncheckedIOException fault(String what, Exception e) {
    if (e instanceof IllegalStateException && closed) {
      throw (IllegalStateException) e;
    }
    if (e instanceof IllegalArgumentException iae) {
      throw iae;
    }
    degraded = true;
    ioErrors.increment();
    String message = "tier '" + name + "': " + what + " failed: " + e.getMessage();
    if (faultLogged.compareAndSet(false, true)) {
      LOG.log(
          System.Logger.Level.WARNING,
          "tier '" + name + "' is degraded; the cache stops using it. First error: " + message,
          e);
    }
    return e instanceof UncheckedIOException u
        ? u
        : new UncheckedIOException(
            message, e instanceof IOException io ? io : new IOException(message, e));
  }

  void countCorrupt() {
    corrupt.increment();
  }

  private Scratch borrow() {
    Scratch s = scratches.poll();
    return s != null ? s : new Scratch(scratchArena);
  }

  private void enter() {
    if (!lifecycle.readLock().tryLock()) {
      throw closedException();
    }
    if (closed) {
      lifecycle.readLock().unlock();
      throw closedException();
    }
  }

  private void exit() {
    lifecycle.readLock().unlock();
  }

  private IllegalStateException closedException() {
    return new IllegalStateException("tier '" + name + "' is closed");
  }

  void ensureOpen() {
    if (closed) {
      throw closedException();
    }
  }

  void checkSlot(long slot) {
    SlotAllocator.checkSlot(slot, capacityPages, name);
  }

  private void checkAccess(long slot, MemorySegment segment, String what) {
    ensureOpen();
    checkSlot(slot);
    if (segment.byteSize() > pageBytes) {
      throw new IllegalArgumentException(
          what + " has " + segment.byteSize() + " bytes, more than a page of " + pageBytes);
    }
  }

  /**
   * One call's scratch memory: segments that grow on demand, 4096-aligned so they can take direct
   * I/O. Used by one thread at a time (borrowed from the pool for one call).
   */
  static final class Scratch {
    private final Arena arena;
    final MemorySegment key;
    private MemorySegment header;
    private MemorySegment lz4;
    private MemorySegment bounce;
    private MemorySegment inflated;
    private SlabPageStore.IoState io;
    private AsyncIo asyncIo;
    private final CRC32C crc = new CRC32C();

    Scratch(Arena arena) {
      this.arena = arena;
      this.key = arena.allocate(8, 8);
    }

    MemorySegment header(int bytes) {
      header = grow(header, bytes);
      return header.asSlice(0, bytes);
    }

    /** The header buffer, whole. */
    MemorySegment headerBuffer(int atLeast) {
      header = grow(header, atLeast);
      return header;
    }

    MemorySegment lz4(int bytes) {
      lz4 = grow(lz4, bytes);
      return lz4;
    }

    MemorySegment bounce(long bytes) {
      bounce = grow(bounce, bytes);
      return bounce;
    }

    MemorySegment inflated(int bytes) {
      inflated = grow(inflated, bytes);
      return inflated;
    }

    /** A running CRC32C, reset. */
    CRC32C crc() {
      crc.reset();
      return crc;
    }

    /**
     * This scratch's AIO context, opened on first use (and again after an {@link AsyncIo#abort}).
     *
     * @throws IOException when the kernel refuses one
     */
    AsyncIo asyncIo(int depth) throws IOException {
      if (asyncIo == null || asyncIo.isDead()) {
        asyncIo = null;
        asyncIo = AsyncIo.open(arena, depth);
      }
      return asyncIo;
    }

    /** Destroys the AIO context, if any; before the arena it lives in is closed. */
    void closeAsyncIo() {
      if (asyncIo != null) {
        asyncIo.close();
        asyncIo = null;
      }
    }

    SlabPageStore.IoState io() {
      if (io == null) {
        io = new SlabPageStore.IoState(DirectIo.iov(arena), DirectIo.callState(arena));
      }
      return io;
    }

    private MemorySegment grow(MemorySegment current, long bytes) {
      if (current != null && current.byteSize() >= bytes) {
        return current;
      }
      long size = Math.max(ALIGN, (bytes + ALIGN - 1) & -ALIGN);
      return arena.allocate(size, ALIGN);
    }
  }
}
