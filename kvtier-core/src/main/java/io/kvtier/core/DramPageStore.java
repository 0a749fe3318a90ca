package io.kvtier.core;

import io.kvtier.spi.PageStore;
import io.kvtier.spi.SlotAllocator;
import io.kvtier.spi.TierKind;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.Optional;

/**
 * A DRAM tier's pages: off-heap host memory from one shared {@link Arena}, sliced into slots.
 *
 * <h2>Layout</h2>
 *
 * <p>The pool is allocated as chunks of at most 1 GiB, each holding a power-of-two number of whole
 * pages (one page if a page is larger than 1 GiB), so a slot maps to its chunk with a shift and a
 * mask and no page straddles two chunks. Chunks are aligned to 4096 bytes, or to the largest power
 * of two not above the page size if that is smaller. Only the last chunk may be shorter.
 *
 * <pre>
 *   chunk 0                        chunk 1                        chunk 2 (tail)
 *  +------+------+-----+------+   +------+------+-----+------+   +------+------+
 *  | s 0  | s 1  | ... | s P-1|   | s P  | s P+1| ... |s 2P-1|   | s 2P | ...  |
 *  +------+------+-----+------+   +------+------+-----+------+   +------+------+
 *   P = pagesPerChunk (power of two);  slot s lives in chunk s >>> log2(P) at
 *   byte (s &amp; (P - 1)) * pageBytes
 * </pre>
 *
 * <p>Chunking keeps each native allocation moderate (the OS can satisfy it without one huge
 * contiguous mapping) while pools larger than 2 GiB work the same as small ones. Which slots are in
 * use is tracked by a {@link SlotAllocator}: O(1) allocate and free, preferring the caller's hint
 * so that a sequence's pages stay contiguous.
 *
 * <h2>Concurrency</h2>
 *
 * <p>As {@link PageStore} requires: {@code allocate} and {@code free} have a single caller at a
 * time (the cache's metadata writer); {@code read}, {@code write}, {@code copy} and {@code segment}
 * may run concurrently on different slots, since they touch only page memory. {@code close} may
 * race with them: the shared arena's close makes any later or concurrent access fail with {@link
 * IllegalStateException}, never a crash.
 */
final class DramPageStore implements PageStore {

  /** Largest chunk in bytes. */
  static final long MAX_CHUNK_BYTES = 1L << 30;

  private static final long MAX_ALIGNMENT = 4096;

  private final String name;
  private final int pageBytes;
  private final int capacity;
  private final int chunkShift;
  private final int chunkMask;
  private final Arena arena;
  private final MemorySegment[] chunks;
  private final SlotAllocator slots;
  private volatile boolean closed;

  /**
   * Allocates the pool.
   *
   * @param name the tier's name
   * @param capacityBytes bytes of page memory; {@code capacityBytes / pageBytes} pages
   * @param pageBytes bytes per page
   * @throws IllegalArgumentException if the page count is not between 1 and {@link
   *     Integer#MAX_VALUE}
   */
  DramPageStore(String name, long capacityBytes, int pageBytes) {
    this.name = Objects.requireNonNull(name, "name");
    if (pageBytes < 1) {
      throw new IllegalArgumentException(
          "tier '" + name + "': pageBytes must be positive, was " + pageBytes);
    }
    long pages = capacityBytes / pageBytes;
    if (capacityBytes < 0 || pages < 1 || pages > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "tier '"
              + name
              + "': "
              + capacityBytes
              + " bytes / "
              + pageBytes
              + " bytes per page = "
              + pages
              + " pages; must be 1 to "
              + Integer.MAX_VALUE
              + " (change the tier's capacity or the page size)");
    }
    this.pageBytes = pageBytes;
    this.capacity = (int) pages;
    int pagesPerChunk = Integer.highestOneBit((int) Math.max(1, MAX_CHUNK_BYTES / pageBytes));
    this.chunkShift = Integer.numberOfTrailingZeros(pagesPerChunk);
    this.chunkMask = pagesPerChunk - 1;
    long alignment = Math.min(MAX_ALIGNMENT, Integer.highestOneBit(pageBytes));
    int chunkCount = (int) ((pages + pagesPerChunk - 1) / pagesPerChunk);
    this.arena = Arena.ofShared();
    try {
      this.chunks = new MemorySegment[chunkCount];
      for (int c = 0; c < chunkCount; c++) {
        long chunkPages = Math.min(pagesPerChunk, pages - (long) c * pagesPerChunk);
        chunks[c] = arena.allocate(chunkPages * pageBytes, alignment);
      }
    } catch (RuntimeException | OutOfMemoryError e) {
      arena.close();
      throw e;
    }
    this.slots = new SlotAllocator(capacity);
  }

  @Override
  public TierKind kind() {
    return TierKind.DRAM;
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

  @Override
  public long freePages() {
    ensureOpen();
    return slots.freeCount();
  }

  @Override
  public long allocate(long hint) {
    ensureOpen();
    return slots.allocatePage(hint);
  }

  @Override
  public void free(long slot) {
    ensureOpen();
    slots.freePage(slot, name);
  }

  @Override
  public void write(long slot, MemorySegment src) {
    ensureOpen();
    int s = checkSlot(slot);
    long bytes = checkSize(src);
    MemorySegment.copy(src, 0, chunks[s >>> chunkShift], offset(s), bytes);
  }

  @Override
  public void read(long slot, MemorySegment dst) {
    ensureOpen();
    int s = checkSlot(slot);
    long bytes = checkSize(dst);
    MemorySegment.copy(chunks[s >>> chunkShift], offset(s), dst, 0, bytes);
  }

  @Override
  public void copy(long from, long to) {
    ensureOpen();
    int f = checkSlot(from);
    int t = checkSlot(to);
    MemorySegment.copy(
        chunks[f >>> chunkShift], offset(f), chunks[t >>> chunkShift], offset(t), pageBytes);
  }

  @Override
  public Optional<MemorySegment> segment(long slot) {
    ensureOpen();
    int s = checkSlot(slot);
    return Optional.of(chunks[s >>> chunkShift].asSlice(offset(s), pageBytes));
  }

  @Override
  public Optional<MemorySegment> segment(long slot, int count) {
    ensureOpen();
    int s = checkSlot(slot);
    if (count < 1) {
      throw new IllegalArgumentException("count must be at least 1, was " + count);
    }
    int last = checkSlot(slot + count - 1);
    if ((s >>> chunkShift) != (last >>> chunkShift)) {
      return Optional.empty();
    }
    return Optional.of(chunks[s >>> chunkShift].asSlice(offset(s), (long) count * pageBytes));
  }

  @Override
  public long freeRuns() {
    ensureOpen();
    return slots.freeRuns();
  }

  @Override
  public long largestFreeRun() {
    ensureOpen();
    return slots.largestFreeRun();
  }

  @Override
  public boolean isClosed() {
    return closed;
  }

  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      arena.close();
    }
  }

  @Override
  public String toString() {
    return "DramPageStore[name="
        + name
        + ", pageBytes="
        + pageBytes
        + ", capacityPages="
        + capacity
        + ", chunks="
        + chunks.length
        + (closed ? ", closed]" : "]");
  }

  private long offset(int slot) {
    return (long) (slot & chunkMask) * pageBytes;
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("tier '" + name + "' is closed");
    }
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
}
