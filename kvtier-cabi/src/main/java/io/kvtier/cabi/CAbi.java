package io.kvtier.cabi;

import io.kvtier.CacheClosedException;
import io.kvtier.CacheStats;
import io.kvtier.KvCache;
import io.kvtier.LayerwiseOnboarding;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.PauseKind;
import io.kvtier.Request;
import io.kvtier.Session;
import io.kvtier.TierStats;
import io.kvtier.Warmth;
import io.kvtier.event.BlockKey;
import io.kvtier.event.CacheEvent;
import io.kvtier.event.EventBatch;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The Java half of the C ABI: the static methods that {@code libkvtier.so} calls over JNI, one per
 * function of {@code kvtier.h}. They call only kvtier's public API.
 *
 * <h2>Calling convention</h2>
 *
 * Every argument is a primitive: handles are {@code long} ids into a {@link Handles} table, and
 * strings, token arrays, block tables and structs are native addresses with a length, read and
 * written through {@link MemorySegment#ofAddress(long)} and {@code reinterpret}. Every method
 * returns a status ({@link Status}, negative on failure), or a handle or count that is never
 * negative, so a failure is always a negative return. No exception leaves a method: each catches
 * {@link Throwable}, stores a message that {@link #lastError()} returns on the same thread, and
 * returns the code. The C side checks pointers against {@code NULL} before calling; this side
 * checks them again, and checks every handle's kind, generation and owning cache.
 *
 * <h2>Data movement</h2>
 *
 * Tokens are copied from native memory into an {@code int[]} of exactly the request's length taken
 * from the calling thread's {@link ThreadState} pool; the array belongs to the lease until it is
 * released, because a {@link Request} keeps its array. Block tables are copied through the thread's
 * scratch {@code long[]} straight into the caller's buffer. In the steady state (repeated prompt
 * lengths) an acquire and a release allocate only what the Java API itself allocates.
 *
 * <h2>Concurrency</h2>
 *
 * Thread-safe as the API is: any thread may call any method; one lease is driven by one thread at a
 * time (two threads racing on one lease get consistent errors, never a crash). The handle table is
 * lock-free for lookups. {@link #leaseOnboard} blocks its calling thread for up to its timeout,
 * holding no lock of the cache's while it waits.
 */
public final class CAbi {
  private CAbi() {}

  static final Handles HANDLES = new Handles();

  private static volatile long benchSink;

  // ------------------------------------------------------------------ entries

  static final class CacheEntry extends Handles.Entry {
    final KvCache cache;
    final CacheProperties config;
    final Map<Namespace, NamespaceEntry> namespaces = new ConcurrentHashMap<>();
    final Map<Long, SessionEntry> sessions = new ConcurrentHashMap<>();

    CacheEntry(KvCache cache, CacheProperties config) {
      this.cache = cache;
      this.config = config;
    }
  }

  static final class NamespaceEntry extends Handles.Entry {
    final CacheEntry owner;
    final Namespace ns;

    NamespaceEntry(CacheEntry owner, Namespace ns) {
      this.owner = owner;
      this.ns = ns;
    }
  }

  static final class SessionEntry extends Handles.Entry {
    final CacheEntry owner;
    final Session session;

    SessionEntry(CacheEntry owner, Session session) {
      this.owner = owner;
      this.session = session;
    }
  }

  static final class LeaseEntry extends Handles.Entry {
    final CacheEntry owner;
    final Lease lease;
    final int[] tokens;

    /**
     * The onboarding that {@link #leaseOnboard} and {@link #leaseArrivingTable} wait on and read,
     * kept so that repeated calls see the same one (and the same arriving pages); null before the
     * first of them, and again once a failure of it has been reported, so that the next call starts
     * it over.
     */
    volatile LayerwiseOnboarding onboarding;

    LeaseEntry(CacheEntry owner, Lease lease, int[] tokens) {
      this.owner = owner;
      this.lease = lease;
      this.tokens = tokens;
    }
  }

  /** A handle that is not live or not of the kind the call wants; caught in every entry point. */
  private static final class BadHandle extends RuntimeException {
    private static final long serialVersionUID = 1L;

    BadHandle(String message) {
      super(message, null, false, false);
    }
  }

  // ------------------------------------------------------------------ errors

  /**
   * The message of the last call on this thread that returned a negative status.
   *
   * @return the message, or null if no call failed on this thread
   */
  public static String lastError() {
    return ThreadState.get().lastError;
  }

  /**
   * The version of the entry points and struct layouts; the C side refuses a mismatch.
   *
   * @return {@code KVTIER_ABI_VERSION}
   */
  public static int abiVersion() {
    return StructLayout.VERSION;
  }

  private static int fail(Throwable t) {
    int code = t instanceof BadHandle ? Status.BAD_HANDLE : Status.of(t);
    try {
      String m = t.getMessage();
      ThreadState.get().lastError =
          code == Status.INTERNAL
              ? t.getClass().getName() + (m == null ? "" : ": " + m)
              : (m == null ? t.getClass().getSimpleName() : m);
    } catch (Throwable ignored) {
      // Out of memory while recording the message: the status still says what happened.
    }
    return code;
  }

  private static int fail(int code, String message) {
    ThreadState.get().lastError = message;
    return code;
  }

  // ------------------------------------------------------------------ lookups

  private static CacheEntry cache(long h) {
    if (HANDLES.get(h, Handles.KIND_CACHE) instanceof CacheEntry c) {
      return c;
    }
    throw new BadHandle(describe(h, "cache", Handles.KIND_CACHE));
  }

  private static NamespaceEntry namespace(long h, CacheEntry owner) {
    if (HANDLES.get(h, Handles.KIND_NAMESPACE) instanceof NamespaceEntry n) {
      if (owner != null && n.owner != owner) {
        throw new BadHandle("the namespace handle belongs to another cache");
      }
      return n;
    }
    throw new BadHandle(describe(h, "namespace", Handles.KIND_NAMESPACE));
  }

  private static SessionEntry session(long h) {
    if (HANDLES.get(h, Handles.KIND_SESSION) instanceof SessionEntry s) {
      return s;
    }
    throw new BadHandle(describe(h, "session", Handles.KIND_SESSION));
  }

  private static LeaseEntry lease(long h) {
    if (HANDLES.get(h, Handles.KIND_LEASE) instanceof LeaseEntry l) {
      return l;
    }
    throw new BadHandle(describe(h, "lease", Handles.KIND_LEASE));
  }

  private static String describe(long h, String what, int kind) {
    if (h == 0) {
      return "the " + what + " handle is NULL";
    }
    if (h < 0 || Handles.kind(h) != kind) {
      return "the " + what + " handle is not a " + what + " (a handle of another kind, or forged)";
    }
    return "the "
        + what
        + " handle is stale: it was released or destroyed (or its cache was destroyed)";
  }

  // ------------------------------------------------------------------ native memory

  private static String string(long addr, int len, String what) {
    if (addr == 0) {
      throw new IllegalArgumentException(what + " is NULL");
    }
    if (len < 0) {
      throw new IllegalArgumentException(what + " has a negative length " + len);
    }
    byte[] b = new byte[len];
    MemorySegment.copy(at(addr, len), ValueLayout.JAVA_BYTE, 0, b, 0, len);
    return new String(b, StandardCharsets.UTF_8);
  }

  /**
   * The {@code bytes} of native memory at {@code addr}, which the C side vouches for: the one place
   * this module makes a segment from a raw address.
   */
  @SuppressWarnings("restricted")
  private static MemorySegment at(long addr, long bytes) {
    return MemorySegment.ofAddress(addr).reinterpret(bytes);
  }

  private static void checkTokens(long addr, int n) {
    if (n < 0) {
      throw new IllegalArgumentException("n_tokens must not be negative, was " + n);
    }
    if (addr == 0 && n > 0) {
      throw new IllegalArgumentException("tokens is NULL but n_tokens is " + n);
    }
  }

  private static void readTokens(long addr, int[] dst) {
    int n = dst.length;
    if (n > 0) {
      MemorySegment.copy(
          at(addr, (long) n * Integer.BYTES), ValueLayout.JAVA_INT_UNALIGNED, 0, dst, 0, n);
    }
  }

  private static MemorySegment out(long addr, long bytes, String what) {
    if (addr == 0) {
      throw new IllegalArgumentException(what + " is NULL");
    }
    return at(addr, bytes);
  }

  // ------------------------------------------------------------------ cache

  /**
   * Creates a cache from a {@link CacheProperties} configuration.
   *
   * @param configAddr UTF-8 bytes of the configuration
   * @param configLen their length
   * @return the cache handle, or a negative status
   */
  public static long cacheCreate(long configAddr, int configLen) {
    try {
      CacheProperties cfg = CacheProperties.parse(string(configAddr, configLen, "config"));
      KvCache cache = cfg.builder().build();
      CacheEntry e = new CacheEntry(cache, cfg);
      long h = HANDLES.add(Handles.KIND_CACHE, e);
      if (h == 0) {
        cache.close();
        return fail(Status.INTERNAL, "too many open handles");
      }
      return h;
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * Closes a cache and invalidates its namespace and session handles; lease handles of the cache
   * stay valid for {@link #leaseRelease(long)} only. A second destroy is a bad handle.
   *
   * @param cache the cache handle
   * @return a status
   */
  public static int cacheDestroy(long cache) {
    try {
      if (!(HANDLES.remove(cache, Handles.KIND_CACHE) instanceof CacheEntry c)) {
        throw new BadHandle(describe(cache, "cache", Handles.KIND_CACHE));
      }
      try {
        c.cache.close();
      } finally {
        for (NamespaceEntry n : c.namespaces.values()) {
          HANDLES.remove(n.handle, Handles.KIND_NAMESPACE);
        }
        for (SessionEntry s : c.sessions.values()) {
          HANDLES.remove(s.handle, Handles.KIND_SESSION);
        }
      }
      return Status.OK;
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * The namespace (model, adapter) of a cache; its layout is the cache's. Opening the same
   * namespace again returns the same handle; namespace handles live until the cache is destroyed.
   *
   * @param cache the cache handle
   * @param modelAddr UTF-8 model id
   * @param modelLen its length
   * @param adapterAddr UTF-8 adapter id, or 0 for the base model
   * @param adapterLen its length
   * @return the namespace handle, or a negative status
   */
  public static long namespaceOpen(
      long cache, long modelAddr, int modelLen, long adapterAddr, int adapterLen) {
    try {
      CacheEntry c = cache(cache);
      String model = string(modelAddr, modelLen, "model");
      String adapter = adapterAddr == 0 ? "" : string(adapterAddr, adapterLen, "adapter");
      Namespace ns = new Namespace(model, c.config.layout(), adapter);
      NamespaceEntry e =
          c.namespaces.computeIfAbsent(
              ns,
              k -> {
                NamespaceEntry n = new NamespaceEntry(c, k);
                return HANDLES.add(Handles.KIND_NAMESPACE, n) == 0 ? null : n;
              });
      if (e == null) {
        return fail(Status.INTERNAL, "too many open handles");
      }
      if (HANDLES.get(cache, Handles.KIND_CACHE) != c) {
        throw new BadHandle("the cache was destroyed during the call");
      }
      return e.handle;
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * The 64-bit tenant salt of a tenant id, as {@link Request#salt(String)} computes it.
   *
   * @param tenantAddr UTF-8 tenant id
   * @param tenantLen its length
   * @param outAddr where to write the salt (8 bytes)
   * @return a status
   */
  public static int tenantSalt(long tenantAddr, int tenantLen, long outAddr) {
    try {
      String tenant = string(tenantAddr, tenantLen, "tenant");
      MemorySegment out = out(outAddr, Long.BYTES, "out");
      long salt = SALT_PROBE.salt(tenant).salt();
      out.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, salt);
      return Status.OK;
    } catch (Throwable t) {
      return fail(t);
    }
  }

  private static final Request SALT_PROBE =
      Request.of(Namespace.of("salt", io.kvtier.KvLayout.ofPageBytes(1, 2)), new int[0]);

  // ------------------------------------------------------------------ sessions

  /**
   * A handle on the session with this id (created on first use). Each call returns a new handle;
   * {@link #sessionClose(long)} drops one without ending the session.
   *
   * @param cache the cache handle
   * @param idAddr UTF-8 session id
   * @param idLen its length, at least 1
   * @return the session handle, or a negative status
   */
  public static long sessionOpen(long cache, long idAddr, int idLen) {
    try {
      CacheEntry c = cache(cache);
      Session s = c.cache.session(string(idAddr, idLen, "session id"));
      SessionEntry e = new SessionEntry(c, s);
      long h = HANDLES.add(Handles.KIND_SESSION, e);
      if (h == 0) {
        return fail(Status.INTERNAL, "too many open handles");
      }
      c.sessions.put(h, e);
      if (HANDLES.get(cache, Handles.KIND_CACHE) != c) {
        c.sessions.remove(h);
        HANDLES.remove(h, Handles.KIND_SESSION);
        throw new BadHandle("the cache was destroyed during the call");
      }
      return h;
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * Drops a session handle; the session and its pins stay.
   *
   * @param session the session handle
   * @return a status
   */
  public static int sessionClose(long session) {
    try {
      if (!(HANDLES.remove(session, Handles.KIND_SESSION) instanceof SessionEntry s)) {
        throw new BadHandle(describe(session, "session", Handles.KIND_SESSION));
      }
      s.owner.sessions.remove(session);
      return Status.OK;
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * Ends the session (drops its pins) and its handle.
   *
   * @param session the session handle
   * @return a status
   */
  public static int sessionEnd(long session) {
    try {
      SessionEntry s = session(session);
      s.session.end();
      if (HANDLES.remove(session, Handles.KIND_SESSION) != null) {
        s.owner.sessions.remove(session);
      }
      return Status.OK;
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * The session pauses.
   *
   * @param session the session handle
   * @param kind 0 tool call, 1 human, 2 unknown
   * @param expectedMillis the engine's estimate of the pause, not negative
   * @return a status
   */
  public static int sessionPause(long session, int kind, long expectedMillis) {
    try {
      SessionEntry s = session(session);
      PauseKind[] kinds = PauseKind.values();
      if (kind < 0 || kind >= kinds.length) {
        throw new IllegalArgumentException(
            "pause kind must be KVTIER_PAUSE_TOOL, _HUMAN or _UNKNOWN, was " + kind);
      }
      if (expectedMillis < 0) {
        throw new IllegalArgumentException(
            "expected pause must not be negative, was " + expectedMillis + " ms");
      }
      s.session.pause(kinds[kind], Duration.ofMillis(expectedMillis));
      return Status.OK;
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * The session is back.
   *
   * @param session the session handle
   * @return a status
   */
  public static int sessionResume(long session) {
    try {
      session(session).session.resume();
      return Status.OK;
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * The session compacted its context: its current prefix goes first when memory is needed.
   *
   * @param session the session handle
   * @return a status
   */
  public static int sessionCompacted(long session) {
    try {
      session(session).session.compacted();
      return Status.OK;
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * Pins the session's prefix for {@code ttlMillis}.
   *
   * @param session the session handle
   * @param ttlMillis positive
   * @return a status
   */
  public static int sessionPin(long session, long ttlMillis) {
    try {
      SessionEntry s = session(session);
      if (ttlMillis <= 0) {
        throw new IllegalArgumentException("ttl must be positive, was " + ttlMillis + " ms");
      }
      s.session.pin(Duration.ofMillis(ttlMillis));
      return Status.OK;
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * Drops the session's pin.
   *
   * @param session the session handle
   * @return a status
   */
  public static int sessionUnpin(long session) {
    try {
      session(session).session.unpin();
      return Status.OK;
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * Sets the retention priority of the session's blocks.
   *
   * @param session the session handle
   * @param priority 0 to 100
   * @return a status
   */
  public static int sessionPriority(long session, int priority) {
    try {
      SessionEntry s = session(session);
      if (priority < 0 || priority > 100) {
        throw new IllegalArgumentException("priority must be in [0, 100], was " + priority);
      }
      s.session.priority(priority);
      return Status.OK;
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * Blocks the session pins now.
   *
   * @param session the session handle
   * @return the count, or a negative status
   */
  public static int sessionPinnedBlocks(long session) {
    try {
      return session(session).session.pinnedBlocks();
    } catch (Throwable t) {
      return fail(t);
    }
  }

  // ------------------------------------------------------------------ leases

  /** A session handle of cache {@code c}, or null for handle 0 (no session). */
  private static SessionEntry session(long h, CacheEntry c) {
    if (h == 0) {
      return null;
    }
    SessionEntry s = session(h);
    if (s.owner != c) {
      throw new BadHandle("the session handle belongs to another cache");
    }
    return s;
  }

  /**
   * The request that {@link #acquire}, {@link #prefetch} and {@link #holdQueue} make of their
   * arguments.
   */
  private static Request request(NamespaceEntry ns, SessionEntry s, long salt, int[] tokens) {
    Request r = Request.of(ns.ns, tokens);
    if (s != null) {
      r = r.session(s.session.id());
    }
    if (salt != 0) {
      r = r.salt(salt);
    }
    return r;
  }

  /**
   * Acquires a lease for a prompt.
   *
   * @param cache the cache handle
   * @param namespace a namespace handle of that cache
   * @param session a session handle of that cache, or 0
   * @param salt tenant salt, 0 for none
   * @param tokensAddr the prompt's token ids ({@code int32_t})
   * @param n how many
   * @param outCachedAddr where to write the cached-token count ({@code int32_t}), or 0
   * @return the lease handle, or a negative status
   */
  public static long acquire(
      long cache,
      long namespace,
      long session,
      long salt,
      long tokensAddr,
      int n,
      long outCachedAddr) {
    try {
      CacheEntry c = cache(cache);
      NamespaceEntry ns = namespace(namespace, c);
      SessionEntry s = session(session, c);
      checkTokens(tokensAddr, n);
      ThreadState ts = ThreadState.get();
      int[] tokens = ts.takeTokens(n);
      Lease lease;
      try {
        readTokens(tokensAddr, tokens);
        lease = c.cache.acquire(request(ns, s, salt, tokens));
      } catch (Throwable t) {
        ts.giveTokens(tokens);
        throw t;
      }
      LeaseEntry e = new LeaseEntry(c, lease, tokens);
      long h = HANDLES.add(Handles.KIND_LEASE, e);
      if (h == 0) {
        lease.close();
        ts.giveTokens(tokens);
        return fail(Status.INTERNAL, "too many open handles");
      }
      if (outCachedAddr != 0) {
        at(outCachedAddr, Integer.BYTES)
            .set(ValueLayout.JAVA_INT_UNALIGNED, 0, lease.cachedTokens());
      }
      return h;
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * Leading tokens found cached at acquire.
   *
   * @param lease the lease handle
   * @return the count, or a negative status
   */
  public static int leaseCachedTokens(long lease) {
    try {
      return lease(lease).lease.cachedTokens();
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * Tokens the lease has pages for.
   *
   * @param lease the lease handle
   * @return the count, or a negative status
   */
  public static int leaseTokenCount(long lease) {
    try {
      return lease(lease).lease.tokenCount();
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * Tokens whose full blocks are published.
   *
   * @param lease the lease handle
   * @return the count, or a negative status
   */
  public static int leaseCommittedTokens(long lease) {
    try {
      return lease(lease).lease.committedTokens();
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * Pages in the block table.
   *
   * @param lease the lease handle
   * @return the count, or a negative status
   */
  public static int leaseBlockCount(long lease) {
    try {
      return lease(lease).lease.blockCount();
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * Copies the block table (top-tier page handles) into the caller's buffer.
   *
   * @param lease the lease handle
   * @param dstAddr {@code uint64_t[capacity]}
   * @param capacity entries the buffer holds
   * @return entries written, or a negative status ({@link Status#BUFFER_TOO_SMALL} when the table
   *     has more than {@code capacity} entries, {@link Status#INVALID_ARGUMENT} while matched
   *     blocks are still in lower tiers, until {@link #leaseOnboard} of layer -1 returned {@link
   *     Status#OK})
   */
  public static int leaseBlockTable(long lease, long dstAddr, int capacity) {
    try {
      Lease l = lease(lease).lease;
      checkTableBuffer(dstAddr, capacity);
      int need = l.blockCount();
      long[] scratch = ThreadState.get().table(need);
      int n;
      try {
        n = l.blockTable(scratch);
      } catch (IllegalStateException e) {
        // Matched blocks are still in lower tiers: the table has no top-tier page for them yet.
        return fail(
            Status.INVALID_ARGUMENT,
            e.getMessage()
                + " (from C: kvtier_lease_onboard(lease, -1, timeout_ms) until it returns"
                + " KVTIER_OK)");
      }
      return writeTable(scratch, n, dstAddr, capacity);
    } catch (Throwable t) {
      return fail(t);
    }
  }

  private static void checkTableBuffer(long dstAddr, int capacity) {
    if (capacity < 0) {
      throw new IllegalArgumentException("capacity must not be negative, was " + capacity);
    }
    if (dstAddr == 0 && capacity > 0) {
      throw new IllegalArgumentException("table is NULL but capacity is " + capacity);
    }
  }

  /** Copies {@code table[0, n)} into the caller's buffer; returns n or the buffer's status. */
  private static int writeTable(long[] table, int n, long dstAddr, int capacity) {
    if (n > capacity) {
      return fail(
          Status.BUFFER_TOO_SMALL,
          "the block table has " + n + " entries; the buffer holds " + capacity);
    }
    if (n > 0) {
      MemorySegment.copy(
          table, 0, at(dstAddr, (long) n * Long.BYTES), ValueLayout.JAVA_LONG_UNALIGNED, 0, n);
    }
    return n;
  }

  /**
   * Starts the lease's onboarding unless it is under way (or done), and waits until layer {@code
   * layer} of every matched block, or with {@code -1} the whole onboarding, is in the top tier.
   * Repeated calls wait on the same onboarding. When it fails, the call that sees the failure
   * reports it (for example {@link Status#NO_SPACE}), and the next call starts it over.
   *
   * @param lease the lease handle
   * @param layer 0 to the namespace's layers − 1, or -1 for all of them
   * @param timeoutMillis how long to wait: negative without limit, 0 not at all (poll)
   * @return {@link Status#OK} when it landed, {@link Status#TIMEOUT} when not yet, or another
   *     negative status
   */
  public static int leaseOnboard(long lease, int layer, long timeoutMillis) {
    try {
      LeaseEntry e = lease(lease);
      int layers = e.lease.namespace().layout().layers();
      if (layer < -1 || layer >= layers) {
        throw new IllegalArgumentException(
            "layer must be -1 (all) or in [0, "
                + layers
                + ") (the namespace's layers), was "
                + layer);
      }
      LayerwiseOnboarding o = onboarding(e);
      CompletableFuture<Void> f = layer == -1 ? o.all() : o.layer(layer);
      return await(e, o, f, timeoutMillis, layer == -1 ? "the onboarding" : "layer " + layer);
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * Copies the block table of the lease's onboarding, the pages still arriving included, into the
   * caller's buffer; starts the onboarding as {@link #leaseOnboard} does if it is not under way.
   * Layer {@code l} of a page still arriving may be read once {@link #leaseOnboard} of layer {@code
   * l} returned {@link Status#OK}.
   *
   * @param lease the lease handle
   * @param dstAddr {@code uint64_t[capacity]}
   * @param capacity entries the buffer holds
   * @return entries written, or a negative status ({@link Status#BUFFER_TOO_SMALL} when the table
   *     has more than {@code capacity} entries; the failure of the onboarding, reported once, as
   *     {@link #leaseOnboard} does)
   */
  public static int leaseArrivingTable(long lease, long dstAddr, int capacity) {
    try {
      LeaseEntry e = lease(lease);
      checkTableBuffer(dstAddr, capacity);
      LayerwiseOnboarding o = onboarding(e);
      if (o.all().isCompletedExceptionally()) {
        return await(e, o, o.all(), 0, "the onboarding");
      }
      long[] t = o.blockTable();
      return writeTable(t, t.length, dstAddr, capacity);
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /** The lease's onboarding: the one kept in its entry, else a new (or restarted) one. */
  private static LayerwiseOnboarding onboarding(LeaseEntry e) {
    LayerwiseOnboarding o = e.onboarding;
    if (o == null) {
      o = e.lease.onboardLayers(); // checks that the lease and its cache are open
      e.onboarding = o;
    } else if (!e.lease.isOpen()) {
      throw new CacheClosedException("the cache was destroyed");
    }
    return o;
  }

  /**
   * Waits for {@code f}, a future of the onboarding {@code o} of lease {@code e}, for {@code
   * timeoutMillis} (negative: without limit; 0: not at all).
   *
   * @return {@link Status#OK}, or {@link Status#TIMEOUT} if {@code f} is not complete in time
   * @throws Throwable the failure of the onboarding, after forgetting it in {@code e} so that the
   *     next call starts it over
   */
  static int await(
      LeaseEntry e,
      LayerwiseOnboarding o,
      CompletableFuture<Void> f,
      long timeoutMillis,
      String what)
      throws Throwable {
    Throwable failure;
    try {
      if (f.isDone() || timeoutMillis < 0) {
        f.get();
      } else if (timeoutMillis == 0) {
        return fail(Status.TIMEOUT, what + " has not landed yet");
      } else {
        f.get(timeoutMillis, TimeUnit.MILLISECONDS);
      }
      return Status.OK;
    } catch (TimeoutException x) {
      return fail(Status.TIMEOUT, what + " has not landed within " + timeoutMillis + " ms");
    } catch (InterruptedException x) {
      // A C caller cannot see nor clear a Java interrupt: it is consumed here, not kept.
      return fail(Status.INTERNAL, "interrupted while waiting for " + what);
    } catch (ExecutionException x) {
      failure = x.getCause() != null ? x.getCause() : x;
      while (failure instanceof CompletionException && failure.getCause() != null) {
        failure = failure.getCause();
      }
    } catch (CancellationException x) {
      failure = x;
    }
    if (e.onboarding == o) {
      e.onboarding = null;
    }
    if (failure instanceof CancellationException && !e.lease.isOpen()) {
      throw new CacheClosedException("the cache was destroyed while " + what + " was on its way");
    }
    throw failure;
  }

  /**
   * Allocates pages for the rest of the prompt.
   *
   * @param lease the lease handle
   * @return a status
   */
  public static int leaseExtend(long lease) {
    try {
      lease(lease).lease.extend();
      return Status.OK;
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * Appends tokens (generated ones, a tool result) and allocates pages for them.
   *
   * @param lease the lease handle
   * @param tokensAddr the token ids
   * @param n how many
   * @return a status
   */
  public static int leaseAppend(long lease, long tokensAddr, int n) {
    try {
      Lease l = lease(lease).lease;
      checkTokens(tokensAddr, n);
      ThreadState ts = ThreadState.get();
      int[] tokens = ts.takeTokens(n);
      try {
        readTokens(tokensAddr, tokens);
        l.extend(tokens);
      } finally {
        ts.giveTokens(tokens);
      }
      return Status.OK;
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * Publishes the full blocks among the first {@code computedTokens} tokens.
   *
   * @param lease the lease handle
   * @param computedTokens tokens whose KV is written, or -1 for all the lease holds
   * @return a status
   */
  public static int leaseCommit(long lease, int computedTokens) {
    try {
      Lease l = lease(lease).lease;
      if (computedTokens == -1) {
        l.commit();
      } else {
        l.commit(computedTokens);
      }
      return Status.OK;
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * Releases a lease: its pins, its pages and its handle. A second release is a bad handle.
   *
   * @param lease the lease handle
   * @return a status
   */
  public static int leaseRelease(long lease) {
    try {
      if (!(HANDLES.remove(lease, Handles.KIND_LEASE) instanceof LeaseEntry e)) {
        throw new BadHandle(describe(lease, "lease", Handles.KIND_LEASE));
      }
      e.lease.close();
      ThreadState.get().giveTokens(e.tokens);
      return Status.OK;
    } catch (Throwable t) {
      return fail(t);
    }
  }

  // ------------------------------------------- router, prefetch, queue hold, events, stats

  /**
   * Starts copying the part of a queued request's cached prefix that only lower tiers hold into the
   * top tier, as {@link KvCache#prefetch(Request)} does; the arguments are those of {@link
   * #acquire}.
   *
   * @param cache the cache handle
   * @param namespace a namespace handle of that cache
   * @param session a session handle of that cache, or 0
   * @param salt tenant salt, 0 for none
   * @param tokensAddr the prompt's token ids ({@code int32_t})
   * @param n how many
   * @return the blocks whose copies were started, or a negative status
   */
  public static int prefetch(
      long cache, long namespace, long session, long salt, long tokensAddr, int n) {
    try {
      CacheEntry c = cache(cache);
      NamespaceEntry ns = namespace(namespace, c);
      SessionEntry s = session(session, c);
      checkTokens(tokensAddr, n);
      ThreadState ts = ThreadState.get();
      int[] tokens = ts.takeTokens(n);
      try {
        readTokens(tokensAddr, tokens);
        // The cache keeps nothing of the request once the call returns: the array goes back.
        return c.cache.prefetch(request(ns, s, salt, tokens));
      } finally {
        ts.giveTokens(tokens);
      }
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * Tells the cache the engine's waiting queue, as {@link KvCache#holdQueue(List)} does: request
   * {@code i} is {@code tokens[offsets[i] .. offsets[i+1])} in the namespace, salted with {@code
   * salts[i]}. Every argument is read and checked before the cache is called, and the cache checks
   * that it is open and the namespace fits before it drops the previous hold, so a failure leaves
   * that hold as it was.
   *
   * @param cache the cache handle
   * @param namespace a namespace handle of that cache
   * @param n the waiting requests, head first; 0 releases the hold
   * @param saltsAddr {@code uint64_t[n]} tenant salts, or 0 for none
   * @param tokensAddr their token ids ({@code int32_t}), one request after the other; 0 if {@code
   *     n} is 0
   * @param offsetsAddr {@code int32_t[n + 1]}: where each request starts in the tokens, from 0,
   *     non-decreasing, the last one where the last request ends; 0 if {@code n} is 0
   * @return the blocks now held, or a negative status
   */
  public static int holdQueue(
      long cache, long namespace, int n, long saltsAddr, long tokensAddr, long offsetsAddr) {
    try {
      CacheEntry c = cache(cache);
      NamespaceEntry ns = namespace(namespace, c);
      if (n < 0) {
        throw new IllegalArgumentException("n_requests must not be negative, was " + n);
      }
      if (n == 0) {
        return c.cache.holdQueue(List.of());
      }
      if (offsetsAddr == 0) {
        throw new IllegalArgumentException("offsets is NULL but n_requests is " + n);
      }
      if (tokensAddr == 0) {
        throw new IllegalArgumentException("tokens is NULL but n_requests is " + n);
      }
      MemorySegment offsets = at(offsetsAddr, (n + 1L) * Integer.BYTES);
      int first = offsets.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, 0);
      if (first != 0) {
        throw new IllegalArgumentException("offsets[0] must be 0, was " + first);
      }
      for (int i = 0; i < n; i++) {
        int from = offsets.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i);
        int to = offsets.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i + 1L);
        if (to < from) {
          throw new IllegalArgumentException(
              "offsets must not decrease: offsets["
                  + i
                  + "] is "
                  + from
                  + ", offsets["
                  + (i + 1)
                  + "] is "
                  + to);
        }
      }
      int total = offsets.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, n);
      MemorySegment tokens = at(tokensAddr, (long) total * Integer.BYTES);
      MemorySegment salts = saltsAddr == 0 ? null : at(saltsAddr, (long) n * Long.BYTES);
      ThreadState ts = ThreadState.get();
      Request[] waiting = new Request[n];
      try {
        for (int i = 0; i < n; i++) {
          int from = offsets.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i);
          int len = offsets.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i + 1L) - from;
          int[] t = ts.takeTokens(len);
          long salt = salts == null ? 0 : salts.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i);
          waiting[i] = request(ns, null, salt, t);
          MemorySegment.copy(
              tokens, ValueLayout.JAVA_INT_UNALIGNED, (long) from * Integer.BYTES, t, 0, len);
        }
        return c.cache.holdQueue(List.of(waiting));
      } finally {
        // The hold keeps blocks, not requests: the arrays go back.
        for (Request r : waiting) {
          if (r != null) {
            ts.giveTokens(r.tokens());
          }
        }
      }
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * How much of a prompt is cached, without pinning.
   *
   * @param cache the cache handle
   * @param namespace a namespace handle of that cache
   * @param salt tenant salt, 0 for none
   * @param tokensAddr the prompt
   * @param n its length
   * @param perTierAddr {@code int32_t[perTierCap]} for matched blocks per tier, or 0
   * @param perTierCap its capacity
   * @return matched tokens, or a negative status
   */
  public static int probe(
      long cache,
      long namespace,
      long salt,
      long tokensAddr,
      int n,
      long perTierAddr,
      int perTierCap) {
    try {
      CacheEntry c = cache(cache);
      NamespaceEntry ns = namespace(namespace, c);
      checkTokens(tokensAddr, n);
      if (perTierCap < 0 || (perTierAddr == 0 && perTierCap > 0)) {
        throw new IllegalArgumentException(
            "blocks_per_tier/capacity are inconsistent: " + perTierCap);
      }
      ThreadState ts = ThreadState.get();
      int[] tokens = ts.takeTokens(n);
      try {
        readTokens(tokensAddr, tokens);
        if (perTierAddr == 0) {
          return c.cache.probeTokens(ns.ns, tokens, salt);
        }
        Warmth w = c.cache.probe(ns.ns, tokens, salt);
        int[] per = w.blocksPerTier();
        if (per.length > perTierCap) {
          return fail(
              Status.BUFFER_TOO_SMALL,
              "the cache has " + per.length + " tiers; blocks_per_tier holds " + perTierCap);
        }
        MemorySegment dst = at(perTierAddr, 4L * per.length);
        for (int i = 0; i < per.length; i++) {
          dst.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i, per[i]);
        }
        return w.matchedTokens();
      } finally {
        ts.giveTokens(tokens);
      }
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * Copies events from {@code fromSeq} on into the caller's {@code kvtier_event} array.
   *
   * @param cache the cache handle
   * @param fromSeq first sequence number wanted, 0 for the oldest buffered
   * @param dstAddr {@code kvtier_event[capacity]}
   * @param capacity at least 1
   * @param outNextSeqAddr where to write the next sequence number to ask for ({@code uint64_t})
   * @param outMissedAddr where to write how many events were missed ({@code uint64_t}), or 0
   * @return events written, or a negative status
   */
  public static int events(
      long cache,
      long fromSeq,
      long dstAddr,
      int capacity,
      long outNextSeqAddr,
      long outMissedAddr) {
    try {
      CacheEntry c = cache(cache);
      if (capacity < 1) {
        throw new IllegalArgumentException("capacity must be at least 1, was " + capacity);
      }
      if (fromSeq < 0) {
        throw new IllegalArgumentException("from_seq must be below 2^63, was " + fromSeq);
      }
      MemorySegment dst = out(dstAddr, capacity * StructLayout.EVENT_SIZE, "events");
      MemorySegment next = out(outNextSeqAddr, Long.BYTES, "next_seq");
      EventBatch b = c.cache.events(fromSeq, capacity);
      List<CacheEvent> evs = b.events();
      int n = Math.min(evs.size(), capacity);
      for (int i = 0; i < n; i++) {
        writeEvent(c, evs.get(i), dst.asSlice(i * StructLayout.EVENT_SIZE));
      }
      next.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, n < evs.size() ? evs.get(n).seq() : b.nextSeq());
      if (outMissedAddr != 0) {
        out(outMissedAddr, Long.BYTES, "missed")
            .set(ValueLayout.JAVA_LONG_UNALIGNED, 0, b.missed());
      }
      return n;
    } catch (Throwable t) {
      return fail(t);
    }
  }

  private static void writeEvent(CacheEntry c, CacheEvent ev, MemorySegment s) {
    s.asSlice(0, StructLayout.EVENT_SIZE).fill((byte) 0);
    s.set(ValueLayout.JAVA_LONG_UNALIGNED, StructLayout.EVENT_SEQ, ev.seq());
    s.set(ValueLayout.JAVA_INT_UNALIGNED, StructLayout.EVENT_TO_TIER, -1);
    Namespace ns = null;
    BlockKey key = null;
    switch (ev) {
      case CacheEvent.Stored st -> {
        s.set(ValueLayout.JAVA_INT_UNALIGNED, StructLayout.EVENT_TYPE, StructLayout.EVENT_STORED);
        s.set(ValueLayout.JAVA_INT_UNALIGNED, StructLayout.EVENT_TOKENS, st.tokens());
        s.set(ValueLayout.JAVA_LONG_UNALIGNED, StructLayout.EVENT_PARENT_HI, st.parent().hi());
        s.set(ValueLayout.JAVA_LONG_UNALIGNED, StructLayout.EVENT_PARENT_LO, st.parent().lo());
        s.set(ValueLayout.JAVA_INT_UNALIGNED, StructLayout.EVENT_TIER, tier(c, st.tier()));
        ns = st.namespace();
        key = st.key();
      }
      case CacheEvent.Removed r -> {
        s.set(ValueLayout.JAVA_INT_UNALIGNED, StructLayout.EVENT_TYPE, StructLayout.EVENT_REMOVED);
        s.set(ValueLayout.JAVA_INT_UNALIGNED, StructLayout.EVENT_TIER, tier(c, r.tier()));
        ns = r.namespace();
        key = r.key();
      }
      case CacheEvent.Moved m -> {
        s.set(ValueLayout.JAVA_INT_UNALIGNED, StructLayout.EVENT_TYPE, StructLayout.EVENT_MOVED);
        s.set(ValueLayout.JAVA_INT_UNALIGNED, StructLayout.EVENT_TIER, tier(c, m.from()));
        s.set(ValueLayout.JAVA_INT_UNALIGNED, StructLayout.EVENT_TO_TIER, tier(c, m.to()));
        ns = m.namespace();
        key = m.key();
      }
      case CacheEvent.Cleared cl -> {
        s.set(ValueLayout.JAVA_INT_UNALIGNED, StructLayout.EVENT_TYPE, StructLayout.EVENT_CLEARED);
        s.set(ValueLayout.JAVA_INT_UNALIGNED, StructLayout.EVENT_TIER, tier(c, cl.tier()));
      }
    }
    if (key != null) {
      s.set(ValueLayout.JAVA_LONG_UNALIGNED, StructLayout.EVENT_KEY_HI, key.hi());
      s.set(ValueLayout.JAVA_LONG_UNALIGNED, StructLayout.EVENT_KEY_LO, key.lo());
    }
    NamespaceEntry ne = ns == null ? null : c.namespaces.get(ns);
    s.set(ValueLayout.JAVA_LONG_UNALIGNED, StructLayout.EVENT_NS, ne == null ? 0L : ne.handle);
  }

  private static int tier(CacheEntry c, String name) {
    return c.config.tierNames().indexOf(name);
  }

  /**
   * Writes counters and occupancy into the caller's {@code kvtier_stats}.
   *
   * @param cache the cache handle
   * @param dstAddr the struct
   * @return a status
   */
  public static int stats(long cache, long dstAddr) {
    try {
      CacheEntry c = cache(cache);
      MemorySegment s = out(dstAddr, StructLayout.STATS_SIZE, "stats");
      CacheStats st = c.cache.stats();
      s.fill((byte) 0);
      s.set(ValueLayout.JAVA_LONG_UNALIGNED, StructLayout.STATS_LOOKUPS, st.lookups());
      s.set(
          ValueLayout.JAVA_LONG_UNALIGNED,
          StructLayout.STATS_REQUESTED_TOKENS,
          st.requestedTokens());
      s.set(ValueLayout.JAVA_LONG_UNALIGNED, StructLayout.STATS_HIT_TOKENS, st.hitTokens());
      s.set(ValueLayout.JAVA_LONG_UNALIGNED, StructLayout.STATS_CACHED_BLOCKS, st.cachedBlocks());
      s.set(ValueLayout.JAVA_LONG_UNALIGNED, StructLayout.STATS_EVICTED_BLOCKS, st.evictedBlocks());
      s.set(ValueLayout.JAVA_INT_UNALIGNED, StructLayout.STATS_ACTIVE_LEASES, st.activeLeases());
      s.set(
          ValueLayout.JAVA_INT_UNALIGNED,
          StructLayout.STATS_METADATA_BYTES_PER_BLOCK,
          st.metadataBytesPerBlock());
      int nt = Math.min(st.tiers().size(), StructLayout.MAX_TIERS);
      s.set(ValueLayout.JAVA_INT_UNALIGNED, StructLayout.STATS_N_TIERS, nt);
      for (int i = 0; i < nt; i++) {
        TierStats t = st.tiers().get(i);
        MemorySegment ts =
            s.asSlice(
                StructLayout.STATS_TIERS + i * StructLayout.TIER_SIZE, StructLayout.TIER_SIZE);
        byte[] name = t.name().getBytes(StandardCharsets.UTF_8);
        int len = Math.min(name.length, StructLayout.TIER_NAME_BYTES - 1);
        MemorySegment.copy(name, 0, ts, ValueLayout.JAVA_BYTE, StructLayout.TIER_NAME, len);
        ts.set(ValueLayout.JAVA_INT_UNALIGNED, StructLayout.TIER_KIND, t.kind().ordinal());
        ts.set(ValueLayout.JAVA_INT_UNALIGNED, StructLayout.TIER_PAGE_BYTES, t.pageBytes());
        ts.set(
            ValueLayout.JAVA_LONG_UNALIGNED, StructLayout.TIER_CAPACITY_PAGES, t.capacityPages());
        ts.set(ValueLayout.JAVA_LONG_UNALIGNED, StructLayout.TIER_USED_PAGES, t.usedPages());
        ts.set(ValueLayout.JAVA_LONG_UNALIGNED, StructLayout.TIER_FREE_RUNS, t.freeRuns());
        ts.set(
            ValueLayout.JAVA_LONG_UNALIGNED,
            StructLayout.TIER_LARGEST_FREE_RUN,
            t.largestFreeRun());
        ts.set(ValueLayout.JAVA_LONG_UNALIGNED, StructLayout.TIER_EVICTIONS, t.evictions());
      }
      return Status.OK;
    } catch (Throwable t) {
      return fail(t);
    }
  }

  // ------------------------------------------------------------------ benchmark support

  /**
   * The Java baseline of the ABI benchmark: {@code iterations} times {@code acquire} of the same
   * prompt, {@code cachedTokens()} and {@code close()}, straight on the API, timed with {@link
   * System#nanoTime()}.
   *
   * @param cache the cache handle
   * @param namespace a namespace handle of that cache
   * @param tokensAddr the prompt (copied once, before timing)
   * @param n its length
   * @param iterations calls to time, at least 1
   * @return elapsed nanoseconds, or a negative status
   */
  public static long benchJavaAcquireRelease(
      long cache, long namespace, long tokensAddr, int n, int iterations) {
    try {
      CacheEntry c = cache(cache);
      NamespaceEntry ns = namespace(namespace, c);
      checkTokens(tokensAddr, n);
      if (iterations < 1) {
        throw new IllegalArgumentException("iterations must be at least 1, was " + iterations);
      }
      int[] tokens = new int[n];
      readTokens(tokensAddr, tokens);
      KvCache kv = c.cache;
      Namespace nsv = ns.ns;
      long sink = 0;
      long t0 = System.nanoTime();
      for (int i = 0; i < iterations; i++) {
        try (Lease l = kv.acquire(Request.of(nsv, tokens))) {
          sink += l.cachedTokens();
        }
      }
      long elapsed = System.nanoTime() - t0;
      benchSink = sink;
      return elapsed;
    } catch (Throwable t) {
      return fail(t);
    }
  }

  /**
   * Handles live now, for leak checks.
   *
   * @return the count
   */
  public static int liveHandles() {
    return HANDLES.live();
  }
}
