package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvtier.CacheStats;
import io.kvtier.DramTier;
import io.kvtier.KvCache;
import io.kvtier.KvLayout;
import io.kvtier.Lease;
import io.kvtier.LinkStats;
import io.kvtier.Namespace;
import io.kvtier.Request;
import io.kvtier.event.CacheEvent;
import io.kvtier.spi.WritePolicy;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/**
 * The per-link copy counters ({@link CacheStats#links()}) against the copies the cache reports in
 * its events: every demotion is a {@code Moved} event, every onboarded page a {@code Stored} event
 * in the top tier for a block that was a lower-tier hit.
 */
class LinkStatsTest {
  static final int T = 4;
  static final int PAGE = 256;
  static final KvLayout LAYOUT = KvLayout.ofPageBytes(T, PAGE);
  static final Namespace NS = Namespace.of("m", LAYOUT);

  KvCache cache;
  KvCacheImpl impl;

  @AfterEach
  void close() {
    if (cache != null) {
      impl.checkInvariants();
      cache.close();
    }
  }

  /** Three DRAM tiers: t0 (8 pages), t1 (4 pages), t2 (32 pages); write-back. */
  void chain() {
    cache =
        KvCache.builder()
            .layout(LAYOUT)
            .tier(DramTier.offHeap("t0", 8L * PAGE))
            .tier(DramTier.offHeap("t1", 4L * PAGE))
            .tier(DramTier.offHeap("t2", 32L * PAGE))
            .writes(WritePolicy.writeBack())
            .ticker(new ManualTicker())
            .eventBuffer(16_384)
            .build();
    impl = (KvCacheImpl) cache;
  }

  static int[] seq(int base, int blocks) {
    return IntStream.range(0, blocks * T).map(i -> base + i).toArray();
  }

  int[] run(int[] prompt) throws Exception {
    try (Lease l = cache.acquire(Request.of(NS, prompt))) {
      int[] perTier = l.cachedBlocksPerTier();
      l.onboard().get(10, TimeUnit.SECONDS);
      l.extend();
      l.commit();
      return perTier;
    }
  }

  /** (from, to) -> pages, counted from the Moved events. */
  Map<List<String>, Long> movedEvents() {
    Map<List<String>, Long> m = new HashMap<>();
    for (CacheEvent e : cache.events(0, 10_000).events()) {
      if (e instanceof CacheEvent.Moved mv) {
        m.merge(List.of(mv.from(), mv.to()), 1L, Long::sum);
      }
    }
    return m;
  }

  @Test
  void demotions_areCountedOnTheirLink_asTheEventsReportThem() throws Exception {
    chain();
    run(seq(1000, 8));
    assertThat(cache.stats().links()).isEmpty();
    run(seq(2000, 8)); // the first prompt goes down: 4 blocks to t1, 4 on to t2
    CacheStats s = cache.stats();
    Map<List<String>, Long> moved = movedEvents();
    assertThat(moved).containsEntry(List.of("t0", "t1"), 8L).containsEntry(List.of("t1", "t2"), 4L);
    for (Map.Entry<List<String>, Long> e : moved.entrySet()) {
      LinkStats l = s.link(e.getKey().get(0), e.getKey().get(1));
      assertThat(l.pages()).as("%s", e.getKey()).isEqualTo(e.getValue());
      assertThat(l.bytes()).isEqualTo(e.getValue() * PAGE);
      assertThat(l.nanos()).isPositive();
      assertThat(l.bytesPerSecond()).isPositive();
    }
    assertThat(s.links()).hasSize(moved.size());
    assertThat(s.tiers().get(1).bytesIn()).isEqualTo(8L * PAGE);
    assertThat(s.link("t2", "t0").pages()).isZero();
  }

  @Test
  void onboarding_countsEveryLowerTierHitOnItsLinkToTheTop() throws Exception {
    chain();
    int[] a = seq(1000, 8);
    run(a);
    run(seq(2000, 8));
    CacheStats before = cache.stats();
    int[] perTier = run(a);
    assertThat(perTier).containsExactly(0, 4, 4);
    CacheStats after = cache.stats();
    // Every lower-tier hit came up once. Making room in t0 demoted into the full t1, which pushed
    // one of a's t1 copies on to t2 before its onboarding began: 3 came from t1, 5 from t2.
    long up = after.link("t1", "t0").pages() + after.link("t2", "t0").pages();
    assertThat(up).isEqualTo(8);
    assertThat(after.link("t1", "t0").pages()).isEqualTo(3);
    assertThat(after.link("t2", "t0").bytes()).isEqualTo(5L * PAGE);
    assertThat(after.tiers().get(1).hitBlocks()).isEqualTo(4);
    assertThat(after.tiers().get(2).hitBlocks()).isEqualTo(4);
    // Onboarding a into the full top tier demoted the second prompt: still one event per page.
    Map<List<String>, Long> moved = movedEvents();
    for (LinkStats l : after.links()) {
      if (!l.to().equals("t0")) {
        assertThat(l.pages())
            .as(l.from() + "->" + l.to())
            .isEqualTo(moved.get(List.of(l.from(), l.to())));
      }
    }
    assertThat(after.link("t0", "t1").pages()).isGreaterThan(before.link("t0", "t1").pages());
  }

  /**
   * The batches of one onboarding land in tier order, whichever copy finishes first: the top tier's
   * Stored events name the t1 hits before the t2 hits. Repeated, since a race shows only sometimes.
   */
  @RepeatedTest(20)
  void onboardedBatches_landInTierOrder() throws Exception {
    chain();
    int[] a = seq(1000, 8);
    run(a);
    run(seq(2000, 8));
    long from = cache.events(0, 10_000).events().size();
    run(a);
    List<CacheEvent> stored =
        cache.events(0, 10_000).events().stream()
            .skip(from)
            .filter(e -> e instanceof CacheEvent.Stored st && st.tier().equals("t0"))
            .toList();
    assertThat(stored).hasSizeGreaterThanOrEqualTo(8);
    // The first 8 top-tier insertions are a's onboarded blocks, t1's first.
    List<Integer> firstTokens = new java.util.ArrayList<>();
    for (CacheEvent e : stored.subList(0, 8)) {
      firstTokens.add(tokenOf(((CacheEvent.Stored) e)));
    }
    // 3 of a's blocks came from t1, 5 from t2 (see above).
    assertThat(firstTokens.subList(0, 3)).allMatch(t -> t < 1000 + 3 * T);
    assertThat(firstTokens.subList(3, 8)).allMatch(t -> t >= 1000 + 3 * T);
  }

  /** The first token of a stored block, found by its key. */
  private int tokenOf(CacheEvent.Stored st) {
    impl.lock.lock();
    try {
      for (int b = 0; b < impl.index.capacity(); b++) {
        if (impl.index.live(b)
            && impl.index.keyHi(b) == st.key().hi()
            && impl.index.keyLo(b) == st.key().lo()) {
          return impl.index.token(b, 0);
        }
      }
      throw new AssertionError("no block for " + st.key());
    } finally {
      impl.lock.unlock();
    }
  }
}
