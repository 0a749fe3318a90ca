package io.kvtier.nvme;

import io.kvtier.spi.BlockRecord;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.zip.CRC32C;

/**
 * An NVMe page store in fixed slots of one preallocated file, read and written with O_DIRECT.
 *
 * <h2>Layout</h2>
 *
 * <pre>
 *  file offset
 *  0                 +-----------------------------------------------+
 *                    | superblock, 4 KiB (see below)                 |
 *  4096              +-----------------------------------------------+
 *                    | slot 0: header block, 4 KiB                   |  NvmePageHeader, zero padded
 *                    |         payload region, pageBytes rounded up  |  stored payload, zero padded
 *                    |         to 4 KiB                              |
 *  4096 + slotBytes  +-----------------------------------------------+
 *                    | slot 1 ...                                    |
 *                    +-----------------------------------------------+
 *
 *  superblock        0: magic "KVTS" | 4: version (u16) | 6: 0 (u16)
 *                    8: page bytes (u32) | 12: header block bytes (u32)
 *                   16: slot bytes (u64) | 24: slots (u64)
 *                   32: CRC32C of bytes [0, 32)
 * </pre>
 *
 * <p>A slot is {@code 4096 + roundUp(pageBytes, 4096)} bytes, so every header block and every
 * payload region starts 4096-aligned. When the caller's segment is itself 4096-aligned and a whole
 * number of 4 KiB blocks (as an engine's pinned staging buffers are), the payload goes straight
 * between it and the device: no copy. Otherwise it passes through an aligned bounce buffer. A
 * header block holds up to {@value #MAX_TOKENS} token ids.
 *
 * <h2>Moving a page: checksums overlap the I/O</h2>
 *
 * <p>With {@code O_DIRECT}, a payload moves in pieces of {@value #CHUNK} bytes (the last one
 * shorter), {@value #WINDOW} requests in flight, through Linux native AIO ({@link AsyncIo}) from
 * the calling thread:
 *
 * <ul>
 *   <li><b>read</b>: one {@code preadv} request fetches the header block with the first piece, the
 *       next pieces are requested behind it; the header is checked when it arrives and each piece
 *       is added to the payload CRC32C as soon as it is in, while the device reads the following
 *       ones. Only the last piece's checksum is not hidden behind I/O. The read is served only when
 *       header CRC, payload CRC and identity all match ({@link #loadVerified}).
 *   <li><b>write</b>: each piece is checksummed (and copied into the bounce buffer, if needed) just
 *       before it is submitted, while the earlier pieces are being written; the header block, which
 *       carries the finished CRC, is submitted last.
 * </ul>
 *
 * <p>The on-disk format does not depend on this: the payload CRC is the one CRC32C of {@link
 * NvmePageHeader} version 2, computed incrementally in file order, so files written before and
 * after, with or without pieces, read the same. Where {@code O_DIRECT} is refused (buffered I/O) or
 * the kernel refuses an AIO context, a page moves in one vectored call ({@code pwritev} / {@code
 * preadv} of header block and payload region) with the checksum computed before the write and after
 * the read.
 *
 * <h2>Allocation and the index</h2>
 *
 * <p>The slot is the index: the cache maps block to slot, the store maps slot to file offset by
 * multiplication, and the api's {@link io.kvtier.spi.SlotAllocator} hands out slots. Nothing else
 * is persisted. Warm restart reads each slot's header block (and, by default, its payload) and
 * re-allocates the intact ones. A freed slot keeps its bytes until it is written again; {@link
 * #close()} zeroes the header blocks of slots that were freed and not reused, so a clean restart
 * does not bring them back (after a crash they may come back: they are intact pages of blocks the
 * cache had dropped, which it may use or evict).
 *
 * <h2>Faults</h2>
 *
 * <p>The whole file is allocated with {@code posix_fallocate} at open, so a full disk fails the
 * open with a clear message rather than a write later. An I/O error degrades the store ({@link
 * AbstractNvmeStore}). A write is several requests (one system call on the synchronous path), so a
 * process killed or a power loss mid-write can leave old and new bytes mixed in a slot; the CRCs
 * reject such a page (a miss; dropped at warm restart), it is never served.
 */
final class SlabPageStore extends AbstractNvmeStore {

  static final String FILE_NAME = "pages.slab";
  static final int HEADER_BLOCK = DirectIo.ALIGN;
  static final int MAX_TOKENS = (HEADER_BLOCK - NvmePageHeader.FIXED_BYTES) / 4;

  /** Bytes per request when a payload moves in pieces; a multiple of {@link DirectIo#ALIGN}. */
  static final int CHUNK = 512 << 10;

  /** Payload requests kept in flight while the calling thread checksums. */
  static final int WINDOW = 3;

  /** AIO slots per scratch: the window and the header block. */
  private static final int DEPTH = WINDOW + 1;

  /** The bytes "KVTS" read as a little-endian int. */
  private static final int SUPER_MAGIC = 0x5354564B;

  private static final int SUPER_VERSION = 1;
  private static final ValueLayout.OfInt I32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfLong I64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfShort U16 =
      ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private final Path file;
  private final int fd;
  private final boolean directIo;
  private final long payloadRegion;
  private final long slotBytes;
  private final long scanSlots;

  /** Whether pages move in {@link #CHUNK} pieces with native AIO; cleared if the kernel refuses. */
  private volatile boolean pipelined;

  // @GuardedBy("this")
  private final BitSet stale = new BitSet();

  private SlabPageStore(
      String name,
      Path file,
      int pageBytes,
      long pages,
      NvmeOptions options,
      int fd,
      boolean directIo,
      long scanSlots) {
    super(name, pageBytes, pages, options);
    this.file = file;
    this.fd = fd;
    this.directIo = directIo;
    this.payloadRegion = roundUp(pageBytes);
    this.slotBytes = HEADER_BLOCK + payloadRegion;
    this.scanSlots = scanSlots;
    this.pipelined = directIo && AsyncIo.isAvailable();
  }

  static long roundUp(long bytes) {
    return (bytes + DirectIo.ALIGN - 1) & -DirectIo.ALIGN;
  }

  static SlabPageStore open(
      String name, Path file, long capacityBytes, int pageBytes, NvmeOptions options) {
    long pages = pagesFor(name, capacityBytes, pageBytes);
    if (!DirectIo.isAvailable()) {
      throw new UnsupportedOperationException(
          "tier '" + name + "': the slab store needs Linux: " + DirectIo.unavailabilityCause(),
          DirectIo.unavailabilityCause());
    }
    long slotBytes = HEADER_BLOCK + roundUp(pageBytes);
    long fileBytes = HEADER_BLOCK + pages * slotBytes;
    String path = file.toAbsolutePath().toString();
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      try {
        java.nio.file.Files.createDirectories(parent);
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(
            "tier '" + name + "': cannot create the directory " + parent, e);
      }
    }
    int flags = DirectIo.O_RDWR | DirectIo.O_CREAT | DirectIo.O_CLOEXEC;
    boolean direct = options.directIo();
    int fd = -1;
    try {
      try {
        fd = DirectIo.open(path, flags | (direct ? DirectIo.O_DIRECT : 0), 0644);
      } catch (DirectIo.ErrnoException e) {
        if (!direct || e.errno() != DirectIo.EINVAL) {
          throw e;
        }
        LOG.log(
            System.Logger.Level.INFO,
            "tier ''{0}'': O_DIRECT unsupported for {1}; using buffered I/O",
            name,
            path);
        direct = false;
        fd = DirectIo.open(path, flags, 0644);
      }
      try {
        DirectIo.lockExclusive(fd);
      } catch (DirectIo.ErrnoException e) {
        throw new IllegalStateException(
            "tier '"
                + name
                + "': slab file "
                + path
                + " is in use by another open store; close it first or use another file",
            e);
      }
      long scan;
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment superblock = arena.allocate(HEADER_BLOCK, DirectIo.ALIGN);
        MemorySegment state = DirectIo.callState(arena);
        long existing = java.nio.file.Files.size(file);
        scan = 0;
        if (existing >= HEADER_BLOCK) {
          DirectIo.readFully(fd, superblock, 0, state);
          scan = existingSlots(name, path, superblock, pageBytes, slotBytes);
        } else if (existing > 0) {
          throw new IllegalStateException(
              "tier '"
                  + name
                  + "': "
                  + path
                  + " is not a kvtier slab file; refusing to overwrite it");
        }
        DirectIo.allocate(fd, 0, fileBytes);
        if (scan != pages) {
          superblock.fill((byte) 0);
          superblock.set(I32, 0, SUPER_MAGIC);
          superblock.set(U16, 4, (short) SUPER_VERSION);
          superblock.set(I32, 8, pageBytes);
          superblock.set(I32, 12, HEADER_BLOCK);
          superblock.set(I64, 16, slotBytes);
          superblock.set(I64, 24, pages);
          superblock.set(I32, 32, NvmePageHeader.crc(superblock.asSlice(0, 32)));
          DirectIo.writeFully(fd, superblock, 0, state);
        }
      }
      return new SlabPageStore(
          name, file, pageBytes, pages, options, fd, direct, Math.min(scan, pages));
    } catch (IOException e) {
      closeQuietly(fd, e);
      throw new UncheckedIOException(
          "tier '"
              + name
              + "': cannot open slab file "
              + path
              + " of "
              + fileBytes
              + " bytes: "
              + e.getMessage(),
          e);
    } catch (RuntimeException e) {
      closeQuietly(fd, e);
      throw e;
    }
  }

  /** Slots of an existing slab of the same geometry, or 0 when there is none to recover. */
  private static long existingSlots(
      String name, String path, MemorySegment superblock, int pageBytes, long slotBytes) {
    if (superblock.get(I32, 0) != SUPER_MAGIC
        || superblock.get(I32, 32) != NvmePageHeader.crc(superblock.asSlice(0, 32))) {
      boolean empty = superblock.asSlice(0, 36).mismatch(MemorySegment.ofArray(new byte[36])) < 0;
      if (!empty) {
        throw new IllegalStateException(
            "tier '"
                + name
                + "': "
                + path
                + " is not a kvtier slab file; refusing to overwrite it");
      }
      return 0;
    }
    int storedPage = superblock.get(I32, 8);
    if (storedPage != pageBytes
        || superblock.get(I64, 16) != slotBytes
        || superblock.get(U16, 4) != SUPER_VERSION) {
      throw new IllegalStateException(
          "tier '"
              + name
              + "': slab file "
              + path
              + " holds pages of "
              + storedPage
              + " bytes, not "
              + pageBytes
              + "; delete it or use another file for this layout");
    }
    return superblock.get(I64, 24);
  }

  private static void closeQuietly(int fd, Exception primary) {
    if (fd >= 0) {
      try {
        DirectIo.close(fd);
      } catch (IOException e) {
        primary.addSuppressed(e);
      }
    }
  }

  private long offset(long slot) {
    return HEADER_BLOCK + slot * slotBytes;
  }

  @Override
  public synchronized long allocate(long hint) {
    long slot = super.allocate(hint);
    if (slot >= 0) {
      stale.clear((int) slot);
    }
    return slot;
  }

  private void checkFits(long headerBytes, int tokens) {
    if (headerBytes > HEADER_BLOCK) {
      throw new IllegalArgumentException(
          "tier '"
              + name
              + "': a block of "
              + tokens
              + " tokens does not fit the slab's header block (at most "
              + MAX_TOKENS
              + " token ids)");
    }
  }

  /** Pieces of {@link #CHUNK} bytes (the last one shorter) that cover {@code bytes}. */
  private static int chunks(long bytes) {
    return (int) ((bytes + CHUNK - 1) / CHUNK);
  }

  /** Piece {@code i} of a payload region of {@code region} bytes. */
  private static MemorySegment chunk(MemorySegment buffer, long region, int i) {
    long from = (long) i * CHUNK;
    return buffer.asSlice(from, Math.min(CHUNK, region - from));
  }

  /**
   * The AIO context of {@code scratch}, or null when pages move in one synchronous call each
   * (buffered I/O, or the kernel refused a context: logged once, and the store stays synchronous).
   */
  private AsyncIo asyncIo(Scratch scratch) {
    if (!pipelined) {
      return null;
    }
    try {
      return scratch.asyncIo(DEPTH);
    } catch (IOException e) {
      if (pipelined) {
        pipelined = false;
        LOG.log(
            System.Logger.Level.INFO,
            "tier ''{0}'': native AIO is unavailable ({1}); pages move in one synchronous call each,"
                + " checksummed after the read",
            name,
            e.getMessage());
      }
      return null;
    }
  }

  /**
   * Writes the payload in {@link #CHUNK} pieces, {@link #WINDOW} in flight, checksumming (and, for
   * a caller buffer that cannot take direct I/O, copying) each piece before it is submitted; the
   * header block, which needs the finished CRC, goes last, in flight with the last pieces. A write
   * cut short leaves a header whose CRCs reject the mix of old and new bytes.
   */
  @Override
  void storePage(
      long slot,
      BlockRecord block,
      int flags,
      int pageBytes,
      MemorySegment payload,
      Scratch scratch)
      throws IOException {
    int tokens = block == null ? 0 : block.tokenCount();
    int headerBytes = NvmePageHeader.bytesFor(tokens);
    checkFits(headerBytes, tokens);
    AsyncIo aio = asyncIo(scratch);
    if (aio == null) {
      super.storePage(slot, block, flags, pageBytes, payload, scratch);
      return;
    }
    long length = payload.byteSize();
    long region = roundUp(length);
    boolean direct = directlyUsable(payload) && region == length;
    MemorySegment data = direct ? payload : scratch.bounce(region).asSlice(0, region);
    MemorySegment header = scratch.headerBuffer(HEADER_BLOCK).asSlice(0, HEADER_BLOCK);
    long base = offset(slot);
    int chunks = chunks(region);
    CRC32C crc = scratch.crc();
    try {
      for (int i = 0; i < chunks; i++) {
        MemorySegment piece = chunk(data, region, i);
        long from = (long) i * CHUNK;
        long bytes = Math.min(piece.byteSize(), length - from);
        if (!direct) {
          MemorySegment.copy(payload, from, data, from, bytes);
          piece.asSlice(bytes).fill((byte) 0);
        }
        NvmePageHeader.update(crc, piece.asSlice(0, bytes));
        if (i >= WINDOW) {
          aio.await(i - WINDOW);
        }
        aio.write(i, fd, piece, base + HEADER_BLOCK + from);
        aio.submit();
      }
      NvmePageHeader.encode(header, block, flags, pageBytes, (int) length, (int) crc.getValue());
      header.asSlice(headerBytes).fill((byte) 0);
      aio.write(chunks, fd, header, base);
      aio.submit();
      aio.drain();
    } catch (IOException | RuntimeException e) {
      aio.abort();
      throw e;
    }
  }

  @Override
  void store(long slot, MemorySegment header, MemorySegment payload, Scratch scratch)
      throws IOException {
    checkFits(header.byteSize(), NvmePageHeader.tokenCount(header));
    MemorySegment block = scratch.headerBuffer(HEADER_BLOCK).asSlice(0, HEADER_BLOCK);
    if (block.address() != header.address()) {
      MemorySegment.copy(header, 0, block, 0, header.byteSize());
    }
    block.asSlice(header.byteSize()).fill((byte) 0);
    long length = payload.byteSize();
    long region = roundUp(length);
    MemorySegment data = payload;
    if (!directlyUsable(payload) || region != length) {
      data = scratch.bounce(region).asSlice(0, region);
      MemorySegment.copy(payload, 0, data, 0, length);
      data.asSlice(length).fill((byte) 0);
    }
    IoState io = scratch.io();
    if (region == 0) {
      DirectIo.writeFully(fd, block, offset(slot), io.state);
    } else {
      DirectIo.writeTwo(fd, block, data, offset(slot), io.iov, io.state);
    }
  }

  @Override
  Loaded load(long slot, MemorySegment dst, Scratch scratch) throws IOException {
    MemorySegment block = scratch.headerBuffer(HEADER_BLOCK).asSlice(0, HEADER_BLOCK);
    MemorySegment region =
        directlyUsable(dst) && dst.byteSize() == payloadRegion
            ? dst
            : scratch.bounce(payloadRegion).asSlice(0, payloadRegion);
    IoState io = scratch.io();
    DirectIo.readTwo(fd, block, region, offset(slot), io.iov, io.state);
    if (isEmpty(block)) {
      return null;
    }
    int status = NvmePageHeader.checkHeader(block);
    if (status != NvmePageHeader.VALID) {
      return new Loaded(status, block, MemorySegment.NULL);
    }
    int length = NvmePageHeader.payloadBytes(block);
    if (length > payloadRegion) {
      return new Loaded(NvmePageHeader.BAD_LENGTH, block, MemorySegment.NULL);
    }
    return new Loaded(NvmePageHeader.VALID, block, region.asSlice(0, length));
  }

  /**
   * Reads the header block with the first {@link #CHUNK} of the payload in one request and the next
   * pieces behind it, {@link #WINDOW} in flight, and checksums each piece as it arrives while the
   * device works on the following ones: only the last piece's CRC is not hidden behind I/O. The
   * header is checked as soon as it arrives; pieces past the stored payload (an LZ4 page) are not
   * requested once the header says so. Nothing is in flight when this returns or throws.
   */
  @Override
  Loaded loadVerified(long slot, MemorySegment dst, Scratch scratch) throws IOException {
    AsyncIo aio = asyncIo(scratch);
    if (aio == null) {
      return super.loadVerified(slot, dst, scratch);
    }
    MemorySegment block = scratch.headerBuffer(HEADER_BLOCK).asSlice(0, HEADER_BLOCK);
    MemorySegment region =
        directlyUsable(dst) && dst.byteSize() == payloadRegion
            ? dst
            : scratch.bounce(payloadRegion).asSlice(0, payloadRegion);
    long base = offset(slot) + HEADER_BLOCK;
    int chunks = chunks(payloadRegion);
    try {
      aio.readTwo(0, fd, block, chunk(region, payloadRegion, 0), offset(slot));
      int next = 1;
      for (; next < Math.min(WINDOW, chunks); next++) {
        aio.read(next, fd, chunk(region, payloadRegion, next), base + (long) next * CHUNK);
      }
      aio.submit();
      aio.await(0);
      Loaded loaded = verify(aio, block, region, base, next, scratch);
      aio.drain();
      return loaded;
    } catch (IOException | RuntimeException e) {
      aio.abort();
      throw e;
    }
  }

  /** The rest of {@link #loadVerified} once the header block and the first piece are in. */
  private Loaded verify(
      AsyncIo aio,
      MemorySegment block,
      MemorySegment region,
      long base,
      int submitted,
      Scratch scratch)
      throws IOException {
    if (isEmpty(block)) {
      return null;
    }
    int status = NvmePageHeader.checkHeader(block);
    if (status != NvmePageHeader.VALID) {
      return new Loaded(status, block, MemorySegment.NULL);
    }
    int length = NvmePageHeader.payloadBytes(block);
    if (length > payloadRegion) {
      return new Loaded(NvmePageHeader.BAD_LENGTH, block, MemorySegment.NULL);
    }
    int needed = chunks(length);
    int next = submitted;
    CRC32C crc = scratch.crc();
    for (int i = 0; i < needed; i++) {
      if (i > 0) {
        aio.await(i);
      }
      if (next < needed) {
        aio.read(next, fd, chunk(region, payloadRegion, next), base + (long) next * CHUNK);
        aio.submit();
        next++;
      }
      long from = (long) i * CHUNK;
      NvmePageHeader.update(crc, region.asSlice(from, Math.min(CHUNK, length - from)));
    }
    status =
        (int) crc.getValue() == NvmePageHeader.payloadCrc(block)
            ? NvmePageHeader.VALID
            : NvmePageHeader.BAD_CHECKSUM;
    return new Loaded(status, block, region.asSlice(0, length));
  }

  @Override
  synchronized void erase(long slot) {
    stale.set((int) slot);
  }

  @Override
  void scan(HeaderVisitor visitor) throws IOException {
    try (Arena arena = Arena.ofConfined()) {
      Scratch scratch = new Scratch(arena);
      try {
        MemorySegment block = arena.allocate(HEADER_BLOCK, DirectIo.ALIGN);
        IoState io = scratch.io();
        for (long slot = 0; slot < scanSlots; slot++) {
          DirectIo.readFully(fd, block, offset(slot), io.state);
          if (!isEmpty(block)) {
            visitor.header(slot, block, scratch);
          }
        }
      } finally {
        scratch.closeAsyncIo();
      }
    }
  }

  @Override
  void release() throws IOException {
    IOException failure = null;
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment zero = arena.allocate(HEADER_BLOCK, DirectIo.ALIGN);
      MemorySegment state = DirectIo.callState(arena);
      BitSet toZero;
      synchronized (this) {
        toZero = (BitSet) stale.clone();
      }
      for (int slot = toZero.nextSetBit(0); slot >= 0; slot = toZero.nextSetBit(slot + 1)) {
        DirectIo.writeFully(fd, zero, offset(slot), state);
      }
    } catch (IOException e) {
      failure = e;
      LOG.log(
          System.Logger.Level.WARNING,
          "tier ''{0}'': could not clear freed slots at close; they may be recovered: {1}",
          name,
          e.getMessage());
    } finally {
      try {
        DirectIo.close(fd);
      } catch (IOException e) {
        failure = failure == null ? e : failure;
      }
    }
    if (failure != null && !isDegraded()) {
      throw failure;
    }
  }

  /** The file descriptor, for tests that make system calls fail. */
  int fd() {
    return fd;
  }

  /** Whether pages move in pieces through native AIO (see {@link #loadVerified}). */
  boolean pipelined() {
    return pipelined;
  }

  /** Whether reads and writes bypass the page cache. */
  boolean directIo() {
    return directIo;
  }

  @Override
  public String toString() {
    return "NvmeTier.slab["
        + name
        + ", "
        + file
        + ", "
        + capacityPages
        + " x "
        + pageBytes
        + " B, direct="
        + directIo
        + "]";
  }

  private static boolean directlyUsable(MemorySegment segment) {
    return segment.isNative()
        && !segment.isReadOnly()
        && (segment.address() & (DirectIo.ALIGN - 1)) == 0
        && (segment.byteSize() & (DirectIo.ALIGN - 1)) == 0;
  }

  private static boolean isEmpty(MemorySegment block) {
    for (long i = 0; i < NvmePageHeader.FIXED_BYTES; i += 8) {
      if (block.get(ValueLayout.JAVA_LONG_UNALIGNED, i) != 0) {
        return false;
      }
    }
    return true;
  }

  /** Per-call native state for the downcalls: an iovec pair and errno capture. */
  record IoState(MemorySegment iov, MemorySegment state) {}
}
