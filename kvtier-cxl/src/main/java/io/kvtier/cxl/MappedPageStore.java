package io.kvtier.cxl;

import io.kvtier.spi.PageStore;
import io.kvtier.spi.SlotAllocator;
import io.kvtier.spi.TierKind;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.channels.FileChannel.MapMode;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A page store over one mapped region owned by this process: a file, a hugetlbfs file, a device-DAX
 * node, or anonymous memory bound to a NUMA node. Slot {@code i} is the {@code pageBytes} bytes at
 * offset {@code i * pageBytes} of the mapping.
 *
 * <p>Memory: the region is a {@link MemorySegment} whose scope is a shared {@link Arena} (file
 * mappings) or that the store bounds itself (native mappings), so any thread may read and write
 * pages; {@link #close()} unmaps at once (no waiting for a GC, as with a {@code MappedByteBuffer}).
 * Page views handed out by {@link #segment(long)} belong to the store's arena, so an access after
 * close fails with {@link IllegalStateException} rather than touching unmapped memory. Bytes reach
 * a file through the page cache; the store never forces them, since a pool is memory, not a durable
 * log.
 *
 * <p>Allocation: the api's {@link SlotAllocator} (O(1), honours a sequence's hint so its pages stay
 * contiguous); {@code allocate}, {@code free} and the free-run counts are guarded by this store's
 * monitor, so a stats reader on another thread sees a consistent count. A pool holds at most {@link
 * Integer#MAX_VALUE} pages. {@code read} and {@code write} take no lock: the cache calls them for
 * slots it owns.
 *
 * <p>Exclusivity: a file or device store holds an exclusive lock on it from open to close, so a
 * second store (in this or another process) fails to open instead of handing out the same slots
 * twice. Pools meant for several processes are {@link SharedPoolStore}s.
 */
final class MappedPageStore implements PageStore {

  private final String name;
  private final int pageBytes;
  private final long capacityPages;
  private final Mapping mapping;
  private final Arena arena;
  private final MemorySegment pages;
  private final AtomicBoolean closed = new AtomicBoolean();

  // @GuardedBy("this")
  private final SlotAllocator slots;

  /**
   * Wraps a mapping. The store's page views live in a shared arena of its own, closed first on
   * close, so that no view outlives the mapping.
   */
  @SuppressWarnings("restricted") // bounds the native mapping to the store's arena
  MappedPageStore(String name, int pageBytes, long capacityPages, Mapping mapping) {
    this.name = name;
    this.pageBytes = pageBytes;
    this.capacityPages = capacityPages;
    this.mapping = mapping;
    this.arena = Arena.ofShared();
    this.pages =
        MemorySegment.ofAddress(mapping.segment().address())
            .reinterpret((long) pageBytes * capacityPages, arena, null);
    this.slots = new SlotAllocator((int) capacityPages);
  }

  /** Pages in {@code capacityBytes}, or an exception that says why there are none or too many. */
  static long pagesIn(String name, long capacityBytes, int pageBytes) {
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
          "tier '"
              + name
              + "' would hold "
              + pages
              + " pages, more than "
              + Integer.MAX_VALUE
              + ": use larger pages or a smaller capacity");
    }
    return pages;
  }

  /** Opens a path-mode store: a file, a hugetlbfs file or a device-DAX node. */
  static MappedPageStore open(String name, Path path, long capacityBytes, int pageBytes) {
    long pages = pagesIn(name, capacityBytes, pageBytes);
    PoolTarget target;
    try {
      target = PoolTarget.probe(path, PoolTarget.DAX_SYSFS);
    } catch (IOException e) {
      throw new UncheckedIOException("tier '" + name + "': cannot inspect " + path, e);
    }
    return new MappedPageStore(
        name, pageBytes, pages, map(name, path, target, pages * pageBytes, true));
  }

  /**
   * Maps {@code bytes} of the target read-write, holding an exclusive lock (or none when {@code
   * exclusive} is false: a shared pool coordinates through its own header instead).
   */
  static Mapping map(String name, Path path, PoolTarget target, long bytes, boolean exclusive) {
    long length = target.mapBytes(name, bytes);
    return target.kind() == PoolTarget.Kind.DEVICE_DAX
        ? mapDevice(name, path, target, length, exclusive)
        : mapFile(name, path, target, length, exclusive);
  }

  private static Mapping mapFile(
      String name, Path path, PoolTarget target, long length, boolean exclusive) {
    FileChannel channel = null;
    Arena arena = null;
    try {
      channel =
          FileChannel.open(
              path, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
      FileLock lock = exclusive ? lockOrFail(channel, name, path) : null;
      arena = Arena.ofShared();
      // map() extends a shorter file with ftruncate, which hugetlbfs accepts at aligned lengths
      // (a one-byte write, the usual way, it refuses)
      MemorySegment segment = channel.map(MapMode.READ_WRITE, 0, length, arena);
      FileChannel ch = channel;
      Arena ar = arena;
      return new Mapping(
          segment,
          target.kind() == PoolTarget.Kind.HUGETLBFS ? "hugetlbfs " + path : String.valueOf(path),
          () -> {
            try {
              ar.close();
            } finally {
              if (lock != null) {
                lock.release();
              }
              ch.close();
            }
          });
    } catch (IOException e) {
      closeQuietly(arena, channel, e);
      throw new UncheckedIOException(
          "tier '" + name + "': cannot map " + length + " bytes of pool file " + path, e);
    } catch (RuntimeException e) {
      closeQuietly(arena, channel, e);
      throw e;
    }
  }

  /**
   * Maps a character device with {@code mmap(MAP_SHARED)} directly: {@link FileChannel#map} would
   * try to extend a device whose size reads as 0.
   */
  static Mapping mapDevice(
      String name, Path path, PoolTarget target, long length, boolean exclusive) {
    if (!Libc.isLinux()) {
      throw new UnsupportedOperationException("device-DAX pools need Linux");
    }
    int fd;
    try {
      fd = Libc.open(path.toString(), Libc.O_RDWR | Libc.O_CLOEXEC);
    } catch (Libc.NativeException e) {
      throw new UncheckedIOException(
          new IOException(
              "tier '" + name + "': cannot open device " + path + ": " + e.getMessage()));
    }
    try {
      if (exclusive) {
        try {
          Libc.flock(fd, Libc.LOCK_EX | Libc.LOCK_NB);
        } catch (Libc.NativeException e) {
          if (e.errno == Libc.EWOULDBLOCK) {
            throw inUse(name, path);
          }
          throw e;
        }
      }
      MemorySegment segment =
          Libc.mmap(length, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0);
      return new Mapping(
          segment,
          "device-DAX "
              + path
              + " ("
              + target.deviceBytes()
              + " B, align "
              + target.alignment()
              + ")",
          () -> {
            try {
              Libc.munmap(segment, length);
            } finally {
              Libc.close(fd);
            }
          });
    } catch (Libc.NativeException e) {
      closeFd(fd);
      throw new UncheckedIOException(
          new IOException(
              "tier '"
                  + name
                  + "': cannot map "
                  + length
                  + " bytes of "
                  + path
                  + ": "
                  + e.getMessage()));
    } catch (RuntimeException e) {
      closeFd(fd);
      throw e;
    }
  }

  private static void closeFd(int fd) {
    try {
      Libc.close(fd);
    } catch (Libc.NativeException ignored) {
      // already failing; the open error is the one to report
    }
  }

  private static FileLock lockOrFail(FileChannel channel, String name, Path path)
      throws IOException {
    FileLock lock;
    try {
      lock = channel.tryLock();
    } catch (OverlappingFileLockException e) {
      lock = null;
    }
    if (lock == null) {
      throw inUse(name, path);
    }
    return lock;
  }

  private static IllegalStateException inUse(String name, Path path) {
    return new IllegalStateException(
        "tier '"
            + name
            + "': pool "
            + path
            + " is in use by another open store; close it first, use another file, or open it"
            + " as a shared pool");
  }

  private static void closeQuietly(Arena arena, FileChannel channel, Exception primary) {
    if (arena != null) {
      arena.close();
    }
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException e) {
        primary.addSuppressed(e);
      }
    }
  }

  @Override
  public TierKind kind() {
    return TierKind.CXL;
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
  }

  @Override
  public void write(long slot, MemorySegment src) {
    long offset = offsetOf(slot, src, "src");
    MemorySegment.copy(src, 0, pages, offset, src.byteSize());
  }

  @Override
  public void read(long slot, MemorySegment dst) {
    long offset = offsetOf(slot, dst, "dst");
    MemorySegment.copy(pages, offset, dst, 0, dst.byteSize());
  }

  @Override
  public void copy(long from, long to) {
    ensureOpen();
    checkSlot(from);
    checkSlot(to);
    MemorySegment.copy(pages, from * pageBytes, pages, to * pageBytes, pageBytes);
  }

  @Override
  public Optional<MemorySegment> segment(long slot) {
    ensureOpen();
    checkSlot(slot);
    return Optional.of(pages.asSlice(slot * pageBytes, pageBytes));
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
  public boolean isClosed() {
    return closed.get();
  }

  /**
   * Unmaps the region and releases its file or device lock; a file and its bytes stay. Idempotent.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    try {
      arena.close();
    } finally {
      try {
        mapping.release().run();
      } catch (IOException e) {
        throw new UncheckedIOException(
            "tier '" + name + "': cannot release " + mapping.description(), e);
      } catch (Exception e) {
        throw new IllegalStateException(
            "tier '" + name + "': cannot release " + mapping.description(), e);
      }
    }
  }

  @Override
  public String toString() {
    return "CxlTier["
        + name
        + ", "
        + mapping.description()
        + ", "
        + capacityPages
        + " x "
        + pageBytes
        + " B]";
  }

  private long offsetOf(long slot, MemorySegment segment, String what) {
    ensureOpen();
    checkSlot(slot);
    if (segment.byteSize() > pageBytes) {
      throw new IllegalArgumentException(
          what + " has " + segment.byteSize() + " bytes, more than a page of " + pageBytes);
    }
    return slot * pageBytes;
  }

  private void checkSlot(long slot) {
    SlotAllocator.checkSlot(slot, capacityPages, name);
  }

  private void ensureOpen() {
    if (closed.get()) {
      throw new IllegalStateException("tier '" + name + "' is closed");
    }
  }
}
