package io.kvtier.replay;

import io.kvtier.Branches;
import io.kvtier.CacheStats;
import io.kvtier.DramTier;
import io.kvtier.KvCache;
import io.kvtier.KvCacheBuilder;
import io.kvtier.KvLayout;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.OutOfPagesException;
import io.kvtier.PageHandle;
import io.kvtier.Request;
import io.kvtier.Session;
import io.kvtier.spi.BranchPolicy;
import io.kvtier.spi.EvictionPolicy;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The reference mode of {@code kvtier replay}: the real cache (built through the public API, with
 * the library's index, allocator and policies) on one tier of {@code F × distinct blocks} pages,
 * demand-filled by the trace, one request at a time.
 *
 * <p><b>The exact, cheap encoding.</b> The cache is built with one token per block and tiny pages
 * ({@value #PAGE_BYTES} bytes: hit rates do not depend on page size). Each trace block becomes one
 * token whose id is the block's dense trace id ({@link Trace}), so the cache's radix tree is
 * exactly the trace's prefix tree, a cached block is a cached trace block, and eviction is the
 * library's leaf-only eviction by the chosen policy.
 *
 * <p><b>Per request</b>, in arrival order: the virtual clock moves to the request's timestamp, but
 * never to a millisecond an earlier request had (the index keeps last-access times in milliseconds,
 * and recency must follow arrival order: many Mooncake requests share a timestamp), so a request
 * sharing its predecessor's millisecond is moved 1 ms later (27 ms of drift at most on the Mooncake
 * conversation trace, caught up at the next gap); a session paused earlier is resumed (and the
 * pause it took is observed by the {@link PauseEstimator}); a compacted session is told so; then
 * {@code acquire} (the longest cached prefix, pinned), {@code extend} (pages for the rest, evicting
 * as needed), {@code commit} (the new blocks enter the index) and {@code close}. If the request was
 * forked into speculative branches, they are forked after the commit, each extended by its
 * generated tokens (unique negative token ids), one kept and the others discarded, before the
 * close. The discarded branches commit what they generated, as a decoding engine does, so the
 * cache's {@link BranchPolicy} decides what of them stays (as dead cache, within its per-session
 * cap) and what is freed; the survivor stands for the turn's output, which the replay does not
 * cache with or without forks (the trace's next prompt carries it under new block ids), so it
 * closes uncommitted. {@link BranchStats} reports what the branches left behind. Then a session
 * whose request ended in a pause (a tool call or a human turn) pauses with the <em>estimated</em>
 * duration: the engine never knows the true gap, nor whether the session will come back at all, so
 * no session is ended early. When a request's last trace block is partial, the request gives that
 * block priority 0 for its token range, as an engine that knows its prompt would: the next turn
 * rewrites a partial block, so it is never reused.
 *
 * <p>The prompt is acquired as its cached prefix (found first with {@code probeTokens}, which
 * touches nothing) and extended with the rest, so that when pins leave too little evictable room
 * the request still caches as much of its prompt as fits ({@link Result#overflowRequests()} counts
 * such requests).
 *
 * <p><b>Token hit rate</b> = Σ min(matched blocks × trace block tokens, input length) / Σ input
 * length.
 *
 * <p>Not thread-safe: one replay per thread; several may run at once over one {@link Trace}.
 */
public final class ReferenceReplay {

  /** Bytes per page in reference mode. */
  public static final int PAGE_BYTES = 64;

  /** The layout: one token per block. */
  static final KvLayout LAYOUT = KvLayout.ofPageBytes(1, PAGE_BYTES);

  /** Named policies a replay accepts besides the library's stock ones. */
  public static final List<String> SPECIAL_POLICIES = List.of("default", "belady");

  /**
   * One replay's outcome.
   *
   * @param policy the policy's name as given
   * @param capacityFraction F
   * @param capacityBlocks the tier's capacity in blocks (pages)
   * @param requests requests replayed
   * @param inputTokens Σ input length
   * @param hitTokens Σ min(matched blocks × block tokens, input length)
   * @param blockRefs Σ blocks per request
   * @param hitBlocks Σ matched blocks
   * @param evictedBlocks blocks the cache evicted
   * @param overflowRequests requests whose new blocks did not all fit (pins left too little room)
   * @param wallMillis wall-clock time of the replay
   * @param siblingPromptBlocks Σ over sub-agents' first requests of the blocks their prompt shares
   *     with the previous sibling's of the same type, model and tenant
   * @param siblingPromptHitBlocks Σ of those blocks that were cached when the request came
   * @param branches what the speculative branches left behind
   */
  public record Result(
      String policy,
      double capacityFraction,
      long capacityBlocks,
      int requests,
      long inputTokens,
      long hitTokens,
      long blockRefs,
      long hitBlocks,
      long evictedBlocks,
      long overflowRequests,
      long wallMillis,
      long siblingPromptBlocks,
      long siblingPromptHitBlocks,
      BranchStats branches) {

    /**
     * The share of the sibling-shared prompt that sub-agents' first requests found cached.
     *
     * @return siblingPromptHitBlocks / siblingPromptBlocks, or NaN when the trace has no siblings
     */
    public double siblingPromptHitRate() {
      return siblingPromptBlocks == 0
          ? Double.NaN
          : (double) siblingPromptHitBlocks / siblingPromptBlocks;
    }

    /**
     * The token hit rate.
     *
     * @return hitTokens / inputTokens
     */
    public double tokenHitRate() {
      return inputTokens == 0 ? 0 : (double) hitTokens / inputTokens;
    }

    /**
     * The block hit rate.
     *
     * @return hitBlocks / blockRefs
     */
    public double blockHitRate() {
      return blockRefs == 0 ? 0 : (double) hitBlocks / blockRefs;
    }
  }

  /**
   * What a replay's speculative branches left behind, measured after each reclamation (see {@link
   * BranchMeter}).
   *
   * @param forks requests forked into branches
   * @param discarded branches discarded after committing their tokens
   * @param cap the branch policy's cap on kept discarded-branch pages per session
   * @param peakPagesPerSession the most discarded-branch pages one session held at once
   * @param peakPages the most discarded-branch pages all sessions held at once
   * @param freeFloor free pages a moment needs to count towards the free-run ratio
   * @param freeRunMoments reclamations after which at least {@code freeFloor} pages were free
   * @param minFreeRunRatio the least largest-free-run / free-pages over those moments, NaN if none
   * @param freedBranchPages pages the reclamations freed from discarded branches
   * @param wholeRunShare Σ over discarded branches of the pages freed in the branch's longest run
   *     of consecutive slots / {@code freedBranchPages}: 1 when every branch came back as one run,
   *     NaN when none freed anything
   * @param movedPages pages the cache copied from one slot of its tier to another to make runs of
   *     consecutive slots ({@link io.kvtier.TierStats#movedPages()}), over the whole replay
   */
  public record BranchStats(
      int forks,
      long discarded,
      int cap,
      long peakPagesPerSession,
      long peakPages,
      int freeFloor,
      long freeRunMoments,
      double minFreeRunRatio,
      long freedBranchPages,
      double wholeRunShare,
      long movedPages) {}

  /** Told about progress every so many requests. */
  @FunctionalInterface
  public interface Progress {
    /**
     * Called every {@link #EVERY} requests and at the end.
     *
     * @param done requests replayed
     * @param total requests in the trace
     */
    void at(int done, int total);

    /** How often progress is reported, in requests. */
    int EVERY = 1000;

    /** No reporting. */
    Progress NONE = (d, t) -> {};
  }

  private final Trace trace;
  private final BranchPolicy branches;

  /**
   * A replay of a trace.
   *
   * @param trace the trace
   */
  public ReferenceReplay(Trace trace) {
    this(trace, null);
  }

  /** A replay under a branch policy other than the builder's default (null: the default). */
  ReferenceReplay(Trace trace, BranchPolicy branches) {
    this.trace = Objects.requireNonNull(trace, "trace");
    this.branches = branches;
  }

  /**
   * The capacity, in blocks, for a fraction of the trace's distinct blocks.
   *
   * @param fraction F, in (0, 1]... or more
   * @return {@code max(1, floor(F × distinct blocks))}
   */
  public long capacityBlocks(double fraction) {
    if (!(fraction > 0)) {
      throw new IllegalArgumentException("capacity fraction must be positive, was " + fraction);
    }
    return Math.max(1, (long) Math.floor(fraction * trace.distinctBlocks()));
  }

  /**
   * Replays the trace.
   *
   * @param policy a stock policy name ({@code lru}, {@code s3fifo}, {@code priority-lru}, {@code
   *     tinylfu}, {@code arc}), {@code default} (the builder's default) or {@code belady}
   * @param fraction the capacity as a fraction of distinct blocks
   * @param progress told about progress
   * @return the result
   */
  public Result run(String policy, double fraction, Progress progress) {
    return run(policy, capacityBlocks(fraction), fraction, progress);
  }

  /**
   * Replays the trace with a capacity in blocks.
   *
   * @param policy the policy name
   * @param capacityBlocks pages in the tier
   * @param fraction what to report as the capacity fraction
   * @param progress told about progress
   * @return the result
   */
  public Result run(String policy, long capacityBlocks, double fraction, Progress progress) {
    long t0 = System.nanoTime();
    VirtualTicker clock = new VirtualTicker();
    BeladyPolicy.Cursor cursor = new BeladyPolicy.Cursor();
    KvCacheBuilder b =
        KvCache.builder()
            .layout(LAYOUT)
            .tier(DramTier.offHeap("ref", capacityBlocks * PAGE_BYTES))
            .ticker(clock)
            .eventBuffer(16);
    EvictionPolicy p = policy(policy, cursor);
    if (p != null) {
      b.eviction(p);
    }
    if (branches != null) {
      b.branches(branches);
    }
    int branchCap = b.config().branches().maxKeptPagesPerSession();
    int n = trace.size();
    int branchToken = -1;
    long hitTokens = 0;
    long hitBlocks = 0;
    long siblingBlocks = 0;
    long siblingHits = 0;
    java.util.Map<String, int[]> lastSiblingPrompt = new java.util.HashMap<>();
    long overflow = 0;
    long evicted;
    BranchMeter meter;
    try (KvCache cache = b.build()) {
      TraceDriver driver = new TraceDriver(trace, LAYOUT, cache, clock);
      meter = new BranchMeter(cache, branchCap, driver.sessionCount());
      for (int i = 0; i < n; i++) {
        Session s = driver.begin(i);
        cursor.set(i);
        int si = trace.session(i);
        boolean firstOfSession = driver.firstOfSession();
        int[] tokens = trace.blocks(i);
        Namespace space = driver.namespace(i);
        long salt = driver.salt(i);
        int cached = cache.probeTokens(space, tokens, salt);
        Request req = request(trace, i, space, salt, cached, s);
        try (Lease lease = cache.acquire(req)) {
          int matched = lease.cachedTokens();
          hitBlocks += matched;
          String agent = trace.agents().get(trace.agent(i));
          if (firstOfSession && agent.startsWith("sub:")) {
            String key = trace.model(i) + "/" + agent + "/" + trace.tenant(i);
            int[] prev = lastSiblingPrompt.put(key, tokens);
            if (prev != null) {
              int lcp = Arrays.mismatch(prev, tokens);
              lcp = lcp < 0 ? tokens.length : lcp;
              siblingBlocks += lcp;
              siblingHits += Math.min(matched, lcp);
            }
          }
          hitTokens += Math.min((long) matched * trace.blockTokens(i), trace.inputLength(i));
          if (!fill(lease, tokens, matched)) {
            overflow++;
          }
          lease.commit();
          int k = trace.branches(i);
          if (k >= 2) {
            int forkTokens = lease.committedTokens();
            int[] prompt = Arrays.copyOf(tokens, forkTokens);
            branchToken =
                fork(
                    lease,
                    k,
                    trace.branchTokens(i),
                    trace.blockTokens(i),
                    branchToken,
                    (gen, slots) ->
                        meter.discarded(si, space, salt, concat(prompt, gen), forkTokens, slots));
            meter.forked();
            meter.reclaimed();
          }
        }
        driver.end(i, s);
        if ((i + 1) % Progress.EVERY == 0) {
          progress.at(i + 1, n);
        }
      }
      CacheStats stats = cache.stats();
      evicted = stats.evictedBlocks();
      meter.ended(stats.tiers().get(0).movedPages());
    }
    progress.at(n, n);
    return new Result(
        policy,
        fraction,
        capacityBlocks,
        n,
        trace.inputTokens(),
        hitTokens,
        trace.blockRefs(),
        hitBlocks,
        evicted,
        overflow,
        (System.nanoTime() - t0) / 1_000_000,
        siblingBlocks,
        siblingHits,
        meter.stats());
  }

  /**
   * Checks a policy name without building anything.
   *
   * @param name the name
   * @throws IllegalArgumentException for an unknown name, listing the known ones
   */
  public static void checkPolicy(String name) {
    if (!SPECIAL_POLICIES.contains(name)) {
      try {
        EvictionPolicy.named(name);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(e.getMessage() + ", default, belady", e);
      }
    }
  }

  /**
   * The policy for a name; null for the builder's default.
   *
   * @throws IllegalArgumentException for an unknown name, listing the known ones
   */
  EvictionPolicy policy(String name, BeladyPolicy.Cursor cursor) {
    return switch (name) {
      case "default" -> null;
      case "belady" -> new BeladyPolicy(trace, cursor);
      default -> {
        try {
          yield EvictionPolicy.named(name);
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException(e.getMessage() + ", default, belady", e);
        }
      }
    };
  }

  /**
   * Extends the lease by the uncached rest of the prompt; when the tier cannot make room for all of
   * it, by as much as fits. Returns whether all of it fit.
   */
  static boolean fill(Lease lease, int[] tokens, int from) {
    if (from >= tokens.length) {
      return true;
    }
    try {
      lease.extend(Arrays.copyOfRange(tokens, from, tokens.length));
      return true;
    } catch (OutOfPagesException e) {
      int at = from;
      int chunk = (tokens.length - from) / 2;
      while (chunk > 0 && at < tokens.length) {
        try {
          lease.extend(Arrays.copyOfRange(tokens, at, Math.min(tokens.length, at + chunk)));
          at += chunk;
        } catch (OutOfPagesException again) {
          chunk /= 2;
        }
      }
      return false;
    }
  }

  /**
   * Forks, generates into every branch, keeps the first; returns the next branch token. The
   * branches commit nothing: a plain fork, as the tiered mode replays it.
   */
  static int fork(Lease lease, int k, int branchTokens, int blockTokens, int nextToken) {
    return fork(lease, k, branchTokens, blockTokens, nextToken, null);
  }

  /**
   * Forks, generates into every branch, keeps the first; returns the next branch token. With a
   * listener, every branch but the first commits what it generated before the keep, and the
   * listener is told the tokens of each such branch and the slots of their pages (the keep then
   * discards them).
   */
  static int fork(
      Lease lease,
      int k,
      int branchTokens,
      int blockTokens,
      int nextToken,
      java.util.function.BiConsumer<int[], int[]> discarded) {
    int blocks = Math.max(1, (branchTokens + blockTokens - 1) / blockTokens);
    Branches br = lease.fork(k);
    for (int j = 0; j < k; j++) {
      int[] gen = new int[blocks];
      for (int x = 0; x < blocks; x++) {
        gen[x] = nextToken--;
      }
      try {
        br.branch(j).extend(gen);
      } catch (OutOfPagesException e) {
        // this branch could not generate: it is discarded like the others
        continue;
      }
      if (discarded != null && j > 0) {
        br.branch(j).commit();
        long[] table = br.branch(j).blockTable();
        int[] slots = new int[blocks];
        for (int x = 0; x < blocks; x++) {
          slots[x] = (int) PageHandle.index(table[table.length - blocks + x]);
        }
        discarded.accept(gen, slots);
      }
    }
    br.keep(0).close();
    return nextToken;
  }

  private static int[] concat(int[] a, int[] b) {
    int[] c = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, c, a.length, b.length);
    return c;
  }

  /**
   * The request the replay acquires for trace request {@code i}: its cached prefix ({@code cached}
   * blocks), the tenant's salt, the session, and priority 0 for a partial last block (an engine
   * that knows its prompt does not keep a block the next turn rewrites).
   */
  static Request request(Trace trace, int i, Namespace space, long salt, int cached, Session s) {
    int[] tokens = trace.blocks(i);
    Request req = Request.of(space, Arrays.copyOf(tokens, cached)).salt(salt);
    if (trace.inputLength(i) % trace.blockTokens(i) != 0) {
      req = req.priority(tokens.length - 1, tokens.length, 0, null);
    }
    String agent = trace.agents().get(trace.agent(i));
    if (agent.startsWith("sub:") && agent.length() > 4) {
      req = req.agent(agent.substring(4));
    }
    return s == null ? req : req.session(s.id());
  }
}
