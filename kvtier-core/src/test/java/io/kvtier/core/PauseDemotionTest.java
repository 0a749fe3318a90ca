package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.DramTier;
import io.kvtier.KvCache;
import io.kvtier.KvLayout;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.PauseKind;
import io.kvtier.Request;
import io.kvtier.Session;
import io.kvtier.spi.PrefetchPolicy;
import io.kvtier.spi.RetentionPolicy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Human pauses: a paused session's blocks are demoted to the lower tier like any others, and {@link
 * PrefetchPolicy#beforeResume(Duration)} copies them back to the top tier {@code lead} before the
 * predicted resume, at the first operation after that.
 */
class PauseDemotionTest {
  static final int T = 4;
  static final int PAGE = 64;
  static final KvLayout LAYOUT = KvLayout.ofPageBytes(T, PAGE);
  static final Namespace NS = Namespace.of("model", LAYOUT);
  static final int[] PROMPT = seq(10_000, 8 * T);
  static final Duration EXPECTED = Duration.ofSeconds(60);
  static final Duration LEAD = Duration.ofSeconds(5);

  final ManualTicker ticker = new ManualTicker();
  final List<KvCache> opened = new ArrayList<>();

  @AfterEach
  void closeAll() {
    for (KvCache c : opened) {
      ((KvCacheImpl) c).checkInvariants();
      c.close();
    }
  }

  static int[] seq(int base, int n) {
    int[] a = new int[n];
    for (int i = 0; i < n; i++) {
      a[i] = base + i;
    }
    return a;
  }

  KvCache twoTiers(PrefetchPolicy prefetch) {
    return twoTiers(prefetch, 16);
  }

  KvCache twoTiers(PrefetchPolicy prefetch, int topPages) {
    KvCache c =
        KvCache.builder()
            .layout(LAYOUT)
            .tier(DramTier.offHeap("hbm", (long) PAGE * topPages))
            .tier(DramTier.offHeap("dram", (long) PAGE * 128))
            .retention(RetentionPolicy.none())
            .prefetch(prefetch)
            .ticker(ticker)
            .build();
    opened.add(c);
    return c;
  }

  void run(KvCache cache, Request r) throws Exception {
    ticker.advance(Duration.ofMillis(10));
    try (Lease l = cache.acquire(r)) {
      l.onboard().get(10, TimeUnit.SECONDS);
      l.extend();
      l.commit();
    }
  }

  /** Runs the session's request, pauses it, and fills the top tier so its blocks are demoted. */
  Session pausedAndDemoted(KvCache cache, int fillerBase) throws Exception {
    run(cache, Request.of(NS, PROMPT).session("s1"));
    Session s = cache.session("s1");
    s.pause(PauseKind.HUMAN, EXPECTED);
    demote(cache, fillerBase);
    return s;
  }

  void demote(KvCache cache, int fillerBase) throws Exception {
    for (int i = 0; i < 6; i++) {
      run(cache, Request.of(NS, seq(fillerBase + i * 1000, 4 * T)));
    }
    assertThat(cache.probe(NS, PROMPT).blocksPerTier()).containsExactly(0, 8);
  }

  /**
   * Runs the session's request, pauses it, and demotes its blocks with one request that fills the
   * whole top tier and then leaves without committing: the top tier ends empty.
   */
  Session pausedAndDemotedLeavingRoom(KvCache cache, int topPages) throws Exception {
    run(cache, Request.of(NS, PROMPT).session("s1"));
    Session s = cache.session("s1");
    s.pause(PauseKind.HUMAN, EXPECTED);
    ticker.advance(Duration.ofMillis(10));
    try (Lease l = cache.acquire(Request.of(NS, seq(700_000, topPages * T)))) {
      l.extend();
    }
    assertThat(cache.probe(NS, PROMPT).blocksPerTier()).containsExactly(0, 8);
    return s;
  }

  /** Moves the clock to the promotion's due time, runs it and waits for its copies. */
  void promotionDue(KvCache cache) {
    ticker.advance(EXPECTED.minus(LEAD));
    cache.prefetchesLanded().join();
  }

  /** Any operation: it runs the cache's tick and allocates nothing. */
  static void anyOperation(KvCache cache) {
    cache.acquire(Request.of(NS, seq(900_000, 2 * T))).close();
  }

  void awaitTopBlocks(KvCache cache, int blocks) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (cache.probe(NS, PROMPT).blocksPerTier()[0] < blocks && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
  }

  @Test
  void aDemotedPausedSession_isBackOnTop_leadBeforeThePredictedResume() throws Exception {
    KvCache cache = twoTiers(PrefetchPolicy.beforeResume(LEAD), 64);
    KvCacheImpl impl = (KvCacheImpl) cache;
    pausedAndDemotedLeavingRoom(cache, 64);
    assertThat(impl.scheduledPromotions()).isEqualTo(1);

    ticker.advance(EXPECTED.minus(LEAD).minusSeconds(1));
    anyOperation(cache);
    Thread.sleep(50);
    assertThat(cache.probe(NS, PROMPT).blocksPerTier()).as("not due yet").containsExactly(0, 8);

    ticker.advance(Duration.ofSeconds(1));
    anyOperation(cache);
    assertThat(impl.scheduledPromotions()).isZero();
    awaitTopBlocks(cache, 8);
    assertThat(cache.probe(NS, PROMPT).blocksPerTier()[0]).isEqualTo(8);

    // The session's next request finds everything in the top tier: nothing to onboard.
    try (Lease l = cache.acquire(Request.of(NS, PROMPT).session("s1"))) {
      assertThat(l.cachedBlocksPerTier()).containsExactly(8, 0);
      assertThat(l.onboard()).isDone();
    }
  }

  @Test
  void withoutThePolicy_theSessionStaysDemoted() throws Exception {
    KvCache cache = twoTiers(PrefetchPolicy.none());
    pausedAndDemoted(cache, 300_000);
    ticker.advance(EXPECTED);
    anyOperation(cache);
    Thread.sleep(50);
    assertThat(cache.probe(NS, PROMPT).blocksPerTier()).containsExactly(0, 8);
    assertThat(((KvCacheImpl) cache).scheduledPromotions()).isZero();
  }

  @Test
  void aResumeBeforeTheDeadline_cancelsTheScheduledPromotion_andTheRequestOnboards()
      throws Exception {
    KvCache cache = twoTiers(PrefetchPolicy.beforeResume(LEAD), 64);
    KvCacheImpl impl = (KvCacheImpl) cache;
    Session s = pausedAndDemotedLeavingRoom(cache, 64);
    ticker.advance(Duration.ofSeconds(10));
    s.resume();
    assertThat(impl.scheduledPromotions()).isZero();
    assertThat(cache.prefetchesLanded()).isDone();
    assertThat(cache.probe(NS, PROMPT).blocksPerTier()).containsExactly(0, 8);
    try (Lease l = cache.acquire(Request.of(NS, PROMPT).session("s1"))) {
      assertThat(l.cachedBlocksPerTier()).containsExactly(0, 8);
      l.onboard().get(10, TimeUnit.SECONDS);
    }
    assertThat(cache.prefetchStats().pages()).isZero();

    // Demoted again: passing the cancelled deadline brings nothing back.
    s.pause(PauseKind.HUMAN, EXPECTED);
    s.end();
    ticker.advance(Duration.ofMillis(10));
    try (Lease l = cache.acquire(Request.of(NS, seq(800_000, 64 * T)))) {
      l.extend();
    }
    ticker.advance(EXPECTED);
    anyOperation(cache);
    Thread.sleep(50);
    assertThat(cache.probe(NS, PROMPT).blocksPerTier()).containsExactly(0, 8);
  }

  @Test
  void aSecondPause_replacesTheScheduledPromotion_andEndCancelsIt() throws Exception {
    KvCache cache = twoTiers(PrefetchPolicy.beforeResume(LEAD));
    KvCacheImpl impl = (KvCacheImpl) cache;
    Session s = pausedAndDemoted(cache, 300_000);
    ticker.advance(Duration.ofSeconds(30));
    s.pause(PauseKind.HUMAN, EXPECTED); // due 55 s from now, not 25
    ticker.advance(Duration.ofSeconds(30));
    anyOperation(cache);
    Thread.sleep(50);
    assertThat(cache.probe(NS, PROMPT).blocksPerTier()).containsExactly(0, 8);
    assertThat(impl.scheduledPromotions()).isEqualTo(1);

    s.end();
    assertThat(impl.scheduledPromotions()).isZero();
    ticker.advance(EXPECTED);
    anyOperation(cache);
    Thread.sleep(50);
    assertThat(cache.probe(NS, PROMPT).blocksPerTier()).containsExactly(0, 8);
  }

  @Test
  void aLeadAtLeastTheEstimate_promotesAtThePause() throws Exception {
    KvCache cache = twoTiers(PrefetchPolicy.beforeResume(EXPECTED), 64);
    pausedAndDemotedLeavingRoom(cache, 64);
    cache.session("s1").pause(PauseKind.HUMAN, EXPECTED);
    assertThat(((KvCacheImpl) cache).scheduledPromotions()).isZero();
    awaitTopBlocks(cache, 8);
    assertThat(cache.probe(NS, PROMPT).blocksPerTier()[0]).isEqualTo(8);
  }

  @Test
  void aPromotion_neverEvictsABlockUsedSinceThePause() throws Exception {
    KvCache cache = twoTiers(PrefetchPolicy.beforeResume(LEAD));
    pausedAndDemoted(cache, 300_000); // the top tier is full of blocks used after the pause
    int[] recent = seq(300_000 + 5 * 1000, 4 * T);
    assertThat(cache.probe(NS, recent).blocksPerTier()).containsExactly(4, 0);
    long evictedBefore = cache.stats().tiers().get(0).evictions();

    promotionDue(cache);

    assertThat(cache.stats().tiers().get(0).evictions()).isEqualTo(evictedBefore);
    for (int i = 2; i < 6; i++) {
      assertThat(cache.probe(NS, seq(300_000 + i * 1000, 4 * T)).blocksPerTier())
          .as("filler request %d, used after the pause, stays on top", i)
          .containsExactly(4, 0);
    }
    assertThat(cache.probe(NS, PROMPT).blocksPerTier()).containsExactly(0, 8);
    assertThat(cache.prefetchStats().pages()).isZero();
    assertThat(cache.prefetchStats().skipped()).isEqualTo(8);
  }

  @Test
  void aPromotion_takesBlocksIdleSinceBeforeThePause_rootFirst_withinAQuarterOfTheTopTier()
      throws Exception {
    KvCache cache = twoTiers(PrefetchPolicy.beforeResume(LEAD));
    // Old blocks, last used before the session's request (a lease keeps them on top meanwhile).
    int[] old = seq(600_000, 4 * T);
    ticker.advance(Duration.ofMillis(10));
    Lease held = cache.acquire(Request.of(NS, old));
    held.extend();
    held.commit();
    run(cache, Request.of(NS, PROMPT).session("s1"));
    cache.session("s1").pause(PauseKind.HUMAN, EXPECTED);
    ticker.advance(Duration.ofMillis(10));
    try (Lease l = cache.acquire(Request.of(NS, seq(700_000, 12 * T)))) {
      l.extend(); // demotes the session's 8 blocks; the pages come back on close
    }
    for (int i = 0; i < 3; i++) {
      run(cache, Request.of(NS, seq(620_000 + i * 1000, 4 * T)));
    }
    held.close();
    assertThat(cache.probe(NS, PROMPT).blocksPerTier()).containsExactly(0, 8);
    assertThat(cache.probe(NS, old).blocksPerTier()[0]).isEqualTo(4);

    promotionDue(cache);

    // A quarter of 16 pages, from the root (the part a request needs first and the top tier
    // keeps longest: it evicts leaf first), in the old blocks' pages.
    assertThat(cache.probe(NS, PROMPT).blocksPerTier()).containsExactly(4, 8);
    assertThat(cache.probe(NS, old).blocksPerTier()[0]).isZero();
    assertThat(cache.prefetchStats().pages()).isEqualTo(4);
    assertThat(cache.prefetchStats().skipped()).isEqualTo(4);
    assertThat(cache.prefetchStats().unused()).isEqualTo(4);
    for (int i = 0; i < 3; i++) {
      assertThat(cache.probe(NS, seq(620_000 + i * 1000, 4 * T)).blocksPerTier())
          .as("request %d, used after the pause, stays on top", i)
          .containsExactly(4, 0);
    }

    try (Lease l = cache.acquire(Request.of(NS, PROMPT).session("s1"))) {
      assertThat(l.cachedBlocksPerTier()).containsExactly(4, 4);
      l.onboard().get(10, TimeUnit.SECONDS);
    }
    assertThat(cache.prefetchStats().used()).isEqualTo(4);
    assertThat(cache.prefetchStats().unused()).isZero();
    assertThat(cache.prefetchStats().wasted()).isZero();
  }

  @Test
  void anUnusedPrefetchedPage_isEvictedBeforeARecentlyUsedBlock_andCountsAsWasted()
      throws Exception {
    KvCache cache = twoTiers(PrefetchPolicy.beforeResume(LEAD));
    KvCacheImpl impl = (KvCacheImpl) cache;
    pausedAndDemotedLeavingRoom(cache, 16);
    promotionDue(cache);
    assertThat(impl.hints.unusedPrefetchedPages()).isEqualTo(4);
    for (int i = 0; i < 3; i++) {
      run(cache, Request.of(NS, seq(640_000 + i * 1000, 4 * T))); // 12 of the 12 free pages
    }
    run(cache, Request.of(NS, seq(650_000, 4 * T))); // needs 4 more: the prefetched ones go

    assertThat(cache.probe(NS, PROMPT).blocksPerTier()).containsExactly(0, 8);
    for (int i = 0; i < 3; i++) {
      assertThat(cache.probe(NS, seq(640_000 + i * 1000, 4 * T)).blocksPerTier())
          .containsExactly(4, 0);
    }
    assertThat(cache.prefetchStats().wasted()).isEqualTo(4);
    assertThat(cache.prefetchStats().wastedBytes()).isEqualTo(4L * PAGE);
    assertThat(cache.prefetchStats().used()).isZero();
  }

  @Test
  void unusedPrefetchedPages_neverMakeAWaitingRequestsOnboardingFail() throws Exception {
    KvCache cache = twoTiers(PrefetchPolicy.beforeResume(LEAD));
    // Another session's 16-block path, demoted by the first session's request.
    int[] other = seq(660_000, 16 * T);
    run(cache, Request.of(NS, other).session("s2"));
    cache.session("s2").pause(PauseKind.HUMAN, EXPECTED.multipliedBy(10));
    pausedAndDemotedLeavingRoom(cache, 16);
    assertThat(cache.probe(NS, other).blocksPerTier()).containsExactly(0, 16);
    promotionDue(cache);
    assertThat(cache.prefetchStats().unused()).isEqualTo(4);

    // s2 resumes first: its onboarding needs all 16 top-tier pages, the prefetched ones too.
    try (Lease l = cache.acquire(Request.of(NS, other).session("s2"))) {
      assertThat(l.cachedBlocksPerTier()).containsExactly(0, 16);
      l.onboard().get(10, TimeUnit.SECONDS);
      assertThat(l.blockTable()).hasSize(16);
    }
    assertThat(cache.probe(NS, other).blocksPerTier()[0]).isEqualTo(16);
    assertThat(cache.prefetchStats().wasted()).isEqualTo(4);
  }

  @Test
  void badLead_isRejected() {
    assertThatThrownBy(() -> PrefetchPolicy.beforeResume(Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> PrefetchPolicy.beforeResume(null))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
