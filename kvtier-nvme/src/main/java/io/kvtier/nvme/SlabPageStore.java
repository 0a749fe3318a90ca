package io.kvtier.nvme;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.BitSet;

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
 * payload region starts 4096-aligned and a page moves in one vectored direct I/O: {@code pwritev} /
 * {@code preadv} of the header block (a scratch buffer) and the payload region. When the caller's
 * segment is itself 4096-aligned and a whole number of 4 KiB blocks (as an engine's pinned staging
 * buffers are), the payload goes straight between it and the device: no copy. Otherwise it passes
 * through an aligned bounce buffer. A header block holds up to {@value #MAX_TOKENS} token ids.
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
 * AbstractNvmeStore}). A write is one system call, so a process killed mid-write leaves either the
 * old or the new page, or (on power loss) a torn one that the CRCs reject.
 */
final class SlabPageStore extends AbstractNvmeStore {

  static final String FILE_NAME = "pages.slab";
  static final int HEADER_BLOCK = DirectIo.ALIGN;
  static final int MAX_TOKENS = (HEADER_BLOCK - NvmePageHeader.FIXED_BYTES) / 4;

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

  @Override
  void store(long slot, MemorySegment header, MemorySegment payload, Scratch scratch)
      throws IOException {
    if (header.byteSize() > HEADER_BLOCK) {
      throw new IllegalArgumentException(
          "tier '"
              + name
              + "': a block of "
              + NvmePageHeader.tokenCount(header)
              + " tokens does not fit the slab's header block (at most "
              + MAX_TOKENS
              + " token ids)");
    }
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

  @Override
  synchronized void erase(long slot) {
    stale.set((int) slot);
  }

  @Override
  void scan(HeaderVisitor visitor) throws IOException {
    try (Arena arena = Arena.ofConfined()) {
      Scratch scratch = new Scratch(arena);
      MemorySegment block = arena.allocate(HEADER_BLOCK, DirectIo.ALIGN);
      IoState io = scratch.io();
      for (long slot = 0; slot < scanSlots; slot++) {
        DirectIo.readFully(fd, block, offset(slot), io.state);
        if (!isEmpty(block)) {
          visitor.header(slot, block, scratch);
        }
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
