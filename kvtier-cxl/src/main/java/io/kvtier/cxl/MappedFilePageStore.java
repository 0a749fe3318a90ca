package io.kvtier.cxl;

import io.kvtier.spi.PageStore;
import io.kvtier.spi.SlotAllocator;
import io.kvtier.spi.TierKind;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileChannel.MapMode;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A page store over one file mapped read-write: slot {@code i} is the {@code pageBytes} bytes at
 * offset {@code i * pageBytes} of the mapping.
 *
 * <p>Memory: the mapping belongs to a shared {@link Arena}, so any thread may read and write pages,
 * and {@link #close()} unmaps it at once (no waiting for a GC, as with a {@code MappedByteBuffer});
 * an access after close fails with {@link IllegalStateException} rather than touching unmapped
 * memory. Bytes reach the file through the page cache; the store never forces them, since a pool is
 * memory, not a durable log.
 *
 * <p>Allocation: the api's {@link SlotAllocator} (O(1), honours a sequence's hint so its pages stay
 * contiguous); {@code allocate}, {@code free} and the free-run counts are guarded by this store's
 * monitor, so a stats reader on another thread sees a consistent count. A pool holds at most {@link
 * Integer#MAX_VALUE} pages. {@code read} and {@code write} take no lock: the cache calls them for
 * slots it owns.
 *
 * <p>Exclusivity: the store holds an exclusive lock on the file from open to close, so a second
 * store (in this or another process) fails to open instead of handing out the same slots twice.
 */
final class MappedFilePageStore implements PageStore {

  private final String name;
  private final Path path;
  private final int pageBytes;
  private final long capacityPages;
  private final FileChannel channel;
  private final FileLock lock;
  private final Arena arena;
  private final MemorySegment mapping;
  private final AtomicBoolean closed = new AtomicBoolean();

  // @GuardedBy("this")
  private final SlotAllocator slots;

  private MappedFilePageStore(
      String name,
      Path path,
      int pageBytes,
      long capacityPages,
      FileChannel channel,
      FileLock lock,
      Arena arena,
      MemorySegment mapping) {
    this.name = name;
    this.path = path;
    this.pageBytes = pageBytes;
    this.capacityPages = capacityPages;
    this.channel = channel;
    this.lock = lock;
    this.arena = arena;
    this.mapping = mapping;
    this.slots = new SlotAllocator((int) capacityPages);
  }

  static MappedFilePageStore open(String name, Path path, long capacityBytes, int pageBytes) {
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
    long bytes = pages * pageBytes;
    FileChannel channel = null;
    Arena arena = null;
    try {
      channel =
          FileChannel.open(
              path, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
      FileLock lock = lockOrFail(channel, name, path);
      if (channel.size() < bytes) {
        channel.write(ByteBuffer.allocate(1), bytes - 1);
      }
      arena = Arena.ofShared();
      MemorySegment mapping = channel.map(MapMode.READ_WRITE, 0, bytes, arena);
      return new MappedFilePageStore(name, path, pageBytes, pages, channel, lock, arena, mapping);
    } catch (IOException e) {
      closeQuietly(arena, channel, e);
      throw new UncheckedIOException(
          "tier '" + name + "': cannot map " + bytes + " bytes of pool file " + path, e);
    } catch (RuntimeException e) {
      closeQuietly(arena, channel, e);
      throw e;
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
      throw new IllegalStateException(
          "tier '"
              + name
              + "': pool file "
              + path
              + " is in use by another open store; close it first or use another file");
    }
    return lock;
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
    int slot = slots.allocate(hint >= 0 && hint < capacityPages ? (int) hint : -1);
    return slot == SlotAllocator.NO_SPACE ? NO_SPACE : slot;
  }

  @Override
  public synchronized void free(long slot) {
    ensureOpen();
    checkSlot(slot);
    if (slots.isFree((int) slot)) {
      throw new IllegalArgumentException("tier '" + name + "': slot " + slot + " is not in use");
    }
    slots.free((int) slot);
  }

  @Override
  public void write(long slot, MemorySegment src) {
    long offset = offsetOf(slot, src, "src");
    MemorySegment.copy(src, 0, mapping, offset, src.byteSize());
  }

  @Override
  public void read(long slot, MemorySegment dst) {
    long offset = offsetOf(slot, dst, "dst");
    MemorySegment.copy(mapping, offset, dst, 0, dst.byteSize());
  }

  @Override
  public void copy(long from, long to) {
    ensureOpen();
    checkSlot(from);
    checkSlot(to);
    MemorySegment.copy(mapping, from * pageBytes, mapping, to * pageBytes, pageBytes);
  }

  @Override
  public Optional<MemorySegment> segment(long slot) {
    ensureOpen();
    checkSlot(slot);
    return Optional.of(mapping.asSlice(slot * pageBytes, pageBytes));
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

  /** Unmaps the file and releases its lock; the file and its bytes stay. Idempotent. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    try {
      arena.close();
    } finally {
      try {
        lock.release();
        channel.close();
      } catch (IOException e) {
        throw new UncheckedIOException("tier '" + name + "': cannot close pool file " + path, e);
      }
    }
  }

  @Override
  public String toString() {
    return "CxlTier.file[" + name + ", " + path + ", " + capacityPages + " x " + pageBytes + " B]";
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
    if (slot < 0 || slot >= capacityPages) {
      throw new IllegalArgumentException(
          "tier '" + name + "': slot " + slot + " is out of range [0, " + capacityPages + ")");
    }
  }

  private void ensureOpen() {
    if (closed.get()) {
      throw new IllegalStateException("tier '" + name + "' is closed");
    }
  }
}
