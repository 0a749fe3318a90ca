package io.kvtier.bench.nvme;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The baseline: a preallocated file read and written with {@code O_DIRECT} through FFM, nothing
 * else. Two ways to move a buffer: {@link #read}/{@link #write}, one {@code pread}/{@code pwrite}
 * of the whole buffer (queue depth 1), and {@link #readPieces}/{@link #writePieces}, the buffer in
 * fixed-size pieces with several in flight through Linux native AIO ({@code io_submit}/{@code
 * io_getevents}), the I/O pattern of the slab store without its checksums and header blocks. Linux
 * on x86-64 or AArch64; buffers, sizes and offsets 4096-aligned.
 */
@SuppressWarnings("restricted")
public final class RawDirectFile implements AutoCloseable {
  private static final Linker LINKER = Linker.nativeLinker();
  private static final SymbolLookup LIBC = LINKER.defaultLookup();
  private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT;
  private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG;
  private static final MethodHandle OPEN =
      LINKER.downcallHandle(
          LIBC.findOrThrow("open"),
          FunctionDescriptor.of(I32, ValueLayout.ADDRESS, I32, I32),
          Linker.Option.firstVariadicArg(2));
  private static final MethodHandle PREAD =
      LINKER.downcallHandle(
          LIBC.findOrThrow("pread"),
          FunctionDescriptor.of(I64, I32, ValueLayout.ADDRESS, I64, I64));
  private static final MethodHandle PWRITE =
      LINKER.downcallHandle(
          LIBC.findOrThrow("pwrite"),
          FunctionDescriptor.of(I64, I32, ValueLayout.ADDRESS, I64, I64));
  private static final MethodHandle FALLOCATE =
      LINKER.downcallHandle(
          LIBC.findOrThrow("posix_fallocate"), FunctionDescriptor.of(I32, I32, I64, I64));
  private static final MethodHandle CLOSE =
      LINKER.downcallHandle(LIBC.findOrThrow("close"), FunctionDescriptor.of(I32, I32));
  private static final MethodHandle SYSCALL3 =
      LINKER.downcallHandle(
          LIBC.findOrThrow("syscall"),
          FunctionDescriptor.of(I64, I64, I64, I64, I64),
          Linker.Option.firstVariadicArg(1));
  private static final MethodHandle SYSCALL5 =
      LINKER.downcallHandle(
          LIBC.findOrThrow("syscall"),
          FunctionDescriptor.of(I64, I64, I64, I64, I64, I64, I64),
          Linker.Option.firstVariadicArg(1));
  private static final boolean ARM = System.getProperty("os.arch").equals("aarch64");
  private static final long IO_SETUP = ARM ? 0 : 206;
  private static final long IO_DESTROY = ARM ? 1 : 207;
  private static final long IO_SUBMIT = ARM ? 2 : 209;
  private static final long IO_GETEVENTS = ARM ? 4 : 208;
  private static final int MAX_DEPTH = 64;
  private static final int O_RDWR = 2;
  private static final int O_CREAT = 0x40;
  private static final int O_DIRECT =
      System.getProperty("os.arch").equals("aarch64") ? 0x10000 : 0x4000;

  private final int fd;
  private final Arena arena = Arena.ofShared();
  private final MemorySegment iocbs = arena.allocate(64L * MAX_DEPTH, 64);
  private final MemorySegment pointer = arena.allocate(ValueLayout.ADDRESS);
  private final MemorySegment events = arena.allocate(32L * MAX_DEPTH, 8);
  private long context;

  /**
   * Opens (creating if missing) and preallocates the file.
   *
   * @param path the file
   * @param bytes bytes to preallocate
   * @throws Throwable when open or posix_fallocate fails
   */
  public RawDirectFile(String path, long bytes) throws Throwable {
    try (Arena arena = Arena.ofConfined()) {
      fd = (int) OPEN.invokeExact(arena.allocateFrom(path), O_RDWR | O_CREAT | O_DIRECT, 0644);
    }
    if (fd < 0) {
      throw new IOException("open(O_DIRECT) failed for " + path);
    }
    if ((int) FALLOCATE.invokeExact(fd, 0L, bytes) != 0) {
      throw new IOException("posix_fallocate failed for " + path);
    }
  }

  /**
   * Writes the whole buffer at {@code offset}.
   *
   * @param buf a 4096-aligned buffer
   * @param offset a 4096-aligned file offset
   * @throws Throwable on a short or failed write
   */
  public void write(MemorySegment buf, long offset) throws Throwable {
    if ((long) PWRITE.invokeExact(fd, buf, buf.byteSize(), offset) != buf.byteSize()) {
      throw new IOException("pwrite failed at " + offset);
    }
  }

  /**
   * Fills the whole buffer from {@code offset}.
   *
   * @param buf a 4096-aligned buffer
   * @param offset a 4096-aligned file offset
   * @throws Throwable on a short or failed read
   */
  public void read(MemorySegment buf, long offset) throws Throwable {
    if ((long) PREAD.invokeExact(fd, buf, buf.byteSize(), offset) != buf.byteSize()) {
      throw new IOException("pread failed at " + offset);
    }
  }

  /**
   * Fills {@code buf} from {@code offset} in pieces of {@code piece} bytes, {@code depth} requests
   * in flight, waiting for them in order (as the slab store does to checksum each piece).
   *
   * @param buf a 4096-aligned buffer
   * @param offset a 4096-aligned file offset
   * @param piece bytes per request, a multiple of 4096
   * @param depth requests in flight, at most 64
   * @throws Throwable on a failed or short request
   */
  public void readPieces(MemorySegment buf, long offset, int piece, int depth) throws Throwable {
    pieces(0, buf, offset, piece, depth);
  }

  /**
   * Writes {@code buf} at {@code offset} in pieces, as {@link #readPieces} reads.
   *
   * @param buf a 4096-aligned buffer
   * @param offset a 4096-aligned file offset
   * @param piece bytes per request, a multiple of 4096
   * @param depth requests in flight, at most 64
   * @throws Throwable on a failed or short request
   */
  public void writePieces(MemorySegment buf, long offset, int piece, int depth) throws Throwable {
    pieces(1, buf, offset, piece, depth);
  }

  private void pieces(int command, MemorySegment buf, long offset, int piece, int depth)
      throws Throwable {
    if (context == 0) {
      MemorySegment holder = arena.allocate(ValueLayout.JAVA_LONG);
      if ((long) SYSCALL3.invokeExact(IO_SETUP, (long) MAX_DEPTH, holder.address(), 0L) != 0) {
        throw new IOException("io_setup failed");
      }
      context = holder.get(ValueLayout.JAVA_LONG, 0);
    }
    int n = (int) ((buf.byteSize() + piece - 1) / piece);
    long[] done = new long[(n + 63) / 64];
    int submitted = 0;
    for (int i = 0; i < n; i++) {
      while (submitted < n && submitted < i + depth) {
        long from = (long) submitted * piece;
        MemorySegment cb = iocbs.asSlice(64L * (submitted % MAX_DEPTH), 64);
        cb.fill((byte) 0);
        cb.set(ValueLayout.JAVA_LONG, 0, submitted);
        cb.set(ValueLayout.JAVA_SHORT, 16, (short) command);
        cb.set(ValueLayout.JAVA_INT, 20, fd);
        cb.set(ValueLayout.JAVA_LONG, 24, buf.address() + from);
        cb.set(ValueLayout.JAVA_LONG, 32, Math.min(piece, buf.byteSize() - from));
        cb.set(ValueLayout.JAVA_LONG, 40, offset + from);
        pointer.set(ValueLayout.ADDRESS, 0, cb);
        if ((long) SYSCALL3.invokeExact(IO_SUBMIT, context, 1L, pointer.address()) != 1) {
          throw new IOException("io_submit failed at " + (offset + from));
        }
        submitted++;
      }
      while ((done[i >> 6] & (1L << i)) == 0) {
        long got =
            (long)
                SYSCALL5.invokeExact(
                    IO_GETEVENTS, context, 1L, (long) MAX_DEPTH, events.address(), 0L);
        for (int e = 0; e < got; e++) {
          int id = (int) events.get(ValueLayout.JAVA_LONG, 32L * e);
          long expected = Math.min(piece, buf.byteSize() - (long) id * piece);
          if (events.get(ValueLayout.JAVA_LONG, 32L * e + 16) != expected) {
            throw new IOException("AIO request " + id + " failed or was short");
          }
          done[id >> 6] |= 1L << id;
        }
      }
    }
  }

  @Override
  public void close() throws IOException {
    try {
      if (context != 0) {
        long ignored = (long) SYSCALL5.invokeExact(IO_DESTROY, context, 0L, 0L, 0L, 0L);
      }
      arena.close();
      int rc = (int) CLOSE.invokeExact(fd);
      if (rc != 0) {
        throw new IOException("close failed");
      }
    } catch (IOException | RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IOException(t);
    }
  }
}
