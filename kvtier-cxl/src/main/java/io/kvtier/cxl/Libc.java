package io.kvtier.cxl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Locale;

/**
 * The few Linux libc calls the CXL tier needs, as FFM downcalls: {@code mmap}, {@code munmap},
 * {@code madvise}, {@code open}, {@code close}, {@code flock}, and {@code syscall} for the NUMA
 * memory-policy calls ({@code mbind}, {@code get_mempolicy}), which glibc does not export (they
 * live in libnuma, which kvtier does not require).
 *
 * <p>Every call captures {@code errno}; failures come back as {@link NativeException} carrying it.
 * All constants are the Linux values shared by x86_64 and aarch64. The JVM needs {@code
 * --enable-native-access=ALL-UNNAMED} (or the module's name) to make these calls without a warning.
 */
@SuppressWarnings("restricted") // downcalls and sizing what mmap returns are its purpose
final class Libc {
  private Libc() {}

  static final int PROT_READ = 0x1;
  static final int PROT_WRITE = 0x2;
  static final int MAP_SHARED = 0x01;
  static final int MAP_PRIVATE = 0x02;
  static final int MAP_ANONYMOUS = 0x20;
  static final int MAP_NORESERVE = 0x4000;
  static final int O_RDWR = 0x2;
  static final int O_CLOEXEC = 0x80000;
  static final int LOCK_EX = 2;
  static final int LOCK_NB = 4;
  static final int MADV_HUGEPAGE = 14;
  static final int MPOL_BIND = 2;
  static final int MPOL_F_NODE = 1;
  static final int MPOL_F_ADDR = 2;
  static final int EWOULDBLOCK = 11;

  private static final Linker LINKER = Linker.nativeLinker();
  private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
  private static final VarHandle ERRNO =
      CAPTURE.varHandle(PathElement.groupElement("errno")).withInvokeExactBehavior();
  private static final Linker.Option ERRNO_OPTION = Linker.Option.captureCallState("errno");

  private static final MethodHandle MMAP =
      downcall(
          "mmap",
          FunctionDescriptor.of(
              ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
  private static final MethodHandle MUNMAP =
      downcall("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
  private static final MethodHandle MADVISE =
      downcall("madvise", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
  private static final MethodHandle OPEN =
      downcall("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), 2);
  private static final MethodHandle CLOSE =
      downcall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
  private static final MethodHandle FLOCK =
      downcall("flock", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
  private static final MethodHandle SYSCALL6 =
      downcall(
          "syscall",
          FunctionDescriptor.of(
              JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
              JAVA_LONG),
          1);

  /** System call numbers of the memory-policy calls on this machine's architecture. */
  enum Syscalls {
    X86_64(237, 239),
    AARCH64(235, 236);

    final long mbind;
    final long getMempolicy;

    Syscalls(long mbind, long getMempolicy) {
      this.mbind = mbind;
      this.getMempolicy = getMempolicy;
    }

    /** The numbers for {@code os.arch}, or null where kvtier does not know them. */
    static Syscalls forArch(String arch) {
      return switch (arch.toLowerCase(Locale.ROOT)) {
        case "amd64", "x86_64" -> X86_64;
        case "aarch64", "arm64" -> AARCH64;
        default -> null;
      };
    }
  }

  /** A failed libc call: the function's name and {@code errno}. */
  static final class NativeException extends Exception {
    private static final long serialVersionUID = 1L;
    final int errno;

    NativeException(String function, int errno) {
      super(function + " failed: errno " + errno + " (" + describe(errno) + ")");
      this.errno = errno;
    }

    private static String describe(int errno) {
      return switch (errno) {
        case 1 -> "EPERM";
        case 2 -> "ENOENT";
        case 12 -> "ENOMEM";
        case 13 -> "EACCES";
        case 11 -> "EAGAIN";
        case 19 -> "ENODEV";
        case 22 -> "EINVAL";
        case 38 -> "ENOSYS";
        default -> "see errno(3)";
      };
    }
  }

  static boolean isLinux() {
    return System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux");
  }

  private static MethodHandle downcall(String name, FunctionDescriptor fd) {
    return LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow(name), fd, ERRNO_OPTION);
  }

  private static MethodHandle downcall(String name, FunctionDescriptor fd, int firstVariadic) {
    return LINKER.downcallHandle(
        LINKER.defaultLookup().findOrThrow(name),
        fd,
        ERRNO_OPTION,
        Linker.Option.firstVariadicArg(firstVariadic));
  }

  /** {@code mmap}; returns the mapping as a zero-length-bounded segment of {@code length}. */
  static MemorySegment mmap(long length, int prot, int flags, int fd, long offset)
      throws NativeException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment state = arena.allocate(CAPTURE);
      MemorySegment addr =
          (MemorySegment)
              MMAP.invokeExact(state, MemorySegment.NULL, length, prot, flags, fd, offset);
      if (addr.address() == -1L) {
        throw new NativeException("mmap", errno(state));
      }
      return addr.reinterpret(length);
    } catch (NativeException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("mmap downcall", t);
    }
  }

  static void munmap(MemorySegment addr, long length) throws NativeException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment state = arena.allocate(CAPTURE);
      if ((int) MUNMAP.invokeExact(state, addr, length) != 0) {
        throw new NativeException("munmap", errno(state));
      }
    } catch (NativeException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("munmap downcall", t);
    }
  }

  static void madvise(MemorySegment addr, long length, int advice) throws NativeException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment state = arena.allocate(CAPTURE);
      int rc = (int) MADVISE.invokeExact(state, addr, length, advice);
      if (rc != 0) {
        throw new NativeException("madvise", errno(state));
      }
    } catch (NativeException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("madvise downcall", t);
    }
  }

  static int open(String path, int flags) throws NativeException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment state = arena.allocate(CAPTURE);
      int fd = (int) OPEN.invokeExact(state, arena.allocateFrom(path), flags);
      if (fd < 0) {
        throw new NativeException("open " + path, errno(state));
      }
      return fd;
    } catch (NativeException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("open downcall", t);
    }
  }

  static void close(int fd) throws NativeException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment state = arena.allocate(CAPTURE);
      if ((int) CLOSE.invokeExact(state, fd) != 0) {
        throw new NativeException("close", errno(state));
      }
    } catch (NativeException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("close downcall", t);
    }
  }

  static void flock(int fd, int operation) throws NativeException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment state = arena.allocate(CAPTURE);
      if ((int) FLOCK.invokeExact(state, fd, operation) != 0) {
        throw new NativeException("flock", errno(state));
      }
    } catch (NativeException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("flock downcall", t);
    }
  }

  /** {@code syscall(nr, a1..a6)}; returns its result, throwing on -1. */
  static long syscall(String what, long nr, long a1, long a2, long a3, long a4, long a5, long a6)
      throws NativeException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment state = arena.allocate(CAPTURE);
      long rc = (long) SYSCALL6.invokeExact(state, nr, a1, a2, a3, a4, a5, a6);
      if (rc == -1L) {
        throw new NativeException(what, errno(state));
      }
      return rc;
    } catch (NativeException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(what + " downcall", t);
    }
  }

  private static int errno(MemorySegment state) {
    return (int) ERRNO.get(state, 0L);
  }
}
