package io.kvtier.spi;

import java.lang.foreign.MemorySegment;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * One tier's page memory: {@link #capacityPages()} slots of {@link #pageBytes()} bytes.
 *
 * <p>Slots are {@code long} indices from 0; {@link #allocate(long)} and {@link #free(long)} manage
 * which are in use ({@link SlotAllocator} does it in O(1)). Reference counts, generations and page
 * handles are the cache's business, not the store's. Reads and writes copy whole or partial pages
 * between a slot and a caller's {@link MemorySegment}.
 *
 * <p>Thread safety: {@code allocate} and {@code free} are called by one thread at a time (the
 * cache's metadata writer); {@code read} and {@code write} may be called concurrently for different
 * slots. Every method throws {@link IllegalStateException} after {@link #close()} and {@link
 * IllegalArgumentException} for a slot out of range or a segment larger than a page.
 */
public interface PageStore extends AutoCloseable {

  /** What {@link #allocate(long)} returns when every slot is in use. */
  long NO_SPACE = -1L;

  /**
   * The tier's kind.
   *
   * @return the kind
   */
  TierKind kind();

  /**
   * The tier's name.
   *
   * @return the name
   */
  String name();

  /**
   * Bytes per page.
   *
   * @return page size
   */
  int pageBytes();

  /**
   * Slots in the store.
   *
   * @return capacity in pages
   */
  long capacityPages();

  /**
   * Slots not in use.
   *
   * @return free pages
   */
  long freePages();

  /**
   * Takes a free slot, preferring {@code hint} (pass the previous slot + 1 of a sequence to keep it
   * contiguous; -1 for no preference). O(1).
   *
   * @param hint preferred slot, or -1
   * @return the slot, or {@link #NO_SPACE}
   */
  long allocate(long hint);

  /**
   * Returns a slot. O(1).
   *
   * @param slot a slot in use
   * @throws IllegalArgumentException if the slot is out of range or not in use
   */
  void free(long slot);

  /**
   * Copies {@code src} into the start of the slot.
   *
   * @param slot the slot
   * @param src at most {@link #pageBytes()} bytes
   */
  void write(long slot, MemorySegment src);

  /**
   * Copies the start of the slot into {@code dst}.
   *
   * @param slot the slot
   * @param dst at most {@link #pageBytes()} bytes
   */
  void read(long slot, MemorySegment dst);

  /**
   * Copies one slot's bytes to another slot of the same store.
   *
   * @param from source slot
   * @param to destination slot
   */
  default void copy(long from, long to) {
    try (var arena = java.lang.foreign.Arena.ofConfined()) {
      MemorySegment tmp = arena.allocate(pageBytes());
      read(from, tmp);
      write(to, tmp);
    }
  }

  /**
   * The slot's memory, for stores whose pages are directly addressable from the host.
   *
   * @param slot the slot
   * @return a segment of {@link #pageBytes()} bytes, or empty
   */
  default Optional<MemorySegment> segment(long slot) {
    return Optional.empty();
  }

  /**
   * One segment spanning {@code count} consecutive slots, for stores whose pages are directly
   * addressable and whose slots {@code slot .. slot+count-1} are contiguous in memory: lets a
   * transfer move a run of pages as one copy.
   *
   * @param slot the first slot
   * @param count slots in the run
   * @return a segment of {@code count * pageBytes()} bytes, or empty
   */
  default Optional<MemorySegment> segment(long slot, int count) {
    return count == 1 ? segment(slot) : Optional.empty();
  }

  /**
   * Whether {@link #writeBlock} stores the block record and {@link #readBlock} verifies it. When
   * neither end of a copy verifies, the cache moves raw bytes (and batches runs).
   *
   * @return true for stores that keep verified headers
   */
  default boolean verifiesBlocks() {
    return false;
  }

  /**
   * Asynchronous {@link #write(long, MemorySegment)}.
   *
   * @param slot the slot
   * @param src the bytes; must stay valid until the future completes
   * @param executor where to run the copy, for stores without their own I/O threads
   * @return completes when the bytes are in the slot
   */
  default CompletableFuture<Void> writeAsync(long slot, MemorySegment src, Executor executor) {
    return CompletableFuture.runAsync(() -> write(slot, src), executor);
  }

  /**
   * Asynchronous {@link #read(long, MemorySegment)}.
   *
   * @param slot the slot
   * @param dst the destination; must stay valid until the future completes
   * @param executor where to run the copy, for stores without their own I/O threads
   * @return completes when the bytes are in {@code dst}
   */
  default CompletableFuture<Void> readAsync(long slot, MemorySegment dst, Executor executor) {
    return CompletableFuture.runAsync(() -> read(slot, dst), executor);
  }

  /**
   * Whether the store moves a batch of pages, or the same byte range of each, as one asynchronous
   * transfer ({@link #writePagesAsync}, {@link #readPagesAsync}): a device tier whose memory the
   * host cannot address. The cache then hands it whole batches instead of one page at a time, and
   * onboards layer by layer through it with one range per layer.
   *
   * @return true for stores that override the two batch methods
   */
  default boolean transfersBatches() {
    return false;
  }

  /**
   * Copies bytes {@code [offset, offset + length)} of each host page into the same bytes of its
   * slot. The default writes page by page on the calling thread (a partial range reads the page
   * back first) and returns a completed future; stores with their own transfer queues override it.
   *
   * @param slots distinct destination slots
   * @param pages one host page per slot, each at least {@code offset + length} bytes; must stay
   *     valid until the future completes
   * @param offset first byte of the range within a page
   * @param length bytes of the range; {@code offset + length <= pageBytes()}
   * @return completes when every range is in its slot
   */
  default CompletableFuture<Void> writePagesAsync(
      long[] slots, MemorySegment[] pages, long offset, long length) {
    try {
      checkRanges(this, slots, pages, offset, length);
      for (int i = 0; i < slots.length; i++) {
        if (offset == 0) {
          write(slots[i], pages[i].asSlice(0, length));
          continue;
        }
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
          MemorySegment page = arena.allocate(offset + length);
          read(slots[i], page.asSlice(0, offset));
          MemorySegment.copy(pages[i], offset, page, offset, length);
          write(slots[i], page);
        }
      }
      return CompletableFuture.completedFuture(null);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * Copies bytes {@code [offset, offset + length)} of each slot into the same bytes of its host
   * page. The default reads page by page on the calling thread and returns a completed future.
   *
   * @param slots source slots
   * @param pages one writable host page per slot, each at least {@code offset + length} bytes
   * @param offset first byte of the range within a page
   * @param length bytes of the range; {@code offset + length <= pageBytes()}
   * @return completes when every range is in its host page
   */
  default CompletableFuture<Void> readPagesAsync(
      long[] slots, MemorySegment[] pages, long offset, long length) {
    try {
      checkRanges(this, slots, pages, offset, length);
      for (int i = 0; i < slots.length; i++) {
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
          MemorySegment page = arena.allocate(Math.max(1, offset + length));
          read(slots[i], page.asSlice(0, offset + length));
          MemorySegment.copy(page, offset, pages[i], offset, length);
        }
      }
      return CompletableFuture.completedFuture(null);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  private static void checkRanges(
      PageStore store, long[] slots, MemorySegment[] pages, long offset, long length) {
    if (slots.length != pages.length) {
      throw new IllegalArgumentException(
          slots.length + " slots but " + pages.length + " host pages");
    }
    if (offset < 0 || length < 0 || offset > store.pageBytes() - length) {
      throw new IllegalArgumentException(
          "bytes ["
              + offset
              + ", "
              + offset
              + " + "
              + length
              + ") are not inside a page of "
              + store.pageBytes()
              + " bytes");
    }
    for (MemorySegment page : pages) {
      if (page.byteSize() < offset + length) {
        throw new IllegalArgumentException(
            "a host page of " + page.byteSize() + " bytes does not hold the range");
      }
    }
  }

  /**
   * Writes a page together with its block record. Stores that persist pages (NVMe, a shared CXL
   * pool) store the record as a verified header; the default just writes the bytes.
   *
   * @param slot the slot
   * @param block the block's identity
   * @param src the page bytes
   */
  default void writeBlock(long slot, BlockRecord block, MemorySegment src) {
    write(slot, src);
  }

  /**
   * Reads a page and verifies that it holds {@code expected}. Stores that keep a header compare it
   * and a checksum; a mismatch or corruption returns false (a miss, counted by the store) and the
   * destination's contents are then unspecified. The default reads the bytes and returns true.
   *
   * @param slot the slot
   * @param expected the block the cache believes is there
   * @param dst destination of the page bytes
   * @return true if the page was read and verified
   */
  default boolean readBlock(long slot, BlockRecord expected, MemorySegment dst) {
    read(slot, dst);
    return true;
  }

  /**
   * Visits the blocks a persistent store holds from before it was opened, so that a warm restart
   * makes them visible to the prefix index again. Called once, right after open; the slots visited
   * are allocated. The default has nothing to recover.
   *
   * @param visitor receives each recovered (slot, block)
   */
  default void recover(RecoveryVisitor visitor) {}

  /** Receives recovered blocks. */
  @FunctionalInterface
  interface RecoveryVisitor {
    /**
     * One recovered block.
     *
     * @param slot its slot, allocated
     * @param block its identity
     */
    void block(long slot, BlockRecord block);
  }

  /**
   * Whether the store is degraded (I/O errors, disk full): the cache stops using it and keeps
   * serving from the other tiers.
   *
   * @return true once degraded
   */
  default boolean isDegraded() {
    return false;
  }

  /**
   * Maximal runs of consecutive free slots.
   *
   * @return the number of free runs
   */
  long freeRuns();

  /**
   * The longest run of consecutive free slots.
   *
   * @return its length in pages
   */
  long largestFreeRun();

  /**
   * Whether {@link #close()} was called.
   *
   * @return true once closed
   */
  boolean isClosed();

  /** Releases the store's memory or files. Idempotent. */
  @Override
  void close();
}
