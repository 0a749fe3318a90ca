package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.Branches;
import io.kvtier.CacheClosedException;
import io.kvtier.DramTier;
import io.kvtier.KvCache;
import io.kvtier.KvLayout;
import io.kvtier.KvTierException;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.OutOfPagesException;
import io.kvtier.PageHandle;
import io.kvtier.PauseKind;
import io.kvtier.Request;
import io.kvtier.Session;
import io.kvtier.StaleHandleException;
import io.kvtier.event.CacheEvent;
import io.kvtier.event.EventBatch;
import io.kvtier.spi.BranchPolicy;
import io.kvtier.spi.EvictionPolicy;
import io.kvtier.spi.RetentionPolicy;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class KvCacheImplTest {
  static final int T = 4;
  static final KvLayout LAYOUT = KvLayout.ofPageBytes(T, 64);
  static final Namespace NS = Namespace.of("m", LAYOUT);

  final ManualTicker ticker = new ManualTicker();
  KvCache cache;

  KvCache cache(int pages) {
    return cache(pages, EvictionPolicy.lru(), BranchPolicy.freeNow());
  }

  KvCache cache(int pages, EvictionPolicy ev, BranchPolicy bp) {
    cache =
        KvCache.builder()
            .layout(LAYOUT)
            .tier(DramTier.offHeap(64L * pages))
            .eviction(ev)
            .branches(bp)
            .retention(RetentionPolicy.toolCallTtl())
            .ticker(ticker)
            .eventBuffer(64)
            .build();
    return cache;
  }

  @AfterEach
  void closeCache() {
    if (cache != null) {
      ((KvCacheImpl) cache).checkInvariants();
      cache.close();
    }
  }

  static int[] seq(int base, int n) {
    return IntStream.range(0, n).map(i -> base + i).toArray();
  }

  static int[] concat(int[] a, int[] b) {
    int[] r = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }

  /** Runs one request to completion: acquire, extend, commit, close; returns the cached tokens. */
  static int run(KvCache c, Request r) {
    try (Lease l = c.acquire(r)) {
      l.extend();
      l.commit();
      return l.cachedTokens();
    }
  }

  @Test
  void acquire_reusesCommittedFullBlocks() {
    cache(64);
    int[] prompt = seq(100, 10); // 2 full blocks + 2 tokens
    assertThat(run(cache, Request.of(NS, prompt))).isZero();
    assertThat(run(cache, Request.of(NS, prompt))).isEqualTo(8);
    int[] longer = concat(prompt, seq(500, 7));
    assertThat(run(cache, Request.of(NS, longer))).isEqualTo(8);
    assertThat(run(cache, Request.of(NS, longer))).isEqualTo(16);
    assertThat(cache.stats().cachedBlocks()).isEqualTo(4);
    assertThat(cache.stats().activeLeases()).isZero();
  }

  @Test
  void match_stopsAtFirstDifferentToken() {
    cache(64);
    int[] a = seq(0, 16);
    run(cache, Request.of(NS, a));
    int[] b = a.clone();
    b[9] = -7; // third block differs
    assertThat(cache.probeTokens(NS, b, 0)).isEqualTo(8);
    assertThat(run(cache, Request.of(NS, b))).isEqualTo(8);
    // both paths are now cached: a split edge with two children
    assertThat(cache.probeTokens(NS, a, 0)).isEqualTo(16);
    assertThat(cache.probeTokens(NS, b, 0)).isEqualTo(16);
  }

  @Test
  void namespacesAndSaltsNeverShare() {
    cache(64);
    int[] p = seq(0, 8);
    run(cache, Request.of(NS, p));
    Namespace other = Namespace.of("other", LAYOUT);
    assertThat(cache.probeTokens(other, p, 0)).isZero();
    assertThat(cache.probeTokens(NS.withAdapter("lora-1"), p, 0)).isZero();
    assertThat(cache.probeTokens(NS, p, 42)).isZero();
    run(cache, Request.of(NS, p).salt(42));
    assertThat(cache.probeTokens(NS, p, 42)).isEqualTo(8);
  }

  @Test
  void blockTable_isContiguousForOneSequence() {
    cache(64);
    try (Lease l = cache.acquire(Request.of(NS, seq(0, 40)))) {
      l.extend();
      long[] t = l.blockTable();
      assertThat(t).hasSize(10);
      for (int i = 1; i < t.length; i++) {
        assertThat(PageHandle.index(t[i])).isEqualTo(PageHandle.index(t[i - 1]) + 1);
      }
    }
  }

  @Test
  void eviction_isLeastRecentlyUsedLeafFirst_andNeverTouchesPinnedBlocks() {
    cache(8);
    int[] a = seq(0, 8);
    int[] b = seq(1000, 8);
    run(cache, Request.of(NS, a));
    run(cache, Request.of(NS, b));
    ticker.advance(Duration.ofSeconds(1));
    run(cache, Request.of(NS, a)); // a is now more recent than b
    try (Lease pinned = cache.acquire(Request.of(NS, b))) {
      ticker.advance(Duration.ofSeconds(1));
      // needs 4 pages: only a's 2 blocks are evictable (b is pinned), plus 4 free pages
      run(cache, Request.of(NS, seq(5000, 20)));
      assertThat(cache.probeTokens(NS, b, 0)).isEqualTo(8);
      assertThat(pinned.cachedTokens()).isEqualTo(8);
    }
    assertThat(cache.probeTokens(NS, a, 0)).isLessThan(8);
  }

  @Test
  void extend_failsCleanlyWhenEverythingIsPinned() {
    cache(4);
    try (Lease l = cache.acquire(Request.of(NS, seq(0, 16)))) {
      l.extend();
      l.commit();
      try (Lease l2 = cache.acquire(Request.of(NS, seq(100, 8)))) {
        assertThatThrownBy(l2::extend).isInstanceOf(OutOfPagesException.class);
        assertThat(l2.blockCount()).isZero();
        assertThat(l2.tokenCount()).isZero();
      }
      assertThat(cache.probeTokens(NS, seq(0, 16), 0)).isEqualTo(16);
    }
    assertThat(run(cache, Request.of(NS, seq(100, 8)))).isZero();
  }

  @Test
  void pageReferences_returnToTheIndexAlone() {
    cache(32);
    Lease a = cache.acquire(Request.of(NS, seq(0, 13)));
    a.extend();
    a.commit();
    Lease b = cache.acquire(Request.of(NS, seq(0, 13)));
    b.extend();
    Branches br = b.fork(3);
    br.branch(0).extend(seq(900, 5));
    br.keep(0).close();
    a.close();
    b.close();
    KvCacheImpl impl = (KvCacheImpl) cache;
    assertThat(impl.pages.usedPages()).isEqualTo(impl.index.liveBlocks());
  }

  @Test
  void staleHandle_isDetected() {
    cache(4);
    long h;
    try (Lease l = cache.acquire(Request.of(NS, seq(0, 4)))) {
      l.extend();
      h = l.blockTable()[0];
    }
    KvCacheImpl impl = (KvCacheImpl) cache;
    assertThatThrownBy(() -> impl.pages.validate(h)).isInstanceOf(StaleHandleException.class);
  }

  @Test
  void sessionPin_survivesPressureUntilItsTtl() {
    cache(8);
    int[] conv = seq(0, 16);
    run(cache, Request.of(NS, conv).session("agent"));
    Session s = cache.session("agent");
    s.pause(PauseKind.TOOL, Duration.ofSeconds(9)); // pinned for 18 s
    assertThat(s.pinnedBlocks()).isEqualTo(4);
    ticker.advance(Duration.ofSeconds(5));
    run(cache, Request.of(NS, seq(7000, 16)));
    run(cache, Request.of(NS, seq(8000, 16))); // evicts the other request, never the pinned path
    assertThat(cache.probeTokens(NS, conv, 0)).isEqualTo(16);
    assertThat(s.pinnedBlocks()).isEqualTo(4);
    ticker.advance(Duration.ofSeconds(14));
    assertThat(s.pinnedBlocks()).isZero();
    run(cache, Request.of(NS, seq(9000, 32)));
    assertThat(cache.probeTokens(NS, conv, 0)).isZero();
  }

  @Test
  void pausePin_givesWayToARequestThatWouldOtherwiseFail_leafFirst_andOnlyAsFarAsNeeded() {
    cache(8);
    int[] conv = seq(0, 16);
    run(cache, Request.of(NS, conv).session("agent"));
    Session s = cache.session("agent");
    s.pause(PauseKind.TOOL, Duration.ofSeconds(9));
    ticker.advance(Duration.ofSeconds(1));
    // 5 blocks with 4 free pages: without the pause pin giving way this request fails for pages
    run(cache, Request.of(NS, seq(7000, 20)));
    assertThat(s.pinnedBlocks()).isZero();
    assertThat(cache.probeTokens(NS, conv, 0)).isEqualTo(12); // only the leaf went
    assertThat(((KvCacheImpl) cache).pauseYields()).isEqualTo(1);
  }

  @Test
  void pausePins_theOneNearestItsExpiry_givesWayFirst() {
    cache(12);
    int[] soon = seq(0, 16);
    int[] late = seq(1000, 16);
    run(cache, Request.of(NS, late).session("late"));
    run(cache, Request.of(NS, soon).session("soon"));
    cache.session("late").pause(PauseKind.TOOL, Duration.ofSeconds(60)); // pinned 120 s
    ticker.advance(Duration.ofSeconds(1));
    cache.session("soon").pause(PauseKind.TOOL, Duration.ofSeconds(5)); // pinned 10 s
    ticker.advance(Duration.ofSeconds(1));
    run(cache, Request.of(NS, seq(7000, 24))); // 6 blocks, 4 free
    assertThat(cache.probeTokens(NS, late, 0)).isEqualTo(16);
    assertThat(cache.probeTokens(NS, soon, 0)).isEqualTo(8);
    assertThat(cache.session("late").pinnedBlocks()).isEqualTo(4);
    assertThat(cache.session("soon").pinnedBlocks()).isZero();
  }

  @Test
  void anEnginePin_neverGivesWay() {
    cache(8);
    int[] conv = seq(0, 16);
    run(cache, Request.of(NS, conv).session("agent"));
    Session s = cache.session("agent");
    s.pin(Duration.ofSeconds(30));
    ticker.advance(Duration.ofSeconds(1));
    assertThatThrownBy(() -> run(cache, Request.of(NS, seq(7000, 20))))
        .isInstanceOf(OutOfPagesException.class);
    assertThat(cache.probeTokens(NS, conv, 0)).isEqualTo(16);
    assertThat(s.pinnedBlocks()).isEqualTo(4);
  }

  @Test
  void humanPause_doesNotPinUnderTheDefaultRetention() {
    cache(8);
    run(cache, Request.of(NS, seq(0, 16)).session("agent"));
    Session s = cache.session("agent");
    s.pause(PauseKind.HUMAN, Duration.ofMinutes(30));
    assertThat(s.pinnedBlocks()).isZero();
  }

  @Test
  void compactedPrefix_isEvictedBeforeLiveBlocks() {
    cache(12);
    int[] system = seq(0, 8);
    int[] old = concat(system, seq(100, 8));
    run(cache, Request.of(NS, old).session("s"));
    ticker.advance(Duration.ofSeconds(1));
    int[] live = concat(system, seq(300, 8));
    run(cache, Request.of(NS, live).session("t"));
    ticker.advance(Duration.ofSeconds(1));
    run(cache, Request.of(NS, old).session("s")); // old is now the most recent
    cache.session("s").compacted();
    run(cache, Request.of(NS, seq(5000, 8))); // needs 2 pages; 6 blocks cached in 12 pages
    run(cache, Request.of(NS, seq(6000, 24))); // needs 6 more: forces 2 evictions
    assertThat(cache.probeTokens(NS, live, 0)).isEqualTo(16);
    assertThat(cache.probeTokens(NS, old, 0)).isEqualTo(8); // shared system prompt survives
  }

  @Test
  void fork_copiesTheSharedPartialPageOnWrite() {
    cache(32);
    KvCacheImpl impl = (KvCacheImpl) cache;
    try (Lease l = cache.acquire(Request.of(NS, seq(0, 6)))) {
      l.extend();
      long partial = l.blockTable()[1];
      MemorySegment seg = impl.store.segment(PageHandle.index(partial)).orElseThrow();
      seg.set(ValueLayout.JAVA_BYTE, 0, (byte) 7);
      Branches br = l.fork(2);
      br.branch(0).extend(seq(50, 1));
      br.branch(1).extend(seq(60, 1));
      long p0 = br.branch(0).blockTable()[1];
      long p1 = br.branch(1).blockTable()[1];
      assertThat(PageHandle.index(p0)).isNotEqualTo(PageHandle.index(partial));
      assertThat(PageHandle.index(p1)).isNotEqualTo(PageHandle.index(p0));
      MemorySegment s0 = impl.store.segment(PageHandle.index(p0)).orElseThrow();
      assertThat(s0.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 7);
      s0.set(ValueLayout.JAVA_BYTE, 0, (byte) 9);
      assertThat(seg.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 7);
      br.keep(0).close();
    }
  }

  @Test
  void discardedBranches_returnWholeRuns() {
    cache(64);
    KvCacheImpl impl = (KvCacheImpl) cache;
    try (Lease l = cache.acquire(Request.of(NS, seq(0, 8)))) {
      l.extend();
      l.commit();
      Branches br = l.fork(4);
      for (int i = 0; i < 4; i++) {
        br.branch(i).extend(seq(1000 * (i + 1), 24));
      }
      Lease kept = br.keep(2);
      kept.close();
    }
    assertThat(impl.pages.usedPages()).isEqualTo(2);
    assertThat(impl.pages.freeRuns()).isLessThanOrEqualTo(2);
    assertThat(impl.pages.largestFreeRun()).isGreaterThanOrEqualTo((long) (0.9 * 62));
  }

  @Test
  void keptBranches_areDeadCacheWithinTheSessionCap() {
    cache(64, EvictionPolicy.lru(), BranchPolicy.capPerSession(3));
    try (Lease l = cache.acquire(Request.of(NS, seq(0, 8)).session("s"))) {
      l.extend();
      l.commit();
      Branches br = l.fork(3);
      for (int i = 0; i < 3; i++) {
        br.branch(i).extend(seq(100 * (i + 1), 8));
        br.branch(i).commit();
      }
      br.branch(2).extend(seq(900, 4)); // a block the branch never committed: never published
      br.keep(0).close();
    }
    // two discarded branches of 2 committed blocks each; the cap keeps 3 of those 4 blocks,
    // the first branch's whole path and the second branch's first block
    int kept =
        cache.probeTokens(NS, concat(seq(0, 8), seq(200, 8)), 0)
            + cache.probeTokens(NS, concat(seq(0, 8), seq(300, 8)), 0)
            - 16;
    assertThat(kept / T).isEqualTo(3);
    assertThat(cache.probeTokens(NS, concat(concat(seq(0, 8), seq(300, 8)), seq(900, 4)), 0))
        .isLessThanOrEqualTo(16);
  }

  @Test
  void freeNow_removesADiscardedBranchsCommittedBlocks() {
    cache(64);
    try (Lease l = cache.acquire(Request.of(NS, seq(0, 8)))) {
      l.extend();
      l.commit();
      Branches br = l.fork(2);
      br.branch(0).extend(seq(100, 8));
      br.branch(0).commit();
      br.branch(1).extend(seq(200, 8));
      br.branch(1).commit();
      br.keep(0).close();
    }
    assertThat(cache.probeTokens(NS, concat(seq(0, 8), seq(100, 8)), 0)).isEqualTo(16);
    assertThat(cache.probeTokens(NS, concat(seq(0, 8), seq(200, 8)), 0)).isEqualTo(8);
  }

  @Test
  void events_areSequencedAndSignalAReaderThatFellBehind() {
    cache(128);
    run(cache, Request.of(NS, seq(0, 8)));
    EventBatch first = cache.events(0, 100);
    assertThat(first.events()).hasSize(2).allMatch(e -> e instanceof CacheEvent.Stored);
    CacheEvent.Stored s1 = (CacheEvent.Stored) first.events().get(0);
    CacheEvent.Stored s2 = (CacheEvent.Stored) first.events().get(1);
    assertThat(s2.parent()).isEqualTo(s1.key());
    assertThat(s2.seq()).isEqualTo(s1.seq() + 1);
    assertThat(first.missed()).isZero();
    for (int i = 0; i < 40; i++) {
      run(cache, Request.of(NS, seq(10_000 * (i + 1), 8)));
    }
    EventBatch late = cache.events(first.nextSeq(), 1000);
    assertThat(late.fellBehind()).isTrue();
    assertThat(late.events()).hasSize(64);
  }

  @Test
  void blockKeys_areIdenticalAcrossCaches() {
    cache(16);
    run(cache, Request.of(NS, seq(0, 8)).salt("tenant"));
    var a = cache.events(0, 10).events();
    try (KvCache other = KvCache.builder().layout(LAYOUT).tier(DramTier.offHeap(64 * 16)).build()) {
      run(other, Request.of(NS, seq(0, 8)).salt("tenant"));
      assertThat(other.events(0, 10).events())
          .extracting(e -> ((CacheEvent.Stored) e).key())
          .containsExactlyElementsOf(a.stream().map(e -> ((CacheEvent.Stored) e).key()).toList());
    }
  }

  @Test
  void badInput_getsClearExceptionsAndLeavesTheCacheIntact() {
    cache(16);
    run(cache, Request.of(NS, seq(0, 8)));
    Namespace wrongBlock = Namespace.of("m", KvLayout.ofPageBytes(8, 64));
    assertThatThrownBy(() -> cache.acquire(Request.of(wrongBlock, seq(0, 8))))
        .isInstanceOf(KvTierException.class)
        .hasMessageContaining("tokens per block");
    Lease l = cache.acquire(Request.of(NS, seq(0, 8)));
    assertThatThrownBy(() -> l.commit(99)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> l.fork(1)).isInstanceOf(IllegalArgumentException.class);
    l.close();
    l.close();
    assertThatThrownBy(l::extend).isInstanceOf(CacheClosedException.class);
    assertThat(cache.probeTokens(NS, seq(0, 8), 0)).isEqualTo(8);
    cache.close();
    cache.close();
    assertThatThrownBy(() -> cache.acquire(Request.of(NS, seq(0, 8))))
        .isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(() -> cache.probeTokens(NS, seq(0, 8), 0))
        .isInstanceOf(CacheClosedException.class);
  }

  @Test
  void builder_saysWhatToChange() {
    assertThatThrownBy(() -> KvCache.builder().tier(DramTier.offHeap(1 << 20)).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("layout(");
    assertThatThrownBy(() -> KvCache.builder().layout(LAYOUT).build())
        .hasMessageContaining("tier(");
    assertThatThrownBy(() -> KvCache.builder().layout(LAYOUT).tier(DramTier.offHeap(32)).build())
        .hasMessageContaining("at least 64 bytes");
  }

  @Test
  void priorityLru_evictsLowPriorityFirst_untilTheDurationExpires() {
    cache(6, EvictionPolicy.priorityLru(), BranchPolicy.freeNow());
    int[] hi = seq(0, 8);
    int[] lo = seq(100, 8);
    run(cache, Request.of(NS, hi).priority(90, Duration.ofSeconds(30)));
    ticker.advance(Duration.ofSeconds(1));
    run(cache, Request.of(NS, lo).priority(10, null));
    run(cache, Request.of(NS, seq(200, 8))); // 6 of 8 pages used
    run(cache, Request.of(NS, seq(300, 8))); // evicts 2: the low-priority ones
    assertThat(cache.probeTokens(NS, hi, 0)).isEqualTo(8);
    assertThat(cache.probeTokens(NS, lo, 0)).isZero();
  }
}
