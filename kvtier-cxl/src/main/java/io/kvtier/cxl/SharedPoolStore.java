package io.kvtier.cxl;

import static io.kvtier.cxl.SharedPoolLayout.FREE;
import static io.kvtier.cxl.SharedPoolLayout.OWNED;
import static io.kvtier.cxl.SharedPoolLayout.READY;
import static io.kvtier.cxl.SharedPoolLayout.RETIRED;
import static io.kvtier.cxl.SharedPoolLayout.gen;
import static io.kvtier.cxl.SharedPoolLayout.readers;
import static io.kvtier.cxl.SharedPoolLayout.state;
import static io.kvtier.cxl.SharedPoolLayout.word;

import io.kvtier.spi.BlockRecord;
import io.kvtier.spi.SlotAllocator;
import io.kvtier.spi.TierKind;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;

/**
 * A {@link SharedPool} over one pool file mapped by every process that uses it, laid out as {@link
 * SharedPoolLayout} says, with a {@link BlockDirectory} beside it.
 *
 * <p>Membership: on open a process takes an entry of the pool's member table by compare-and-set,
 * bumping the entry's epoch, and records its pid and start time (and, for pools across hosts, a
 * heartbeat deadline renewed by a daemon thread every third of the owner lease). A slot's owner is
 * a (member, epoch) pair, so when an entry is taken over by a new process, the pages of the one
 * before are recognisably orphaned without a sweep. A member is gone when its pid is not alive with
 * the same start time ({@code hostLocal}, read from {@code /proc}) or when its heartbeat deadline
 * has passed (across hosts).
 *
 * <p>Allocation: each slot's state word (see the layout) is changed only by compare-and-set on the
 * shared mapping, which is what coordinates processes; no lock is held across processes. {@code
 * allocate} tries the hint, then scans next-fit from a cursor (so runs stay contiguous) for a
 * {@code FREE} slot and claims it as {@code OWNED} with its generation bumped. With no free slot it
 * reclaims the pages of processes that are gone and whose read leases have ended, then scans again:
 * O(slots) only when the pool is full. {@code freePages} and the free-run counts scan the table:
 * they are statistics, O(slots).
 *
 * <p>Publishing and reading: {@code writeBlock} and {@code publish} write the page, then its header
 * (block record, byte length, CRC32C of the page, CRC32C of the header), then move the slot to
 * {@code READY} and enter (slot, generation) in the directory. {@code lookup} reads the directory,
 * raises the slot's read deadline, then increments its reader count by compare-and-set only if the
 * slot is still {@code READY} in the same generation, and compares the header with the block
 * wanted. {@code readBlock} checks header and page checksums on the bytes it delivered and that the
 * generation did not change while it copied: a torn or stale read is a counted miss. An owner's
 * {@code free} of a page with readers leaves it {@code RETIRED}; the last {@code release} frees it.
 * A lease past its deadline no longer protects the page and its {@code release} changes nothing.
 *
 * <p>Concurrency inside the process: {@code allocate}, {@code free}, {@code reclaim} and {@code
 * recover} hold this store's monitor; {@code lookup}/{@code release} hold only the lease table's
 * lock; reads and writes take no lock. After close, every call fails with {@link
 * IllegalStateException}, and page views die with the store's arena.
 *
 * <p>References: the ownership table follows the lease-and-epoch schemes of shared-memory object
 * stores (Plasma in Apache Arrow, Ray's object store) and the directory the shared-hash-map pattern
 * of Chronicle Map; the header and checksum follow DESIGN §4 ("a hash collision must never serve
 * wrong KV").
 */
final class SharedPoolStore implements SharedPool {

  private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();
  private static final long INIT_TIMEOUT_MS = 30_000;

  private final String name;
  private final Path path;
  private final SharedPoolLayout.Geometry g;
  private final SharedPoolOptions options;
  private final Mapping mapping;
  private final Arena arena;
  private final MemorySegment pool;
  private final MemorySegment pages;
  private final BlockDirectory directory;
  private final long readLeaseMs;
  private final long ownerLeaseMs;
  private final long pid;
  private final int member;
  private final long epoch;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final AtomicLong verifyFailures = new AtomicLong();
  private final Thread heartbeat;

  // @GuardedBy("this")
  private long cursor;

  // @GuardedBy("leases")
  private final Map<Long, Lease> leases = new HashMap<>();

  /** This process's read leases on one slot. */
  private static final class Lease {
    final long gen;
    int count;
    long deadline;

    Lease(long gen) {
      this.gen = gen;
    }
  }

  private SharedPoolStore(
      String name,
      Path path,
      SharedPoolLayout.Geometry g,
      SharedPoolOptions options,
      Mapping mapping,
      Arena arena,
      MemorySegment pool,
      BlockDirectory directory,
      int member,
      long epoch) {
    this.name = name;
    this.path = path;
    this.g = g;
    this.options = options;
    this.mapping = mapping;
    this.arena = arena;
    this.pool = pool;
    this.pages = pool.asSlice(g.data(), (long) g.pageBytes() * g.slots());
    this.directory = directory;
    this.readLeaseMs = options.readLease().toMillis();
    this.ownerLeaseMs = options.ownerLease().toMillis();
    this.pid = ProcessHandle.current().pid();
    this.member = member;
    this.epoch = epoch;
    this.heartbeat = options.hostLocal() ? null : startHeartbeat();
  }

  @SuppressWarnings("restricted") // bounds the native mapping to the store's arena
  static SharedPoolStore open(
      String name, Path path, long capacityBytes, int pageBytes, SharedPoolOptions options) {
    long slots = MappedPageStore.pagesIn(name, capacityBytes, pageBytes);
    var g =
        new SharedPoolLayout.Geometry(
            pageBytes, slots, options.maxBlockTokens(), options.maxProcesses());
    PoolTarget target;
    try {
      target = PoolTarget.probe(path, PoolTarget.DAX_SYSFS);
    } catch (IOException e) {
      throw new UncheckedIOException("tier '" + name + "': cannot inspect " + path, e);
    }
    Mapping mapping = MappedPageStore.map(name, path, target, g.totalBytes(), false);
    Arena arena = Arena.ofShared();
    BlockDirectory directory = null;
    try {
      MemorySegment pool =
          MemorySegment.ofAddress(mapping.segment().address())
              .reinterpret(g.totalBytes(), arena, null);
      Path dirFile = Path.of(path + ".dir");
      initialize(name, path, pool, g, options, dirFile);
      directory = ChronicleDirectory.open(dirFile, Math.max(1024, slots + slots / 4));
      long[] registration = register(name, path, pool, g, options);
      return new SharedPoolStore(
          name,
          path,
          g,
          options,
          mapping,
          arena,
          pool,
          directory,
          (int) registration[0],
          registration[1]);
    } catch (RuntimeException e) {
      if (directory != null) {
        directory.close();
      }
      arena.close();
      try {
        mapping.release().run();
      } catch (Exception suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  // ---- pool header and membership

  /**
   * Lays out a new pool (the first process to get the init word from 0 does it, deleting any stale
   * directory) or waits for another process to finish, then checks that the pool has this shape.
   */
  private static void initialize(
      String name,
      Path path,
      MemorySegment pool,
      SharedPoolLayout.Geometry g,
      SharedPoolOptions options,
      Path dirFile) {
    long me = ProcessHandle.current().pid();
    long deadline = System.currentTimeMillis() + INIT_TIMEOUT_MS;
    while (true) {
      long init = (long) LONG.getVolatile(pool, SharedPoolLayout.OFF_INIT);
      long state = init & 0xFF;
      if (state == SharedPoolLayout.INIT_READY) {
        break;
      }
      boolean takeOver =
          state == SharedPoolLayout.INIT_BUSY && !ProcessHandle.of(init >>> 8).isPresent();
      if (state == SharedPoolLayout.INIT_NONE || takeOver) {
        if (LONG.compareAndSet(
            pool, SharedPoolLayout.OFF_INIT, init, me << 8 | SharedPoolLayout.INIT_BUSY)) {
          try {
            Files.deleteIfExists(dirFile);
          } catch (IOException e) {
            throw new UncheckedIOException("cannot remove stale directory " + dirFile, e);
          }
          pool.asSlice(
                  SharedPoolLayout.POOL_HEADER_BYTES, g.data() - SharedPoolLayout.POOL_HEADER_BYTES)
              .fill((byte) 0);
          pool.set(ValueLayout.JAVA_INT, SharedPoolLayout.OFF_VERSION, SharedPoolLayout.VERSION);
          pool.set(ValueLayout.JAVA_LONG, SharedPoolLayout.OFF_INIT_PID, me);
          pool.set(ValueLayout.JAVA_LONG, SharedPoolLayout.OFF_PAGE_BYTES, g.pageBytes());
          pool.set(ValueLayout.JAVA_LONG, SharedPoolLayout.OFF_SLOTS, g.slots());
          pool.set(ValueLayout.JAVA_LONG, SharedPoolLayout.OFF_MAX_TOKENS, g.maxBlockTokens());
          pool.set(ValueLayout.JAVA_LONG, SharedPoolLayout.OFF_MAX_MEMBERS, g.maxMembers());
          pool.set(ValueLayout.JAVA_LONG, SharedPoolLayout.OFF_DATA, g.data());
          pool.set(ValueLayout.JAVA_LONG, SharedPoolLayout.OFF_MAGIC, SharedPoolLayout.MAGIC);
          LONG.setVolatile(pool, SharedPoolLayout.OFF_INIT, SharedPoolLayout.INIT_READY);
          break;
        }
        continue;
      }
      if (System.currentTimeMillis() > deadline) {
        throw new IllegalStateException(
            "tier '"
                + name
                + "': pool "
                + path
                + " is being initialised by pid "
                + (init >>> 8)
                + " for more than "
                + INIT_TIMEOUT_MS
                + " ms");
      }
      Thread.onSpinWait();
      try {
        Thread.sleep(1);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for pool " + path, e);
      }
    }
    long magic = pool.get(ValueLayout.JAVA_LONG, SharedPoolLayout.OFF_MAGIC);
    int version = pool.get(ValueLayout.JAVA_INT, SharedPoolLayout.OFF_VERSION);
    long pageBytes = pool.get(ValueLayout.JAVA_LONG, SharedPoolLayout.OFF_PAGE_BYTES);
    long slots = pool.get(ValueLayout.JAVA_LONG, SharedPoolLayout.OFF_SLOTS);
    long tokens = pool.get(ValueLayout.JAVA_LONG, SharedPoolLayout.OFF_MAX_TOKENS);
    long members = pool.get(ValueLayout.JAVA_LONG, SharedPoolLayout.OFF_MAX_MEMBERS);
    if (magic != SharedPoolLayout.MAGIC || version != SharedPoolLayout.VERSION) {
      throw new IllegalArgumentException(
          "tier '"
              + name
              + "': "
              + path
              + " is not a kvtier shared pool of version "
              + SharedPoolLayout.VERSION
              + " (magic "
              + Long.toHexString(magic)
              + ", version "
              + version
              + "); delete it or use another path");
    }
    if (pageBytes != g.pageBytes()
        || slots != g.slots()
        || tokens != g.maxBlockTokens()
        || members != g.maxMembers()) {
      throw new IllegalArgumentException(
          "tier '"
              + name
              + "': pool "
              + path
              + " was created for "
              + slots
              + " pages of "
              + pageBytes
              + " B, maxBlockTokens "
              + tokens
              + ", maxProcesses "
              + members
              + "; this process asked for "
              + g.slots()
              + " pages of "
              + g.pageBytes()
              + " B, maxBlockTokens "
              + options.maxBlockTokens()
              + ", maxProcesses "
              + options.maxProcesses()
              + ": open it with the same shape or delete it");
    }
  }

  /** Takes a member-table entry: returns {member, epoch}. */
  private static long[] register(
      String name,
      Path path,
      MemorySegment pool,
      SharedPoolLayout.Geometry g,
      SharedPoolOptions options) {
    long me = ProcessHandle.current().pid();
    long start = startStamp(ProcessHandle.current());
    for (int i = 0; i < g.maxMembers(); i++) {
      long at = g.member(i);
      long ctl = (long) LONG.getVolatile(pool, at + SharedPoolLayout.MEMBER_CTL);
      if (SharedPoolLayout.ctlPid(ctl) != 0 && ctlAlive(pool, at, ctl, options.hostLocal())) {
        continue;
      }
      long epoch = (SharedPoolLayout.ctlEpoch(ctl) + 1) & SharedPoolLayout.EPOCH_MASK;
      LONG.setVolatile(
          pool,
          at + SharedPoolLayout.MEMBER_HEARTBEAT,
          System.currentTimeMillis() + options.ownerLease().toMillis());
      if (LONG.compareAndSet(
          pool, at + SharedPoolLayout.MEMBER_CTL, ctl, SharedPoolLayout.ctl(epoch, me, start))) {
        return new long[] {i, epoch};
      }
    }
    throw new IllegalStateException(
        "tier '"
            + name
            + "': pool "
            + path
            + " already has "
            + g.maxMembers()
            + " processes attached (maxProcesses); close one or create the pool with more");
  }

  private static long startStamp(ProcessHandle process) {
    return process.info().startInstant().map(i -> i.toEpochMilli()).orElse(0L)
        & SharedPoolLayout.CTL_START_MASK;
  }

  private static boolean ctlAlive(MemorySegment pool, long at, long ctl, boolean hostLocal) {
    if (hostLocal) {
      long pid = SharedPoolLayout.ctlPid(ctl);
      Optional<ProcessHandle> process = ProcessHandle.of(pid);
      return process.isPresent()
          && process.get().isAlive()
          && (startStamp(process.get()) == SharedPoolLayout.ctlStart(ctl)
              || process.get().info().startInstant().isEmpty());
    }
    return (long) LONG.getVolatile(pool, at + SharedPoolLayout.MEMBER_HEARTBEAT)
        >= System.currentTimeMillis();
  }

  private Thread startHeartbeat() {
    long at = g.member(member) + SharedPoolLayout.MEMBER_HEARTBEAT;
    long period = Math.max(1, ownerLeaseMs / 3);
    return Thread.ofPlatform()
        .daemon()
        .name("kvtier-cxl-heartbeat-" + name)
        .start(
            () -> {
              while (!closed.get()) {
                try {
                  LONG.setVolatile(pool, at, System.currentTimeMillis() + ownerLeaseMs);
                  Thread.sleep(period);
                } catch (InterruptedException | IllegalStateException e) {
                  return;
                }
              }
            });
  }

  /** Per-call cache of which members are alive, so a scan reads /proc once per member. */
  private final class Liveness {
    private final byte[] known = new byte[g.maxMembers()];

    boolean ownerAlive(long w) {
      int m = SharedPoolLayout.member(w);
      long e = SharedPoolLayout.epoch(w);
      if (m == member && e == epoch) {
        return true;
      }
      if (m >= g.maxMembers()) {
        return false;
      }
      long at = g.member(m);
      long ctl = (long) LONG.getVolatile(pool, at + SharedPoolLayout.MEMBER_CTL);
      if (SharedPoolLayout.ctlPid(ctl) == 0 || SharedPoolLayout.ctlEpoch(ctl) != e) {
        return false;
      }
      if (known[m] == 0) {
        known[m] = ctlAlive(pool, at, ctl, options.hostLocal()) ? (byte) 1 : (byte) 2;
      }
      return known[m] == 1;
    }
  }

  // ---- slot words

  private long stateWord(long slot) {
    return (long) LONG.getVolatile(pool, g.slot(slot) + SharedPoolLayout.SLOT_STATE);
  }

  private boolean cas(long slot, long expected, long next) {
    return LONG.compareAndSet(pool, g.slot(slot) + SharedPoolLayout.SLOT_STATE, expected, next);
  }

  private long readDeadline(long slot) {
    return (long) LONG.getVolatile(pool, g.slot(slot) + SharedPoolLayout.SLOT_READ_DEADLINE);
  }

  private void raiseReadDeadline(long slot, long deadline) {
    long at = g.slot(slot) + SharedPoolLayout.SLOT_READ_DEADLINE;
    long current;
    do {
      current = (long) LONG.getVolatile(pool, at);
    } while (current < deadline && !LONG.compareAndSet(pool, at, current, deadline));
  }

  private boolean mine(long w) {
    int s = state(w);
    return (s == OWNED || s == READY)
        && SharedPoolLayout.member(w) == member
        && SharedPoolLayout.epoch(w) == epoch;
  }

  private long freeWord(long w) {
    return word(FREE, 0, 0, 0, gen(w));
  }

  // ---- PageStore

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
    return g.pageBytes();
  }

  @Override
  public long capacityPages() {
    return g.slots();
  }

  @Override
  public long freePages() {
    ensureOpen();
    long free = 0;
    for (long s = 0; s < g.slots(); s++) {
      if (state(stateWord(s)) == FREE) {
        free++;
      }
    }
    return free;
  }

  @Override
  public synchronized long allocate(long hint) {
    ensureOpen();
    if (hint >= 0 && hint < g.slots() && claim(hint)) {
      cursor = hint + 1;
      return hint;
    }
    long slot = scanAndClaim();
    if (slot == NO_SPACE && reclaim() > 0) {
      slot = scanAndClaim();
    }
    return slot;
  }

  private long scanAndClaim() {
    long n = g.slots();
    for (long i = 0; i < n; i++) {
      long s = (cursor + i) % n;
      if (claim(s)) {
        cursor = s + 1;
        return s;
      }
    }
    return NO_SPACE;
  }

  private boolean claim(long slot) {
    long w = stateWord(slot);
    return state(w) == FREE
        && readers(w) == 0
        && cas(slot, w, word(OWNED, 0, member, epoch, gen(w) + 1));
  }

  @Override
  public synchronized void free(long slot) {
    ensureOpen();
    checkSlot(slot);
    while (true) {
      long w = stateWord(slot);
      if (!mine(w)) {
        throw new IllegalArgumentException(
            "tier '" + name + "': slot " + slot + " is not in use by this process");
      }
      if (state(w) == READY) {
        unpublish(slot, w);
      }
      long next = readers(w) == 0 ? freeWord(w) : SharedPoolLayout.withState(w, RETIRED);
      if (cas(slot, w, next)) {
        return;
      }
    }
  }

  @Override
  public void write(long slot, MemorySegment src) {
    long offset = access(slot, src, "src", true);
    MemorySegment.copy(src, 0, pages, offset, src.byteSize());
  }

  @Override
  public void read(long slot, MemorySegment dst) {
    long offset = access(slot, dst, "dst", false);
    MemorySegment.copy(pages, offset, dst, 0, dst.byteSize());
  }

  @Override
  public void copy(long from, long to) {
    ensureOpen();
    checkSlot(from);
    checkSlot(to);
    checkReadable(from);
    checkMine(to);
    MemorySegment.copy(pages, from * g.pageBytes(), pages, to * g.pageBytes(), g.pageBytes());
  }

  @Override
  public Optional<MemorySegment> segment(long slot) {
    ensureOpen();
    checkSlot(slot);
    checkReadable(slot);
    return Optional.of(pages.asSlice(slot * g.pageBytes(), g.pageBytes()));
  }

  @Override
  public void writeBlock(long slot, BlockRecord block, MemorySegment src) {
    long offset = access(slot, src, "src", true);
    checkTokens(block);
    unpublishIfReady(slot);
    MemorySegment.copy(src, 0, pages, offset, src.byteSize());
    writeHeader(slot, block, src.byteSize(), crc(src));
    publishWritten(slot, block);
  }

  @Override
  public boolean publish(long slot, BlockRecord block) {
    ensureOpen();
    checkSlot(slot);
    checkMine(slot);
    checkTokens(block);
    unpublishIfReady(slot);
    MemorySegment page = pages.asSlice(slot * g.pageBytes(), g.pageBytes());
    writeHeader(slot, block, g.pageBytes(), crc(page));
    return publishWritten(slot, block);
  }

  @Override
  public boolean readBlock(long slot, BlockRecord expected, MemorySegment dst) {
    long offset = access(slot, dst, "dst", false);
    long before = stateWord(slot);
    long h = g.header(slot);
    boolean ok =
        headerMatches(slot, expected)
            && pool.get(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_LENGTH) == dst.byteSize();
    if (ok) {
      MemorySegment.copy(pages, offset, dst, 0, dst.byteSize());
      ok =
          crc(dst) == pool.get(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_PAGE_CRC)
              && gen(stateWord(slot)) == gen(before);
    }
    if (!ok) {
      verifyFailures.incrementAndGet();
    }
    return ok;
  }

  @Override
  public synchronized void recover(RecoveryVisitor visitor) {
    ensureOpen();
    Liveness live = new Liveness();
    for (long s = 0; s < g.slots(); s++) {
      long w = stateWord(s);
      int st = state(w);
      if ((st != READY && st != OWNED) || live.ownerAlive(w)) {
        continue;
      }
      if (st == OWNED || !headerValid(s)) {
        if (readers(w) == 0 || readDeadline(s) < System.currentTimeMillis()) {
          cas(s, w, freeWord(w));
        }
        continue;
      }
      long adopted = word(READY, readers(w), member, epoch, gen(w));
      if (cas(s, w, adopted)) {
        BlockRecord block = headerRecord(s);
        enter(s, gen(w), block.keyHi(), block.keyLo());
        visitor.block(s, block);
      }
    }
  }

  @Override
  public synchronized long freeRuns() {
    ensureOpen();
    long runs = 0;
    boolean inRun = false;
    for (long s = 0; s < g.slots(); s++) {
      boolean free = state(stateWord(s)) == FREE;
      if (free && !inRun) {
        runs++;
      }
      inRun = free;
    }
    return runs;
  }

  @Override
  public synchronized long largestFreeRun() {
    ensureOpen();
    long best = 0;
    long run = 0;
    for (long s = 0; s < g.slots(); s++) {
      run = state(stateWord(s)) == FREE ? run + 1 : 0;
      best = Math.max(best, run);
    }
    return best;
  }

  @Override
  public boolean isClosed() {
    return closed.get();
  }

  // ---- sharing

  @Override
  public long lookup(BlockRecord block) {
    ensureOpen();
    long e = directory.get(block.keyHi(), block.keyLo());
    if (e == BlockDirectory.ABSENT) {
      return NOT_FOUND;
    }
    long slot = BlockDirectory.slot(e);
    long gen = BlockDirectory.gen(e);
    if (slot >= g.slots()) {
      return NOT_FOUND;
    }
    long deadline = System.currentTimeMillis() + readLeaseMs;
    while (true) {
      long w = stateWord(slot);
      if (state(w) != READY || gen(w) != gen) {
        directory.remove(block.keyHi(), block.keyLo(), e);
        return NOT_FOUND;
      }
      if (readers(w) == SharedPoolLayout.MAX_READERS) {
        return NOT_FOUND;
      }
      raiseReadDeadline(slot, deadline);
      if (cas(slot, w, SharedPoolLayout.withReaders(w, readers(w) + 1))) {
        break;
      }
    }
    if (!headerMatches(slot, block)) {
      verifyFailures.incrementAndGet();
      releaseShared(slot, gen);
      return NOT_FOUND;
    }
    synchronized (leases) {
      Lease lease = leases.get(slot);
      if (lease == null || lease.gen != gen) {
        lease = new Lease(gen);
        leases.put(slot, lease);
      }
      lease.count++;
      lease.deadline = deadline;
    }
    return slot;
  }

  @Override
  public void release(long slot) {
    ensureOpen();
    checkSlot(slot);
    long gen;
    boolean live;
    synchronized (leases) {
      Lease lease = leases.get(slot);
      if (lease == null) {
        throw new IllegalArgumentException(
            "tier '" + name + "': this process holds no read lease on slot " + slot);
      }
      gen = lease.gen;
      live = lease.deadline >= System.currentTimeMillis();
      if (--lease.count == 0) {
        leases.remove(slot);
      }
    }
    if (live) {
      releaseShared(slot, gen);
    }
  }

  private void releaseShared(long slot, long gen) {
    while (true) {
      long w = stateWord(slot);
      if (gen(w) != gen || readers(w) == 0) {
        return;
      }
      int r = readers(w) - 1;
      long next = state(w) == RETIRED && r == 0 ? freeWord(w) : SharedPoolLayout.withReaders(w, r);
      if (cas(slot, w, next)) {
        return;
      }
    }
  }

  @Override
  public synchronized int reclaim() {
    ensureOpen();
    Liveness live = new Liveness();
    long now = System.currentTimeMillis();
    int reclaimed = 0;
    for (long s = 0; s < g.slots(); s++) {
      long w = stateWord(s);
      int st = state(w);
      if (st == FREE || (readers(w) > 0 && readDeadline(s) >= now)) {
        continue;
      }
      if (st != RETIRED && live.ownerAlive(w)) {
        continue;
      }
      if (st == READY) {
        unpublish(s, w);
      }
      if (cas(s, w, freeWord(w))) {
        reclaimed++;
      }
    }
    return reclaimed;
  }

  @Override
  public long verifyFailures() {
    return verifyFailures.get();
  }

  @Override
  public long ownerPid(long slot) {
    ensureOpen();
    checkSlot(slot);
    long w = stateWord(slot);
    if (state(w) == FREE) {
      return 0;
    }
    long ctl =
        (long)
            LONG.getVolatile(
                pool, g.member(SharedPoolLayout.member(w)) + SharedPoolLayout.MEMBER_CTL);
    return SharedPoolLayout.ctlEpoch(ctl) == SharedPoolLayout.epoch(w)
        ? SharedPoolLayout.ctlPid(ctl)
        : 0;
  }

  // ---- headers and the directory

  private void checkTokens(BlockRecord block) {
    if (block.tokenCount() > g.maxBlockTokens()) {
      throw new IllegalArgumentException(
          "tier '"
              + name
              + "': block has "
              + block.tokenCount()
              + " tokens, more than the pool's "
              + "maxBlockTokens "
              + g.maxBlockTokens());
    }
  }

  private void unpublishIfReady(long slot) {
    while (true) {
      long w = stateWord(slot);
      if (state(w) != READY) {
        return;
      }
      unpublish(slot, w);
      if (cas(slot, w, SharedPoolLayout.withState(w, OWNED))) {
        return;
      }
    }
  }

  /** Removes the directory entry of a READY slot's block, if it names this incarnation. */
  private void unpublish(long slot, long w) {
    long h = g.header(slot);
    directory.remove(
        pool.get(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_KEY_HI),
        pool.get(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_KEY_LO),
        BlockDirectory.entry(slot, gen(w)));
  }

  private boolean publishWritten(long slot, BlockRecord block) {
    long w;
    do {
      w = stateWord(slot);
    } while (!cas(slot, w, SharedPoolLayout.withState(w, READY)));
    return enter(slot, gen(w), block.keyHi(), block.keyLo());
  }

  /** Enters (slot, gen) for a key, replacing an entry that no longer names a READY page. */
  private boolean enter(long slot, long gen, long keyHi, long keyLo) {
    long e = BlockDirectory.entry(slot, gen);
    for (int attempt = 0; attempt < 4; attempt++) {
      long prev = directory.putIfAbsent(keyHi, keyLo, e, pid);
      if (prev == BlockDirectory.ABSENT || prev == e) {
        return true;
      }
      long ps = BlockDirectory.slot(prev);
      boolean stale =
          ps >= g.slots()
              || state(stateWord(ps)) != READY
              || gen(stateWord(ps)) != BlockDirectory.gen(prev)
              || pool.get(ValueLayout.JAVA_LONG, g.header(ps) + SharedPoolLayout.H_KEY_HI) != keyHi
              || pool.get(ValueLayout.JAVA_LONG, g.header(ps) + SharedPoolLayout.H_KEY_LO) != keyLo;
      if (!stale) {
        return false;
      }
      if (directory.replace(keyHi, keyLo, prev, e, pid)) {
        return true;
      }
    }
    return false;
  }

  private void writeHeader(long slot, BlockRecord block, long length, long pageCrc) {
    long h = g.header(slot);
    pool.set(ValueLayout.JAVA_INT, h + SharedPoolLayout.H_MAGIC, SharedPoolLayout.HEADER_MAGIC);
    pool.set(ValueLayout.JAVA_INT, h + SharedPoolLayout.H_TOKENS, block.tokenCount());
    pool.set(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_KEY_HI, block.keyHi());
    pool.set(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_KEY_LO, block.keyLo());
    pool.set(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_PARENT_HI, block.parentHi());
    pool.set(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_PARENT_LO, block.parentLo());
    pool.set(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_ROOT_HI, block.rootHi());
    pool.set(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_ROOT_LO, block.rootLo());
    pool.set(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_LENGTH, length);
    pool.set(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_PAGE_CRC, pageCrc);
    for (int i = 0; i < block.tokenCount(); i++) {
      pool.set(ValueLayout.JAVA_INT, h + SharedPoolLayout.H_TOKEN_IDS + 4L * i, block.token(i));
    }
    pool.set(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_HEADER_CRC, headerCrc(slot));
  }

  private long headerCrc(long slot) {
    long h = g.header(slot);
    int tokens = pool.get(ValueLayout.JAVA_INT, h + SharedPoolLayout.H_TOKENS);
    if (tokens < 0 || tokens > g.maxBlockTokens()) {
      return -1;
    }
    CRC32C crc = new CRC32C();
    crc.update(pool.asSlice(h, SharedPoolLayout.H_HEADER_CRC).asByteBuffer());
    crc.update(pool.asSlice(h + SharedPoolLayout.H_TOKEN_IDS, 4L * tokens).asByteBuffer());
    return crc.getValue();
  }

  private boolean headerValid(long slot) {
    long h = g.header(slot);
    return pool.get(ValueLayout.JAVA_INT, h + SharedPoolLayout.H_MAGIC)
            == SharedPoolLayout.HEADER_MAGIC
        && pool.get(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_HEADER_CRC) == headerCrc(slot);
  }

  private boolean headerMatches(long slot, BlockRecord b) {
    long h = g.header(slot);
    if (!headerValid(slot)
        || pool.get(ValueLayout.JAVA_INT, h + SharedPoolLayout.H_TOKENS) != b.tokenCount()
        || pool.get(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_KEY_HI) != b.keyHi()
        || pool.get(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_KEY_LO) != b.keyLo()
        || pool.get(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_PARENT_HI) != b.parentHi()
        || pool.get(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_PARENT_LO) != b.parentLo()
        || pool.get(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_ROOT_HI) != b.rootHi()
        || pool.get(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_ROOT_LO) != b.rootLo()) {
      return false;
    }
    for (int i = 0; i < b.tokenCount(); i++) {
      if (pool.get(ValueLayout.JAVA_INT, h + SharedPoolLayout.H_TOKEN_IDS + 4L * i) != b.token(i)) {
        return false;
      }
    }
    return true;
  }

  private BlockRecord headerRecord(long slot) {
    long h = g.header(slot);
    int[] tokens = new int[pool.get(ValueLayout.JAVA_INT, h + SharedPoolLayout.H_TOKENS)];
    for (int i = 0; i < tokens.length; i++) {
      tokens[i] = pool.get(ValueLayout.JAVA_INT, h + SharedPoolLayout.H_TOKEN_IDS + 4L * i);
    }
    return new BlockRecord(
        pool.get(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_KEY_HI),
        pool.get(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_KEY_LO),
        pool.get(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_PARENT_HI),
        pool.get(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_PARENT_LO),
        pool.get(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_ROOT_HI),
        pool.get(ValueLayout.JAVA_LONG, h + SharedPoolLayout.H_ROOT_LO),
        tokens);
  }

  private static long crc(MemorySegment bytes) {
    CRC32C crc = new CRC32C();
    crc.update(bytes.asByteBuffer());
    return crc.getValue();
  }

  // ---- checks

  private long access(long slot, MemorySegment segment, String what, boolean write) {
    ensureOpen();
    checkSlot(slot);
    if (segment.byteSize() > g.pageBytes()) {
      throw new IllegalArgumentException(
          what + " has " + segment.byteSize() + " bytes, more than a page of " + g.pageBytes());
    }
    if (write) {
      checkMine(slot);
    } else {
      checkReadable(slot);
    }
    return slot * g.pageBytes();
  }

  private void checkMine(long slot) {
    if (!mine(stateWord(slot))) {
      throw new IllegalArgumentException(
          "tier '" + name + "': slot " + slot + " is not allocated by this process");
    }
  }

  private void checkReadable(long slot) {
    if (mine(stateWord(slot))) {
      return;
    }
    synchronized (leases) {
      if (leases.containsKey(slot)) {
        return;
      }
    }
    throw new IllegalArgumentException(
        "tier '" + name + "': slot " + slot + " is neither allocated nor leased by this process");
  }

  private void checkSlot(long slot) {
    SlotAllocator.checkSlot(slot, g.slots(), name);
  }

  private void ensureOpen() {
    if (closed.get()) {
      throw new IllegalStateException("tier '" + name + "' is closed");
    }
  }

  // ---- close

  /**
   * Leaves the pool: drops this process's read leases, returns its unpublished pages, and gives up
   * its member entry. Its published blocks stay findable until another process needs their pages.
   * Then unmaps the pool and closes the directory. Idempotent.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    try {
      if (heartbeat != null) {
        heartbeat.interrupt();
        try {
          heartbeat.join();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      synchronized (leases) {
        long now = System.currentTimeMillis();
        leases.forEach(
            (slot, lease) -> {
              if (lease.deadline >= now) {
                for (int i = 0; i < lease.count; i++) {
                  releaseShared(slot, lease.gen);
                }
              }
            });
        leases.clear();
      }
      synchronized (this) {
        for (long s = 0; s < g.slots(); s++) {
          long w = stateWord(s);
          if (state(w) == OWNED && mine(w)) {
            while (!cas(
                s, w, readers(w) == 0 ? freeWord(w) : SharedPoolLayout.withState(w, RETIRED))) {
              w = stateWord(s);
            }
          }
        }
      }
      long at = g.member(member) + SharedPoolLayout.MEMBER_CTL;
      long ctl = (long) LONG.getVolatile(pool, at);
      if (SharedPoolLayout.ctlEpoch(ctl) == epoch && SharedPoolLayout.ctlPid(ctl) == pid) {
        LONG.compareAndSet(pool, at, ctl, SharedPoolLayout.ctl(epoch, 0, 0));
      }
    } finally {
      try {
        directory.close();
      } finally {
        arena.close();
        try {
          mapping.release().run();
        } catch (Exception e) {
          throw new IllegalStateException(
              "tier '" + name + "': cannot release " + mapping.description(), e);
        }
      }
    }
  }

  @Override
  public String toString() {
    return "CxlTier.sharedPool["
        + name
        + ", "
        + path
        + ", "
        + g.slots()
        + " x "
        + g.pageBytes()
        + " B, member "
        + member
        + "]";
  }
}
