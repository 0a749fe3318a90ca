package io.kvtier.core;

import io.kvtier.Branches;
import io.kvtier.CacheClosedException;
import io.kvtier.KvTierException;
import io.kvtier.LayerwiseOnboarding;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.OutOfPagesException;
import io.kvtier.PageHandle;
import io.kvtier.Request;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * One request's hold on the cache.
 *
 * <h2>State</h2>
 *
 * The lease's sequence is {@code seq[0 .. seqLen)}: the request's prompt, then whatever {@link
 * #extend(int[])} appended. {@code pages[0 .. pageCount)} covers the first {@code tokenCount}
 * tokens; the lease holds one page reference on each. The first {@code committedBlocks} blocks are
 * in the index, and {@code tail} (the index block of the last of them) carries the lease's pin.
 *
 * <h2>Concurrency</h2>
 *
 * Every method takes the cache's lock; a lease is meant to be driven by one thread at a time.
 */
final class LeaseImpl implements Lease {
  private static final CompletableFuture<Void> DONE = CompletableFuture.completedFuture(null);

  private final KvCacheImpl cache;
  private final Namespace ns;
  private final int root;
  private final String sessionId;
  private final int priority;
  private final Duration priorityDuration;
  private final java.util.List<Request.PriorityRange> ranges;
  private final int cachedTokens;
  private final Request request;

  /** Whether {@link AgentHints#committed} learned from this lease already. */
  boolean agentLearned;

  private int[] seq;

  /** The conversation turn its blocks are recorded with (set by the cache at acquire). */
  int turn = 1;

  private int seqLen;
  private int tokenCount;
  private long[] pages;
  private int pageCount;
  private int committedBlocks;
  private int tail = PrefixIndex.NONE;
  private boolean open = true;
  private int forkCommitted;
  private final int[] perTier;
  private int[] pendingBlocks;
  private int[] pendingPositions;
  private int pendingCount;
  private int pendingLeft;
  private CompletableFuture<Void> onboarding;
  private Layered layered;
  BranchesImpl group;

  /**
   * A lease over {@code matched[0 .. n)}; takes page references on the blocks tier 0 holds and
   * remembers the others for {@link #onboard()} (the caller pins the tail).
   */
  LeaseImpl(KvCacheImpl cache, Request r, int root, int[] matched, int n, int[] perTier) {
    this.cache = cache;
    this.ns = r.namespace();
    this.root = root;
    this.sessionId = r.sessionId();
    this.priority = r.priority();
    this.priorityDuration = r.priorityDuration();
    this.ranges = r.priorityRanges();
    this.request = r;
    this.seq = r.tokens();
    this.seqLen = seq.length;
    this.cachedTokens = n * cache.tpb;
    this.tokenCount = cachedTokens;
    this.pages = new long[Math.max(4, cache.layout.pagesFor(seqLen))];
    this.perTier = perTier;
    for (int i = 0; i < n; i++) {
      int b = matched[i];
      if (cache.index.hasCopy(b, 0)) {
        pages[i] = cache.pages.retainSlot(cache.index.slot(b));
      } else {
        if (pendingBlocks == null) {
          pendingBlocks = new int[n - i];
          pendingPositions = new int[n - i];
        }
        pendingBlocks[pendingCount] = b;
        pendingPositions[pendingCount++] = i;
        pages[i] = PageHandle.NONE;
      }
    }
    this.pendingLeft = pendingCount;
    this.pageCount = n;
    this.committedBlocks = n;
    this.tail = n > 0 ? matched[n - 1] : PrefixIndex.NONE;
  }

  /** A branch: a copy of {@code parent} sharing its pages (the caller holds the lock). */
  LeaseImpl(LeaseImpl parent) {
    this.cache = parent.cache;
    this.ns = parent.ns;
    this.root = parent.root;
    this.sessionId = parent.sessionId;
    this.priority = parent.priority;
    this.priorityDuration = parent.priorityDuration;
    this.ranges = parent.ranges;
    this.request = parent.request;
    this.cachedTokens = parent.cachedTokens;
    this.seq = Arrays.copyOf(parent.seq, Math.max(parent.seqLen, 1));
    this.seqLen = parent.seqLen;
    this.tokenCount = parent.tokenCount;
    this.perTier = parent.perTier;
    this.pages = Arrays.copyOf(parent.pages, parent.pages.length);
    this.pageCount = parent.pageCount;
    for (int i = 0; i < pageCount; i++) {
      cache.pages.retain(pages[i]);
    }
    this.committedBlocks = parent.committedBlocks;
    this.tail = parent.tail;
    this.forkCommitted = parent.committedBlocks;
    if (tail != PrefixIndex.NONE) {
      cache.index.pin(tail);
    }
  }

  /** The last token-range priority of the request containing {@code token}, or null. */
  Request.PriorityRange rangeAt(int token) {
    for (int i = ranges.size() - 1; i >= 0; i--) { // the last range given wins
      Request.PriorityRange r = ranges.get(i);
      if (token >= r.fromToken() && token < r.toToken()) {
        return r;
      }
    }
    return null;
  }

  Duration priorityDuration() {
    return priorityDuration;
  }

  String sessionId() {
    return sessionId;
  }

  Request request() {
    return request;
  }

  int root() {
    return root;
  }

  private void check() {
    cache.ensureOpen();
    if (!open) {
      throw new CacheClosedException("the lease is closed");
    }
  }

  @Override
  public Namespace namespace() {
    return ns;
  }

  @Override
  public int cachedTokens() {
    return cachedTokens;
  }

  @Override
  public int[] cachedBlocksPerTier() {
    return perTier.clone();
  }

  @Override
  public int tokenCount() {
    cache.lock.lock();
    try {
      return tokenCount;
    } finally {
      cache.lock.unlock();
    }
  }

  @Override
  public int committedTokens() {
    cache.lock.lock();
    try {
      return committedBlocks * cache.tpb;
    } finally {
      cache.lock.unlock();
    }
  }

  @Override
  public int blockCount() {
    cache.lock.lock();
    try {
      return pageCount;
    } finally {
      cache.lock.unlock();
    }
  }

  @Override
  public long[] blockTable() {
    cache.lock.lock();
    try {
      check();
      checkOnboarded();
      return Arrays.copyOf(pages, pageCount);
    } finally {
      cache.lock.unlock();
    }
  }

  @Override
  public int blockTable(long[] dst) {
    Objects.requireNonNull(dst, "dst");
    cache.lock.lock();
    try {
      check();
      checkOnboarded();
      if (dst.length < pageCount) {
        throw new IllegalArgumentException(
            "dst holds " + dst.length + " handles; the block table has " + pageCount);
      }
      System.arraycopy(pages, 0, dst, 0, pageCount);
      return pageCount;
    } finally {
      cache.lock.unlock();
    }
  }

  @Override
  public CompletableFuture<Void> onboard() {
    cache.lock.lock();
    try {
      check();
      if (pendingLeft == 0) {
        return DONE;
      }
      startOnboarding();
      return onboarding;
    } finally {
      cache.lock.unlock();
    }
  }

  /** Starts the onboarding unless one is under way or done (lock held, pages pending). */
  private void startOnboarding() {
    if (onboarding == null || onboarding.isCompletedExceptionally()) {
      onboarding =
          cache.onboard(
              pendingBlocks,
              pendingPositions,
              pendingCount,
              (pos, h) -> {
                if (open && pages[pos] == PageHandle.NONE) {
                  pages[pos] = h;
                  pendingLeft--;
                } else {
                  cache.pages.release(h);
                }
              },
              cache.hints.payer(this),
              ns.layout(),
              TransferEngine.Priority.ONBOARD);
    }
  }

  @Override
  public LayerwiseOnboarding onboardLayers() {
    cache.lock.lock();
    try {
      check();
      if (pendingLeft == 0) {
        return new Layered(ns.layout().layers(), DONE);
      }
      startOnboarding();
      if (layered == null || layered.all != onboarding) {
        layered = new Layered(ns.layout().layers(), onboarding);
      }
      return layered;
    } finally {
      cache.lock.unlock();
    }
  }

  /**
   * An onboarding's layer-by-layer view, read from the cache's copies under way when it is made
   * (lock held): where each block still arriving will be, and the progress of its copy.
   */
  private final class Layered implements LayerwiseOnboarding {
    final int count;
    final CompletableFuture<Void> all;
    final long[] arriving = new long[pageCount];
    final java.util.List<TransferEngine.Layers> parts = new java.util.ArrayList<>();
    // A block with no copy under way (its batch failed) or one copied for another layout: then the
    // layers are known only all together.
    boolean wholeOnly;
    private java.util.List<CompletableFuture<Void>> layer;

    Layered(int count, CompletableFuture<Void> all) {
      this.count = count;
      this.all = all;
      java.util.Set<TransferEngine.Layers> seen =
          java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
      for (int i = 0; i < pendingCount && !all.isDone(); i++) {
        int pos = pendingPositions[i];
        if (pages[pos] != PageHandle.NONE) {
          continue;
        }
        KvCacheImpl.Landing l = cache.landing(pendingBlocks[i]);
        if (l == null || l.layers().count() != count) {
          wholeOnly = true;
          continue;
        }
        arriving[pos] = l.handle();
        if (seen.add(l.layers())) {
          parts.add(l.layers());
        }
      }
    }

    @Override
    public int layers() {
      return count;
    }

    @Override
    public CompletableFuture<Void> layer(int l) {
      java.util.Objects.checkIndex(l, count);
      cache.lock.lock();
      try {
        if (layer == null) {
          layer = new java.util.ArrayList<>(java.util.Collections.nCopies(count, null));
        }
        if (layer.get(l) == null) {
          layer.set(l, layerFuture(l));
        }
        return layer.get(l);
      } finally {
        cache.lock.unlock();
      }
    }

    private CompletableFuture<Void> layerFuture(int l) {
      if (wholeOnly || all.isDone()) {
        return all;
      }
      CompletableFuture<Void> r = new CompletableFuture<>();
      CompletableFuture.allOf(parts.stream().map(p -> p.layer(l)).toArray(CompletableFuture[]::new))
          .whenComplete(
              (v, e) -> {
                if (e == null) {
                  r.complete(null);
                } else {
                  r.completeExceptionally(e);
                }
              });
      all.whenComplete(
          (v, e) -> {
            if (e != null) {
              r.completeExceptionally(e);
            }
          });
      return r;
    }

    @Override
    public CompletableFuture<Void> all() {
      return all;
    }

    @Override
    public long[] blockTable() {
      cache.lock.lock();
      try {
        check();
        long[] t = Arrays.copyOf(pages, pageCount);
        for (int i = 0; i < Math.min(arriving.length, pageCount); i++) {
          if (t[i] == PageHandle.NONE) {
            t[i] = arriving[i];
          }
        }
        return t;
      } finally {
        cache.lock.unlock();
      }
    }
  }

  private void checkOnboarded() {
    if (pendingLeft > 0) {
      throw new IllegalStateException(
          pendingLeft
              + " matched block(s) are still in lower tiers: call onboard() and wait for it"
              + " before reading the block table");
    }
  }

  @Override
  public void extend() {
    cache.lock.lock();
    try {
      check();
      cache.tick();
      growTo(seqLen);
    } finally {
      cache.lock.unlock();
    }
  }

  @Override
  public void extend(int[] more) {
    if (more == null) {
      throw new IllegalArgumentException("tokens must not be null");
    }
    cache.lock.lock();
    try {
      check();
      cache.tick();
      int oldLen = seqLen;
      int[] oldSeq = seq;
      if ((long) seqLen + more.length > Integer.MAX_VALUE - 8) {
        throw new KvTierException("a sequence of more than 2^31 tokens is not supported");
      }
      if (seq.length < seqLen + more.length) {
        seq = Arrays.copyOf(seq, Math.max(seqLen + more.length, seq.length * 2));
      } else if (seq == oldSeq && !ownsSeq) {
        seq = Arrays.copyOf(seq, seq.length);
      }
      ownsSeq = true;
      System.arraycopy(more, 0, seq, seqLen, more.length);
      seqLen += more.length;
      try {
        growTo(seqLen);
      } catch (RuntimeException e) {
        seqLen = oldLen;
        throw e;
      }
    } finally {
      cache.lock.unlock();
    }
  }

  private boolean ownsSeq;

  /** Allocates pages so that {@code tokenCount} reaches {@code target}; all or nothing. */
  private void growTo(int target) {
    if (target <= tokenCount) {
      return;
    }
    int tpb = cache.tpb;
    int need = cache.layout.pagesFor(target);
    long capacity = cache.store.capacityPages();
    if (need > capacity) {
      // could never fit: fail before evicting anything for it
      throw new OutOfPagesException(
          "a sequence of "
              + target
              + " tokens needs "
              + need
              + " pages but tier '"
              + cache.store.name()
              + "' holds "
              + capacity
              + ": split the request or give the tier more capacity");
    }
    if ((group != null || asRun(need - pageCount, capacity)) && growAsRun(need)) {
      tokenCount = target;
      return;
    }
    if (tokenCount % tpb != 0 && pageCount > 0) {
      long last = pages[pageCount - 1];
      if (cache.pages.refCount(last) > 1) {
        long copy = cache.allocatePage(this, last);
        if (copy == PageHandle.NONE) {
          throw outOfPages(1);
        }
        cache.store.copy(PageHandle.index(last), PageHandle.index(copy));
        cache.pages.release(last);
        pages[pageCount - 1] = copy;
      }
    }
    if (pages.length < need) {
      pages = Arrays.copyOf(pages, Math.max(need, pages.length * 2));
    }
    int start = pageCount;
    for (int i = start; i < need; i++) {
      long hint = i > 0 ? pages[i - 1] : PageHandle.NONE;
      long h = cache.allocatePage(this, hint);
      if (h == PageHandle.NONE) {
        for (int j = start; j < i; j++) {
          cache.pages.release(pages[j]);
          pages[j] = PageHandle.NONE;
        }
        throw outOfPages(need - start);
      }
      pages[i] = h;
    }
    pageCount = need;
    tokenCount = target;
  }

  /**
   * Whether a lease outside a branch group takes {@code more} pages as one run: when the tier must
   * evict for them (otherwise the allocator's hints already give runs) and they are at least
   * 1/{@value #RUN_SHARE} of the tier, so that the O(capacity) search is paid for by as many pages.
   */
  private boolean asRun(int more, long capacity) {
    return more >= Math.max(2, capacity / RUN_SHARE) && cache.pages.freePages() < more;
  }

  /** See {@link #asRun}. */
  private static final int RUN_SHARE = 64;

  /**
   * Grows to {@code need} pages with one run of consecutive slots ({@link KvCacheImpl#takeRun}),
   * copying a shared partial last page into the run's first slot; false, having changed nothing,
   * when the cache cannot give a run. A branch's run goes next to its group's; any other lease
   * comes here only when the tier must evict for it, where page-by-page growth would take the
   * victims' slots wherever they lie: a long prompt spread over the whole tier, held while its
   * request runs, leaves no window for its branches' runs (and frees its pages as holes later).
   */
  private boolean growAsRun(int need) {
    boolean cow =
        tokenCount % cache.tpb != 0
            && pageCount > 0
            && cache.pages.refCount(pages[pageCount - 1]) > 1;
    int from = cow ? pageCount - 1 : pageCount;
    int before = from > 0 ? (int) PageHandle.index(pages[from - 1]) + 1 : -1;
    long[] run =
        group == null
            ? cache.takeRun(this, need - from, -1, -1, before, 0)
            : cache.takeRun(this, need - from, group.low, group.high, before, group.size() - 1);
    if (run == null) {
      return false;
    }
    if (cow) {
      long last = pages[from];
      cache.store.copy(PageHandle.index(last), PageHandle.index(run[0]));
      cache.pages.release(last);
    }
    if (pages.length < need) {
      pages = Arrays.copyOf(pages, Math.max(need, pages.length * 2));
    }
    System.arraycopy(run, 0, pages, from, run.length);
    pageCount = need;
    if (group != null) {
      group.took((int) PageHandle.index(run[0]), run.length);
    }
    return true;
  }

  /** The slot of the first page past the fork point, or -1 if the branch has none. */
  int firstOwnSlot() {
    int i = Math.max(forkCommitted, 0);
    return i < pageCount && pages[i] != PageHandle.NONE ? (int) PageHandle.index(pages[i]) : -1;
  }

  private OutOfPagesException outOfPages(int wanted) {
    OutOfPagesException quota = cache.hints.takeQuotaFailure();
    if (quota != null) {
      return quota;
    }
    return new OutOfPagesException(
        "tier '"
            + cache.store.name()
            + "' has no free page and nothing evictable for "
            + wanted
            + " more page(s): every cached block is pinned by a lease or a session; close"
            + " leases, end sessions, or give the tier more capacity");
  }

  @Override
  public void commit(int computedTokens) {
    cache.lock.lock();
    try {
      check();
      if (computedTokens < 0 || computedTokens > tokenCount) {
        throw new IllegalArgumentException(
            "computedTokens must be in [0, "
                + tokenCount
                + "] (the tokens this lease has pages for), was "
                + computedTokens);
      }
      cache.tick();
      publishUpTo(computedTokens / cache.tpb, priority, false);
      cache.flushOffloads();
      cache.hints.committed(this);
    } finally {
      cache.lock.unlock();
    }
  }

  /** Publishes blocks up to {@code fullBlocks}; returns how many new blocks were published. */
  int publishUpTo(int fullBlocks, int prio, boolean dead) {
    if (fullBlocks <= committedBlocks) {
      return 0;
    }
    int n = fullBlocks - committedBlocks;
    int[] out = cache.scratch(fullBlocks);
    int parent = tail == PrefixIndex.NONE ? root : tail;
    int published = cache.publish(this, parent, seq, committedBlocks, n, pages, prio, dead, out);
    if (published > 0) {
      int newTail = out[committedBlocks + published - 1];
      cache.index.pin(newTail);
      if (tail != PrefixIndex.NONE) {
        cache.index.unpin(tail);
      }
      tail = newTail;
      committedBlocks += published;
      SessionImpl s = cache.existingSession(sessionId);
      if (s == null && sessionId != null && !dead) {
        s = cache.sessionFor(sessionId);
      }
      if (s != null && !dead) {
        s.advance(tail);
      }
    }
    return published;
  }

  int committedBlocks() {
    return committedBlocks;
  }

  /** Blocks the parent had committed when this branch was forked. */
  int forkCommitted() {
    return forkCommitted;
  }

  int tail() {
    return tail;
  }

  @Override
  public Branches fork(int k) {
    if (k < 2 || k > 64) {
      throw new IllegalArgumentException("k must be in [2, 64], was " + k);
    }
    cache.lock.lock();
    try {
      check();
      checkOnboarded();
      LeaseImpl[] branches = new LeaseImpl[k];
      for (int i = 0; i < k; i++) {
        branches[i] = new LeaseImpl(this);
        cache.leaseOpened(branches[i]);
      }
      BranchesImpl g = new BranchesImpl(cache, branches);
      for (LeaseImpl b : branches) {
        b.group = g;
      }
      return g;
    } finally {
      cache.lock.unlock();
    }
  }

  @Override
  public boolean isOpen() {
    cache.lock.lock();
    try {
      return open && !cache.isClosed();
    } finally {
      cache.lock.unlock();
    }
  }

  @Override
  public void close() {
    cache.lock.lock();
    try {
      if (!open || cache.isClosed()) {
        open = false;
        return;
      }
      release();
    } finally {
      cache.lock.unlock();
    }
  }

  /** Drops the pin and every page reference (the caller holds the lock). */
  void release() {
    open = false;
    if (tail != PrefixIndex.NONE) {
      cache.index.unpin(tail);
      tail = PrefixIndex.NONE;
    }
    for (int i = 0; i < pageCount; i++) {
      if (pages[i] != PageHandle.NONE) {
        cache.pages.release(pages[i]);
      }
    }
    pageCount = 0;
    cache.leaseClosed(this);
  }

  /** The cache closed under the lease: nothing to release, the memory is gone. */
  void markClosed() {
    open = false;
  }

  boolean isOpenUnlocked() {
    return open;
  }

  void forEachPage(java.util.function.LongConsumer op) {
    for (int i = 0; i < pageCount; i++) {
      if (pages[i] != PageHandle.NONE) {
        op.accept(pages[i]);
      }
    }
  }

  /** Pages this lease holds that no one else does (for branch accounting). */
  int privatePages() {
    int n = 0;
    for (int i = committedBlocks; i < pageCount; i++) {
      if (cache.pages.refCount(pages[i]) == 1) {
        n++;
      }
    }
    return n;
  }
}
