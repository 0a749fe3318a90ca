package io.kvtier.core;

import io.kvtier.CacheClosedException;
import io.kvtier.CacheStats;
import io.kvtier.KvCache;
import io.kvtier.KvLayout;
import io.kvtier.KvTierException;
import io.kvtier.Lease;
import io.kvtier.LinkStats;
import io.kvtier.Namespace;
import io.kvtier.NextStep;
import io.kvtier.PageHandle;
import io.kvtier.PauseKind;
import io.kvtier.PrefetchStats;
import io.kvtier.Request;
import io.kvtier.Session;
import io.kvtier.Ticker;
import io.kvtier.TierStats;
import io.kvtier.Warmth;
import io.kvtier.event.BlockKey;
import io.kvtier.event.CacheEvent;
import io.kvtier.event.EventBatch;
import io.kvtier.spi.BlockRecord;
import io.kvtier.spi.CacheConfig;
import io.kvtier.spi.Evictor;
import io.kvtier.spi.EvictorContext;
import io.kvtier.spi.PageStore;
import io.kvtier.spi.PrefetchContext;
import io.kvtier.spi.TierSpec;
import io.kvtier.spi.WritePolicy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
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
 * <h2>Tier chain</h2>
 *
 * Tier 0 is where leases' pages live; a block may also have copies in lower tiers (the index keeps
 * a slot per tier and copy bits). Every tier evicts leaf-first among its own copies: a copy may go
 * when no child has a copy in that tier, and, if it is the block's last copy, when the block is an
 * unpinned leaf of the tree. Evicting a copy that another tier also holds is a drop; evicting the
 * last copy demotes it to the next tier (write-back, synchronous, if the admission policy admits it
 * there) or discards the block. With write-through, committed blocks are copied down asynchronously
 * through the {@link TransferEngine}, so that eviction is mostly a cheap drop. {@link
 * Lease#onboard()} copies matched blocks that only lower tiers hold up into tier 0: the source copy
 * is marked busy (not evictable) and the destination page only enters the index and the lease's
 * block table when its copy completed. A tier that fails (I/O error, verification failure) is
 * counted; an I/O error marks it degraded and the cache stops using it.
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
  final Tier[] tiers;
  final Tier top;
  final PageStore store;
  final PageAllocator pages;
  final PrefixIndex index;
  final TransferEngine transfers;
  final AgentHints hints;
  private final QueueHold queueHold;
  private final EventLog events;
  private final String tierName;
  private final WritePolicy writes;
  private final Map<Integer, Landing> onboarding = new HashMap<>();

  /** A block's copy into tier 0 under way: when it lands, its layers' progress, its page there. */
  record Landing(
      CompletableFuture<Void> landed,
      TransferEngine.Layers layers,
      long handle,
      CompletableFuture<Void> transfer) {}

  /** The copy of {@code block} into tier 0 under way, or null (lock held). */
  Landing landing(int block) {
    return onboarding.get(block);
  }

  private final Map<BlockKey, List<long[]>> recovered = new HashMap<>();
  private final Map<Long, BlockRecord> recoveredRecords = new HashMap<>();
  private static final System.Logger LOG = System.getLogger("io.kvtier.core");

  private final Map<Namespace, Integer> saltlessRoots = new HashMap<>();
  private final Map<String, SessionImpl> sessions = new HashMap<>();
  private final Set<LeaseImpl> openLeases = Collections.newSetFromMap(new IdentityHashMap<>());
  private final PriorityQueue<SessionImpl> pinExpiry =
      new PriorityQueue<>((a, b) -> Long.compare(a.pinUntil, b.pinUntil));
  private final PriorityQueue<PriorityExpiry> priorityExpiry =
      new PriorityQueue<>((a, b) -> Long.compare(a.until, b.until));
  private final PriorityQueue<DuePromotion> promotionDue =
      new PriorityQueue<>((a, b) -> Long.compare(a.at, b.at));
  private final Map<SessionImpl, DuePromotion> scheduledPromotion = new IdentityHashMap<>();
  private final PrefetchContext prefetchContext =
      new PrefetchContext() {
        @Override
        public void promoteSession(String sessionId) {
          SessionImpl s = sessionId == null ? null : sessions.get(sessionId);
          if (s != null) {
            promotePath(s);
          }
        }

        @Override
        public void promoteSessionAfter(String sessionId, Duration delay) {
          SessionImpl s = sessionId == null ? null : sessions.get(sessionId);
          if (s == null || delay == null) {
            return;
          }
          cancelPromotion(s);
          if (delay.isNegative() || delay.isZero()) {
            promotePath(s);
            return;
          }
          int tail = s.tail();
          if (tail == PrefixIndex.NONE || !index.live(tail)) {
            return;
          }
          long at = deadline(ticker.read(), delay);
          if (at == Long.MAX_VALUE) {
            return;
          }
          DuePromotion d = new DuePromotion(at, s, tail, index.fingerprint(tail));
          scheduledPromotion.put(s, d);
          promotionDue.add(d);
        }
      };

  private int[] scratch = new int[1024];
  private long[] insertPages;
  private int insertTier;
  private boolean insertCreated;
  private LeaseImpl insertLease;
  private boolean closed;

  private long lookups;
  private long requestedTokens;
  private long hitTokens;
  private long evictedBlocks;

  private record PriorityExpiry(long until, int block, long fingerprint) {}

  /** A session promotion due at {@code at}, valid while the session's tail is still this block. */
  private record DuePromotion(long at, SessionImpl session, int tail, long fingerprint) {}

  KvCacheImpl(CacheConfig config) {
    this.config = config;
    this.layout = config.layout();
    this.tpb = layout.tokensPerBlock();
    this.ticker = config.ticker();
    this.writes = config.writes();
    List<TierSpec> specs = config.tiers();
    if (specs.size() > PrefixIndex.MAX_TIERS) {
      throw new IllegalStateException(
          "at most " + PrefixIndex.MAX_TIERS + " tiers are supported, got " + specs.size());
    }
    this.tiers = new Tier[specs.size()];
    try {
      long totalPages = 0;
      for (int t = 0; t < specs.size(); t++) {
        TierSpec spec = specs.get(t);
        PageStore st = spec.open(layout.pageBytes());
        if (st.capacityPages() > Integer.MAX_VALUE) {
          st.close();
          throw new IllegalStateException(
              "tier '" + spec.name() + "' has " + st.capacityPages() + " pages; at most 2^31-1");
        }
        tiers[t] = new Tier(t, spec, st);
        totalPages += st.capacityPages();
      }
      if (totalPages > Integer.MAX_VALUE - 1024) {
        throw new IllegalStateException(
            "the tiers hold " + totalPages + " pages in all; at most 2^31 blocks are supported");
      }
      this.top = tiers[0];
      this.store = top.store;
      this.pages = top.pages;
      this.tierName = top.name;
      this.index = new PrefixIndex(tpb, (int) totalPages, tiers.length, ticker);
      this.index.listener(this);
      this.queueHold = new QueueHold(index);
      for (Tier t : tiers) {
        t.evictor =
            config
                .eviction()
                .newEvictor(
                    new EvictorContext(
                        t.name,
                        t.ordinal,
                        t.store.capacityPages(),
                        index.view(t.ordinal),
                        tiers.length));
      }
      this.events = new EventLog(config.eventBuffer());
      this.transfers = new TransferEngine(256L << 20);
      this.hints = new AgentHints(this, config.hints());
      for (int t = 1; t < tiers.length; t++) {
        recover(tiers[t]);
      }
    } catch (RuntimeException e) {
      for (Tier t : tiers) {
        if (t != null) {
          t.store.close();
        }
      }
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
      int n = matchUsable(root, tok, matched);
      int usable = usableMask();
      long now = ticker.read();
      SessionImpl session = existingSession(request.sessionId());
      int turn =
          session != null
              ? session.nextTurn()
              : index.turnAfter(n > 0 ? matched[n - 1] : PrefixIndex.NONE);
      index.currentTurn = turn;
      index.touch(matched, n, now);
      int[] perTier = new int[tiers.length];
      for (int i = 0; i < n; i++) {
        int b = matched[i];
        int mask = index.copyMask(b) & usable;
        hints.matched(b);
        int fastest = Integer.numberOfTrailingZeros(mask);
        perTier[fastest]++;
        tiers[fastest].hitBlocks++;
        accessed(b, mask);
      }
      LeaseImpl lease = new LeaseImpl(this, request, root, matched, n, perTier);
      lease.turn = turn;
      if (n > 0) {
        index.pin(matched[n - 1]);
      }
      if (writes.mode() == WritePolicy.Mode.AFTER_HITS) {
        // After the pin: the tier-1 allocation may evict, and must not take a matched block.
        for (int i = 0; i < n; i++) {
          if (index.hits(matched[i]) == writes.hits()) {
            scheduleOffload(matched[i]);
          }
        }
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
  public int prefetch(Request request) {
    Objects.requireNonNull(request, "request");
    lock.lock();
    try {
      ensureOpen();
      tick();
      Namespace ns = request.namespace();
      checkNamespace(ns);
      if (tiers.length == 1) {
        return 0;
      }
      int root = hintRoot(ns, request.salt());
      if (root == PrefixIndex.NONE) {
        return 0;
      }
      int[] tok = request.tokens();
      int[] matched = scratch(tok.length / tpb);
      int n = matchUsable(root, tok, matched);
      if (n == 0) {
        return 0;
      }
      // The request runs shortly: its prefix counts as used now, so the pages that land are not
      // the next victims of the requests scheduled before it.
      index.refresh(matched, n, ticker.read());
      int usable = usableMask();
      for (int i = 0; i < n; i++) {
        accessed(matched[i], index.copyMask(matched[i]) & usable);
      }
      int[] chain = Arrays.copyOf(matched, n);
      // Anything used before this call may make room (the request is certain and imminent);
      // other queued requests' unused pages and blocks in use may not. A prefix the queue's hold
      // covers does not yield: the hold already ranks it among what waits, and the rest is the
      // eviction policy's to choose, as for the request's own onboarding.
      long coldBefore =
          queueHold.holds(chain[n - 1]) ? Long.MAX_VALUE : index.lastAccess(chain[n - 1]);
      return hints.promoteQueued(chain, request.sessionId(), request.salt(), coldBefore);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Of the top tier's pages, at most one {@code HOLD_SHARE}-th is held for the queue. Measured on
   * the generated agentic trace (200 sessions, 128 MiB over 1 GiB): a half exposed 8% less
   * onboarding but left onboardings without a page; a quarter left none.
   */
  static final int HOLD_SHARE = 4;

  @Override
  public int holdQueue(List<Request> waiting) {
    Objects.requireNonNull(waiting, "waiting");
    lock.lock();
    try {
      ensureOpen();
      for (Request r : waiting) {
        Objects.requireNonNull(r, "a waiting request");
        checkNamespace(r.namespace());
      }
      tick();
      queueHold.renew();
      try {
        if (tiers.length > 1) {
          holdPrefixes(waiting, top.store.capacityPages() / HOLD_SHARE);
        }
      } finally {
        queueHold.releasePrevious();
      }
      return queueHold.size();
    } finally {
      lock.unlock();
    }
  }

  /** Holds the waiting requests' cached prefixes, head first, up to {@code budget} blocks. */
  private void holdPrefixes(List<Request> waiting, long budget) {
    for (Request r : waiting) {
      int root = hintRoot(r.namespace(), r.salt());
      if (root == PrefixIndex.NONE) {
        continue;
      }
      int[] tok = r.tokens();
      int[] matched = scratch(tok.length / tpb);
      int n = matchUsable(root, tok, matched);
      for (int i = 0; i < n; i++) {
        if (queueHold.holds(matched[i])) {
          continue;
        }
        if (queueHold.size() == budget) {
          return;
        }
        queueHold.add(matched[i]);
      }
    }
  }

  @Override
  public Warmth probe(Namespace namespace, int[] tokens, long salt) {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(tokens, "tokens");
    lock.lock();
    try {
      ensureOpen();
      checkNamespace(namespace);
      int[] perTier = new int[tiers.length];
      int root = recovered.isEmpty() ? existingRoot(namespace, salt) : rootFor(namespace, salt);
      if (root == PrefixIndex.NONE) {
        return new Warmth(0, 0, perTier);
      }
      int[] matched = scratch(tokens.length / tpb);
      int n = matchUsable(root, tokens, matched);
      int usable = usableMask();
      for (int i = 0; i < n; i++) {
        int mask = index.copyMask(matched[i]) & usable;
        for (int t = 0; t < tiers.length; t++) {
          if ((mask & (1 << t)) != 0) {
            perTier[t]++;
          }
        }
      }
      return new Warmth(n * tpb, n, perTier);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public int probeTokens(Namespace namespace, int[] tokens, long salt) {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(tokens, "tokens");
    lock.lock();
    try {
      ensureOpen();
      checkNamespace(namespace);
      int root = recovered.isEmpty() ? existingRoot(namespace, salt) : rootFor(namespace, salt);
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
  public PrefetchStats prefetchStats() {
    lock.lock();
    try {
      return hints.prefetchStats();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public CompletableFuture<Void> prefetchesLanded() {
    lock.lock();
    try {
      if (closed) {
        return CompletableFuture.completedFuture(null);
      }
      tick();
      return hints.prefetchesLanded();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public CacheStats stats() {
    lock.lock();
    try {
      List<TierStats> ts = new ArrayList<>(tiers.length);
      for (Tier t : tiers) {
        ts.add(t.stats(closed));
      }
      long evicted = 0;
      for (Tier t : tiers) {
        evicted += t.evictions;
      }
      List<LinkStats> links = new ArrayList<>();
      for (Tier s : tiers) {
        for (Tier d : tiers) {
          Tier.LinkCounters c = s.linkTo(d.ordinal);
          long moved = c.pages.sum();
          if (s != d && moved > 0) {
            links.add(new LinkStats(s.name, d.name, moved, c.bytes.sum(), c.nanos.sum()));
          }
        }
      }
      return new CacheStats(
          lookups,
          requestedTokens,
          hitTokens,
          index.liveBlocks(),
          evictedBlocks,
          openLeases.size(),
          index.metadataBytesPerBlock(),
          ts,
          links);
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
      promotionDue.clear();
      scheduledPromotion.clear();
      for (Landing f : onboarding.values()) {
        f.landed().cancel(false);
      }
      onboarding.clear();
    } finally {
      lock.unlock();
    }
    transfers.close();
    lock.lock();
    try {
      for (Tier t : tiers) {
        events.append(new CacheEvent.Cleared(events.nextSeq(), t.name));
        t.store.close();
      }
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

  void checkNamespace(Namespace ns) {
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
      int code = newRoot(ns, 0);
      saltlessRoots.put(ns, code);
      return code;
    }
    int code = index.existingRoot(ns, salt);
    return code != PrefixIndex.NONE ? code : newRoot(ns, salt);
  }

  private int newRoot(Namespace ns, long salt) {
    int code = index.root(ns, salt);
    if (!recovered.isEmpty()) {
      adoptRecovered(code);
    }
    return code;
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
    cancelPromotion(s);
    hints.sessionEnded(s.id());
  }

  void leaseClosed(LeaseImpl l) {
    openLeases.remove(l);
    if (!badCopies.isEmpty()) {
      dropPendingBadCopies();
    }
  }

  void leaseOpened(LeaseImpl l) {
    openLeases.add(l);
  }

  /** Processes expired TTL pins and priority durations, and starts due session promotions. */
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
        setPriority(p.block, Request.DEFAULT_PRIORITY);
      }
    }
    DuePromotion d;
    while ((d = promotionDue.peek()) != null && d.at <= now) {
      promotionDue.poll();
      scheduledPromotion.remove(d.session);
      if (d.session.tail() == d.tail && index.sameBlock(d.tail, d.fingerprint)) {
        promotePath(d.session);
      }
    }
    hints.tick(now);
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

  /**
   * Makes one pause pin give way, for an allocation in the top tier that found nothing else to
   * evict: a pause pin is the retention policy's bet that the session comes back before its TTL, so
   * it must never make a running request fail for pages (a pin the engine asked for with {@link
   * io.kvtier.Session#pin} is a promise and never gives way). The pin that gives way is the one
   * nearest its expiry: it would go soonest anyway, and a pause that has run longest against its
   * estimate is the likeliest to be a session that is not coming back (on the generated agentic
   * trace at 1% this choice kept more hits than hard pins, 0.5470 against 0.5457, while giving way
   * to the pin expected back last lost 0.01). Its path becomes evictable at once and is then taken
   * leaf first in the eviction policy's order, so only as many of its blocks go as the allocation
   * needs; the session stays paused. O(paused sessions), only when the tier is otherwise full of
   * pinned blocks.
   *
   * @return whether a pin gave way
   */
  private boolean yieldPausePin() {
    SessionImpl first = null;
    for (SessionImpl s : pinExpiry) {
      if (s.pinnedByPause() && (first == null || s.pinUntil < first.pinUntil)) {
        first = s;
      }
    }
    if (first == null) {
      return false;
    }
    pinExpiry.remove(first);
    first.expirePin();
    pauseYields++;
    return true;
  }

  /** Whether a tier below the top one is usable now (lock held). */
  boolean hasLowerTier() {
    for (int t = 1; t < tiers.length; t++) {
      if (tiers[t].usable()) {
        return true;
      }
    }
    return false;
  }

  /** Pause pins that gave way to allocations (for tests and stats). */
  private long pauseYields;

  long pauseYields() {
    lock.lock();
    try {
      return pauseYields;
    } finally {
      lock.unlock();
    }
  }

  /** Session promotions scheduled and not yet started (for tests). */
  int scheduledPromotions() {
    lock.lock();
    try {
      return scheduledPromotion.size();
    } finally {
      lock.unlock();
    }
  }

  /** Drops the session's scheduled promotion, if any (lock held). */
  void cancelPromotion(SessionImpl s) {
    DuePromotion d = scheduledPromotion.remove(s);
    if (d != null) {
      promotionDue.remove(d);
    }
  }

  /** Starts promoting the session's path into the top tier; best effort (lock held). */
  private void promotePath(SessionImpl s) {
    int tail = s.tail();
    if (closed || tail == PrefixIndex.NONE || !index.live(tail)) {
      return;
    }
    if (!index.sameBlock(tail, s.tailFingerprint())) {
      return;
    }
    try {
      hints.promotePath(s.id(), tail);
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.DEBUG, "session promotion failed", e);
    }
  }

  /**
   * Records a pause ({@code kind} non-null) or resume of the session whose path ends at {@code
   * tail} on every block of the path, and tells the evictors of the blocks whose hints changed.
   */
  void setPause(int tail, PauseKind kind, long expectedNanos) {
    for (int b = tail; !PrefixIndex.isRoot(b); b = index.parent(b)) {
      if (index.setPause(b, kind, expectedNanos)) {
        for (Tier t : tiers) {
          if (index.hasCopy(b, t.ordinal)) {
            t.evictor.onHintChange(b);
          }
        }
      }
    }
  }

  void setPriority(int block, int priority) {
    index.priority(block, priority);
    for (Tier t : tiers) {
      if (index.hasCopy(block, t.ordinal)) {
        t.evictor.onPriorityChange(block);
      }
    }
  }

  /** A page for a lease, evicting when the tier is full; {@link PageHandle#NONE} if impossible. */
  long allocatePage(long hint) {
    return allocateIn(top, hint);
  }

  /**
   * A page in tier {@code t}, evicting from it when full; {@link PageHandle#NONE} if impossible.
   */
  long allocateIn(Tier t, long hint) {
    if (!t.usable()) {
      return PageHandle.NONE;
    }
    int stuckBefore = stuck.size();
    try {
      if (t == top && !hints.roomUnderQuota()) {
        return PageHandle.NONE;
      }
      long h = t.pages.allocate(hint);
      boolean yielding = t == top && hints.prefetchYields();
      while (h == PageHandle.NONE) {
        if (yielding) {
          if (!evictForPrefetch()) {
            return PageHandle.NONE;
          }
        } else if (!freeOne(t)) {
          return PageHandle.NONE;
        }
        h = t.pages.allocate(hint);
      }
      return h;
    } finally {
      if (stuckBefore == 0) {
        releaseStuck();
      }
    }
  }

  /**
   * One step of making room in tier {@code t}: evicts the next victim; in the top tier, when
   * nothing is evictable, lets a pause pin give way, else a warm-prefix pin, else the queue's hold
   * from its last block (hints never make a request fail for pages). A prefetch's allocation makes
   * no pin give way: it only takes what is evictable.
   *
   * @return whether anything was evicted or unpinned
   */
  private boolean freeOne(Tier t) {
    return evictOne(t)
        || (t == top
            && !hints.prefetching()
            && (yieldPausePin() || hints.yieldPin() || queueHold.yieldLast()));
  }

  /** Blocks kept out of one allocation's eviction loop: (block, tier, fingerprint). */
  private final List<long[]> stuck = new ArrayList<>();

  private void releaseStuck() {
    for (long[] x : stuck) {
      int b = (int) x[0];
      if (index.sameBlock(b, x[2])) {
        index.setBusy(b, (int) x[1], false);
      }
    }
    stuck.clear();
    reaped = false;
  }

  /** Whether this allocation already swept the index for unreadable blocks. */
  private boolean reaped;

  /**
   * Removes the blocks that only degraded tiers hold, as far as they are unpinned leaves and no
   * transfer reads them, walking up to parents that become such leaves. A degraded tier is never
   * evicted from, so without this its blocks would stay in the tree for good and keep their
   * ancestors' copies in the healthy tiers from ever being evicted (they are not leaves, and the
   * tier below cannot take them): the top tier would fill with blocks it can neither demote nor
   * drop. Runs at most once per allocation, and only while a tier is degraded; O(capacity).
   *
   * @return the number of blocks removed
   */
  private int reapUnreadable() {
    int usable = usableMask();
    if (reaped || usable == (1 << tiers.length) - 1) {
      return 0;
    }
    reaped = true;
    int removed = 0;
    for (int b = 0; b < index.capacity(); b++) {
      int x = b;
      while (!PrefixIndex.isRoot(x) && unreadableLeaf(x, usable)) {
        int parent = index.parent(x);
        for (Tier t : tiers) {
          if (index.hasCopy(x, t.ordinal)) {
            t.evictions++;
            dropCopy(x, t, true);
          }
        }
        removeFromIndex(x);
        evictedBlocks++;
        removed++;
        x = parent;
      }
    }
    return removed;
  }

  private boolean unreadableLeaf(int b, int usable) {
    if (!index.live(b) || (index.copyMask(b) & usable) != 0) {
      return false;
    }
    if (index.pins(b) != 0 || !index.isLeaf(b)) {
      return false;
    }
    for (Tier t : tiers) {
      if (index.busy(b, t.ordinal)) {
        return false;
      }
    }
    return true;
  }

  /**
   * Evicts one block from the top tier for a yielding prefetch, if the next victim is one it may
   * take ({@link AgentHints#mayEvictForPrefetch}); never lets a warm pin give way.
   */
  private boolean evictForPrefetch() {
    int victim = nextVictim(top);
    return victim != Evictor.NONE && hints.mayEvictForPrefetch(victim) && evictOne(top);
  }

  /** The block {@link #evictOne(Tier)} takes next, or {@link Evictor#NONE}. */
  private int nextVictim(Tier t) {
    int victim = hints.quotaVictim(t);
    if (victim == Evictor.NONE) {
      victim = t.dead.size() > 0 ? t.dead.peek() : t.evictor.victim();
    }
    return victim;
  }

  /** Evicts one block from the top tier. */
  boolean evictOne() {
    return evictOne(top);
  }

  /**
   * Evicts one copy from tier {@code t}: dead blocks first, then the evictor's choice. A copy that
   * another tier also holds is dropped; a last copy is demoted to the next usable tier if admitted
   * there, else the block leaves the cache.
   */
  boolean evictOne(Tier t) {
    int victim = nextVictim(t);
    if (victim == Evictor.NONE) {
      return false;
    }
    if (!index.evictableIn(victim, t.ordinal)) {
      throw new IllegalStateException(
          "eviction policy "
              + config.eviction().name()
              + " chose block "
              + victim
              + ", which is not evictable in tier '"
              + t.name
              + "'");
    }
    int others = index.copyMask(victim) & ~(1 << t.ordinal);
    if (others == 0 && t.ordinal + 1 < tiers.length) {
      boolean leaf = index.isLeaf(victim) && index.pins(victim) == 0;
      // Demote past a degraded tier: it takes nothing, and without this the tiers below it
      // would never be allocated in, so nothing there would ever be evicted.
      Tier below = tiers[t.ordinal + 1];
      for (int k = t.ordinal + 1; k < tiers.length; k++) {
        if (tiers[k].usable()) {
          below = tiers[k];
          break;
        }
      }
      if (demote(victim, t, below, !leaf)) {
        t.evictions++;
        return true;
      }
      if (!leaf && !(reapUnreadable() > 0 && index.isLeaf(victim) && index.pins(victim) == 0)) {
        // An interior block whose descendants live below: it cannot be lost, and the tier below
        // cannot take it now. Keep it out of this allocation's way and try another victim.
        index.setBusy(victim, t.ordinal, true);
        stuck.add(new long[] {victim, t.ordinal, index.fingerprint(victim)});
        return true;
      }
    }
    t.evictions++;
    dropCopy(victim, t, true);
    if (index.copyMask(victim) == 0) {
      removeFromIndex(victim);
      evictedBlocks++;
    }
    return true;
  }

  /**
   * Copies {@code b}'s only copy from {@code from} to {@code to}, then drops it from {@code from}.
   */
  private boolean demote(int b, Tier from, Tier to, boolean force) {
    // Interior blocks are always admitted (force): their descendants below need them.
    if (!to.usable()
        || (!force && !config.admission().admit(to.ordinal, b, index.view(to.ordinal)))) {
      return false;
    }
    index.setBusy(b, from.ordinal, true); // not a victim of the eviction the allocation may cause
    long dst;
    try {
      dst = allocateIn(to, PageHandle.NONE);
    } finally {
      index.setBusy(b, from.ordinal, false);
    }
    if (dst == PageHandle.NONE) {
      return false;
    }
    int dstSlot = (int) PageHandle.index(dst);
    TransferEngine.PageCopy copy =
        new TransferEngine.PageCopy(index.slot(b, from.ordinal), dstSlot, recordFor(b, from, to));
    try {
      TransferEngine.copyNow(from, to, List.of(copy));
    } catch (RuntimeException e) {
      to.pages.release(dst);
      fault(e);
      return false;
    }
    to.evictor.onInsert(b);
    index.addCopy(b, to.ordinal, dstSlot);
    dropCopy(b, from, false);
    events.append(
        new CacheEvent.Moved(events.nextSeq(), index.namespaceOf(b), key(b), from.name, to.name));
    return true;
  }

  /**
   * Records a failed copy against the tier that failed: a verification failure is counted (a miss);
   * an I/O error also takes the tier out of service.
   */
  void fault(Throwable e) {
    Throwable cause = e;
    while (cause instanceof java.util.concurrent.CompletionException && cause.getCause() != null) {
      cause = cause.getCause();
    }
    Tier t;
    boolean io;
    if (cause instanceof TransferEngine.TierIoException x) {
      t = x.tier;
      io = true;
    } else if (cause instanceof TransferEngine.VerificationFailedException x) {
      t = x.tier;
      io = false;
    } else {
      LOG.log(System.Logger.Level.ERROR, "unexpected failure of a page copy", cause);
      return;
    }
    t.errors++;
    if ((io || t.store.isDegraded()) && !t.degraded) {
      t.degraded = true;
      LOG.log(
          System.Logger.Level.WARNING,
          "tier '" + t.name + "' is degraded and no longer used: " + cause.getMessage(),
          cause);
    }
  }

  private int usableMask() {
    int m = 0;
    for (Tier t : tiers) {
      if (t.usable()) {
        m |= 1 << t.ordinal;
      }
    }
    return m;
  }

  /**
   * Matches {@code tok} below {@code root} into {@code out} and returns how many blocks count: up
   * to the first one that only a degraded tier holds, a miss from there on (lock held).
   */
  private int matchUsable(int root, int[] tok, int[] out) {
    int n = index.match(root, tok, tok.length, out);
    int usable = usableMask();
    for (int i = 0; i < n; i++) {
      if ((index.copyMask(out[i]) & usable) == 0) {
        return i;
      }
    }
    return n;
  }

  /** Tells the evictor of each tier in {@code mask} that block {@code b} was used (lock held). */
  private void accessed(int b, int mask) {
    for (int t = 0; t < tiers.length; t++) {
      if ((mask & (1 << t)) != 0) {
        tiers[t].evictor.onAccess(b);
      }
    }
  }

  /**
   * Adds tier {@code t}'s copy of {@code b} at {@code slot} (the index takes the allocation's ref).
   */
  private void addCopy(int b, Tier t, int slot) {
    t.evictor.onInsert(b);
    index.addCopy(b, t.ordinal, slot);
    events.append(
        new CacheEvent.Stored(
            events.nextSeq(), index.namespaceOf(b), key(b), parentKey(b), t.name, tpb));
  }

  /** Drops tier {@code t}'s copy of {@code b} and the index's reference on its page. */
  private void dropCopy(int b, Tier t, boolean event) {
    int slot = index.slot(b, t.ordinal);
    Namespace ns = event ? index.namespaceOf(b) : null;
    BlockKey k = event ? key(b) : null;
    index.dropCopy(b, t.ordinal);
    t.evictor.onRemove(b);
    t.pages.release(t.pages.handleOf(slot));
    if (event) {
      events.append(new CacheEvent.Removed(events.nextSeq(), ns, k, t.name));
    }
  }

  private void removeFromIndex(int b) {
    index.remove(b);
  }

  private BlockKey key(int b) {
    return new BlockKey(index.keyHi(b), index.keyLo(b));
  }

  private BlockKey parentKey(int b) {
    return new BlockKey(index.parentKeyHi(b), index.parentKeyLo(b));
  }

  /** The block's record, for copies where either store verifies; null for raw memory copies. */
  private BlockRecord recordFor(int b, Tier from, Tier to) {
    if (!from.store.verifiesBlocks() && !to.store.verifiesBlocks()) {
      return null;
    }
    return blockRecord(b);
  }

  BlockRecord blockRecord(int b) {
    int root = index.rootOf(b);
    int[] toks = new int[tpb];
    for (int i = 0; i < tpb; i++) {
      toks[i] = index.token(b, i);
    }
    return new BlockRecord(
        index.keyHi(b),
        index.keyLo(b),
        index.parentKeyHi(b),
        index.parentKeyLo(b),
        index.rootKeyHi(root),
        index.rootKeyLo(root),
        toks);
  }

  /**
   * Copies a block into tier 1 asynchronously (write-through): the tier-0 page keeps an extra
   * reference until the copy completes, and the tier-1 copy enters the index only then.
   */
  void scheduleOffload(int b) {
    if (tiers.length < 2) {
      return;
    }
    Tier to = tiers[1];
    if (!index.hasCopy(b, 0)
        || index.hasCopy(b, 1)
        || index.busy(b, 1)
        || !to.usable()
        || !config.admission().admit(1, b, index.view(1))) {
      return;
    }
    long src = top.pages.retainSlot(index.slot(b, 0));
    long dst = allocateIn(to, PageHandle.NONE);
    if (dst == PageHandle.NONE) {
      top.pages.release(src);
      return;
    }
    index.setBusy(b, 1, true); // marks "copy in flight" (no copy bit yet)
    top.inFlight((int) PageHandle.index(src), 1);
    to.inFlight((int) PageHandle.index(dst), 1);
    long fp = index.fingerprint(b);
    int dstSlot = (int) PageHandle.index(dst);
    TransferEngine.PageCopy copy =
        new TransferEngine.PageCopy((int) PageHandle.index(src), dstSlot, recordFor(b, top, to));
    transfers
        .submit(top, to, TransferEngine.Priority.OFFLOAD, List.of(copy))
        .whenComplete(
            (v, e) -> {
              lock.lock();
              try {
                if (closed) {
                  return;
                }
                top.inFlight((int) PageHandle.index(src), -1);
                to.inFlight(dstSlot, -1);
                boolean same = index.sameBlock(b, fp);
                if (same) {
                  index.setBusy(b, 1, false);
                }
                if (e == null && same && !index.hasCopy(b, 1)) {
                  addCopy(b, to, dstSlot);
                } else {
                  to.pages.release(dst);
                  if (e != null) {
                    fault(e);
                  }
                }
                top.pages.release(src);
              } finally {
                lock.unlock();
              }
            });
  }

  /**
   * Starts copying the given matched blocks (positions of a lease) from lower tiers into tier 0.
   * Calls {@code done(position, handle)} under the lock for each block that arrived (with a
   * reference for the lease), and completes the returned future when all did. Each batch's progress
   * is followed per layer of {@code nsLayout}; {@link #landing(int)} tells it while it is under
   * way. The copies queue at {@code priority}: {@link TransferEngine.Priority#PREFETCH} for a
   * prefetch, so that requests' onboarding goes first; an onboarding that finds blocks a prefetch
   * has queued but not started raises that prefetch to its own priority.
   */
  CompletableFuture<Void> onboard(
      int[] blocks,
      int[] positions,
      int count,
      OnboardSink sink,
      AgentHints.Payer payer,
      KvLayout nsLayout,
      TransferEngine.Priority priority) {
    List<CompletableFuture<Void>> waits = new ArrayList<>();
    int layerCount = nsLayout.layers();
    long layerBytes = nsLayout.pageBytes() / layerCount;
    Map<Tier, List<TransferEngine.PageCopy>> batches =
        new java.util.TreeMap<>(java.util.Comparator.comparingInt((Tier t) -> t.ordinal));
    Map<Tier, List<int[]>> batchBlocks = new HashMap<>();
    CompletableFuture<Void> previous = null;
    CompletableFuture<Void> promoted = null;
    long prev = PageHandle.NONE;
    for (int i = 0; i < count; i++) {
      int b = blocks[i];
      int pos = positions[i];
      if (index.hasCopy(b, 0)) {
        long h = top.pages.retainSlot(index.slot(b, 0));
        sink.arrived(pos, h);
        prev = h;
        continue;
      }
      Landing inFlight = onboarding.get(b);
      if (inFlight != null) {
        if (priority == TransferEngine.Priority.ONBOARD && inFlight.transfer() != promoted) {
          promoted = inFlight.transfer(); // a batch's blocks share one transfer: raise it once
          transfers.promote(promoted);
        }
        waits.add(
            inFlight
                .landed()
                .thenRun(
                    () -> {
                      lock.lock();
                      try {
                        if (!closed && index.live(b) && index.hasCopy(b, 0)) {
                          sink.arrived(pos, top.pages.retainSlot(index.slot(b, 0)));
                        }
                      } finally {
                        lock.unlock();
                      }
                    }));
        continue;
      }
      int from = Integer.numberOfTrailingZeros(index.copyMask(b) & usableMask() & ~1);
      if (from >= tiers.length) {
        abandonOnboarding(batchBlocks);
        return CompletableFuture.failedFuture(
            new KvTierException("block at position " + pos + " is no longer in any usable tier"));
      }
      Tier src = tiers[from];
      index.setBusy(b, from, true);
      long dst = hints.allocateTop(payer, prev);
      if (dst == PageHandle.NONE && hints.prefetchYields()) {
        index.setBusy(b, from, false);
        hints.prefetchTruncated(count - i); // a yielding prefetch copies the part that found room
        break;
      }
      if (dst == PageHandle.NONE) {
        index.setBusy(b, from, false);
        abandonOnboarding(batchBlocks);
        io.kvtier.OutOfPagesException quota = hints.takeQuotaFailure();
        return CompletableFuture.failedFuture(
            quota != null
                ? quota
                : new io.kvtier.OutOfPagesException(
                    "tier '" + top.name + "' has no page to onboard into: every page is pinned"));
      }
      prev = dst;
      top.inFlight((int) PageHandle.index(dst), 1);
      batches
          .computeIfAbsent(src, k -> new ArrayList<>())
          .add(
              new TransferEngine.PageCopy(
                  index.slot(b, from), (int) PageHandle.index(dst), recordFor(b, src, top)));
      batchBlocks
          .computeIfAbsent(src, k -> new ArrayList<>())
          .add(new int[] {b, pos, (int) PageHandle.index(dst), (int) (dst >>> 32)});
    }
    for (Map.Entry<Tier, List<TransferEngine.PageCopy>> e : batches.entrySet()) {
      Tier src = e.getKey();
      List<int[]> bl = batchBlocks.get(src);
      long[] fps = new long[bl.size()];
      for (int i = 0; i < bl.size(); i++) {
        fps[i] = index.fingerprint(bl.get(i)[0]);
      }
      TransferEngine.Layers layers = new TransferEngine.Layers(layerCount, layerBytes);
      CompletableFuture<Void> f = transfers.submit(src, top, priority, e.getValue(), layers);
      CompletableFuture<Void> landed = new CompletableFuture<>();
      for (int[] x : bl) {
        onboarding.put(
            x[0],
            new Landing(
                landed, layers, PageHandle.of(0, x[3] & PageHandle.MAX_GENERATION, x[2]), f));
      }
      java.util.function.BiConsumer<Void, Throwable> land =
          (v, err) -> {
            lock.lock();
            try {
              for (int i = 0; i < bl.size(); i++) {
                int[] x = bl.get(i);
                int b = x[0];
                long handle = PageHandle.of(0, x[3] & PageHandle.MAX_GENERATION, x[2]);
                Landing mine = onboarding.get(b);
                if (mine != null && mine.landed() == landed) {
                  onboarding.remove(b);
                }
                top.inFlight(x[2], -1);
                boolean same = index.sameBlock(b, fps[i]);
                if (same) {
                  index.setBusy(b, src.ordinal, false);
                }
                if (closed) {
                  continue;
                }
                if (err == null && same && !index.hasCopy(b, 0)) {
                  top.pages.retain(handle); // the lease's reference; the index keeps the first
                  addCopy(b, top, x[2]);
                  sink.arrived(x[1], handle);
                } else if (err == null) {
                  sink.arrived(x[1], handle); // the lease keeps the only reference
                } else {
                  top.pages.release(handle);
                  if (same && unwrap(err) instanceof TransferEngine.VerificationFailedException) {
                    if (!dropBadCopy(b, src)) {
                      // pinned (by the waiting lease, usually): drop it when the pins are gone
                      badCopies.add(new long[] {b, src.ordinal, fps[i]});
                    }
                  }
                }
              }
              if (err != null && !closed) {
                fault(err);
              }
            } finally {
              lock.unlock();
            }
            if (err != null) {
              landed.completeExceptionally(err);
            } else {
              landed.complete(null);
            }
          };
      // Batches land in tier order whatever order their copies finish in, so the index and the
      // evictors see the same sequence of insertions on every run (a replay's hit rates are
      // reproducible).
      CompletableFuture<Void> before = previous;
      f.whenComplete(
          before == null ? land : (v, err) -> before.whenComplete((v2, e2) -> land.accept(v, err)));
      previous = landed;
      waits.add(landed);
    }
    return CompletableFuture.allOf(waits.toArray(CompletableFuture[]::new));
  }

  /**
   * Undoes the copies an {@link #onboard} call prepared but never submitted: their sources are no
   * longer busy and their destination pages go back to the top tier.
   */
  private void abandonOnboarding(Map<Tier, List<int[]>> prepared) {
    for (Map.Entry<Tier, List<int[]>> e : prepared.entrySet()) {
      for (int[] x : e.getValue()) {
        index.setBusy(x[0], e.getKey().ordinal, false);
        top.inFlight(x[2], -1);
        top.pages.release(PageHandle.of(0, x[3] & PageHandle.MAX_GENERATION, x[2]));
      }
    }
  }

  /**
   * A lower tier's copy failed verification: forget it (and the block, if it was the last). Returns
   * false when it cannot go now: it is the block's only copy and the block is pinned or has
   * children.
   */
  private boolean dropBadCopy(int b, Tier t) {
    if (!index.hasCopy(b, t.ordinal)) {
      return true;
    }
    if (index.copyMask(b) != (1 << t.ordinal)) {
      dropCopy(b, t, true);
      return true;
    } else if (index.pins(b) == 0 && index.isLeaf(b)) {
      dropCopy(b, t, true);
      removeFromIndex(b);
      return true;
    }
    return false;
  }

  /** Copies that failed verification and could not be dropped yet: {block, tier, fingerprint}. */
  private final List<long[]> badCopies = new ArrayList<>();

  /** Retries dropping the copies that failed verification (lock held). */
  private void dropPendingBadCopies() {
    badCopies.removeIf(
        x -> {
          int b = (int) x[0];
          Tier t = tiers[(int) x[1]];
          if (!index.sameBlock(b, x[2]) || !index.hasCopy(b, t.ordinal)) {
            return true; // gone already
          }
          if (dropBadCopy(b, t)) {
            t.evictions++; // a late drop: the tier gives up a copy it counted as an error before
            return true;
          }
          return false;
        });
  }

  private static Throwable unwrap(Throwable e) {
    Throwable cause = e;
    while (cause instanceof java.util.concurrent.CompletionException && cause.getCause() != null) {
      cause = cause.getCause();
    }
    return cause;
  }

  /** Receives onboarded pages, under the lock. */
  interface OnboardSink {
    void arrived(int position, long handle);
  }

  // ------------------------------------------------------------------ warm restart

  /** Collects what a persistent tier kept; blocks are adopted when their root is first used. */
  private void recover(Tier t) {
    t.store.recover(
        (slot, rec) -> {
          t.pages.adopt((int) slot);
          recovered
              .computeIfAbsent(new BlockKey(rec.rootHi(), rec.rootLo()), k -> new ArrayList<>())
              .add(new long[] {t.ordinal, slot});
          recoveredRecords.put(((long) t.ordinal << 40) | slot, rec);
        });
  }

  private void adoptRecovered(int root) {
    long rh = index.rootKeyHi(root);
    long rl = index.rootKeyLo(root);
    List<long[]> list = recovered.remove(new BlockKey(rh, rl));
    if (list == null) {
      return;
    }
    Map<BlockKey, List<long[]>> byParent = new HashMap<>();
    List<long[]> misfits = new ArrayList<>();
    for (long[] x : list) {
      BlockRecord r = recoveredRecords.get((x[0] << 40) | x[1]);
      if (r.tokenCount() != tpb) {
        misfits.add(x); // written with another block size: never adoptable, give the page back
        continue;
      }
      byParent
          .computeIfAbsent(new BlockKey(r.parentHi(), r.parentLo()), k -> new ArrayList<>())
          .add(x);
    }
    java.util.ArrayDeque<Object[]> work = new java.util.ArrayDeque<>();
    work.add(new Object[] {root, new BlockKey(rh, rl)});
    int[] out = new int[1];
    while (!work.isEmpty()) {
      Object[] w = work.poll();
      int parent = (Integer) w[0];
      List<long[]> kids = byParent.remove((BlockKey) w[1]);
      if (kids == null) {
        continue;
      }
      for (long[] x : kids) {
        Tier t = tiers[(int) x[0]];
        BlockRecord r = recoveredRecords.remove((x[0] << 40) | x[1]);
        long handle = t.pages.handleOf((int) x[1]);
        int[] toks = r.tokens();
        long[] one = {handle};
        insertPages = one;
        insertTier = t.ordinal;
        insertCreated = false;
        insertLease = null;
        int published;
        try {
          published =
              index.insert(
                  parent,
                  toks,
                  0,
                  1,
                  parentKeyHi(parent),
                  parentKeyLo(parent),
                  Request.DEFAULT_PRIORITY,
                  false,
                  out);
        } finally {
          insertPages = null;
          insertTier = 0;
        }
        int b = published == 1 ? out[0] : PrefixIndex.NONE;
        boolean ok =
            b != PrefixIndex.NONE && index.keyHi(b) == r.keyHi() && index.keyLo(b) == r.keyLo();
        if (!insertCreated) {
          if (ok && !index.hasCopy(b, t.ordinal)) {
            addCopy(b, t, (int) x[1]); // the block exists (e.g. in another tier): add this copy
          } else {
            t.pages.release(handle);
          }
        }
        if (ok) {
          work.add(new Object[] {b, new BlockKey(r.keyHi(), r.keyLo())});
        }
      }
    }
    for (List<long[]> orphans : byParent.values()) {
      releaseRecovered(orphans);
    }
    releaseRecovered(misfits);
  }

  /** Gives back recovered pages that no block of the index can adopt. */
  private void releaseRecovered(List<long[]> slots) {
    for (long[] x : slots) {
      recoveredRecords.remove((x[0] << 40) | x[1]);
      tiers[(int) x[0]].pages.release(tiers[(int) x[0]].pages.handleOf((int) x[1]));
    }
  }

  private long parentKeyHi(int node) {
    return PrefixIndex.isRoot(node) ? index.rootKeyHi(node) : index.keyHi(node);
  }

  private long parentKeyLo(int node) {
    return PrefixIndex.isRoot(node) ? index.rootKeyLo(node) : index.keyLo(node);
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
    insertTier = 0;
    insertLease = lease;
    index.currentTurn = lease.turn;
    try {
      return index.insert(parent, tok, fromBlock, nBlocks, pHi, pLo, prio, dead, out);
    } finally {
      lease.turn = index.currentTurn;
      insertPages = null;
      insertLease = null;
    }
  }

  // ------------------------------------------------------------------ index listener

  @Override
  public void evictableChanged(int block, int tier, boolean evictable) {
    Tier t = tiers[tier];
    if (tier == 0) {
      hints.evictableChanged(block, evictable);
    }
    t.evictor.onEvictable(block, evictable);
    if (index.dead(block)) {
      if (evictable) {
        t.dead.add(block, index.lastAccess(block), -index.depth(block));
      } else if (t.dead.contains(block)) {
        t.dead.remove(block);
      }
    }
  }

  @Override
  public void deadChanged(int block) {
    for (Tier t : tiers) {
      if (!index.evictableIn(block, t.ordinal)) {
        continue;
      }
      if (index.dead(block)) {
        if (!t.dead.contains(block)) {
          t.dead.add(block, index.lastAccess(block), -index.depth(block));
        }
      } else if (t.dead.contains(block)) {
        t.dead.remove(block);
      }
    }
  }

  @Override
  public void blockCreated(int block, int position) {
    Tier t = tiers[insertTier];
    long h = insertPages[position];
    insertCreated = true;
    if (insertLease != null) {
      t.pages.retain(h); // the index's own reference; the lease keeps its own
    }
    Duration d = insertLease == null ? null : insertLease.priorityDuration();
    Request.PriorityRange range = insertLease == null ? null : insertLease.rangeAt(position * tpb);
    if (range != null) {
      index.priority(block, range.value());
      d = range.duration();
    }
    addCopy(block, t, (int) PageHandle.index(h));
    if (d != null) {
      long until = deadline(ticker.read(), d);
      if (until != Long.MAX_VALUE) {
        priorityExpiry.add(new PriorityExpiry(until, block, index.keyLo(block)));
      }
    }
    if (insertLease != null && writes.mode() == WritePolicy.Mode.WRITE_THROUGH) {
      pendingOffload.add(block);
    }
  }

  private final List<Integer> pendingOffload = new ArrayList<>();

  /** Starts the write-through copies of the blocks the last publish created. */
  void flushOffloads() {
    if (pendingOffload.isEmpty()) {
      return;
    }
    for (int b : pendingOffload) {
      if (index.live(b)) {
        scheduleOffload(b);
      }
    }
    pendingOffload.clear();
  }

  /**
   * Applies branch reclamation to the {@code count} blocks ending at {@code tail} (a discarded
   * branch's own committed blocks, deepest last): of those that nothing else uses (no pin, no other
   * child: a block the survivor or another lease shares stays as it is), the deepest leave the
   * cache now, returning their pages, and the {@code keep} nearest the fork point are marked dead.
   * A copy in flight cannot leave now: it and the blocks above it are marked dead instead. Returns
   * the number kept as dead cache.
   */
  int discardChain(String sessionId, int tail, long fingerprint, int count, int keep) {
    if (count <= 0
        || !index.sameBlock(tail, fingerprint)
        || index.pins(tail) != 0
        || !index.isLeaf(tail)) {
      return 0;
    }
    int[] seen = {0};
    index.forPrivateChain(tail, x -> seen[0]++);
    int own = Math.min(count, seen[0]);
    int kept = Math.min(keep, own);
    int b = tail;
    int removed = 0;
    while (removed < own - kept) {
      int parent = index.parent(b);
      for (Tier t : tiers) {
        if (index.hasCopy(b, t.ordinal)) {
          if (index.busy(b, t.ordinal)) {
            return markDeadChain(sessionId, b, own - removed);
          }
          dropCopy(b, t, true);
        }
      }
      removeFromIndex(b);
      removed++;
      b = parent;
    }
    return markDeadChain(sessionId, b, own - removed);
  }

  private int markDeadChain(String sessionId, int from, int n) {
    int b = from;
    int marked = 0;
    for (int i = 0; i < n && !PrefixIndex.isRoot(b); i++) {
      index.markDead(b);
      marked++;
      b = index.parent(b);
    }
    chargeKeptBranchBlocks(sessionId, from, marked);
    return marked;
  }

  /**
   * Blocks of discarded branches kept as cache, per session (the null key: leases without a
   * session, which share one allowance), as (id, fingerprint) pairs.
   */
  private final Map<String, long[]> keptBranchBlocks = new HashMap<>();

  /** How many more discarded-branch blocks the session may keep under the branch policy's cap. */
  int keptBranchBudget(String sessionId) {
    int cap = config.branches().maxKeptPagesPerSession();
    if (cap == Integer.MAX_VALUE) {
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
    if (count <= 0 || config.branches().maxKeptPagesPerSession() == Integer.MAX_VALUE) {
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

  @Override
  public void expect(String workflowId, List<NextStep> steps) {
    hints.expect(workflowId, steps);
  }

  /** A page for a lease, charged to its tenant and session where they have quotas. */
  long allocatePage(LeaseImpl lease, long hint) {
    return hints.allocateTop(hints.payer(lease), hint);
  }

  /** Slots of the top tier: free, held by the index alone (movable), or held otherwise. */
  private static final byte SLOT_FREE = 0;

  private static final byte SLOT_MOVABLE = 1;
  private static final byte SLOT_HELD = 2;

  /** Per top-tier slot during {@link #takeRun}: its state, and its block when movable. */
  private byte[] slotState;

  private int[] slotOwner;

  /**
   * {@code n} pages for a lease as one run of consecutive top-tier slots, or null when the tier
   * cannot give one (then the caller allocates page by page): for a branch ({@code low} and {@code
   * high} at or above 0 once its group took a run), and for any lease that must evict to grow. The
   * run is placed, in this order of preference: just below the slots the branch's group already
   * took ({@code low}), just above them ({@code high}); a group's first run at the top of a window
   * with room below for {@code siblings} more runs of the same size, the one from {@code hintSlot}
   * (where the sequence would go on) if it is as cheap as any, else the cheapest; another lease's
   * run at {@code hintSlot} if nothing must move there; else wherever the fewest pages must move.
   * Paths pinned by a session's own pin, a lookup or a prefetch never move; paths held only by
   * pause or warm-prefix pins move for a branch's run ({@code softPinnedBlocks}). When the tier is
   * full, exactly the evictions (and pause pins given up) that {@code n} single pages would cause
   * are made first (the policy's victims, dead blocks first, wherever they lie); then the pages
   * that only the index holds inside the chosen window are copied into the slots those evictions
   * freed, and the window is taken. So a branch's pages come back as one run when it is discarded,
   * whether they came from free space or from eviction, at the cost of up to {@code n} page copies,
   * and the cache keeps what it would have kept. O(capacity) per call, for growth of at least two
   * pages at once; not used under tenant or session quotas.
   */
  long[] takeRun(LeaseImpl lease, int n, int low, int high, int hintSlot, int siblings) {
    Tier t = top;
    int cap = (int) t.store.capacityPages();
    if (n < 2 || n > cap || !t.usable() || hints.payer(lease) != null) {
      return null;
    }
    int stuckBefore = stuck.size();
    try {
      while (t.pages.freePages() < n) {
        if (!freeOne(t)) {
          return null;
        }
      }
    } finally {
      if (stuckBefore == 0) {
        releaseStuck();
      }
    }
    if (slotState == null || slotState.length != cap) {
      slotState = new byte[cap];
      slotOwner = new int[cap];
    }
    byte[] state = slotState;
    for (int s = 0; s < cap; s++) {
      int refs = t.pages.refCountOfSlot(s);
      int b = refs == 1 ? index.topOwner(s) : -1;
      if (refs == 0) {
        state[s] = SLOT_FREE;
      } else if (b >= 0 && !index.busy(b, 0) && t.inFlightRefs(s) == 0) {
        state[s] = SLOT_MOVABLE;
        slotOwner[s] = b;
      } else {
        state[s] = SLOT_HELD;
      }
    }
    // a pinned block's path keeps its top-tier slots. Pause and warm-prefix pins give way to any
    // allocation (their blocks may be evicted), so for a branch's run, whose pages come back within
    // the request, their paths may move, which keeps them cached; a long prompt's run, which only
    // might fork, does not move them (at 1% of the agentic trace that would copy 8x the pages)
    boolean branch = low >= 0 || siblings > 0;
    int[] soft = branch ? softPinnedBlocks() : new int[0];
    for (int s = 0; s < cap; s++) {
      int b = state[s] == SLOT_FREE ? -1 : index.topOwner(s);
      if (b >= 0 && index.pins(b) > softPins(soft, b)) {
        for (int x = b; !PrefixIndex.isRoot(x) && index.hasCopy(x, 0); x = index.parent(x)) {
          state[index.slot(x, 0)] = SLOT_HELD;
        }
      }
    }
    int at = -1;
    if (low >= 0) {
      if (windowCost(low - n, n) >= 0) {
        at = low - n;
      } else if (windowCost(high + 1, n) >= 0) {
        at = high + 1;
      }
    } else if (siblings > 0 && (long) (siblings + 1) * n <= cap) {
      // a group's first run: at the top of a window with room below for its siblings' runs (so
      // that the pages kept of the discarded ones, the lowest, sit at the window's edge and what
      // is freed joins the first branch's run), where the sequence goes on if that window is as
      // cheap as any, else the cheapest
      int group = (siblings + 1) * n;
      int w = cheapestWindow(group);
      int here = windowCost(hintSlot, group);
      if (here >= 0 && (w < 0 || here <= windowCost(w, group))) {
        w = hintSlot;
      }
      at = w < 0 ? -1 : w + siblings * n;
    } else if (windowCost(hintSlot, n) == 0) {
      at = hintSlot;
    }
    if (at < 0) {
      at = cheapestWindow(n);
      if (at < 0) {
        return null;
      }
    }
    long[] run = new long[n];
    Arrays.fill(run, PageHandle.NONE);
    for (int i = 0; i < n; i++) {
      if (state[at + i] == SLOT_FREE && (run[i] = t.pages.allocateAt(at + i)) == PageHandle.NONE) {
        return releaseRun(t, run);
      }
    }
    for (int i = 0; i < n; i++) {
      int s = at + i;
      if (state[s] == SLOT_MOVABLE && (run[i] = moveOut(t, slotOwner[s], s)) == PageHandle.NONE) {
        return releaseRun(t, run);
      }
    }
    return run;
  }

  /**
   * The blocks pinned by pins that give way to allocations (pause pins, warm-prefix pins), one
   * entry per pin, sorted.
   */
  private int[] softPinnedBlocks() {
    int[] soft = new int[pinExpiry.size() + 8];
    int n = 0;
    for (SessionImpl s : pinExpiry) {
      if (s.pinnedByPause()) {
        soft[n++] = s.pinnedBlock();
      }
    }
    int[] warm = hints.warmPinnedList();
    if (n + warm.length > soft.length) {
      soft = Arrays.copyOf(soft, n + warm.length);
    }
    System.arraycopy(warm, 0, soft, n, warm.length);
    n += warm.length;
    soft = Arrays.copyOf(soft, n);
    Arrays.sort(soft);
    return soft;
  }

  /** How many times {@code b} occurs in the sorted {@code soft}. */
  private static int softPins(int[] soft, int b) {
    int i = Arrays.binarySearch(soft, b);
    if (i < 0) {
      return 0;
    }
    int lo = i;
    while (lo > 0 && soft[lo - 1] == b) {
      lo--;
    }
    int hi = i;
    while (hi + 1 < soft.length && soft[hi + 1] == b) {
      hi++;
    }
    return hi - lo + 1;
  }

  /** Gives back the pages of a run that could not be completed; returns null. */
  private static long[] releaseRun(Tier t, long[] run) {
    for (long h : run) {
      if (h != PageHandle.NONE) {
        t.pages.release(h);
      }
    }
    return null;
  }

  /**
   * Moves the discarded-branch blocks kept as dead cache whose pages lie in the slots {@code [low,
   * high]} of their group's runs into free runs elsewhere that do not touch the group, shortest
   * runs first, so that what the group frees joins in one run (the survivor's pages, freed later by
   * a caller that does not cache its output, included) and short free runs elsewhere fill up.
   * {@code blocks} holds (block, fingerprint) pairs; a block no longer kept, or that someone else
   * holds, stays. Without such free runs nothing moves. O(capacity).
   */
  void moveKeptOutOf(int low, int high, long[] blocks, int count) {
    Tier t = top;
    int cap = (int) t.store.capacityPages();
    if (!t.usable() || t.pages.freePages() == 0) {
      return;
    }
    int[] runs = new int[16];
    int nRuns = 0;
    for (int s = 0; s < cap; ) {
      if (t.pages.refCountOfSlot(s) != 0) {
        s++;
        continue;
      }
      int e = s;
      while (e + 1 < cap && t.pages.refCountOfSlot(e + 1) == 0) {
        e++;
      }
      if (e < low - 1 || s > high + 1) {
        if (runs.length < 2 * nRuns + 2) {
          runs = Arrays.copyOf(runs, runs.length * 2);
        }
        runs[2 * nRuns] = s;
        runs[2 * nRuns + 1] = e - s + 1;
        nRuns++;
      }
      s = e + 1;
    }
    if (nRuns == 0) {
      return;
    }
    Integer[] bySize = new Integer[nRuns];
    for (int i = 0; i < nRuns; i++) {
      bySize[i] = i;
    }
    int[] r = runs;
    Arrays.sort(bySize, (a, b) -> Integer.compare(r[2 * a + 1], r[2 * b + 1]));
    int run = 0;
    int used = 0;
    for (int i = 0; i < count && run < nRuns; i++) {
      int b = (int) (blocks[i] >>> 32);
      if (!index.live(b)
          || (int) index.keyLo(b) != (int) blocks[i]
          || !index.dead(b)
          || !index.hasCopy(b, 0)) {
        continue;
      }
      int slot = index.slot(b, 0);
      if (slot < low
          || slot > high
          || t.pages.refCountOfSlot(slot) != 1
          || index.busy(b, 0)
          || t.inFlightRefs(slot) != 0) {
        continue;
      }
      int dst = runs[2 * bySize[run]] + used;
      long to = t.pages.allocateAt(dst);
      if (to == PageHandle.NONE) {
        return;
      }
      t.store.copy(slot, dst);
      index.moveCopy(b, t.ordinal, dst);
      hints.moved(slot, dst);
      t.movedPages++;
      t.pages.release(t.pages.handleOf(slot));
      if (++used == runs[2 * bySize[run] + 1]) {
        run++;
        used = 0;
      }
    }
  }

  /**
   * Pages that must move to take {@code [at, at + n)}, or -1 if it does not fit or holds a page
   * that cannot move.
   */
  private int windowCost(int at, int n) {
    if (at < 0 || at + n > slotState.length) {
      return -1;
    }
    int moves = 0;
    for (int s = at; s < at + n; s++) {
      if (slotState[s] == SLOT_HELD) {
        return -1;
      }
      if (slotState[s] == SLOT_MOVABLE) {
        moves++;
      }
    }
    return moves;
  }

  /** The window of {@code n} slots with the fewest pages to move and none held; -1 if none. */
  private int cheapestWindow(int n) {
    byte[] state = slotState;
    int best = -1;
    int bestMoves = Integer.MAX_VALUE;
    int held = 0;
    int moves = 0;
    for (int s = 0; s < state.length; s++) {
      held += state[s] == SLOT_HELD ? 1 : 0;
      moves += state[s] == SLOT_MOVABLE ? 1 : 0;
      if (s >= n) {
        held -= state[s - n] == SLOT_HELD ? 1 : 0;
        moves -= state[s - n] == SLOT_MOVABLE ? 1 : 0;
      }
      if (s >= n - 1 && held == 0 && moves < bestMoves) {
        best = s - n + 1;
        bestMoves = moves;
        if (moves == 0) {
          break;
        }
      }
    }
    return best;
  }

  /**
   * Moves block {@code b}'s page, which only the index holds, from {@code slot} to a free slot (the
   * caller took every free slot it must not use), and returns a new page in {@code slot}; {@link
   * PageHandle#NONE} if either step was refused.
   */
  private long moveOut(Tier t, int b, int slot) {
    long to = t.pages.allocate(PageHandle.NONE);
    if (to == PageHandle.NONE) {
      return PageHandle.NONE;
    }
    int dst = (int) PageHandle.index(to);
    t.store.copy(slot, dst);
    index.moveCopy(b, t.ordinal, dst);
    hints.moved(slot, dst);
    t.movedPages++;
    t.pages.release(t.pages.handleOf(slot));
    return t.pages.allocateAt(slot);
  }

  /** The root for a hint about (namespace, salt), or {@link PrefixIndex#NONE} if never used. */
  int hintRoot(Namespace ns, long salt) {
    return recovered.isEmpty() ? existingRoot(ns, salt) : rootFor(ns, salt);
  }

  /**
   * Runs evictions made outside an allocation (trimming a lowered quota), then releases the blocks
   * they set aside as stuck, as {@link #allocateIn} does after its own evictions.
   */
  void evictOutsideAllocation(Runnable evictions) {
    int stuckBefore = stuck.size();
    try {
      evictions.run();
    } finally {
      if (stuckBefore == 0) {
        releaseStuck();
      }
    }
  }

  /**
   * Verifies every invariant the engine relies on, from scratch: each page's reference count equals
   * the references the index and the open leases hold; no page belongs to two blocks; used pages
   * never exceed capacity; pins equal the leases', sessions' and queue hold's pins; the tree's
   * structure and the evictability flags are consistent. For tests; O(capacity + leases).
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
      int[] pins = new int[cap];
      int[][] refs = new int[tiers.length][];
      int[][] owner = new int[tiers.length][];
      for (Tier t : tiers) {
        refs[t.ordinal] = new int[(int) t.store.capacityPages()];
        owner[t.ordinal] = new int[refs[t.ordinal].length];
        java.util.Arrays.fill(owner[t.ordinal], -1);
      }
      for (int b = 0; b < cap; b++) {
        if (!index.live(b)) {
          continue;
        }
        for (Tier t : tiers) {
          if (index.hasCopy(b, t.ordinal)) {
            int s = index.slot(b, t.ordinal);
            if (owner[t.ordinal][s] != -1) {
              throw new IllegalStateException(
                  "tier '"
                      + t.name
                      + "' page "
                      + s
                      + " is owned by blocks "
                      + owner[t.ordinal][s]
                      + " and "
                      + b);
            }
            owner[t.ordinal][s] = b;
            refs[t.ordinal][s]++;
          }
        }
      }
      for (long key : recoveredRecords.keySet()) {
        refs[(int) (key >>> 40)][(int) (key & ((1L << 40) - 1))]++;
      }
      for (LeaseImpl l : openLeases) {
        l.forEachPage(h -> refs[0][(int) PageHandle.index(h)]++);
        if (l.tail() != PrefixIndex.NONE) {
          pins[l.tail()]++;
        }
      }
      for (SessionImpl s : sessions.values()) {
        if (s.pinnedBlock() != PrefixIndex.NONE) {
          pins[s.pinnedBlock()]++;
        }
      }
      queueHold.countPins(pins);
      for (Tier t : tiers) {
        int[] r = refs[t.ordinal];
        long used = 0;
        for (int s = 0; s < r.length; s++) {
          int actual = t.pages.refCountOfSlot(s);
          if (actual > 0) {
            used++;
          }
          int expected = r[s] + t.inFlightRefs(s);
          if (actual != expected) {
            throw new IllegalStateException(
                "tier '"
                    + t.name
                    + "' page "
                    + s
                    + " has refcount "
                    + actual
                    + " but the index, leases and transfers hold "
                    + expected);
          }
        }
        if (used != t.pages.usedPages()) {
          throw new IllegalStateException(
              "tier '"
                  + t.name
                  + "': "
                  + used
                  + " pages are referenced but the allocator has "
                  + t.pages.usedPages()
                  + " in use");
        }
        if (used > t.store.capacityPages()) {
          throw new IllegalStateException("tier '" + t.name + "' capacity exceeded");
        }
      }
      hints.addPins(pins);
      index.checkStructure(pins, (b, t) -> tiers[t].dead.contains(b));
      hints.checkInvariants();
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
