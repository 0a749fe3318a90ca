package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.CacheClosedException;
import io.kvtier.DramTier;
import io.kvtier.KvCache;
import io.kvtier.KvCacheBuilder;
import io.kvtier.KvLayout;
import io.kvtier.KvTierException;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.NextStep;
import io.kvtier.OutOfPagesException;
import io.kvtier.PageHandle;
import io.kvtier.QuotaExceededException;
import io.kvtier.Request;
import io.kvtier.Session;
import io.kvtier.spi.EvictionPolicy;
import io.kvtier.spi.HintConfig;
import io.kvtier.spi.PrefetchPolicy;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The agent hints of issue 6 through the public API: sub-agent types keep their siblings' shared
 * prompt warm, workflow forecasts keep and prefetch the next steps' prefixes, and quotas bound what
 * a tenant or a session holds in the top tier. Each behaviour is checked beside a control run
 * without the hint, so a hint that did nothing fails the test.
 */
class AgentHintsTest {
  static final int T = 4;
  static final int PAGE = 64;
  static final KvLayout LAYOUT = KvLayout.ofPageBytes(T, PAGE);
  static final Namespace NS = Namespace.of("small-model", LAYOUT);
  static final Namespace OTHER = Namespace.of("big-model", LAYOUT);
  static final long TENANT_A = 7L;
  static final long TENANT_B = 9L;

  final ManualTicker ticker = new ManualTicker();
  final List<KvCache> opened = new ArrayList<>();

  @AfterEach
  void closeAll() {
    for (KvCache c : opened) {
      ((KvCacheImpl) c).checkInvariants();
      c.close();
    }
  }

  KvCache open(int topPages, UnaryOperator<KvCacheBuilder> options) {
    KvCache c =
        options
            .apply(
                KvCache.builder()
                    .layout(LAYOUT)
                    .tier(DramTier.offHeap("top", (long) PAGE * topPages))
                    .ticker(ticker))
            .build();
    opened.add(c);
    return c;
  }

  static int[] seq(int base, int n) {
    return IntStream.range(0, n).map(i -> base + i).toArray();
  }

  static int[] concat(int[] a, int[] b) {
    int[] r = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }

  /** One whole request: acquire, onboard, compute the rest, commit, close; 10 ms pass. */
  int run(KvCache cache, Request r) throws Exception {
    ticker.advance(Duration.ofMillis(10));
    try (Lease l = cache.acquire(r)) {
      l.onboard().get(10, TimeUnit.SECONDS);
      l.extend();
      l.commit();
      return l.cachedTokens();
    }
  }

  /** Unrelated traffic: {@code n} requests of {@code blocks} blocks no one asks for again. */
  void pressure(KvCache cache, Namespace ns, int n, int blocks) throws Exception {
    for (int i = 0; i < n; i++) {
      run(cache, Request.of(ns, seq(1_000_000 + i * 1000, blocks * T)));
    }
  }

  // ------------------------------------------------------------------ sub-agent types

  static final int[] SHARED = seq(5000, 20 * T); // the sub-agent type's system prompt: 20 blocks

  static int[] sibling(int i) {
    return concat(SHARED, seq(90_000 + i * 100, 4 * T)); // and its own task: 4 blocks
  }

  /** Two siblings run, other traffic fills the cache many times over, a third sibling arrives. */
  int thirdSiblingHit(KvCache cache, boolean hint) throws Exception {
    for (int i = 0; i < 2; i++) {
      Request r = Request.of(NS, sibling(i)).session("sub-" + i);
      run(cache, hint ? r.agent("explore") : r);
      cache.session("sub-" + i).end();
      ticker.advance(Duration.ofSeconds(1));
    }
    pressure(cache, NS, 40, 8); // 320 blocks through a 64-page tier
    pressure(cache, OTHER, 20, 8);
    Request third = Request.of(NS, sibling(2));
    return run(cache, hint ? third.agent("explore") : third);
  }

  @ParameterizedTest
  @ValueSource(strings = {"lru", "s3fifo", "priority-lru", "tinylfu", "arc"})
  void siblingsSharedPrompt_survivesOtherTraffic_underEveryPolicy(String policy) throws Exception {
    KvCache cache =
        open(
            64,
            b ->
                b.eviction(EvictionPolicy.named(policy))
                    .warmPrefixes(32, HintConfig.DEFAULT_WARM_TTL));
    int hit = thirdSiblingHit(cache, true);
    assertThat(hit).isGreaterThanOrEqualTo((int) Math.ceil(0.9 * SHARED.length));
    assertThat(hit).isEqualTo(SHARED.length); // and no more: the tasks are not shared
  }

  @Test
  void withoutTheAgentHint_theSharedPromptIsEvicted() throws Exception {
    // Under LRU (the agent-aware default keeps a much-hit prefix by itself: see its own tests)
    KvCache cache =
        open(
            64,
            b ->
                b.warmPrefixes(32, HintConfig.DEFAULT_WARM_TTL)
                    .eviction(io.kvtier.spi.EvictionPolicy.lru()));
    assertThat(thirdSiblingHit(cache, false)).isLessThan((int) Math.ceil(0.9 * SHARED.length));
  }

  @Test
  void agentPrefix_isTheLongestCommonPrefixOfTheSiblingsPrompts() throws Exception {
    KvCache cache = open(64, b -> b.warmPrefixes(32, Duration.ofMinutes(1)));
    KvCacheImpl impl = (KvCacheImpl) cache;
    run(cache, Request.of(NS, sibling(0)).agent("explore"));
    assertThat(impl.hints.warmPinnedBlocks()).isEqualTo(24); // one prompt: all of it
    run(cache, Request.of(NS, sibling(1)).agent("explore"));
    assertThat(impl.hints.warmPinnedBlocks()).isEqualTo(20); // the shared part
    run(cache, Request.of(NS, sibling(1)).agent("other-type"));
    assertThat(impl.hints.warmPinnedBlocks())
        .as("both do not fit the cap of 32: the most recently used type keeps its pin")
        .isEqualTo(24);
    run(cache, Request.of(NS, seq(70_000, 12 * T)).agent("explore")); // nothing in common
    assertThat(impl.hints.warmPinnedBlocks()).as("the type's prompt changed").isEqualTo(12);
    ticker.advance(Duration.ofMinutes(2));
    run(cache, Request.of(NS, seq(1, T)));
    assertThat(impl.hints.warmPinnedBlocks()).as("pins end after their duration").isZero();
  }

  @Test
  void agentPrefixes_areKeptApartPerNamespaceAndTenant() throws Exception {
    KvCache cache = open(128, b -> b.warmPrefixes(64, Duration.ofMinutes(1)));
    run(cache, Request.of(NS, sibling(0)).agent("explore"));
    run(cache, Request.of(OTHER, sibling(1)).agent("explore").salt(TENANT_A));
    // Different trees: neither narrows the other to their (token-wise) common prefix.
    assertThat(((KvCacheImpl) cache).hints.warmPinnedBlocks()).isEqualTo(48);
  }

  @Test
  void warmPins_giveWay_whenNothingElseCanBeEvicted() throws Exception {
    KvCache cache = open(32, b -> b.warmPrefixes(32, Duration.ofMinutes(1)));
    run(cache, Request.of(NS, seq(0, 24 * T)).agent("explore")); // 24 pinned blocks
    try (Lease big = cache.acquire(Request.of(NS, seq(50_000, 30 * T)))) {
      big.extend(); // needs 30 of 32 pages: the soft pin must yield, not fail the request
      assertThat(big.blockCount()).isEqualTo(30);
    }
    assertThat(((KvCacheImpl) cache).hints.warmPinnedBlocks()).isZero();
  }

  // ------------------------------------------------------------------ workflow steps

  static final int[] PREFIX_A = seq(10_000, 8 * T);
  static final int[] PREFIX_B = seq(20_000, 8 * T);

  @Test
  void expectedPrefix_survivesPressure_andAnUnexpectedOneDoesNot() throws Exception {
    KvCache cache = open(32, b -> b);
    run(cache, Request.of(NS, PREFIX_A));
    run(cache, Request.of(NS, PREFIX_B));
    cache.expect("wf-1", NextStep.of(NS, PREFIX_A, 1));
    pressure(cache, NS, 30, 4);
    assertThat(cache.probeTokens(NS, PREFIX_A, 0)).isEqualTo(PREFIX_A.length);
    assertThat(cache.probeTokens(NS, PREFIX_B, 0)).isZero();
  }

  @Test
  void withinTheCap_theNearerStepIsKept() throws Exception {
    for (boolean aFirst : new boolean[] {true, false}) {
      KvCache cache = open(32, b -> b.warmPrefixes(8, Duration.ofMinutes(1))); // room for one
      run(cache, Request.of(NS, PREFIX_A));
      run(cache, Request.of(NS, PREFIX_B));
      cache.expect(
          "wf-1", List.of(NextStep.of(NS, PREFIX_A, aFirst ? 1 : 3), NextStep.of(NS, PREFIX_B, 2)));
      pressure(cache, NS, 30, 4);
      assertThat(cache.probeTokens(NS, PREFIX_A, 0)).isEqualTo(aFirst ? PREFIX_A.length : 0);
      assertThat(cache.probeTokens(NS, PREFIX_B, 0)).isEqualTo(aFirst ? 0 : PREFIX_B.length);
    }
  }

  @Test
  void aNewForecastReplacesTheOld_andAnEmptyOneWithdrawsIt() throws Exception {
    KvCache cache = open(32, b -> b);
    KvCacheImpl impl = (KvCacheImpl) cache;
    run(cache, Request.of(NS, PREFIX_A));
    run(cache, Request.of(NS, PREFIX_B));
    cache.expect("wf-1", NextStep.of(NS, PREFIX_A, 0));
    assertThat(impl.hints.warmPinnedBlocks()).isEqualTo(8);
    cache.expect("wf-1", NextStep.of(NS, PREFIX_B, 0), NextStep.of(NS, PREFIX_A, 1));
    assertThat(impl.hints.warmPinnedBlocks()).isEqualTo(8); // cap 8 (a quarter): B only
    cache.expect("wf-1", List.of());
    assertThat(impl.hints.warmPinnedBlocks()).isZero();
    pressure(cache, NS, 30, 4);
    assertThat(cache.probeTokens(NS, PREFIX_A, 0)).isZero();
    assertThat(cache.probeTokens(NS, PREFIX_B, 0)).isZero();
  }

  @Test
  void aStepMayNameItsAgentTypeInsteadOfTokens() throws Exception {
    KvCache cache = open(64, b -> b.warmPrefixes(32, Duration.ofMinutes(1)));
    run(cache, Request.of(NS, sibling(0)).agent("explore"));
    run(cache, Request.of(NS, sibling(1)).agent("explore"));
    cache.expect("wf-1", NextStep.ofAgent(NS, "explore", 0));
    // The step and the type's entry name the same block: one pin's worth against the cap.
    assertThat(((KvCacheImpl) cache).hints.warmPinnedBlocks()).isEqualTo(20);
  }

  // ------------------------------------------------------------------ prefetch

  KvCache twoTiers(PrefetchPolicy prefetch) {
    KvCache c =
        KvCache.builder()
            .layout(LAYOUT)
            .tier(DramTier.offHeap("hbm", (long) PAGE * 16))
            .tier(DramTier.offHeap("dram", (long) PAGE * 128))
            .prefetch(prefetch)
            .ticker(ticker)
            .build();
    opened.add(c);
    return c;
  }

  /** Runs a request, writing each new block's first token into its page's first int. */
  void runWriting(KvCache cache, KvCacheImpl impl, int[] prompt) throws Exception {
    ticker.advance(Duration.ofMillis(10));
    try (Lease l = cache.acquire(Request.of(NS, prompt))) {
      l.onboard().get(10, TimeUnit.SECONDS);
      l.extend();
      long[] table = l.blockTable();
      for (int i = l.cachedTokens() / T; i < table.length; i++) {
        segment(impl, table[i]).set(ValueLayout.JAVA_INT, 0, prompt[i * T]);
      }
      l.commit();
    }
  }

  static MemorySegment segment(KvCacheImpl impl, long handle) {
    return impl.store.segment(PageHandle.index(handle)).orElseThrow();
  }

  void awaitTopBlocks(KvCache cache, int[] prefix, int blocks) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (cache.probe(NS, prefix).blocksPerTier()[0] < blocks && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
  }

  @Test
  void theNextStepsPrefix_isPrefetchedFromTheLowerTier_withItsBytes() throws Exception {
    KvCache cache = twoTiers(PrefetchPolicy.nextSteps(1));
    KvCacheImpl impl = (KvCacheImpl) cache;
    runWriting(cache, impl, PREFIX_A);
    for (int i = 0; i < 6; i++) {
      runWriting(cache, impl, seq(300_000 + i * 1000, 4 * T));
    }
    assertThat(cache.probe(NS, PREFIX_A).blocksPerTier()).containsExactly(0, 8);

    cache.expect("wf-1", NextStep.of(NS, PREFIX_A, 1));
    awaitTopBlocks(cache, PREFIX_A, 8);

    assertThat(cache.probe(NS, PREFIX_A).blocksPerTier()[0]).isEqualTo(8);
    try (Lease l = cache.acquire(Request.of(NS, PREFIX_A))) {
      assertThat(l.cachedBlocksPerTier()).containsExactly(8, 0); // no onboarding left to wait for
      assertThat(l.onboard()).isDone();
      long[] table = l.blockTable();
      for (int i = 0; i < table.length; i++) {
        assertThat(segment(impl, table[i]).get(ValueLayout.JAVA_INT, 0))
            .as("block %d", i)
            .isEqualTo(PREFIX_A[i * T]);
      }
    }
  }

  @Test
  void stepsBeyondTheWindow_andCachesWithoutThePolicy_doNotPrefetch() throws Exception {
    for (int run = 0; run < 2; run++) {
      KvCache cache = twoTiers(run == 0 ? PrefetchPolicy.nextSteps(1) : PrefetchPolicy.none());
      KvCacheImpl impl = (KvCacheImpl) cache;
      runWriting(cache, impl, PREFIX_A);
      for (int i = 0; i < 6; i++) {
        runWriting(cache, impl, seq(300_000 + i * 1000, 4 * T));
      }
      cache.expect("wf-1", NextStep.of(NS, PREFIX_A, run == 0 ? 2 : 0));
      Thread.sleep(50);
      assertThat(cache.probe(NS, PREFIX_A).blocksPerTier()).containsExactly(0, 8);
    }
  }

  // ------------------------------------------------------------------ quotas

  /** Tenant B caches 16 blocks, then tenant A runs 20 requests of 4 blocks in a 32-page tier. */
  int tenantBBlocksLeft(KvCache cache) throws Exception {
    for (int i = 0; i < 4; i++) {
      run(cache, Request.of(NS, seq(40_000 + i * 1000, 4 * T)).salt(TENANT_B));
    }
    for (int i = 0; i < 20; i++) {
      run(cache, Request.of(NS, seq(60_000 + i * 1000, 4 * T)).salt(TENANT_A));
      assertThat(((KvCacheImpl) cache).hints.tenantCharged(TENANT_A)).isLessThanOrEqualTo(16);
    }
    int left = 0;
    for (int i = 0; i < 4; i++) {
      left += cache.probe(NS, seq(40_000 + i * 1000, 4 * T), TENANT_B).matchedBlocks();
    }
    return left;
  }

  @Test
  void aTenantAtItsQuota_evictsItsOwnBlocks_neverAnotherTenants() throws Exception {
    KvCache cache = open(32, b -> b.tenantQuota(TENANT_A, 16));
    assertThat(tenantBBlocksLeft(cache)).isEqualTo(16);
    assertThat(((KvCacheImpl) cache).hints.tenantCharged(TENANT_A)).isEqualTo(16);
    // A still reuses what its quota holds: its latest request is cached.
    assertThat(cache.probeTokens(NS, seq(60_000 + 19 * 1000, 4 * T), TENANT_A)).isEqualTo(16);
  }

  @Test
  void withoutAQuota_theSameTrafficEvictsTheOtherTenant() throws Exception {
    KvCache cache = open(32, b -> b);
    assertThat(tenantBBlocksLeft(cache)).isLessThan(16);
  }

  @Test
  void tenantQuota_byStringId_limitsRequestsSaltedWithTheSameId() throws Exception {
    KvCache cache = open(32, b -> b.tenantQuota("acme", 4));
    try (Lease l = cache.acquire(Request.of(NS, seq(0, 8 * T)).salt("acme"))) {
      assertThatThrownBy(l::extend).isInstanceOf(QuotaExceededException.class);
    }
    try (Lease l = cache.acquire(Request.of(NS, seq(0, 8 * T)).salt("globex"))) {
      l.extend();
      assertThat(l.blockCount()).isEqualTo(8);
    }
  }

  @Test
  void aRequestBeyondAHardQuota_failsClearly_andLeavesTheCacheAsItWas() throws Exception {
    KvCache cache = open(32, b -> b.tenantQuota(TENANT_A, 6));
    KvCacheImpl impl = (KvCacheImpl) cache;
    run(cache, Request.of(NS, seq(0, 4 * T)).salt(TENANT_A));
    try (Lease l = cache.acquire(Request.of(NS, seq(100, 8 * T)).salt(TENANT_A))) {
      assertThatThrownBy(l::extend)
          .isInstanceOf(QuotaExceededException.class)
          .isInstanceOf(OutOfPagesException.class)
          .hasMessageContaining("tenant salt 7")
          .hasMessageContaining("quota of 6");
      assertThat(l.tokenCount()).isZero();
      assertThat(l.blockCount()).isZero();
      impl.checkInvariants();
      l.commit(0); // the lease is still usable
    }
    try (Lease l = cache.acquire(Request.of(NS, seq(100, 6 * T)).salt(TENANT_A))) {
      l.extend();
      assertThat(l.blockCount()).isEqualTo(6);
    }
    assertThat(impl.hints.tenantCharged(TENANT_A)).isLessThanOrEqualTo(6);
  }

  @Test
  void sessionQuota_isHard_andLoweringItTrimsTheSessionsBlocks() throws Exception {
    KvCache cache = open(32, b -> b);
    Session s = cache.session("agent-1");
    assertThat(s.chargedBlocks()).isZero();
    s.quota(8);
    for (int i = 0; i < 5; i++) {
      run(cache, Request.of(NS, seq(i * 1000, 4 * T)).session("agent-1"));
      assertThat(s.chargedBlocks()).isLessThanOrEqualTo(8);
    }
    assertThat(s.chargedBlocks()).isEqualTo(8);
    s.unpin();
    s.quota(3);
    assertThat(s.chargedBlocks()).isLessThanOrEqualTo(3);
    try (Lease l = cache.acquire(Request.of(NS, seq(50_000, 4 * T)).session("agent-1"))) {
      assertThatThrownBy(l::extend).isInstanceOf(QuotaExceededException.class);
    }
    // Other sessions are not limited by it.
    run(cache, Request.of(NS, seq(60_000, 12 * T)).session("agent-2"));
    assertThat(cache.session("agent-2").chargedBlocks()).isZero();
  }

  @Test
  void aHolderOverItsQuota_givesUpItsBlocksFirst_whenTheTierIsFull() throws Exception {
    KvCache cache = open(16, b -> b);
    run(cache, Request.of(NS, seq(9000, 4 * T)).session("small")); // the oldest: LRU's victims
    ticker.advance(Duration.ofSeconds(1));
    Session s = cache.session("big");
    s.quota(16);
    Lease held = cache.acquire(Request.of(NS, seq(0, 8 * T)).session("big"));
    held.extend();
    held.commit();
    s.quota(2); // over: its 8 blocks are pinned by its lease
    assertThat(s.chargedBlocks()).isEqualTo(8);
    held.close();
    // The tier (16 pages) holds 12; another session's 8 new blocks need 4 evictions: the over-quota
    // session's blocks go, although LRU would take the other session's older ones.
    run(cache, Request.of(NS, seq(20_000, 8 * T)).session("third"));
    assertThat(cache.probeTokens(NS, seq(9000, 4 * T), 0)).isEqualTo(4 * T);
    assertThat(s.chargedBlocks()).isLessThanOrEqualTo(4);
  }

  @ParameterizedTest
  @ValueSource(ints = {4, 8})
  void prefetch_stopsAtTheTenantsQuota(int quota) throws Exception {
    KvCache cache =
        KvCache.builder()
            .layout(LAYOUT)
            .tier(DramTier.offHeap("hbm", (long) PAGE * 16))
            .tier(DramTier.offHeap("dram", (long) PAGE * 128))
            .prefetch(PrefetchPolicy.nextSteps(0))
            .tenantQuota(TENANT_A, quota)
            .ticker(ticker)
            .build();
    opened.add(cache);
    KvCacheImpl impl = (KvCacheImpl) cache;
    int[] first = seq(1, 4 * T);
    run(cache, Request.of(NS, first).salt(TENANT_A));
    pressure(cache, NS, 4, 4); // another tenant's 16 blocks push A's down
    assertThat(cache.probe(NS, first, TENANT_A).blocksPerTier()).containsExactly(0, 4);
    assertThat(impl.hints.tenantCharged(TENANT_A)).isZero();
    run(cache, Request.of(NS, seq(500, 4 * T)).salt(TENANT_A));
    assertThat(impl.hints.tenantCharged(TENANT_A)).isEqualTo(4);

    cache.expect("wf", NextStep.of(NS, first, 0).salt(TENANT_A));
    if (quota == 4) {
      Thread.sleep(50);
      assertThat(cache.probe(NS, first, TENANT_A).blocksPerTier()).containsExactly(0, 4);
    } else {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (cache.probe(NS, first, TENANT_A).blocksPerTier()[0] < 4
          && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      assertThat(cache.probe(NS, first, TENANT_A).blocksPerTier()[0]).isEqualTo(4);
    }
    assertThat(impl.hints.tenantCharged(TENANT_A)).isLessThanOrEqualTo(quota);
  }

  // ------------------------------------------------------------------ contention

  @Test
  void hintsAndQuotas_fromManyThreads_keepEveryInvariant() throws Exception {
    KvCache cache =
        KvCache.builder()
            .layout(LAYOUT)
            .tier(DramTier.offHeap("hbm", (long) PAGE * 48))
            .tier(DramTier.offHeap("dram", (long) PAGE * 96))
            .prefetch(PrefetchPolicy.nextSteps(1))
            .warmPrefixes(16, Duration.ofSeconds(1))
            .tenantQuota(TENANT_A, 12)
            .build(); // the system ticker: several threads read it
    opened.add(cache);
    KvCacheImpl impl = (KvCacheImpl) cache;
    int threads = 4;
    java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(threads);
    List<Thread> workers = new ArrayList<>();
    List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
    for (int w = 0; w < threads; w++) {
      int id = w;
      Thread t =
          new Thread(
              () -> {
                java.util.Random rnd = new java.util.Random(id);
                try {
                  start.await();
                  for (int i = 0; i < 300; i++) {
                    int pick = rnd.nextInt(10);
                    long salt = rnd.nextBoolean() ? TENANT_A : 0L;
                    if (pick < 6) {
                      Request r =
                          Request.of(NS, sibling(rnd.nextInt(6)))
                              .salt(salt)
                              .session("s" + rnd.nextInt(3));
                      try (Lease l = cache.acquire(rnd.nextBoolean() ? r.agent("explore") : r)) {
                        l.onboard().handle((v, e) -> null).get(10, TimeUnit.SECONDS);
                        l.extend();
                        l.commit();
                      } catch (OutOfPagesException refused) {
                        // a quota or a tier full of other threads' leases
                      }
                    } else if (pick < 8) {
                      cache.expect(
                          "wf-" + id,
                          NextStep.of(NS, PREFIX_A, rnd.nextInt(3)).salt(salt),
                          NextStep.ofAgent(NS, "explore", rnd.nextInt(3)).salt(salt));
                    } else if (pick < 9) {
                      cache.session("s" + rnd.nextInt(3)).quota(4 + rnd.nextInt(40));
                    } else {
                      impl.checkInvariants();
                    }
                  }
                } catch (Throwable e) {
                  failures.add(e);
                }
              });
      workers.add(t);
      t.start();
    }
    for (Thread t : workers) {
      t.join(TimeUnit.SECONDS.toMillis(60));
    }
    assertThat(failures).isEmpty();
    impl.checkInvariants();
    assertThat(impl.hints.tenantCharged(TENANT_A)).isLessThanOrEqualTo(12);
  }

  // ------------------------------------------------------------------ bad input

  @Test
  void badHints_getClearExceptions_andLeaveTheCacheIntact() throws Exception {
    KvCache cache = open(32, b -> b);
    KvCacheImpl impl = (KvCacheImpl) cache;
    run(cache, Request.of(NS, PREFIX_A));
    cache.expect("wf", NextStep.of(NS, PREFIX_A, 0));
    int pinned = impl.hints.warmPinnedBlocks();

    assertThatThrownBy(() -> Request.of(NS, PREFIX_A).agent(""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("agent type");
    assertThatThrownBy(() -> Request.of(NS, PREFIX_A).agent(null))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> NextStep.of(NS, PREFIX_A, -1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("stepsAway");
    assertThatThrownBy(() -> NextStep.of(NS, new int[0], 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("prefix or an agent type");
    assertThatThrownBy(() -> NextStep.of(null, PREFIX_A, 0))
        .isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> cache.expect("", NextStep.of(NS, PREFIX_A, 0)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("workflow id");
    assertThatThrownBy(() -> cache.expect("wf", (List<NextStep>) null))
        .isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> cache.expect("wf", Arrays.asList(NextStep.of(NS, PREFIX_A, 0), null)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("steps[1]");
    Namespace alien = Namespace.of("alien", KvLayout.ofPageBytes(8, PAGE));
    assertThatThrownBy(
            () ->
                cache.expect("wf", NextStep.of(NS, PREFIX_B, 0), NextStep.of(alien, seq(0, 16), 0)))
        .isInstanceOf(KvTierException.class)
        .hasMessageContaining("alien");
    // The rejected forecast did not replace the standing one.
    assertThat(impl.hints.warmPinnedBlocks()).isEqualTo(pinned).isPositive();
    // A namespace the cache never saw is a valid hint about nothing cached.
    cache.expect("wf-2", NextStep.of(Namespace.of("never-used", LAYOUT), seq(0, 16), 0));
    assertThatThrownBy(() -> cache.session("s").quota(-1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("negative");
    impl.checkInvariants();
    assertThat(cache.probeTokens(NS, PREFIX_A, 0)).isEqualTo(PREFIX_A.length);

    Session s = cache.session("s");
    cache.close();
    assertThatThrownBy(() -> cache.expect("wf", NextStep.of(NS, PREFIX_A, 0)))
        .isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(() -> s.quota(4)).isInstanceOf(CacheClosedException.class);
    assertThat(s.chargedBlocks()).isZero();
    assertThatThrownBy(() -> cache.acquire(Request.of(NS, PREFIX_A).agent("explore")))
        .isInstanceOf(CacheClosedException.class);
  }

  @Test
  void badBuilderOptions_failClearly() {
    assertThatThrownBy(() -> KvCache.builder().warmPrefixes(-1, Duration.ofMinutes(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxBlocks");
    assertThatThrownBy(() -> KvCache.builder().warmPrefixes(8, Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("ttl");
    assertThatThrownBy(() -> KvCache.builder().tenantQuota(TENANT_A, -5))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("negative");
    assertThatThrownBy(() -> new HintConfig(8, Duration.ofSeconds(1), Map.of(1L, -1)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> PrefetchPolicy.nextSteps(-1))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
