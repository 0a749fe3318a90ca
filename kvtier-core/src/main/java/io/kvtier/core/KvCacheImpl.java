package io.kvtier.core;

import io.kvtier.CacheClosedException;
import io.kvtier.CacheStats;
import io.kvtier.KvCache;
import io.kvtier.KvLayout;
import io.kvtier.KvTierException;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.PageHandle;
import io.kvtier.Request;
import io.kvtier.Session;
import io.kvtier.Ticker;
import io.kvtier.TierStats;
import io.kvtier.Warmth;
import io.kvtier.event.BlockKey;
import io.kvtier.event.CacheEvent;
import io.kvtier.event.EventBatch;
import io.kvtier.spi.CacheConfig;
import io.kvtier.spi.Evictor;
import io.kvtier.spi.EvictorContext;
import io.kvtier.spi.PageStore;
import io.kvtier.spi.PrefetchContext;
import io.kvtier.spi.TierSpec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The cache: a prefix index over one tier's pages, with leases, sessions, branches and events.
 *
 * <h2>How a request flows</h2>
 *
 * {@link #acquire} matches the request's tokens in the {@link PrefixIndex} (one vectorised compare
 * per edge), takes a page reference on every matched page and pins the deepest matched block, which
 * protects the whole path because eviction is leaf-first. {@link Lease#extend()} allocates pages
 * through the tier's {@link PageAllocator}, with the previous page + 1 as hint so a sequence's
 * pages form runs; when the tier is full it evicts: dead blocks first (compacted prefixes,
 * discarded branches kept as cache), then the evictor's choice. {@link Lease#commit(int)} inserts
 * the full blocks into the index, where the index takes its own page reference, and moves the pin
 * to the new deepest block. Closing the lease drops its pin and its page references; a page returns
 * to the tier when its last reference (index or lease) goes.
 *
 * <h2>Concurrency</h2>
 *
 * One {@link ReentrantLock} guards all metadata: the index, the allocator, the evictor, leases,
 * sessions and the event log (DESIGN §4: single writer per namespace; one lock for the cache is the
 * simplest form of it, and a match of a 128K-token prompt holds it for microseconds). The evictor
 * and the other policies are therefore only ever called by the lock holder. Page bytes are not
 * guarded: the engine writes KV into pages it holds through its lease, and the only copy kvtier
 * makes itself (copy-on-write of a branch's shared partial page) happens under the lock before the
 * page is handed out.
 *
 * <h2>Time</h2>
 *
 * Pins with a TTL and priorities with a duration run on the configured {@link Ticker}; expired ones
 * are processed at the start of each operation, so a test or a replay controls time completely.
 */
final class KvCacheImpl implements KvCache, PrefixIndex.Listener {

  /** The longest duration a {@code long} of nanoseconds holds. */
  private static final Duration MAX_NANOS = Duration.ofNanos(Long.MAX_VALUE);

  final ReentrantLock lock = new ReentrantLock();
  final CacheConfig config;
  final KvLayout layout;
  final int tpb;
  final Ticker ticker;
  final PageStore store;
  final PageAllocator pages;
  final PrefixIndex index;
  final Evictor evictor;
  final IndexedHeap deadEvictable;
  private final EventLog events;
  private final String tierName;

  private final Map<Namespace, Integer> saltlessRoots = new HashMap<>();
  private final Map<String, SessionImpl> sessions = new HashMap<>();
  private final Set<LeaseImpl> openLeases = Collections.newSetFromMap(new IdentityHashMap<>());
  private final PriorityQueue<SessionImpl> pinExpiry =
      new PriorityQueue<>((a, b) -> Long.compare(a.pinUntil, b.pinUntil));
  private final PriorityQueue<PriorityExpiry> priorityExpiry =
      new PriorityQueue<>((a, b) -> Long.compare(a.until, b.until));
  private final PrefetchContext prefetchContext = sessionId -> {};

  private int[] scratch = new int[1024];
  private long[] insertPages;
  private LeaseImpl insertLease;
  private boolean closed;

  private long lookups;
  private long requestedTokens;
  private long hitTokens;
  private long evictedBlocks;

  private record PriorityExpiry(long until, int block, long fingerprint) {}

  KvCacheImpl(CacheConfig config) {
    this.config = config;
    this.layout = config.layout();
    this.tpb = layout.tokensPerBlock();
    this.ticker = config.ticker();
    if (config.tiers().size() != 1) {
      throw new IllegalStateException(
          "this version manages one tier; got "
              + config.tiers().size()
              + ": configure a single tier (tier chains come with the tier-chain engine)");
    }
    TierSpec spec = config.tiers().get(0);
    this.tierName = spec.name();
    this.store = spec.open(layout.pageBytes());
    try {
      long cap = store.capacityPages();
      if (cap > Integer.MAX_VALUE) {
        throw new IllegalStateException(
            "tier '" + spec.name() + "' has " + cap + " pages; at most 2^31-1 are supported");
      }
      this.pages = new PageAllocator(0, store);
      this.index = new PrefixIndex(tpb, (int) cap, ticker);
      this.index.listener(this);
      this.evictor = config.eviction().newEvictor(new EvictorContext(spec.name(), 0, cap, index));
      this.deadEvictable = new IndexedHeap(1024);
      this.events = new EventLog(config.eventBuffer());
    } catch (RuntimeException e) {
      store.close();
      throw e;
    }
  }

  // ------------------------------------------------------------------ public API

  @Override
  public Lease acquire(Request request) {
    Objects.requireNonNull(request, "request");
    lock.lock();
    try {
      ensureOpen();
      tick();
      Namespace ns = request.namespace();
      checkNamespace(ns);
      int[] tok = request.tokens();
      int root = rootFor(ns, request.salt());
      int maxBlocks = tok.length / tpb;
      int[] matched = scratch(maxBlocks);
      int n = index.match(root, tok, tok.length, matched);
      long now = ticker.read();
      index.touch(matched, n, now);
      for (int i = 0; i < n; i++) {
        evictor.onAccess(matched[i]);
      }
      LeaseImpl lease = new LeaseImpl(this, request, root, matched, n);
      if (n > 0) {
        index.pin(matched[n - 1]);
      }
      openLeases.add(lease);
      lookups++;
      requestedTokens += tok.length;
      hitTokens += (long) n * tpb;
      return lease;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public Warmth probe(Namespace namespace, int[] tokens, long salt) {
    int n = probeTokens(namespace, tokens, salt) / tpb;
    return new Warmth(n * tpb, n, new int[] {n});
  }

  @Override
  public int probeTokens(Namespace namespace, int[] tokens, long salt) {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(tokens, "tokens");
    lock.lock();
    try {
      ensureOpen();
      checkNamespace(namespace);
      int root = existingRoot(namespace, salt);
      if (root == PrefixIndex.NONE) {
        return 0;
      }
      return index.match(root, tokens, tokens.length, null) * tpb;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public Session session(String sessionId) {
    if (sessionId == null || sessionId.isEmpty()) {
      throw new IllegalArgumentException("session id must be non-empty");
    }
    lock.lock();
    try {
      ensureOpen();
      return sessionFor(sessionId);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public EventBatch events(long fromSeq, int max) {
    lock.lock();
    try {
      ensureOpen();
      return events.read(fromSeq, max);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public CacheStats stats() {
    lock.lock();
    try {
      TierStats tier =
          new TierStats(
              tierName,
              store.kind(),
              store.pageBytes(),
              store.capacityPages(),
              closed ? 0 : pages.usedPages(),
              closed ? 0 : pages.freeRuns(),
              closed ? 0 : pages.largestFreeRun(),
              evictedBlocks);
      return new CacheStats(
          lookups,
          requestedTokens,
          hitTokens,
          index.liveBlocks(),
          evictedBlocks,
          openLeases.size(),
          index.metadataBytesPerBlock(),
          List.of(tier));
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void close() {
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      for (LeaseImpl l : new ArrayList<>(openLeases)) {
        l.markClosed();
      }
      openLeases.clear();
      for (SessionImpl s : sessions.values()) {
        s.markEnded();
      }
      sessions.clear();
      pinExpiry.clear();
      priorityExpiry.clear();
      events.append(new CacheEvent.Cleared(events.nextSeq(), tierName));
      store.close();
    } finally {
      lock.unlock();
    }
  }

  // ------------------------------------------------------------------ engine internals

  void ensureOpen() {
    if (closed) {
      throw new CacheClosedException("the cache is closed");
    }
  }

  boolean isClosed() {
    return closed;
  }

  private void checkNamespace(Namespace ns) {
    KvLayout l = ns.layout();
    if (l.tokensPerBlock() != tpb) {
      throw new KvTierException(
          "namespace '"
              + ns.model()
              + "' has "
              + l.tokensPerBlock()
              + " tokens per block but this cache's layout has "
              + tpb
              + ": build the namespace with the cache's tokensPerBlock");
    }
    if (l.pageBytes() > layout.pageBytes()) {
      throw new KvTierException(
          "namespace '"
              + ns.model()
              + "' needs pages of "
              + l.pageBytes()
              + " bytes but this cache's pages hold "
              + layout.pageBytes()
              + ": build the cache with the larger layout");
    }
  }

  private int rootFor(Namespace ns, long salt) {
    if (salt == 0) {
      Integer r = saltlessRoots.get(ns);
      if (r != null) {
        return r;
      }
      int code = index.root(ns, 0);
      saltlessRoots.put(ns, code);
      return code;
    }
    return index.root(ns, salt);
  }

  private int existingRoot(Namespace ns, long salt) {
    if (salt == 0) {
      Integer r = saltlessRoots.get(ns);
      return r == null ? PrefixIndex.NONE : r;
    }
    return index.existingRoot(ns, salt);
  }

  int[] scratch(int n) {
    if (scratch.length < n) {
      scratch = new int[Math.max(n, scratch.length * 2)];
    }
    return scratch;
  }

  SessionImpl sessionFor(String id) {
    return sessions.computeIfAbsent(id, k -> new SessionImpl(this, k));
  }

  SessionImpl existingSession(String id) {
    return id == null ? null : sessions.get(id);
  }

  void forgetSession(SessionImpl s) {
    sessions.remove(s.id());
    pinExpiry.remove(s);
  }

  void leaseClosed(LeaseImpl l) {
    openLeases.remove(l);
  }

  void leaseOpened(LeaseImpl l) {
    openLeases.add(l);
  }

  /** Processes expired TTL pins and priority durations. */
  void tick() {
    long now = ticker.read();
    SessionImpl s;
    while ((s = pinExpiry.peek()) != null && s.pinUntil <= now) {
      pinExpiry.poll();
      s.expirePin();
    }
    PriorityExpiry p;
    while ((p = priorityExpiry.peek()) != null && p.until <= now) {
      priorityExpiry.poll();
      if (index.sameBlock(p.block, p.fingerprint)) {
        index.priority(p.block, Request.DEFAULT_PRIORITY);
        evictor.onPriorityChange(p.block);
      }
    }
  }

  /**
   * {@code now + d} on the ticker, saturating: a duration too long for a {@code long} of
   * nanoseconds (about 292 years), or one that would pass the ticker's end, never ends. Called in
   * the middle of index updates, so it must not throw.
   *
   * @param now a ticker reading (may be negative, as {@link System#nanoTime()} may be)
   * @param d a non-negative duration
   * @return the deadline, or {@link Long#MAX_VALUE} for never
   */
  static long deadline(long now, Duration d) {
    if (d.compareTo(MAX_NANOS) >= 0) {
      return Long.MAX_VALUE;
    }
    long until = now + d.toNanos();
    return until < now ? Long.MAX_VALUE : until;
  }

  void schedulePinExpiry(SessionImpl s) {
    pinExpiry.remove(s);
    pinExpiry.add(s);
  }

  void cancelPinExpiry(SessionImpl s) {
    pinExpiry.remove(s);
  }

  void setPriority(int block, int priority) {
    index.priority(block, priority);
    evictor.onPriorityChange(block);
  }

  /** A page for a lease, evicting when the tier is full; {@link PageHandle#NONE} if impossible. */
  long allocatePage(long hint) {
    long h = pages.allocate(hint);
    while (h == PageHandle.NONE) {
      if (!evictOne()) {
        return PageHandle.NONE;
      }
      h = pages.allocate(hint);
    }
    return h;
  }

  /** Evicts one block: dead ones first, then the evictor's choice. */
  boolean evictOne() {
    int victim = deadEvictable.size() > 0 ? deadEvictable.peek() : evictor.victim();
    if (victim == Evictor.NONE) {
      return false;
    }
    if (!index.evictable(victim)) {
      throw new IllegalStateException(
          "eviction policy "
              + config.eviction().name()
              + " chose block "
              + victim
              + ", which is not an evictable leaf");
    }
    removeBlock(victim);
    evictedBlocks++;
    return true;
  }

  private void removeBlock(int b) {
    Namespace ns = index.namespaceOf(b);
    BlockKey key = new BlockKey(index.keyHi(b), index.keyLo(b));
    int slot = index.slot(b);
    index.remove(b);
    evictor.onRemove(b);
    pages.release(pages.handleOf(slot));
    events.append(new CacheEvent.Removed(events.nextSeq(), ns, key, tierName));
  }

  /**
   * Publishes full blocks of a lease. Returns the number published; the blocks' ids are in {@code
   * out[fromBlock ..]}.
   */
  int publish(
      LeaseImpl lease,
      int parent,
      int[] tok,
      int fromBlock,
      int nBlocks,
      long[] leasePages,
      int prio,
      boolean dead,
      int[] out) {
    long pHi;
    long pLo;
    if (PrefixIndex.isRoot(parent)) {
      pHi = index.rootKeyHi(parent);
      pLo = index.rootKeyLo(parent);
    } else {
      pHi = index.keyHi(parent);
      pLo = index.keyLo(parent);
    }
    insertPages = leasePages;
    insertLease = lease;
    try {
      return index.insert(parent, tok, fromBlock, nBlocks, pHi, pLo, prio, dead, out);
    } finally {
      insertPages = null;
      insertLease = null;
    }
  }

  // ------------------------------------------------------------------ index listener

  @Override
  public void evictableChanged(int block, boolean evictable) {
    evictor.onEvictable(block, evictable);
    if (index.dead(block)) {
      if (evictable) {
        deadEvictable.add(block, index.lastAccess(block), -index.depth(block));
      } else if (deadEvictable.contains(block)) {
        deadEvictable.remove(block);
      }
    }
  }

  @Override
  public void deadChanged(int block) {
    if (!index.evictable(block)) {
      return;
    }
    if (index.dead(block)) {
      if (!deadEvictable.contains(block)) {
        deadEvictable.add(block, index.lastAccess(block), -index.depth(block));
      }
    } else if (deadEvictable.contains(block)) {
      deadEvictable.remove(block);
    }
  }

  @Override
  public void blockCreated(int block, int position) {
    long h = insertPages[position];
    pages.retain(h);
    index.slot(block, (int) PageHandle.index(h));
    evictor.onInsert(block);
    Duration d = insertLease == null ? null : insertLease.priorityDuration();
    if (d != null) {
      long until = deadline(ticker.read(), d);
      if (until != Long.MAX_VALUE) {
        priorityExpiry.add(new PriorityExpiry(until, block, index.keyLo(block)));
      }
    }
    BlockKey parent = new BlockKey(index.parentKeyHi(block), index.parentKeyLo(block));
    events.append(
        new CacheEvent.Stored(
            events.nextSeq(),
            index.namespaceOf(block),
            new BlockKey(index.keyHi(block), index.keyLo(block)),
            parent,
            tierName,
            tpb));
  }

  /** Blocks of discarded branches kept as cache, per session, as (id, fingerprint) pairs. */
  private final Map<String, long[]> keptBranchBlocks = new HashMap<>();

  /** How many more discarded-branch blocks the session may keep under the branch policy's cap. */
  int keptBranchBudget(String sessionId) {
    int cap = config.branches().maxKeptPagesPerSession();
    if (sessionId == null || cap == Integer.MAX_VALUE) {
      return cap;
    }
    long[] kept = keptBranchBlocks.get(sessionId);
    return cap - (kept == null ? 0 : compactKept(sessionId, kept));
  }

  /** Drops evicted entries; returns the live count. */
  private int compactKept(String sessionId, long[] kept) {
    int live = 0;
    int n = (int) kept[0];
    for (int i = 0; i < n; i++) {
      long e = kept[1 + i];
      int b = (int) (e >>> 32);
      int fp = (int) e;
      if (index.live(b) && (int) index.keyLo(b) == fp) {
        kept[1 + live++] = e;
      }
    }
    kept[0] = live;
    if (live == 0) {
      keptBranchBlocks.remove(sessionId);
    }
    return live;
  }

  /** Records {@code count} kept blocks ending at {@code tail}, walking up the chain. */
  void chargeKeptBranchBlocks(String sessionId, int tail, int count) {
    if (sessionId == null
        || count <= 0
        || config.branches().maxKeptPagesPerSession() == Integer.MAX_VALUE) {
      return;
    }
    long[] kept = keptBranchBlocks.get(sessionId);
    int n = kept == null ? 0 : (int) kept[0];
    if (kept == null || kept.length < 1 + n + count) {
      long[] grown = new long[Math.max(1 + n + count, kept == null ? 16 : kept.length * 2)];
      if (kept != null) {
        System.arraycopy(kept, 0, grown, 0, 1 + n);
      }
      kept = grown;
      keptBranchBlocks.put(sessionId, kept);
    }
    int b = tail;
    for (int i = 0; i < count && !PrefixIndex.isRoot(b); i++) {
      kept[1 + n++] = ((long) b << 32) | (index.keyLo(b) & 0xFFFFFFFFL);
      b = index.parent(b);
    }
    kept[0] = n;
  }

  PrefetchContext prefetchContext() {
    return prefetchContext;
  }

  /**
   * Verifies every invariant the engine relies on, from scratch: each page's reference count equals
   * the references the index and the open leases hold; no page belongs to two blocks; used pages
   * never exceed capacity; pins equal the leases' and sessions' pins; the tree's structure and the
   * evictability flags are consistent. For tests; O(capacity + leases).
   *
   * @throws IllegalStateException describing the first violation
   */
  void checkInvariants() {
    lock.lock();
    try {
      if (closed) {
        return;
      }
      int cap = index.capacity();
      int[] refs = new int[(int) store.capacityPages()];
      int[] owner = new int[refs.length];
      java.util.Arrays.fill(owner, -1);
      int[] pins = new int[cap];
      for (int b = 0; b < cap; b++) {
        if (index.live(b)) {
          int s = index.slot(b);
          if (owner[s] != -1) {
            throw new IllegalStateException(
                "page " + s + " is owned by blocks " + owner[s] + " and " + b);
          }
          owner[s] = b;
          refs[s]++;
        }
      }
      for (LeaseImpl l : openLeases) {
        l.forEachPage(h -> refs[(int) PageHandle.index(h)]++);
        if (l.tail() != PrefixIndex.NONE) {
          pins[l.tail()]++;
        }
      }
      for (SessionImpl s : sessions.values()) {
        if (s.pinnedBlock() != PrefixIndex.NONE) {
          pins[s.pinnedBlock()]++;
        }
      }
      long used = 0;
      for (int s = 0; s < refs.length; s++) {
        if (refs[s] > 0) {
          used++;
          long h = pages.handleOf(s);
          if (pages.refCount(h) != refs[s]) {
            throw new IllegalStateException(
                "page "
                    + s
                    + " has refcount "
                    + pages.refCount(h)
                    + " but the index and leases hold "
                    + refs[s]);
          }
        }
      }
      if (used != pages.usedPages()) {
        throw new IllegalStateException(
            used + " pages are referenced but the allocator has " + pages.usedPages() + " in use");
      }
      if (used > store.capacityPages()) {
        throw new IllegalStateException("capacity exceeded: " + used + " pages in use");
      }
      index.checkStructure(pins, deadEvictable::contains);
    } finally {
      lock.unlock();
    }
  }

  /** For tests: the number of page references the index and all open leases hold. */
  long pageReferences() {
    lock.lock();
    try {
      return pages.usedPages();
    } finally {
      lock.unlock();
    }
  }
}
