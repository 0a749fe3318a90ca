package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.CacheClosedException;
import io.kvtier.DramTier;
import io.kvtier.KvCache;
import io.kvtier.KvLayout;
import io.kvtier.KvTierException;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.Request;
import io.kvtier.spi.RetentionPolicy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link KvCache#prefetch(Request)}: a queued request's cached prefix is copied up from lower tiers
 * before it is acquired, without counting a hit, and without taking pages from requests queued
 * earlier or blocks in use.
 */
class QueuedPrefetchTest {
  static final int T = 4;
  static final int PAGE = 64;
  static final KvLayout LAYOUT = KvLayout.ofPageBytes(T, PAGE);
  static final Namespace NS = Namespace.of("model", LAYOUT);

  final ManualTicker ticker = new ManualTicker();
  final List<KvCache> opened = new ArrayList<>();

  @AfterEach
  void closeAll() {
    for (KvCache c : opened) {
      if (!((KvCacheImpl) c).isClosed()) {
        ((KvCacheImpl) c).checkInvariants();
        c.close();
      }
    }
  }

  static int[] seq(int base, int n) {
    int[] a = new int[n];
    for (int i = 0; i < n; i++) {
      a[i] = base + i;
    }
    return a;
  }

  KvCache twoTiers(int topPages) {
    KvCache c =
        KvCache.builder()
            .layout(LAYOUT)
            .tier(DramTier.offHeap("hbm", (long) PAGE * topPages))
            .tier(DramTier.offHeap("dram", (long) PAGE * 256))
            .retention(RetentionPolicy.none())
            .ticker(ticker)
            .build();
    opened.add(c);
    return c;
  }

  void run(KvCache cache, int[] tokens) throws Exception {
    ticker.advance(Duration.ofMillis(10));
    try (Lease l = cache.acquire(Request.of(NS, tokens))) {
      l.onboard().get(10, TimeUnit.SECONDS);
      l.extend();
      l.commit();
    }
  }

  /**
   * Caches the prompts, then pushes them out of the top tier with a request that fills the whole
   * tier and leaves without committing: the top tier ends empty.
   */
  void cachedBelow(KvCache cache, int topPages, int[]... prompts) throws Exception {
    for (int[] p : prompts) {
      run(cache, p);
    }
    ticker.advance(Duration.ofMillis(10));
    try (Lease l = cache.acquire(Request.of(NS, seq(700_000, topPages * T)))) {
      l.extend();
    }
    for (int[] p : prompts) {
      assertThat(cache.probe(NS, p).blocksPerTier()[0]).isZero();
      assertThat(cache.probe(NS, p).matchedBlocks()).isEqualTo(p.length / T);
    }
  }

  @Test
  void aQueuedRequest_findsItsPrefixOnTop_whenScheduled() throws Exception {
    KvCache cache = twoTiers(16);
    int[] prompt = seq(1_000, 6 * T);
    cachedBelow(cache, 16, prompt);
    long lookups = cache.stats().lookups();
    long hits = cache.stats().hitTokens();

    ticker.advance(Duration.ofMillis(10));
    assertThat(cache.prefetch(Request.of(NS, prompt))).isEqualTo(6);
    cache.prefetchesLanded().join();
    assertThat(cache.probe(NS, prompt).blocksPerTier()[0]).isEqualTo(6);
    assertThat(cache.stats().lookups()).as("a prefetch is not a lookup").isEqualTo(lookups);
    assertThat(cache.stats().hitTokens()).as("nor a hit").isEqualTo(hits);
    assertThat(cache.prefetchStats().pages()).isEqualTo(6);

    ticker.advance(Duration.ofSeconds(2));
    try (Lease l = cache.acquire(Request.of(NS, prompt))) {
      assertThat(l.cachedBlocksPerTier()).containsExactly(6, 0);
      assertThat(l.onboard()).isDone();
    }
    assertThat(cache.prefetchStats().used()).isEqualTo(6);
    assertThat(cache.prefetchStats().unused()).isZero();
  }

  @Test
  void aPrefixAlreadyOnTop_orNotCached_startsNothing() throws Exception {
    KvCache cache = twoTiers(16);
    int[] prompt = seq(1_000, 4 * T);
    run(cache, prompt);
    assertThat(cache.prefetch(Request.of(NS, prompt))).isZero();
    assertThat(cache.prefetch(Request.of(NS, seq(70_000, 4 * T)))).isZero();
    assertThat(cache.prefetchStats().pages()).isZero();
  }

  @Test
  void aSingleTierCache_startsNothing() throws Exception {
    KvCache cache =
        KvCache.builder()
            .layout(LAYOUT)
            .tier(DramTier.offHeap("hbm", PAGE * 16L))
            .ticker(ticker)
            .build();
    opened.add(cache);
    int[] prompt = seq(1_000, 4 * T);
    run(cache, prompt);
    run(cache, seq(50_000, 16 * T));
    assertThat(cache.prefetch(Request.of(NS, prompt))).isZero();
    assertThat(cache.holdQueue(List.of(Request.of(NS, prompt)))).isZero();
  }

  @Test
  void aLaterQueuedRequest_doesNotTakeTheEarlierOnesPages() throws Exception {
    KvCache cache = twoTiers(16);
    int[] first = seq(1_000, 8 * T);
    int[] second = seq(2_000, 8 * T);
    int[] third = seq(3_000, 4 * T);
    cachedBelow(cache, 16, third, first, second);

    ticker.advance(Duration.ofMillis(10));
    assertThat(cache.prefetch(Request.of(NS, first))).isEqualTo(8);
    cache.prefetchesLanded().join();
    ticker.advance(Duration.ofMillis(10));
    assertThat(cache.prefetch(Request.of(NS, second))).isEqualTo(8);
    cache.prefetchesLanded().join();
    // The top tier now holds only the two queued requests' unused pages: the third gets none,
    // though its prefix was used before theirs.
    ticker.advance(Duration.ofMillis(10));
    assertThat(cache.prefetch(Request.of(NS, third))).isZero();
    cache.prefetchesLanded().join();
    assertThat(cache.probe(NS, first).blocksPerTier()[0]).isEqualTo(8);
    assertThat(cache.probe(NS, second).blocksPerTier()[0]).isEqualTo(8);
    assertThat(cache.prefetchStats().skipped()).isEqualTo(4);
  }

  @Test
  void olderTraffic_makesRoom_andStaysCachedBelow() throws Exception {
    KvCache cache = twoTiers(16);
    int[] prompt = seq(1_000, 8 * T);
    int[] newer = seq(60_000, 16 * T);
    cachedBelow(cache, 16, prompt);
    // Newer traffic fills the top tier again; the queued request is certain and imminent, so it
    // displaces half of it (to the lower tier: nothing is lost).
    run(cache, newer);
    ticker.advance(Duration.ofMillis(10));
    assertThat(cache.prefetch(Request.of(NS, prompt))).isEqualTo(8);
    cache.prefetchesLanded().join();
    assertThat(cache.probe(NS, prompt).blocksPerTier()[0]).isEqualTo(8);
    assertThat(cache.probe(NS, newer).blocksPerTier()[0]).isEqualTo(8);
    assertThat(cache.probe(NS, newer).matchedBlocks()).isEqualTo(16);
  }

  @Test
  void blocksInUse_areNeverTaken_andWhatFindsNoRoomStaysBelow() throws Exception {
    KvCache cache = twoTiers(16);
    int[] prompt = seq(1_000, 8 * T);
    cachedBelow(cache, 16, prompt);
    ticker.advance(Duration.ofMillis(10));
    try (Lease busy = cache.acquire(Request.of(NS, seq(60_000, 12 * T)))) {
      busy.extend();
      busy.commit();
      // 12 of the 16 pages are held by the open lease: 4 free ones are left for the prefetch.
      ticker.advance(Duration.ofMillis(10));
      assertThat(cache.prefetch(Request.of(NS, prompt))).isEqualTo(4);
      cache.prefetchesLanded().join();
      assertThat(cache.probe(NS, seq(60_000, 12 * T)).blocksPerTier()[0]).isEqualTo(12);
    }
    // Root first: the part that came up is the prefix's start; the rest is onboarded on demand.
    ticker.advance(Duration.ofMillis(10));
    try (Lease l = cache.acquire(Request.of(NS, prompt))) {
      assertThat(l.cachedBlocksPerTier()).containsExactly(4, 4);
      l.onboard().get(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void badInput_isRefused_andLeavesTheCacheAsItWas() throws Exception {
    KvCache cache = twoTiers(16);
    int[] prompt = seq(1_000, 4 * T);
    cachedBelow(cache, 16, prompt);
    Namespace other = Namespace.of("model", KvLayout.ofPageBytes(2 * T, PAGE));
    assertThatThrownBy(() -> cache.prefetch(Request.of(other, seq(1, 2 * T))))
        .isInstanceOf(KvTierException.class);
    assertThatThrownBy(() -> cache.prefetch(null)).isInstanceOf(NullPointerException.class);
    assertThat(cache.probe(NS, prompt).blocksPerTier()[0]).isZero();
    ((KvCacheImpl) cache).checkInvariants();
    cache.close();
    assertThatThrownBy(() -> cache.prefetch(Request.of(NS, prompt)))
        .isInstanceOf(CacheClosedException.class);
  }

  // ---------------------------------------------------------------- the queue's hold

  @Test
  void aHeldPrefix_staysOnTopUnderPressure_untilTheHoldIsReleased() throws Exception {
    KvCache cache = twoTiers(16);
    int[] queued = seq(1_000, 4 * T);
    run(cache, queued);
    assertThat(cache.holdQueue(List.of(Request.of(NS, queued)))).isEqualTo(4);
    run(cache, seq(10_000, 12 * T));
    run(cache, seq(20_000, 12 * T)); // the oldest blocks on top are the held ones
    assertThat(cache.probe(NS, queued).blocksPerTier()[0]).isEqualTo(4);
    assertThat(cache.probe(NS, seq(10_000, 12 * T)).blocksPerTier()[0]).isZero();

    assertThat(cache.holdQueue(List.of())).isZero();
    run(cache, seq(30_000, 12 * T));
    assertThat(cache.probe(NS, queued).blocksPerTier()[0])
        .as("released: oldest goes first")
        .isZero();
    assertThat(cache.probe(NS, queued).matchedBlocks()).as("demoted, not lost").isEqualTo(4);
  }

  @Test
  void theHold_isHeadFirst_sharedBlocksOnce_andAQuarterOfTheTopTier() throws Exception {
    KvCache cache = twoTiers(16);
    int[] a = seq(1_000, 3 * T);
    int[] b = seq(2_000, 3 * T);
    run(cache, a);
    run(cache, b);
    assertThat(cache.holdQueue(List.of(Request.of(NS, a), Request.of(NS, a), Request.of(NS, b))))
        .as("a's 3 blocks once, then b's first: 16 / 4 pages")
        .isEqualTo(4);
    run(cache, seq(10_000, 12 * T)); // 10 free pages, then two evictions: b's unheld blocks
    assertThat(cache.probe(NS, a).blocksPerTier()[0]).isEqualTo(3);
    assertThat(cache.probe(NS, b).blocksPerTier()[0]).isEqualTo(1);
    assertThat(cache.probe(NS, b).matchedBlocks()).isEqualTo(3);
  }

  @Test
  void aHeldRequestsPrefetch_doesNotYield_toOtherQueuedRequestsUnusedPages() throws Exception {
    KvCache cache = twoTiers(16);
    int[] first = seq(1_000, 8 * T);
    int[] second = seq(2_000, 8 * T);
    int[] third = seq(3_000, 4 * T);
    cachedBelow(cache, 16, third, first, second);
    ticker.advance(Duration.ofMillis(10));
    assertThat(cache.prefetch(Request.of(NS, first))).isEqualTo(8);
    assertThat(cache.prefetch(Request.of(NS, second))).isEqualTo(8);
    cache.prefetchesLanded().join();
    // As in aLaterQueuedRequest_doesNotTakeTheEarlierOnesPages, the third would get nothing; the
    // engine now says it runs first.
    ticker.advance(Duration.ofMillis(10));
    assertThat(cache.holdQueue(List.of(Request.of(NS, third)))).isEqualTo(4);
    assertThat(cache.prefetch(Request.of(NS, third))).isEqualTo(4);
    cache.prefetchesLanded().join();
    assertThat(cache.probe(NS, third).blocksPerTier()[0]).isEqualTo(4);
    assertThat(cache.probe(NS, first).matchedBlocks() + cache.probe(NS, second).matchedBlocks())
        .as("what gave way stays below")
        .isEqualTo(16);
  }

  @Test
  void theHold_givesWay_toALeaseThatNeedsItsPages() throws Exception {
    KvCache cache = twoTiers(16);
    int[] queued = seq(1_000, 4 * T);
    run(cache, queued);
    assertThat(cache.holdQueue(List.of(Request.of(NS, queued)))).isEqualTo(4);
    int[] big = seq(50_000, 16 * T);
    run(cache, big); // needs every page of the top tier
    assertThat(cache.probe(NS, big).blocksPerTier()[0]).isEqualTo(16);
    assertThat(cache.probe(NS, queued).blocksPerTier()[0]).isZero();
    assertThat(cache.probe(NS, queued).matchedBlocks()).isEqualTo(4);
    assertThat(cache.holdQueue(List.of())).isZero();
  }

  @Test
  void holdQueue_refusesBadInput_andKeepsThePreviousHold() throws Exception {
    KvCache cache = twoTiers(16);
    int[] queued = seq(1_000, 4 * T);
    run(cache, queued);
    assertThat(cache.holdQueue(List.of(Request.of(NS, queued)))).isEqualTo(4);
    Namespace other = Namespace.of("model", KvLayout.ofPageBytes(2 * T, PAGE));
    assertThatThrownBy(
            () ->
                cache.holdQueue(
                    List.of(Request.of(NS, seq(5, T)), Request.of(other, seq(1, 2 * T)))))
        .isInstanceOf(KvTierException.class);
    assertThatThrownBy(() -> cache.holdQueue(null)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> cache.holdQueue(java.util.Arrays.asList((Request) null)))
        .isInstanceOf(NullPointerException.class);
    run(cache, seq(10_000, 12 * T));
    run(cache, seq(20_000, 12 * T));
    assertThat(cache.probe(NS, queued).blocksPerTier()[0]).as("still held").isEqualTo(4);
    ((KvCacheImpl) cache).checkInvariants();
    cache.close();
    assertThatThrownBy(() -> cache.holdQueue(List.of())).isInstanceOf(CacheClosedException.class);
  }

  /** The slot in tier 1 of the first block of a cached prompt. */
  static long lowerSlotOf(KvCacheImpl impl, int[] prompt) {
    impl.lock.lock();
    try {
      int[] out = new int[prompt.length / T];
      impl.index.match(impl.index.existingRoot(NS, 0), prompt, prompt.length, out);
      return impl.index.slot(out[0], 1);
    } finally {
      impl.lock.unlock();
    }
  }

  @Test
  void aRequestThatWaitsOnAQueuedPrefetch_raisesIt_aheadOfPrefetchesQueuedBefore()
      throws Exception {
    TransferEngineTest.Instrumented lower = new TransferEngineTest.Instrumented("dram", true);
    KvCache cache =
        KvCache.builder()
            .layout(LAYOUT)
            .tier(DramTier.offHeap("hbm", (long) PAGE * 32))
            .tier(lower.spec())
            .retention(RetentionPolicy.none())
            .ticker(ticker)
            .build();
    opened.add(cache);
    KvCacheImpl impl = (KvCacheImpl) cache;
    int[] x = seq(1_000, T);
    int[] y = seq(2_000, T);
    int[] a = seq(3_000, 2 * T);
    int[] b = seq(4_000, 2 * T);
    cachedBelow(cache, 32, x, y, a, b);
    long sx = lowerSlotOf(impl, x);
    long sy = lowerSlotOf(impl, y);
    long sa = lowerSlotOf(impl, a);
    CountDownLatch holdX = lower.hold(sx);
    CountDownLatch holdY = lower.hold(sy);
    CountDownLatch holdA = lower.hold(sa);
    ticker.advance(Duration.ofMillis(10));
    assertThat(cache.prefetch(Request.of(NS, x))).isEqualTo(1);
    assertThat(cache.prefetch(Request.of(NS, y))).isEqualTo(1);
    lower.awaitReached(sx);
    lower.awaitReached(sy); // both copying threads of the link are held
    assertThat(cache.prefetch(Request.of(NS, a))).isEqualTo(2);
    assertThat(cache.prefetch(Request.of(NS, b))).isEqualTo(2); // queued behind a's
    try (Lease l = cache.acquire(Request.of(NS, b))) {
      var onboarded = l.onboard(); // b's prefetch is raised to onboarding priority
      holdX.countDown(); // one thread drains the queue: b's copies, then a's (held)
      onboarded.get(10, TimeUnit.SECONDS);
      lower.awaitReached(sa);
      assertThat(l.blockTable()).hasSize(2);
    }
    holdA.countDown();
    holdY.countDown();
    cache.prefetchesLanded().get(10, TimeUnit.SECONDS);
    assertThat(cache.probe(NS, a).blocksPerTier()[0]).isEqualTo(2);
  }
}
