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
 * The baseline: a preallocated file read and written with {@code O_DIRECT} {@code pread}/{@code
 * pwrite} through FFM, nothing else. Linux on x86-64 or AArch64; buffers 4096-aligned.
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
  private static final int O_RDWR = 2;
  private static final int O_CREAT = 0x40;
  private static final int O_DIRECT =
      System.getProperty("os.arch").equals("aarch64") ? 0x10000 : 0x4000;

  private final int fd;

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

  @Override
  public void close() throws IOException {
    try {
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
