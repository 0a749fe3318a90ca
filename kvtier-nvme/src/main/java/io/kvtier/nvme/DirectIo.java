package io.kvtier.nvme;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The libc calls the slab store makes, through FFM downcalls: {@code open(2)} with {@code
 * O_DIRECT}, {@code pread}/{@code pwrite} and their vectored forms, {@code posix_fallocate}, {@code
 * flock}, {@code close}. Every call that can fail captures {@code errno} and turns it into an
 * {@link IOException} naming the call and the error ({@code strerror}).
 *
 * <p>Direct I/O needs buffers, lengths and file offsets aligned to the device's logical block;
 * callers use {@value #ALIGN} bytes for all three (segments from {@code Arena.allocate(size,
 * 4096)}), which satisfies every common device.
 *
 * <p>Linux only ({@code O_DIRECT}'s value differs between architectures and is set here for x86-64
 * and AArch64). {@link #isAvailable()} and {@link #unavailabilityCause()} say whether it loaded.
 */
@SuppressWarnings("restricted")
final class DirectIo {

  static final int ALIGN = 4096;

  static final int O_RDWR = 2;
  static final int O_CREAT = 0x40;
  static final int O_CLOEXEC = 0x80000;
  static final int O_DIRECT;
  static final int EINVAL = 22;
  static final int EINTR = 4;
  static final int EAGAIN = 11;
  static final int LOCK_EX = 2;
  static final int LOCK_NB = 4;

  private static final StructLayout IOVEC =
      MemoryLayout.structLayout(
          ValueLayout.ADDRESS.withName("iov_base"), ValueLayout.JAVA_LONG.withName("iov_len"));
  private static final VarHandle IOV_BASE =
      IOVEC.arrayElementVarHandle(MemoryLayout.PathElement.groupElement("iov_base"));
  private static final VarHandle IOV_LEN =
      IOVEC.arrayElementVarHandle(MemoryLayout.PathElement.groupElement("iov_len"));

  private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
  private static final VarHandle ERRNO =
      CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

  private static final MethodHandle OPEN;
  private static final MethodHandle CLOSE;
  private static final MethodHandle PREAD;
  private static final MethodHandle PWRITE;
  private static final MethodHandle PREADV;
  private static final MethodHandle PWRITEV;
  private static final MethodHandle FALLOCATE;
  private static final MethodHandle FLOCK;
  private static final MethodHandle STRERROR;
  private static final Throwable UNAVAILABILITY_CAUSE;

  static {
    String arch = System.getProperty("os.arch");
    O_DIRECT = arch.equals("aarch64") ? 0x10000 : 0x4000;
    MethodHandle open = null;
    MethodHandle close = null;
    MethodHandle pread = null;
    MethodHandle pwrite = null;
    MethodHandle preadv = null;
    MethodHandle pwritev = null;
    MethodHandle fallocate = null;
    MethodHandle flock = null;
    MethodHandle strerror = null;
    Throwable cause = null;
    try {
      String os = System.getProperty("os.name");
      if (!os.startsWith("Linux") || !(arch.equals("amd64") || arch.equals("aarch64"))) {
        throw new UnsupportedOperationException(
            "direct I/O is implemented for Linux on x86-64 and AArch64, not " + os + "/" + arch);
      }
      Linker linker = Linker.nativeLinker();
      SymbolLookup libc = linker.defaultLookup();
      Linker.Option errno = Linker.Option.captureCallState("errno");
      ValueLayout.OfInt i32 = ValueLayout.JAVA_INT;
      ValueLayout.OfLong i64 = ValueLayout.JAVA_LONG;
      ValueLayout ptr = ValueLayout.ADDRESS;
      open =
          linker.downcallHandle(
              libc.findOrThrow("open"),
              FunctionDescriptor.of(i32, ptr, i32, i32),
              errno,
              Linker.Option.firstVariadicArg(2));
      close =
          linker.downcallHandle(libc.findOrThrow("close"), FunctionDescriptor.of(i32, i32), errno);
      pread =
          linker.downcallHandle(
              libc.findOrThrow("pread"), FunctionDescriptor.of(i64, i32, ptr, i64, i64), errno);
      pwrite =
          linker.downcallHandle(
              libc.findOrThrow("pwrite"), FunctionDescriptor.of(i64, i32, ptr, i64, i64), errno);
      preadv =
          linker.downcallHandle(
              libc.findOrThrow("preadv"), FunctionDescriptor.of(i64, i32, ptr, i32, i64), errno);
      pwritev =
          linker.downcallHandle(
              libc.findOrThrow("pwritev"), FunctionDescriptor.of(i64, i32, ptr, i32, i64), errno);
      fallocate =
          linker.downcallHandle(
              libc.findOrThrow("posix_fallocate"), FunctionDescriptor.of(i32, i32, i64, i64));
      flock =
          linker.downcallHandle(
              libc.findOrThrow("flock"), FunctionDescriptor.of(i32, i32, i32), errno);
      strerror =
          linker.downcallHandle(libc.findOrThrow("strerror"), FunctionDescriptor.of(ptr, i32));
    } catch (Throwable t) {
      cause = t;
    }
    OPEN = open;
    CLOSE = close;
    PREAD = pread;
    PWRITE = pwrite;
    PREADV = preadv;
    PWRITEV = pwritev;
    FALLOCATE = fallocate;
    FLOCK = flock;
    STRERROR = strerror;
    UNAVAILABILITY_CAUSE = cause;
  }

  private DirectIo() {}

  /**
   * Whether the downcalls linked.
   *
   * @return true on Linux x86-64 and AArch64 with native access enabled
   */
  static boolean isAvailable() {
    return UNAVAILABILITY_CAUSE == null;
  }

  /**
   * Why the downcalls did not link.
   *
   * @return the cause, or null when available
   */
  static Throwable unavailabilityCause() {
    return UNAVAILABILITY_CAUSE;
  }

  private static void ensureAvailable() throws IOException {
    if (UNAVAILABILITY_CAUSE != null) {
      throw new IOException("direct I/O is unavailable", UNAVAILABILITY_CAUSE);
    }
  }

  /** Thrown for a failed call; carries errno. */
  static final class ErrnoException extends IOException {
    private static final long serialVersionUID = 1L;
    private final int errno;

    ErrnoException(String call, int errno) {
      super(call + " failed: " + describe(errno) + " (errno " + errno + ")");
      this.errno = errno;
    }

    int errno() {
      return errno;
    }
  }

  static String describe(int errno) {
    try {
      MemorySegment s = (MemorySegment) STRERROR.invokeExact(errno);
      return s.reinterpret(256).getString(0);
    } catch (Throwable t) {
      return "error " + errno;
    }
  }

  static int open(String path, int flags, int mode) throws IOException {
    ensureAvailable();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment state = arena.allocate(CAPTURE);
      MemorySegment cpath = arena.allocateFrom(path);
      int fd = (int) OPEN.invokeExact(state, cpath, flags, mode);
      if (fd < 0) {
        throw new ErrnoException("open(" + path + ")", errno(state));
      }
      return fd;
    } catch (IOException | RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IOException(t);
    }
  }

  static void close(int fd) throws IOException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment state = arena.allocate(CAPTURE);
      if ((int) CLOSE.invokeExact(state, fd) != 0) {
        throw new ErrnoException("close", errno(state));
      }
    } catch (IOException | RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IOException(t);
    }
  }

  static void lockExclusive(int fd) throws IOException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment state = arena.allocate(CAPTURE);
      if ((int) FLOCK.invokeExact(state, fd, LOCK_EX | LOCK_NB) != 0) {
        throw new ErrnoException("flock", errno(state));
      }
    } catch (IOException | RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IOException(t);
    }
  }

  static void allocate(int fd, long offset, long length) throws IOException {
    try {
      int rc = (int) FALLOCATE.invokeExact(fd, offset, length);
      if (rc != 0) {
        throw new ErrnoException("posix_fallocate", rc);
      }
    } catch (IOException | RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IOException(t);
    }
  }

  /**
   * Reads exactly {@code buf.byteSize()} bytes at {@code offset}, retrying on EINTR and short
   * reads; reaching the end of the file first is an error.
   */
  static void readFully(int fd, MemorySegment buf, long offset, MemorySegment state)
      throws IOException {
    long done = 0;
    long size = buf.byteSize();
    while (done < size) {
      long n;
      try {
        n = (long) PREAD.invokeExact(state, fd, buf.asSlice(done), size - done, offset + done);
      } catch (Throwable t) {
        throw new IOException(t);
      }
      if (n < 0) {
        int err = errno(state);
        if (err == EINTR || err == EAGAIN) {
          continue;
        }
        throw new ErrnoException("pread", err);
      }
      if (n == 0) {
        throw new IOException("pread: end of file at offset " + (offset + done));
      }
      done += n;
    }
  }

  /** Writes all of {@code buf} at {@code offset}, retrying on EINTR and short writes. */
  static void writeFully(int fd, MemorySegment buf, long offset, MemorySegment state)
      throws IOException {
    long done = 0;
    long size = buf.byteSize();
    while (done < size) {
      long n;
      try {
        n = (long) PWRITE.invokeExact(state, fd, buf.asSlice(done), size - done, offset + done);
      } catch (Throwable t) {
        throw new IOException(t);
      }
      if (n < 0) {
        int err = errno(state);
        if (err == EINTR || err == EAGAIN) {
          continue;
        }
        throw new ErrnoException("pwrite", err);
      }
      done += n;
    }
  }

  /**
   * One vectored read of two buffers at {@code offset}: the header block and the payload region.
   * Falls back to {@link #readFully} per buffer on a short transfer.
   */
  static void readTwo(
      int fd, MemorySegment a, MemorySegment b, long offset, MemorySegment iov, MemorySegment state)
      throws IOException {
    long total = a.byteSize() + b.byteSize();
    fillIov(iov, a, b);
    long n;
    try {
      n = (long) PREADV.invokeExact(state, fd, iov, 2, offset);
    } catch (Throwable t) {
      throw new IOException(t);
    }
    if (n == total) {
      return;
    }
    if (n < 0 && errno(state) != EINTR && errno(state) != EAGAIN) {
      throw new ErrnoException("preadv", errno(state));
    }
    readFully(fd, a, offset, state);
    readFully(fd, b, offset + a.byteSize(), state);
  }

  /** One vectored write of two buffers at {@code offset}, completing a short transfer. */
  static void writeTwo(
      int fd, MemorySegment a, MemorySegment b, long offset, MemorySegment iov, MemorySegment state)
      throws IOException {
    long total = a.byteSize() + b.byteSize();
    fillIov(iov, a, b);
    long n;
    try {
      n = (long) PWRITEV.invokeExact(state, fd, iov, 2, offset);
    } catch (Throwable t) {
      throw new IOException(t);
    }
    if (n == total) {
      return;
    }
    if (n < 0 && errno(state) != EINTR && errno(state) != EAGAIN) {
      throw new ErrnoException("pwritev", errno(state));
    }
    writeFully(fd, a, offset, state);
    writeFully(fd, b, offset + a.byteSize(), state);
  }

  /** A two-element iovec array. */
  static MemorySegment iov(Arena arena) {
    return arena.allocate(IOVEC, 2);
  }

  /** Memory for the captured errno of one call at a time. */
  static MemorySegment callState(Arena arena) {
    return arena.allocate(CAPTURE);
  }

  private static void fillIov(MemorySegment iov, MemorySegment a, MemorySegment b) {
    IOV_BASE.set(iov, 0L, 0L, a);
    IOV_LEN.set(iov, 0L, 0L, a.byteSize());
    IOV_BASE.set(iov, 0L, 1L, b);
    IOV_LEN.set(iov, 0L, 1L, b.byteSize());
  }

  private static int errno(MemorySegment state) {
    return (int) ERRNO.get(state, 0L);
  }
}
