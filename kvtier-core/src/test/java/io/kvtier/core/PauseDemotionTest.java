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
    KvCache c =
        KvCache.builder()
            .layout(LAYOUT)
            .tier(DramTier.offHeap("hbm", (long) PAGE * 16))
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
    KvCache cache = twoTiers(PrefetchPolicy.beforeResume(LEAD));
    KvCacheImpl impl = (KvCacheImpl) cache;
    pausedAndDemoted(cache, 300_000);
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
  void aResumeBeforeTheDeadline_promotesAtOnce_andCancelsTheScheduledPromotion() throws Exception {
    KvCache cache = twoTiers(PrefetchPolicy.beforeResume(LEAD));
    KvCacheImpl impl = (KvCacheImpl) cache;
    Session s = pausedAndDemoted(cache, 300_000);
    ticker.advance(Duration.ofSeconds(10));
    s.resume();
    assertThat(impl.scheduledPromotions()).isZero();
    awaitTopBlocks(cache, 8);
    assertThat(cache.probe(NS, PROMPT).blocksPerTier()[0]).isEqualTo(8);

    // Demoted again: passing the cancelled deadline brings nothing back.
    demote(cache, 500_000);
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
    KvCache cache = twoTiers(PrefetchPolicy.beforeResume(EXPECTED));
    pausedAndDemoted(cache, 300_000);
    cache.session("s1").pause(PauseKind.HUMAN, EXPECTED);
    assertThat(((KvCacheImpl) cache).scheduledPromotions()).isZero();
    awaitTopBlocks(cache, 8);
    assertThat(cache.probe(NS, PROMPT).blocksPerTier()[0]).isEqualTo(8);
  }

  @Test
  void badLead_isRejected() {
    assertThatThrownBy(() -> PrefetchPolicy.beforeResume(Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> PrefetchPolicy.beforeResume(null))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
