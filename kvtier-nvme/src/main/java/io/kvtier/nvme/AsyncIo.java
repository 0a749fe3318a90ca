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
 * Several direct reads or writes in flight from one thread, through Linux native AIO ({@code
 * io_setup}, {@code io_submit}, {@code io_getevents}, {@code io_destroy}, called through {@code
 * syscall(2)} as FFM downcalls). The slab store uses it to keep the device busy with the next parts
 * of a page while the calling thread checksums the part that has arrived: no helper threads, no
 * hand-offs.
 *
 * <p>One instance belongs to one thread at a time (a store's scratch) and holds up to {@link
 * #depth()} requests. A request is named by a <em>tag</em>, a non-negative int; tags in flight
 * together must differ modulo {@code depth} (consecutive tags do). {@link #read}, {@link #readTwo}
 * and {@link #write} queue a request; {@link #submit} hands the queue to the kernel in one call;
 * {@link #await} waits for one tag and checks that it moved every byte (a short transfer is
 * completed synchronously, as {@link DirectIo#readFully} would); {@link #drain} waits for all.
 *
 * <p>Buffers must stay valid until their request completes. Every path out of a caller's use must
 * therefore end in {@link #drain} or, when something failed, {@link #abort}, which destroys the
 * context: the kernel waits for the requests still in flight before {@code io_destroy} returns. An
 * aborted instance is dead; the owner makes a new one.
 *
 * <p>With {@code O_DIRECT} the requests really overlap; on a buffered file the kernel performs each
 * one inside {@code io_submit}, which is correct but serial. Linux on x86-64 and AArch64 only;
 * {@link #open} throws where the system calls are missing or refused (seccomp, {@code
 * fs.aio-max-nr} exhausted), and the store then falls back to one synchronous call per page.
 */
@SuppressWarnings("restricted")
final class AsyncIo implements AutoCloseable {

  private static final int IOCB_BYTES = 64;
  private static final int EVENT_BYTES = 32;
  private static final short CMD_PREAD = 0;
  private static final short CMD_PWRITE = 1;
  private static final short CMD_PREADV = 7;

  private static final StructLayout IOVEC =
      MemoryLayout.structLayout(
          ValueLayout.ADDRESS.withName("iov_base"), ValueLayout.JAVA_LONG.withName("iov_len"));

  private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
  private static final VarHandle ERRNO =
      CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

  private static final long SYS_IO_SETUP;
  private static final long SYS_IO_DESTROY;
  private static final long SYS_IO_SUBMIT;
  private static final long SYS_IO_GETEVENTS;
  private static final MethodHandle SYSCALL2;
  private static final MethodHandle SYSCALL3;
  private static final MethodHandle SYSCALL5;
  private static final Throwable UNAVAILABILITY_CAUSE;

  static {
    boolean arm = "aarch64".equals(System.getProperty("os.arch"));
    SYS_IO_SETUP = arm ? 0 : 206;
    SYS_IO_DESTROY = arm ? 1 : 207;
    SYS_IO_SUBMIT = arm ? 2 : 209;
    SYS_IO_GETEVENTS = arm ? 4 : 208;
    MethodHandle s2 = null;
    MethodHandle s3 = null;
    MethodHandle s5 = null;
    Throwable cause = DirectIo.unavailabilityCause();
    if (cause == null) {
      try {
        Linker linker = Linker.nativeLinker();
        SymbolLookup libc = linker.defaultLookup();
        MemorySegment syscall = libc.findOrThrow("syscall");
        Linker.Option errno = Linker.Option.captureCallState("errno");
        Linker.Option variadic = Linker.Option.firstVariadicArg(1);
        ValueLayout.OfLong i64 = ValueLayout.JAVA_LONG;
        s2 =
            linker.downcallHandle(
                syscall, FunctionDescriptor.of(i64, i64, i64, i64), variadic, errno);
        s3 =
            linker.downcallHandle(
                syscall, FunctionDescriptor.of(i64, i64, i64, i64, i64), variadic, errno);
        s5 =
            linker.downcallHandle(
                syscall, FunctionDescriptor.of(i64, i64, i64, i64, i64, i64, i64), variadic, errno);
      } catch (Throwable t) {
        cause = t;
      }
    }
    SYSCALL2 = s2;
    SYSCALL3 = s3;
    SYSCALL5 = s5;
    UNAVAILABILITY_CAUSE = cause;
  }

  private final int depth;
  private final MemorySegment iocbs;
  private final MemorySegment pointers;
  private final MemorySegment iovecs;
  private final MemorySegment events;
  private final MemorySegment state;
  private final MemorySegment syncState;
  private final long context;

  // Per ring slot: the tag it holds (-1 when free), whether it completed, and what it moves.
  private final int[] tags;
  private final boolean[] done;
  private final short[] commands;
  private final int[] fds;
  private final long[] offsets;
  private final MemorySegment[] first;
  private final MemorySegment[] second;

  private int queued;
  private int inFlight;
  private boolean dead;

  private AsyncIo(Arena arena, int depth, long context) {
    this.depth = depth;
    this.context = context;
    this.iocbs = arena.allocate((long) IOCB_BYTES * depth, 64);
    this.pointers = arena.allocate(ValueLayout.ADDRESS, depth);
    this.iovecs = arena.allocate(IOVEC, 2L * depth);
    this.events = arena.allocate((long) EVENT_BYTES * depth, 8);
    this.state = arena.allocate(CAPTURE);
    this.syncState = arena.allocate(CAPTURE);
    this.tags = new int[depth];
    this.done = new boolean[depth];
    this.commands = new short[depth];
    this.fds = new int[depth];
    this.offsets = new long[depth];
    this.first = new MemorySegment[depth];
    this.second = new MemorySegment[depth];
    java.util.Arrays.fill(tags, -1);
  }

  /**
   * Whether the system calls linked (not whether the kernel will grant a context).
   *
   * @return true on Linux x86-64 and AArch64
   */
  static boolean isAvailable() {
    return UNAVAILABILITY_CAUSE == null;
  }

  /**
   * A new AIO context for up to {@code depth} requests in flight, its buffers from {@code arena}.
   *
   * @throws IOException when the kernel refuses a context ({@code ENOSYS}, {@code EPERM}, {@code
   *     EAGAIN} when {@code fs.aio-max-nr} is reached) or the calls are unavailable
   */
  static AsyncIo open(Arena arena, int depth) throws IOException {
    if (UNAVAILABILITY_CAUSE != null) {
      throw new IOException("native AIO is unavailable", UNAVAILABILITY_CAUSE);
    }
    MemorySegment holder = arena.allocate(ValueLayout.JAVA_LONG);
    MemorySegment st = arena.allocate(CAPTURE);
    long rc;
    try {
      rc = (long) SYSCALL2.invokeExact(st, SYS_IO_SETUP, (long) depth, holder.address());
    } catch (Throwable t) {
      throw new IOException(t);
    }
    if (rc != 0) {
      throw new DirectIo.ErrnoException("io_setup", errno(st));
    }
    return new AsyncIo(arena, depth, holder.get(ValueLayout.JAVA_LONG, 0));
  }

  /** Requests this instance can hold in flight. */
  int depth() {
    return depth;
  }

  /** Queues a read of all of {@code buf} from {@code offset}. */
  void read(int tag, int fd, MemorySegment buf, long offset) {
    prepare(tag, CMD_PREAD, fd, buf, null, offset);
  }

  /** Queues one vectored read of {@code a} then {@code b} from {@code offset}. */
  void readTwo(int tag, int fd, MemorySegment a, MemorySegment b, long offset) {
    prepare(tag, CMD_PREADV, fd, a, b, offset);
  }

  /** Queues a write of all of {@code buf} at {@code offset}. */
  void write(int tag, int fd, MemorySegment buf, long offset) {
    prepare(tag, CMD_PWRITE, fd, buf, null, offset);
  }

  private void prepare(
      int tag, short command, int fd, MemorySegment a, MemorySegment b, long offset) {
    if (dead) {
      throw new IllegalStateException("AIO context was aborted");
    }
    int slot = tag % depth;
    if (tag < 0 || tags[slot] >= 0) {
      throw new IllegalStateException("tag " + tag + " collides with tag " + tags[slot]);
    }
    tags[slot] = tag;
    done[slot] = false;
    commands[slot] = command;
    fds[slot] = fd;
    offsets[slot] = offset;
    first[slot] = a;
    second[slot] = b;
    MemorySegment cb = iocbs.asSlice((long) IOCB_BYTES * slot, IOCB_BYTES);
    cb.fill((byte) 0);
    cb.set(ValueLayout.JAVA_LONG, 0, slot);
    cb.set(ValueLayout.JAVA_SHORT, 16, command);
    cb.set(ValueLayout.JAVA_INT, 20, fd);
    if (command == CMD_PREADV) {
      MemorySegment iov = iovecs.asSlice(IOVEC.byteSize() * 2 * slot, IOVEC.byteSize() * 2);
      iov.set(ValueLayout.ADDRESS, 0, a);
      iov.set(ValueLayout.JAVA_LONG, 8, a.byteSize());
      iov.set(ValueLayout.ADDRESS, 16, b);
      iov.set(ValueLayout.JAVA_LONG, 24, b.byteSize());
      cb.set(ValueLayout.JAVA_LONG, 24, iov.address());
      cb.set(ValueLayout.JAVA_LONG, 32, 2);
    } else {
      cb.set(ValueLayout.JAVA_LONG, 24, a.address());
      cb.set(ValueLayout.JAVA_LONG, 32, a.byteSize());
    }
    cb.set(ValueLayout.JAVA_LONG, 40, offset);
    pointers.setAtIndex(ValueLayout.ADDRESS, queued, cb);
    queued++;
  }

  /** Hands every queued request to the kernel. */
  void submit() throws IOException {
    int from = 0;
    while (from < queued) {
      long n;
      try {
        n =
            (long)
                SYSCALL3.invokeExact(
                    state,
                    SYS_IO_SUBMIT,
                    context,
                    (long) (queued - from),
                    pointers.address() + ValueLayout.ADDRESS.byteSize() * from);
      } catch (Throwable t) {
        throw new IOException(t);
      }
      if (n >= 0) {
        from += (int) n;
        inFlight += (int) n;
        continue;
      }
      int err = errno(state);
      if (err == DirectIo.EINTR) {
        continue;
      }
      if (err == DirectIo.EAGAIN && inFlight > 0) {
        reap(1); // the kernel is short of request slots: make room and retry
        continue;
      }
      throw new DirectIo.ErrnoException(name(queuedCommand(from)) + " (io_submit)", err);
    }
    queued = 0;
  }

  private short queuedCommand(int index) {
    MemorySegment cb = pointers.getAtIndex(ValueLayout.ADDRESS, index).reinterpret(IOCB_BYTES);
    return cb.get(ValueLayout.JAVA_SHORT, 16);
  }

  private static String name(short command) {
    return command == CMD_PWRITE ? "pwrite" : "pread";
  }

  /** Waits until {@code tag} has completed and moved all its bytes; frees its slot. */
  void await(int tag) throws IOException {
    int slot = tag % depth;
    if (tags[slot] != tag) {
      throw new IllegalStateException("tag " + tag + " was not submitted");
    }
    while (!done[slot]) {
      if (inFlight == 0) {
        throw new IllegalStateException("tag " + tag + " was queued but not submitted");
      }
      reap(1);
    }
    tags[slot] = -1;
  }

  /** Waits for every request in flight; frees all slots. */
  void drain() throws IOException {
    while (inFlight > 0) {
      reap(inFlight);
    }
    java.util.Arrays.fill(tags, -1);
    queued = 0;
  }

  /** Collects at least {@code min} completions and checks each. */
  private void reap(int min) throws IOException {
    long n;
    do {
      try {
        n =
            (long)
                SYSCALL5.invokeExact(
                    state,
                    SYS_IO_GETEVENTS,
                    context,
                    (long) min,
                    (long) depth,
                    events.address(),
                    0L);
      } catch (Throwable t) {
        throw new IOException(t);
      }
    } while (n < 0 && errno(state) == DirectIo.EINTR);
    if (n < 0) {
      throw new DirectIo.ErrnoException("io_getevents", errno(state));
    }
    IOException failure = null;
    for (int e = 0; e < n; e++) {
      int slot = (int) events.get(ValueLayout.JAVA_LONG, (long) EVENT_BYTES * e);
      long res = events.get(ValueLayout.JAVA_LONG, (long) EVENT_BYTES * e + 16);
      inFlight--;
      done[slot] = true;
      try {
        complete(slot, res);
      } catch (IOException x) {
        failure = failure == null ? x : failure;
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

  /** Checks one completion; a short transfer is redone synchronously (reads and writes repeat). */
  private void complete(int slot, long res) throws IOException {
    MemorySegment a = first[slot];
    MemorySegment b = second[slot];
    long expected = a.byteSize() + (b == null ? 0 : b.byteSize());
    first[slot] = null;
    second[slot] = null;
    if (res == expected) {
      return;
    }
    short command = commands[slot];
    if (res < 0) {
      throw new DirectIo.ErrnoException(name(command), (int) -res);
    }
    if (command == CMD_PWRITE) {
      DirectIo.writeFully(fds[slot], a, offsets[slot], syncState);
    } else {
      DirectIo.readFully(fds[slot], a, offsets[slot], syncState);
      if (b != null) {
        DirectIo.readFully(fds[slot], b, offsets[slot] + a.byteSize(), syncState);
      }
    }
  }

  /**
   * Gives up on what is in flight: destroys the context, which returns only once the kernel has
   * finished with every buffer. The instance is dead afterwards. Never throws.
   */
  void abort() {
    if (dead) {
      return;
    }
    dead = true;
    destroy();
  }

  /** Whether {@link #abort} or {@link #close} ran. */
  boolean isDead() {
    return dead;
  }

  @Override
  public void close() {
    abort();
  }

  private void destroy() {
    try {
      long ignored = (long) SYSCALL2.invokeExact(state, SYS_IO_DESTROY, context, 0L);
    } catch (Throwable t) {
      // Nothing to do: the context goes away with the process at the latest.
    }
    inFlight = 0;
    queued = 0;
  }

  private static int errno(MemorySegment state) {
    return (int) ERRNO.get(state, 0L);
  }
}
