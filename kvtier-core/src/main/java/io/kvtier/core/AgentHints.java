package io.kvtier.core;

import io.kvtier.NextStep;
import io.kvtier.PageHandle;
import io.kvtier.PrefetchStats;
import io.kvtier.QuotaExceededException;
import io.kvtier.Request;
import io.kvtier.spi.Evictor;
import io.kvtier.spi.HintConfig;
import io.kvtier.spi.PrefetchContext;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * Agent hints and quotas (issue 6): the warm prefixes of sub-agent types, the workflow step graph,
 * and per-tenant and per-session limits on the top tier.
 *
 * <h2>Warm prefixes: soft pins under a cap</h2>
 *
 * Two hints name a prefix that will be asked for soon. A sub-agent type ({@link
 * Request#agent(String)}): when one of its leases has committed its whole prompt, the type's prefix
 * in that (namespace, salt) tree becomes the longest common prefix, in whole blocks, of its prompts
 * so far (the first prompt itself until a sibling arrives; a prompt with nothing in common replaces
 * it, as when the type's system prompt changed). A workflow forecast ({@link #expect(String,
 * List)}): each step names a prefix and its distance in steps.
 *
 * <p>Each such prefix is an entry that targets the deepest cached block of the prefix and, when
 * chosen, pins it: a pin is a reference like a session's, so the whole path stays in the top tier
 * under any eviction policy. Pins rather than raised priorities, because the stock LRU, S3-FIFO,
 * TinyLFU and ARC policies ignore priorities, and a priority that the policy ignores keeps nothing.
 * The pins are <em>soft</em> in three ways: (1) together they hold at most {@code warmBlocks}
 * blocks, counted as the sum of the pinned prefixes' depths (an overestimate where prefixes share
 * blocks; an entry whose block a more urgent entry pins already costs nothing), chosen by urgency:
 * rank (a step's distance; a sub-agent prefix counts as {@link #AGENT_RANK} step away), then the
 * most recently refreshed; (2) each ends {@code warmTtl} after its last refresh; (3) an allocation
 * in the top tier that finds nothing else to evict makes the least urgent pin give way ({@link
 * #yieldPin()}), so a hint never makes a request fail for pages. A pin that gave way stays unpinned
 * until its hint is refreshed.
 *
 * <h2>Prefetch</h2>
 *
 * {@link #promote(NextStep)} copies the cached part of a step's prefix that only lower tiers hold
 * into the top tier through the cache's onboarding path ({@link KvCacheImpl#onboard}), with the
 * prefetch's page reference dropped as soon as the copy landed: the index keeps the page. While it
 * allocates, the deepest block of the prefix already in the top tier is pinned, so the allocations
 * do not demote the part of the prefix that is already up. A session's promotion before its
 * predicted resume ({@link #promotePath}) yields to requests: root first, within a cap (unused
 * prefetched pages plus copies in flight at most a quarter of the top tier), and its allocations
 * evict only dead blocks and blocks last used before the paused session; where that finds no page
 * the rest stays below. Per top-tier slot a flag marks a prefetched page no request has matched: a
 * match clears it (used), a free while set counts it wasted.
 *
 * <h2>Quotas: charged pages</h2>
 *
 * A holder (a tenant salt with a {@link HintConfig#tenantQuotas() quota}, or a session after {@link
 * io.kvtier.Session#quota(int)}) is charged for each top-tier page that one of its requests
 * allocates (new blocks, onboarding, copy-on-write, prefetch), from allocation until the page is
 * freed: the charge follows the page into the index and stays while the page is a shared cached
 * block (first user pays, as memory cgroups charge pages). Per top-tier slot, {@code tenantOf} and
 * {@code sessionOf} name the holder; the page allocator reports frees ({@link
 * PageAllocator#onFree}); the index's evictability events keep, per holder, a heap of its evictable
 * top-tier blocks (oldest first). A holder at its quota that allocates evicts from its own heap
 * first, never another holder's block; when its heap is empty it lets its tenant's warm pins give
 * way, then fails with {@link QuotaExceededException} (a hard limit: the request is left unchanged,
 * as on a full tier). So no holder's charge passes its quota through an allocation. A session quota
 * lowered below its charge trims the holder's evictable blocks at once; while a holder stays over
 * (its leases pin the rest), its evictable blocks are every top-tier eviction's first victims.
 * Nothing is charged while no quota exists.
 *
 * <h2>Concurrency</h2>
 *
 * Everything runs under the cache's lock; hooks are called by the cache, the lease and the session
 * while they hold it.
 */
final class AgentHints implements PrefetchContext {

  /** The rank of a sub-agent type's shared prefix: as urgent as a workflow step one step away. */
  static final int AGENT_RANK = 1;

  private static final int NONE = PrefixIndex.NONE;

  /** Hints leave a block alone once this many pins hold it (the index counts up to 65535). */
  private static final int MAX_PINS = 60_000;

  private final KvCacheImpl cache;
  private final PrefixIndex index;
  private final int tpb;
  private final int warmCap;
  private final Duration warmTtl;
  private int[] buf = new int[64];

  // ---------------------------------------------------------------- warm prefixes

  /** One hinted prefix and its pin. */
  private static final class Warm {
    final long salt;
    final int root;
    final int rank;

    /** For a sub-agent type's entry: the learned shared prefix, whole blocks. */
    int[] tokens;

    int tokenLen;

    /** The deepest cached block of the prefix (with its fingerprint and depth), or NONE. */
    int block = NONE;

    long fp;
    int depth;

    /** The block this entry pins now, or NONE; and the depth counted against the cap. */
    int pinned = NONE;

    int pinnedDepth;
    long refreshed;
    long until;
    boolean yielded;

    Warm(long salt, int root, int rank) {
      this.salt = salt;
      this.root = root;
      this.rank = rank;
    }
  }

  private record AgentKey(int root, String type) {}

  /** Most urgent first: lower rank, then the most recently refreshed. */
  private static final Comparator<Warm> URGENCY =
      Comparator.<Warm>comparingInt(w -> w.rank)
          .thenComparing(Comparator.<Warm>comparingLong(w -> w.refreshed).reversed());

  private final Map<AgentKey, Warm> agents = new HashMap<>();
  private final Map<String, List<Warm>> workflows = new HashMap<>();
  private int warmPinned;
  private long nextExpiry = Long.MAX_VALUE;

  // ---------------------------------------------------------------- prefetch state

  /**
   * Unused prefetched pages and yielding prefetch copies in flight together hold at most one {@code
   * PREFETCH_SHARE}-th of the top tier.
   */
  static final int PREFETCH_SHARE = 4;

  private final int prefetchCap;

  /**
   * The cap for queued requests' prefetches ({@link io.kvtier.KvCache#prefetch}): the whole top
   * tier, since a queued request will certainly run soon, where a predicted resume may not; they
   * are bounded instead by what they may evict (never another queued request's unused pages nor a
   * block used since the call). Measured on the generated trace with a top tier of about two
   * requests: half the tier left 10% more onboarding exposed than the whole tier.
   */
  private final int queueCap;

  /** Per top-tier slot: holds a prefetched block that no request has matched yet. */
  private final boolean[] prefetched;

  private int prefetchUnused;
  private int prefetchInFlight;
  private long prefetchPages;
  private long prefetchUsed;
  private long prefetchWasted;
  private long prefetchSkipped;
  private final List<CompletableFuture<Void>> prefetchCopies = new ArrayList<>();

  /** While a prefetch allocates. */
  private boolean prefetching;

  /** While a yielding prefetch allocates: it evicts only blocks last used before this. */
  private long prefetchColdBefore = Long.MIN_VALUE;

  /** Blocks the current yielding prefetch's onboarding found no page for. */
  private int truncated;

  // ---------------------------------------------------------------- quotas

  /** A tenant or session with a quota, and what is charged to it. */
  static final class Holder {
    final int id;
    final String what;
    int quota;
    int used;
    boolean over;
    boolean retired;
    final IndexedHeap evictable = new IndexedHeap(64);

    Holder(int id, String what, int quota) {
      this.id = id;
      this.what = what;
      this.quota = quota;
    }
  }

  /** Who pays for a top-tier allocation; {@code prefetch} ones never evict the payer's blocks. */
  record Payer(Holder tenant, Holder session, long salt, boolean prefetch) {}

  private final List<Holder> holders = new ArrayList<>();
  private final ArrayDeque<Integer> freeIds = new ArrayDeque<>();
  private final Map<Long, Holder> tenants = new HashMap<>();
  private final Map<String, Holder> sessions = new HashMap<>();
  private int[] tenantOf;
  private int[] sessionOf;
  private int overCount;
  private Payer current;
  private Holder forced;
  private QuotaExceededException quotaFailure;

  AgentHints(KvCacheImpl cache, HintConfig config) {
    this.cache = cache;
    this.index = cache.index;
    this.tpb = cache.tpb;
    long topPages = cache.top.store.capacityPages();
    this.warmCap =
        config.warmBlocks() == HintConfig.DEFAULT_WARM_BLOCKS
            ? (int) (topPages / 4)
            : config.warmBlocks();
    this.warmTtl = config.warmTtl();
    this.prefetchCap = (int) (topPages / PREFETCH_SHARE);
    this.queueCap = (int) topPages;
    this.prefetched = new boolean[(int) topPages];
    cache.top.pages.onFree(this::freed);
    for (Map.Entry<Long, Integer> e : config.tenantQuotas().entrySet()) {
      tenants.put(e.getKey(), newHolder("tenant salt " + e.getKey(), e.getValue()));
    }
  }

  // ---------------------------------------------------------------- time

  /** Drops expired warm pins; called at the start of every operation. */
  void tick(long now) {
    if (now < nextExpiry) {
      return;
    }
    agents.values().removeIf(w -> expired(w, now));
    workflows.values().forEach(list -> list.removeIf(w -> expired(w, now)));
    workflows.values().removeIf(List::isEmpty);
    rebalance();
  }

  private boolean expired(Warm w, long now) {
    if (w.until > now) {
      return false;
    }
    unpin(w);
    return true;
  }

  private void refresh(Warm w) {
    long now = cache.ticker.read();
    w.refreshed = now;
    w.until = KvCacheImpl.deadline(now, warmTtl);
    w.yielded = false;
  }

  // ---------------------------------------------------------------- sub-agent types

  /** A lease committed (lock held): learn its sub-agent type's shared prefix, once per lease. */
  void committed(LeaseImpl lease) {
    Request r = lease.request();
    String type = r.agentType();
    if (type == null || warmCap == 0 || lease.agentLearned) {
      return;
    }
    int[] prompt = r.tokens();
    int len = prompt.length - prompt.length % tpb;
    if (len == 0 || lease.committedBlocks() * tpb < len) {
      return;
    }
    lease.agentLearned = true;
    AgentKey key = new AgentKey(lease.root(), type);
    Warm w = agents.get(key);
    if (w == null) {
      w = new Warm(r.salt(), lease.root(), AGENT_RANK);
      w.tokens = Arrays.copyOf(prompt, len);
      w.tokenLen = len;
      agents.put(key, w);
    } else {
      int m = Arrays.mismatch(w.tokens, 0, w.tokenLen, prompt, 0, len);
      int common = m < 0 ? w.tokenLen : m;
      common -= common % tpb;
      if (common == 0) {
        w.tokens = Arrays.copyOf(prompt, len); // nothing in common: the type's prompt changed
        w.tokenLen = len;
      } else {
        w.tokenLen = common;
      }
    }
    refresh(w);
    resolveAgent(w);
    rebalance();
  }

  /** Points an agent entry at the deepest cached block of its prefix. */
  private void resolveAgent(Warm w) {
    int n = match(w.root, w.tokens, w.tokenLen);
    if (n == 0) {
      w.block = NONE;
      return;
    }
    w.block = buf[n - 1];
    w.fp = index.fingerprint(w.block);
    w.depth = n;
  }

  private int match(int root, int[] tokens, int len) {
    int blocks = len / tpb;
    if (buf.length < blocks) {
      buf = new int[Math.max(blocks, buf.length * 2)];
    }
    return index.match(root, tokens, len, buf);
  }

  private boolean valid(Warm w) {
    return w.block != NONE && index.sameBlock(w.block, w.fp);
  }

  // ---------------------------------------------------------------- workflow steps

  /** {@link io.kvtier.KvCache#expect(String, List)}. */
  void expect(String workflowId, List<NextStep> steps) {
    if (workflowId == null || workflowId.isEmpty()) {
      throw new IllegalArgumentException("workflow id must be non-empty");
    }
    Objects.requireNonNull(steps, "steps");
    for (int i = 0; i < steps.size(); i++) {
      if (steps.get(i) == null) {
        throw new IllegalArgumentException("steps[" + i + "] is null");
      }
    }
    cache.lock.lock();
    try {
      cache.ensureOpen();
      cache.tick();
      for (NextStep s : steps) {
        cache.checkNamespace(s.namespace());
      }
      List<Warm> old = workflows.remove(workflowId);
      if (warmCap > 0) {
        List<Warm> fresh = new ArrayList<>(steps.size());
        for (NextStep s : steps) {
          Warm w = stepEntry(s);
          if (w != null) {
            fresh.add(w);
          }
        }
        if (!fresh.isEmpty()) {
          workflows.put(workflowId, fresh);
        }
      }
      rebalance(); // pins the new forecast before the old one lets go: no needless churn
      if (old != null) {
        old.forEach(this::unpin);
      }
      for (NextStep s : steps) {
        cache.config.prefetch().onExpect(s, this);
      }
    } finally {
      cache.lock.unlock();
    }
  }

  private Warm stepEntry(NextStep s) {
    int root = cache.hintRoot(s.namespace(), s.salt());
    if (root == NONE) {
      return null;
    }
    Warm w = new Warm(s.salt(), root, s.stepsAway());
    if (s.prefix().length >= tpb) {
      int n = match(root, s.prefix(), s.prefix().length);
      if (n == 0) {
        return null;
      }
      w.block = buf[n - 1];
      w.depth = n;
    } else {
      Warm a = agents.get(new AgentKey(root, s.agent()));
      if (a == null || !valid(a)) {
        return null;
      }
      w.block = a.block;
      w.depth = a.depth;
    }
    w.fp = index.fingerprint(w.block);
    refresh(w);
    return w;
  }

  /** The cached blocks of a step's prefix, root first. */
  private int[] stepChain(NextStep s, int root) {
    if (s.prefix().length >= tpb) {
      int n = match(root, s.prefix(), s.prefix().length);
      return Arrays.copyOf(buf, n);
    }
    Warm a = agents.get(new AgentKey(root, s.agent()));
    if (a == null || !valid(a)) {
      return new int[0];
    }
    int[] chain = new int[a.depth];
    int b = a.block;
    for (int i = a.depth - 1; i >= 0; i--) {
      chain[i] = b;
      b = index.parent(b);
    }
    return chain;
  }

  // ---------------------------------------------------------------- pins

  private List<Warm> entries() {
    List<Warm> all = new ArrayList<>(agents.values());
    for (List<Warm> list : workflows.values()) {
      all.addAll(list);
    }
    return all;
  }

  /**
   * Re-chooses which entries hold a pin: the most urgent valid ones whose depths fit the cap. Pins
   * before it unpins, so a block that only changes hands never looks evictable in between.
   */
  private void rebalance() {
    for (Warm w : agents.values()) {
      if (w.pinned == NONE && !valid(w)) {
        resolveAgent(w); // part of the prefix was evicted: pin what is left
      }
    }
    for (List<Warm> list : workflows.values()) {
      list.removeIf(w -> w.pinned == NONE && !valid(w));
    }
    workflows.values().removeIf(List::isEmpty);
    List<Warm> all = entries();
    all.sort(URGENCY);
    long used = 0;
    long expiry = Long.MAX_VALUE;
    List<Warm> drop = new ArrayList<>();
    Set<Integer> held = new HashSet<>();
    for (Warm w : all) {
      expiry = Math.min(expiry, w.until);
      boolean usable = !w.yielded && valid(w);
      boolean covered = usable && held.contains(w.block); // a more urgent entry pins it
      boolean want =
          usable
              && !covered
              && used + w.depth <= warmCap
              && (w.pinned == w.block || index.pins(w.block) < MAX_PINS);
      if (want) {
        held.add(w.block);
        used += w.depth;
        if (w.pinned != w.block) {
          int was = w.pinned;
          index.pin(w.block);
          w.pinned = w.block;
          w.pinnedDepth = w.depth;
          if (was != NONE) {
            index.unpin(was);
          }
        }
      } else if (w.pinned != NONE) {
        drop.add(w);
      }
    }
    for (Warm w : drop) {
      unpin(w);
    }
    warmPinned = (int) used;
    nextExpiry = expiry;
  }

  private void unpin(Warm w) {
    if (w.pinned != NONE) {
      index.unpin(w.pinned);
      w.pinned = NONE;
      w.pinnedDepth = 0;
    }
  }

  /**
   * The least urgent pin gives way, because an allocation in the top tier found nothing else to
   * evict.
   *
   * @return whether a pin was dropped
   */
  boolean yieldPin() {
    return yieldWhere(0L, true);
  }

  private boolean yieldWhere(long salt, boolean anySalt) {
    Warm worst = null;
    for (Warm w : entries()) {
      if (w.pinned != NONE
          && (anySalt || w.salt == salt)
          && (worst == null || URGENCY.compare(w, worst) > 0)) {
        worst = w;
      }
    }
    if (worst == null) {
      return false;
    }
    warmPinned -= worst.pinnedDepth;
    unpin(worst);
    worst.yielded = true;
    return true;
  }

  /** Adds the warm pins to {@code pins} (per block), for the invariant check. */
  void addPins(int[] pins) {
    long sum = 0;
    for (Warm w : entries()) {
      if (w.pinned != NONE) {
        pins[w.pinned]++;
        sum += w.pinnedDepth;
      }
    }
    if (sum != warmPinned || warmPinned > warmCap) {
      throw new IllegalStateException(
          "warm pins hold "
              + sum
              + " blocks, counted "
              + warmPinned
              + ", against a cap of "
              + warmCap);
    }
  }

  /** The blocks the warm pins pin now, one entry per pin. */
  int[] warmPinnedList() {
    int n = 0;
    List<Warm> all = entries();
    int[] out = new int[all.size()];
    for (Warm w : all) {
      if (w.pinned != NONE) {
        out[n++] = w.pinned;
      }
    }
    return Arrays.copyOf(out, n);
  }

  /** Blocks the warm pins hold now, counted as the cap counts them. */
  int warmPinnedBlocks() {
    return warmPinned;
  }

  // ---------------------------------------------------------------- prefetch

  /**
   * Not used for sessions: a policy's {@code onPause} and {@code onResume} get the cache's own
   * context; this one is only handed to {@code onExpect}.
   */
  @Override
  public void promoteSession(String sessionId) {}

  @Override
  public void promote(NextStep step) {
    Objects.requireNonNull(step, "step");
    if (cache.isClosed()) {
      return;
    }
    int root = cache.hintRoot(step.namespace(), step.salt());
    if (root == NONE) {
      return;
    }
    int[] chain = stepChain(step, root);
    Holder tenant = tenants.get(step.salt());
    promoteChain(
        chain,
        tenant == null ? null : new Payer(tenant, null, step.salt(), true),
        Long.MAX_VALUE,
        prefetchCap);
  }

  /**
   * {@link io.kvtier.KvCache#prefetch(io.kvtier.Request)}: copies the lower-tier part of a queued
   * request's matched prefix ({@code chain}, root first, just marked used) up, yielding to blocks
   * used at or after {@code coldBefore} (the call's time) and within the queue's larger cap, or,
   * with {@link Long#MAX_VALUE} (a prefix the queue's hold covers), taking what the eviction policy
   * offers; charged as the request would be. Returns the blocks whose copies started.
   */
  int promoteQueued(int[] chain, String sessionId, long salt, long coldBefore) {
    if (cache.isClosed()) {
      return 0;
    }
    Holder session = sessionId == null ? null : sessions.get(sessionId);
    Holder tenant = tenants.get(salt);
    Payer payer = session == null && tenant == null ? null : new Payer(tenant, session, salt, true);
    return promoteChain(chain, payer, coldBefore, queueCap);
  }

  /**
   * Copies the path from the root to {@code tail} (a session's tail block) from lower tiers into
   * the top tier, charged to the session where it has a quota; best effort, and yielding: root
   * first, within the cap on unused prefetched pages, and only into pages that are free, dead or
   * held by blocks last used before the session's own tail was.
   */
  void promotePath(String sessionId, int tail) {
    if (cache.isClosed()) {
      return;
    }
    int depth = index.depth(tail);
    int[] chain = new int[depth];
    int b = tail;
    for (int i = depth - 1; i >= 0; i--) {
      chain[i] = b;
      b = index.parent(b);
    }
    Holder session = sessions.get(sessionId);
    promoteChain(
        chain,
        session == null ? null : new Payer(null, session, 0L, true),
        index.lastAccess(tail),
        prefetchCap);
  }

  /**
   * Onboards the blocks of {@code chain} (root first) that only lower tiers hold, up to the first
   * block that no usable tier holds; failures only mean less was copied. With {@code coldBefore}
   * other than {@link Long#MAX_VALUE} the copy yields: at most the cap's remaining pages, root
   * first, and its allocations evict only dead blocks and blocks last used before {@code
   * coldBefore} that are not unused prefetched pages themselves; where that finds no page, the rest
   * of the chain stays below. Unused prefetched pages and copies in flight stay within {@code cap}.
   * Returns the blocks whose copies started.
   */
  private int promoteChain(int[] chain, Payer payer, long coldBefore, int cap) {
    int n = chain.length;
    int usable = 0;
    for (Tier t : cache.tiers) {
      if (t.usable()) {
        usable |= 1 << t.ordinal;
      }
    }
    int[] missing = new int[n];
    int count = 0;
    int deepestUp = NONE;
    for (int i = 0; i < n; i++) {
      int b = chain[i];
      if ((index.copyMask(b) & usable) == 0) {
        break;
      }
      if (index.hasCopy(b, 0)) {
        deepestUp = b;
      } else {
        missing[count++] = b;
      }
    }
    if (count == 0 || !cache.top.usable()) {
      return 0;
    }
    boolean yields = coldBefore != Long.MAX_VALUE;
    if (yields) {
      int room = Math.max(0, cap - prefetchUnused - prefetchInFlight);
      if (room < count) {
        prefetchSkipped += count - room;
        count = room;
      }
      if (count == 0) {
        return 0;
      }
    }
    if (deepestUp != NONE) {
      index.pin(deepestUp);
    }
    prefetchColdBefore = yields ? coldBefore : Long.MIN_VALUE;
    prefetching = true;
    truncated = 0;
    int started = 0;
    try {
      int[] positions = new int[count];
      Arrays.setAll(positions, i -> i);
      int[] blocks = missing;
      // Failures (no room, a quota, a tier fault) only mean less was prefetched.
      CompletableFuture<Void> copies =
          cache.onboard(
              blocks,
              positions,
              count,
              (pos, h) -> landed(blocks[pos], h),
              payer,
              cache.layout,
              TransferEngine.Priority.PREFETCH);
      int inFlight = count - truncated;
      started = copies.isCompletedExceptionally() ? 0 : inFlight;
      prefetchInFlight += inFlight;
      prefetchCopies.add(copies);
      copies.whenComplete(
          (v, e) -> {
            cache.lock.lock();
            try {
              prefetchInFlight -= inFlight;
            } finally {
              cache.lock.unlock();
            }
          });
    } finally {
      prefetchColdBefore = Long.MIN_VALUE;
      prefetching = false;
      if (deepestUp != NONE) {
        index.unpin(deepestUp);
      }
    }
    return started;
  }

  /**
   * A prefetched block's copy landed (lock held): its page is unused until a request matches it.
   */
  private void landed(int b, long h) {
    int slot = (int) PageHandle.index(h);
    if (!cache.isClosed()
        && index.live(b)
        && index.hasCopy(b, 0)
        && index.slot(b, 0) == slot
        && !prefetched[slot]) {
      prefetched[slot] = true;
      prefetchUnused++;
      prefetchPages++;
    }
    cache.pages.release(h);
  }

  /** Whether a prefetch's allocation is under way: then no pin gives way for it. */
  boolean prefetching() {
    return prefetching;
  }

  /**
   * Whether the allocation under way is a yielding prefetch's: then {@link KvCacheImpl#allocateIn}
   * asks {@link #mayEvictForPrefetch(int)} before each eviction in the top tier.
   */
  boolean prefetchYields() {
    return prefetchColdBefore != Long.MIN_VALUE;
  }

  /**
   * Whether a yielding prefetch may evict {@code victim} from the top tier: a dead block, or one
   * last used before the prefetched path and not itself an unused prefetched page.
   */
  boolean mayEvictForPrefetch(int victim) {
    if (index.dead(victim)) {
      return true;
    }
    return !prefetched[index.slot(victim, 0)] && index.lastAccess(victim) < prefetchColdBefore;
  }

  /** The yielding prefetch's onboarding found no page for its last {@code blocks} blocks. */
  void prefetchTruncated(int blocks) {
    prefetchSkipped += blocks;
    truncated = blocks;
  }

  /** A request matched {@code b} (lock held): a prefetched top-tier page of it is now used. */
  void matched(int b) {
    if (prefetchUnused == 0 || !index.hasCopy(b, 0)) {
      return;
    }
    int slot = index.slot(b, 0);
    if (prefetched[slot]) {
      prefetched[slot] = false;
      prefetchUnused--;
      prefetchUsed++;
    }
  }

  /** {@link io.kvtier.KvCache#prefetchStats()}, lock held. */
  PrefetchStats prefetchStats() {
    return new PrefetchStats(
        prefetchPages,
        prefetchUsed,
        prefetchWasted,
        prefetchWasted * cache.layout.pageBytes(),
        prefetchSkipped,
        prefetchUnused);
  }

  /** {@link io.kvtier.KvCache#prefetchesLanded()}, lock held. */
  CompletableFuture<Void> prefetchesLanded() {
    prefetchCopies.removeIf(CompletableFuture::isDone);
    if (prefetchCopies.isEmpty()) {
      return CompletableFuture.completedFuture(null);
    }
    return CompletableFuture.allOf(prefetchCopies.toArray(CompletableFuture[]::new))
        .handle((v, e) -> null);
  }

  /** Top-tier pages of prefetched blocks no request has matched yet (for tests). */
  int unusedPrefetchedPages() {
    return prefetchUnused;
  }

  /** Whether the block's top-tier copy is an unused prefetched page (for tests). */
  boolean unusedPrefetched(int b) {
    return index.hasCopy(b, 0) && prefetched[index.slot(b, 0)];
  }

  // ---------------------------------------------------------------- quotas

  private Holder newHolder(String what, int quota) {
    if (tenantOf == null) {
      int cap = (int) cache.top.store.capacityPages();
      tenantOf = new int[cap];
      sessionOf = new int[cap];
    }
    int id;
    if (freeIds.isEmpty()) {
      holders.add(null);
      id = holders.size();
    } else {
      id = freeIds.pop();
    }
    Holder h = new Holder(id, what, quota);
    holders.set(id - 1, h);
    return h;
  }

  private Holder holder(int id) {
    return holders.get(id - 1);
  }

  private void updateOver(Holder h) {
    boolean now = !h.retired && h.used > h.quota;
    if (now != h.over) {
      h.over = now;
      overCount += now ? 1 : -1;
    }
  }

  /** Who pays for a lease's top-tier pages; null when no quota applies. */
  Payer payer(LeaseImpl lease) {
    if (tenantOf == null) {
      return null;
    }
    long salt = lease.request().salt();
    Holder t = tenants.get(salt);
    Holder s = lease.sessionId() == null ? null : sessions.get(lease.sessionId());
    return t == null && s == null ? null : new Payer(t, s, salt, false);
  }

  /**
   * A top-tier page charged to {@code payer}, evicting under its quotas first; {@link
   * PageHandle#NONE} when impossible (then {@link #takeQuotaFailure()} says whether a quota was
   * why).
   */
  long allocateTop(Payer payer, long hint) {
    quotaFailure = null;
    if (payer == null) {
      return cache.allocateIn(cache.top, hint);
    }
    current = payer;
    long h;
    try {
      h = cache.allocateIn(cache.top, hint);
    } finally {
      current = null;
    }
    if (h != PageHandle.NONE) {
      int slot = (int) PageHandle.index(h);
      charge(tenantOf, slot, payer.tenant());
      charge(sessionOf, slot, payer.session());
    }
    return h;
  }

  private void charge(int[] of, int slot, Holder h) {
    if (h != null) {
      of[slot] = h.id;
      h.used++;
      updateOver(h);
    }
  }

  /**
   * Called by {@link KvCacheImpl#allocateIn} before it allocates in the top tier: makes room under
   * the current payer's quotas by evicting its own blocks.
   *
   * @return false when a quota cannot make room (the allocation fails)
   */
  boolean roomUnderQuota() {
    Payer p = current;
    return p == null || (room(p.tenant(), p) && room(p.session(), p));
  }

  private boolean room(Holder h, Payer p) {
    if (h == null || h.retired) {
      return true;
    }
    while (h.used >= h.quota) {
      if (p.prefetch()) {
        quotaFailure = exceeded(h);
        return false;
      }
      if (!h.evictable.isEmpty()) {
        evictOwn(h);
      } else if (!yieldWhere(p.salt(), false)) {
        quotaFailure = exceeded(h);
        return false;
      }
    }
    return true;
  }

  /** Evicts the holder's oldest evictable top-tier block (it leaves the holder's heap). */
  private void evictOwn(Holder h) {
    forced = h;
    try {
      cache.evictOne(cache.top);
    } finally {
      forced = null;
    }
  }

  private static QuotaExceededException exceeded(Holder h) {
    return new QuotaExceededException(
        h.what
            + " holds "
            + h.used
            + " top-tier pages, its quota of "
            + h.quota
            + ", and none of them can be evicted: its own leases pin them; close some of its"
            + " leases or raise the quota");
  }

  /** The quota failure of the last failed {@link #allocateTop}, once; null if none. */
  QuotaExceededException takeQuotaFailure() {
    QuotaExceededException q = quotaFailure;
    quotaFailure = null;
    return q;
  }

  /**
   * The block {@link KvCacheImpl#evictOne} must take before asking the policy: the current payer's
   * own block while it makes room under its quota, else the oldest evictable block of a holder over
   * its quota; {@link Evictor#NONE} otherwise.
   */
  int quotaVictim(Tier t) {
    if (t.ordinal != 0 || tenantOf == null) {
      return Evictor.NONE;
    }
    if (forced != null) {
      return forced.evictable.isEmpty() ? Evictor.NONE : forced.evictable.peek();
    }
    if (overCount == 0) {
      return Evictor.NONE;
    }
    for (Holder h : holders) {
      if (h != null && h.over && !h.evictable.isEmpty()) {
        return h.evictable.peek();
      }
    }
    return Evictor.NONE;
  }

  /** A top-tier page moved from slot {@code from} to slot {@code to}: its charges go with it. */
  void moved(int from, int to) {
    if (tenantOf == null) {
      return;
    }
    tenantOf[to] = tenantOf[from];
    sessionOf[to] = sessionOf[from];
    tenantOf[from] = 0;
    sessionOf[from] = 0;
  }

  /** A top-tier page was freed: its charges end. */
  void freed(int slot) {
    if (prefetched[slot]) {
      prefetched[slot] = false;
      prefetchUnused--;
      prefetchWasted++;
    }
    if (tenantOf != null) {
      uncharge(tenantOf, slot);
      uncharge(sessionOf, slot);
    }
  }

  private void uncharge(int[] of, int slot) {
    int id = of[slot];
    if (id == 0) {
      return;
    }
    of[slot] = 0;
    Holder h = holder(id);
    h.used--;
    updateOver(h);
    if (h.retired && h.used == 0) {
      holders.set(id - 1, null);
      freeIds.push(id);
    }
  }

  /** A top-tier copy became evictable or stopped being so. */
  void evictableChanged(int b, boolean evictable) {
    if (tenantOf == null) {
      return;
    }
    int slot = index.slot(b, 0);
    track(tenantOf[slot], b, evictable);
    track(sessionOf[slot], b, evictable);
  }

  private void track(int id, int b, boolean evictable) {
    if (id == 0) {
      return;
    }
    IndexedHeap heap = holder(id).evictable;
    if (!evictable) {
      heap.remove(b);
    } else if (!heap.contains(b)) {
      heap.add(b, index.lastAccess(b), -index.depth(b));
    }
  }

  /** {@link io.kvtier.Session#quota(int)}, lock held and the session checked. */
  void sessionQuota(String sessionId, int blocks) {
    Holder h = sessions.get(sessionId);
    if (h == null) {
      h = newHolder("session '" + sessionId + "'", blocks);
      sessions.put(sessionId, h);
    }
    h.quota = blocks;
    updateOver(h);
    Holder held = h;
    cache.evictOutsideAllocation(
        () -> {
          while (held.used > held.quota && !held.evictable.isEmpty()) {
            evictOwn(held);
          }
        });
  }

  /** Pages charged to a session; 0 without a quota. */
  int sessionCharged(String sessionId) {
    Holder h = sessions.get(sessionId);
    return h == null ? 0 : h.used;
  }

  /** Pages charged to a tenant; 0 without a quota. */
  int tenantCharged(long salt) {
    Holder h = tenants.get(salt);
    return h == null ? 0 : h.used;
  }

  /** The session ended: its holder stops limiting and goes when its last charged page does. */
  void sessionEnded(String sessionId) {
    Holder h = sessions.remove(sessionId);
    if (h == null) {
      return;
    }
    h.retired = true;
    updateOver(h);
    if (h.used == 0) {
      holders.set(h.id - 1, null);
      freeIds.push(h.id);
    }
  }

  /**
   * Recounts every charge from the slots and checks the holders' counters, over-quota flags and
   * evictable heaps against it. For tests.
   */
  void checkInvariants() {
    if (tenantOf == null) {
      return;
    }
    int[] used = new int[holders.size() + 1];
    int[] evictable = new int[holders.size() + 1];
    PageAllocator pages = cache.top.pages;
    for (int s = 0; s < tenantOf.length; s++) {
      boolean free = pages.refCountOfSlot(s) == 0;
      for (int id : new int[] {tenantOf[s], sessionOf[s]}) {
        if (id == 0) {
          continue;
        }
        if (free || holder(id) == null) {
          throw new IllegalStateException(
              "top-tier slot " + s + " is free or its holder is gone but charged to " + id);
        }
        used[id]++;
      }
    }
    for (int b = 0; b < index.capacity(); b++) {
      if (!index.evictableIn(b, 0)) {
        continue;
      }
      int s = index.slot(b, 0);
      for (int id : new int[] {tenantOf[s], sessionOf[s]}) {
        if (id != 0) {
          if (!holder(id).evictable.contains(b)) {
            throw new IllegalStateException(
                "evictable block " + b + " is missing from the heap of " + holder(id).what);
          }
          evictable[id]++;
        }
      }
    }
    int over = 0;
    for (Holder h : holders) {
      if (h == null) {
        continue;
      }
      if (h.used != used[h.id] || h.evictable.size() != evictable[h.id]) {
        throw new IllegalStateException(
            h.what
                + " counts "
                + h.used
                + " charged pages and "
                + h.evictable.size()
                + " evictable blocks; the slots say "
                + used[h.id]
                + " and "
                + evictable[h.id]);
      }
      if (h.over != (!h.retired && h.used > h.quota)) {
        throw new IllegalStateException(h.what + ": stale over-quota flag");
      }
      over += h.over ? 1 : 0;
    }
    if (over != overCount) {
      throw new IllegalStateException("over-quota count " + overCount + ", actual " + over);
    }
  }
}
