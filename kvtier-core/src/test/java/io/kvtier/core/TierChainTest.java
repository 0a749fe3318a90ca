package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.DramTier;
import io.kvtier.KvCache;
import io.kvtier.KvLayout;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.PageHandle;
import io.kvtier.Request;
import io.kvtier.TierStats;
import io.kvtier.event.CacheEvent;
import io.kvtier.spi.AdmissionPolicy;
import io.kvtier.spi.WritePolicy;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class TierChainTest {
  static final int T = 4;
  static final int PAGE = 64;
  static final KvLayout LAYOUT = KvLayout.ofPageBytes(T, PAGE);
  static final Namespace NS = Namespace.of("m", LAYOUT);

  final ManualTicker ticker = new ManualTicker();
  final TestStore.Disk disk = new TestStore.Disk();
  final TestStore[] lower = new TestStore[1];
  KvCache cache;
  KvCacheImpl impl;

  KvCache chain(int topPages, int lowerPages, WritePolicy writes, AdmissionPolicy admission) {
    cache =
        KvCache.builder()
            .layout(LAYOUT)
            .tier(DramTier.offHeap("hbm", (long) PAGE * topPages))
            .tier(TestStore.spec("nvme", (long) PAGE * lowerPages, disk, lower))
            .writes(writes)
            .admission(admission)
            .ticker(ticker)
            .build();
    impl = (KvCacheImpl) cache;
    return cache;
  }

  @AfterEach
  void check() {
    if (cache != null) {
      impl.checkInvariants();
      cache.close();
    }
  }

  static int[] seq(int base, int n) {
    return IntStream.range(0, n).map(i -> base + i).toArray();
  }

  /** Runs a request, writing a recognisable byte pattern into every new page. */
  void run(int[] prompt) throws Exception {
    try (Lease l = cache.acquire(Request.of(NS, prompt))) {
      l.onboard().get(10, TimeUnit.SECONDS);
      int cached = l.cachedTokens() / T;
      l.extend();
      long[] table = l.blockTable();
      for (int i = cached; i < table.length; i++) {
        MemorySegment seg = impl.store.segment(PageHandle.index(table[i])).orElseThrow();
        seg.fill((byte) prompt[Math.min(prompt.length - 1, i * T)]);
      }
      l.commit();
    }
  }

  void expectPagesHold(int[] prompt) throws Exception {
    try (Lease l = cache.acquire(Request.of(NS, prompt))) {
      l.onboard().get(10, TimeUnit.SECONDS);
      long[] table = l.blockTable();
      for (int i = 0; i < l.cachedTokens() / T; i++) {
        MemorySegment seg = impl.store.segment(PageHandle.index(table[i])).orElseThrow();
        assertThat(seg.get(ValueLayout.JAVA_BYTE, PAGE - 1))
            .as("block %d", i)
            .isEqualTo((byte) prompt[i * T]);
      }
    }
  }

  @Test
  void eviction_demotesToTheLowerTier_andOnboardBringsTheBytesBack() throws Exception {
    chain(4, 32, WritePolicy.writeBack(), AdmissionPolicy.always());
    int[] a = seq(10, 16);
    int[] b = seq(50, 16);
    run(a);
    run(b); // a's 4 blocks are demoted to make room
    TierStats lowerStats = cache.stats().tiers().get(1);
    assertThat(lowerStats.usedPages()).isEqualTo(4);
    assertThat(cache.probe(NS, a).blocksPerTier()).containsExactly(0, 4);
    try (Lease l = cache.acquire(Request.of(NS, a))) {
      assertThat(l.cachedTokens()).isEqualTo(16);
      assertThat(l.cachedBlocksPerTier()).containsExactly(0, 4);
      assertThatThrownBy(l::blockTable).hasMessageContaining("onboard()");
      l.onboard().get(10, TimeUnit.SECONDS);
      assertThat(l.blockTable()).hasSize(4).doesNotContain(PageHandle.NONE);
    }
    expectPagesHold(a);
    assertThat(cache.events(0, 1000).events())
        .anyMatch(e -> e instanceof CacheEvent.Moved m && m.from().equals("hbm"));
  }

  @Test
  void evictingACopyThatIsAlsoBelow_isADrop() throws Exception {
    chain(4, 32, WritePolicy.writeThrough(), AdmissionPolicy.always());
    int[] a = seq(10, 16);
    run(a);
    awaitLowerCopies(4);
    long writesBefore = cache.stats().tiers().get(1).bytesIn();
    run(seq(50, 16));
    awaitLowerCopies(8);
    assertThat(cache.stats().tiers().get(1).bytesIn() - writesBefore).isEqualTo(4L * PAGE);
    assertThat(cache.probe(NS, a).blocksPerTier()).containsExactly(0, 4);
    expectPagesHold(a);
  }

  void awaitLowerCopies(int n) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (cache.stats().tiers().get(1).usedPages() < n || pendingTransfers()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("write-through did not finish");
      }
      Thread.sleep(5);
    }
  }

  boolean pendingTransfers() {
    impl.lock.lock();
    try {
      for (int b = 0; b < impl.index.capacity(); b++) {
        if (impl.index.live(b) && impl.index.busy(b, 1)) {
          return true;
        }
      }
      return false;
    } finally {
      impl.lock.unlock();
    }
  }

  @Test
  void writeThroughAfterHits_copiesOnlyBlocksHitKTimes() throws Exception {
    chain(16, 32, WritePolicy.writeThroughAfterHits(2), AdmissionPolicy.always());
    int[] hot = seq(10, 8);
    run(hot);
    run(seq(100, 8));
    run(hot);
    Thread.sleep(50);
    assertThat(cache.stats().tiers().get(1).usedPages()).isZero();
    run(hot); // second hit
    awaitLowerCopies(2);
    assertThat(cache.probe(NS, hot).blocksPerTier()).containsExactly(2, 2);
    assertThat(cache.probe(NS, seq(100, 8)).blocksPerTier()).containsExactly(2, 0);
  }

  @Test
  void admissionFilter_discardsWhatItRejects() throws Exception {
    chain(4, 32, WritePolicy.writeBack(), AdmissionPolicy.afterHits(1));
    int[] a = seq(10, 16);
    run(a);
    run(seq(50, 16));
    assertThat(cache.probeTokens(NS, a, 0)).isZero();
    assertThat(cache.stats().tiers().get(1).usedPages()).isZero();
  }

  @Test
  void frequencySketch_keepsOneHitBlocksOut_andAdmitsTheSameContentOnItsSecondLife()
      throws Exception {
    chain(4, 32, WritePolicy.writeBack(), AdmissionPolicy.frequencySketch(1, 2));
    int[] once = seq(10, 16);
    int[] reused = seq(200, 16);
    run(once);
    run(reused);
    run(reused); // one hit on each of its blocks
    run(seq(50, 16)); // evicts both from the top tier
    assertThat(cache.probe(NS, once).blocksPerTier()).containsExactly(0, 0); // one use: dropped
    assertThat(cache.probe(NS, reused).blocksPerTier()).containsExactly(0, 4);
    run(once); // computed again: its second life
    run(seq(90, 16));
    assertThat(cache.probe(NS, once).blocksPerTier()).containsExactly(0, 4);
  }

  @Test
  void frequencySketch_rejectsBadArguments_andLeavesUpperTiersAlone() {
    assertThatThrownBy(() -> AdmissionPolicy.frequencySketch(0, 2))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> AdmissionPolicy.frequencySketch(1, 16))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(AdmissionPolicy.frequencySketch(2, 15).admit(1, 0, null)).isTrue();
  }

  @Test
  void corruptedLowerCopy_isAMiss_neverServed() throws Exception {
    chain(4, 32, WritePolicy.writeBack(), AdmissionPolicy.always());
    int[] a = seq(10, 16);
    run(a);
    run(seq(50, 16));
    lower[0].corrupted.add((long) impl.index.slot(firstBlockOf(a), 1));
    try (Lease l = cache.acquire(Request.of(NS, a))) {
      assertThat(l.cachedTokens()).isEqualTo(16);
      assertThatThrownBy(() -> l.onboard().get(10, TimeUnit.SECONDS))
          .hasRootCauseInstanceOf(TransferEngine.VerificationFailedException.class);
    }
    assertThat(cache.stats().tiers().get(1).errors()).isPositive();
    assertThat(cache.stats().tiers().get(1).degraded()).isFalse();
  }

  @Test
  void corruptedLowerLeafCopy_isDroppedAfterTheFailedOnboard_soTheNextRequestStopsBeforeIt()
      throws Exception {
    chain(4, 32, WritePolicy.writeBack(), AdmissionPolicy.always());
    int[] a = seq(10, 16);
    run(a);
    run(seq(50, 16));
    int leaf = blocksOf(a)[a.length / T - 1];
    lower[0].corrupted.add((long) impl.index.slot(leaf, 1));
    try (Lease l = cache.acquire(Request.of(NS, a))) {
      assertThatThrownBy(() -> l.onboard().get(10, TimeUnit.SECONDS))
          .hasRootCauseInstanceOf(TransferEngine.VerificationFailedException.class);
    }
    // the bad copy was the block's only one: it left the cache instead of failing every read
    assertThat(cache.probeTokens(NS, a, 0)).isEqualTo(a.length - T);
    try (Lease l = cache.acquire(Request.of(NS, a))) {
      l.onboard().get(10, TimeUnit.SECONDS);
      assertThat(l.cachedTokens()).isEqualTo(a.length - T);
    }
    impl.checkInvariants();
  }

  int[] blocksOf(int[] prompt) {
    impl.lock.lock();
    try {
      int[] out = new int[prompt.length / T];
      int root = impl.index.existingRoot(NS, 0);
      impl.index.match(root, prompt, prompt.length, out);
      return out;
    } finally {
      impl.lock.unlock();
    }
  }

  int firstBlockOf(int[] prompt) {
    impl.lock.lock();
    try {
      int[] out = new int[prompt.length / T];
      int root = impl.index.existingRoot(NS, 0);
      impl.index.match(root, prompt, prompt.length, out);
      return out[0];
    } finally {
      impl.lock.unlock();
    }
  }

  @Test
  void diskFull_degradesTheTier_andTheCacheKeepsServing() throws Exception {
    chain(4, 32, WritePolicy.writeBack(), AdmissionPolicy.always());
    int[] a = seq(10, 16);
    run(a);
    lower[0].failWrites = true;
    run(seq(50, 16)); // demotion fails: a is discarded instead, the request still succeeds
    TierStats s = cache.stats().tiers().get(1);
    assertThat(s.degraded()).isTrue();
    assertThat(s.errors()).isPositive();
    int[] b = seq(50, 16);
    assertThat(cache.probeTokens(NS, b, 0)).isEqualTo(16);
    run(seq(90, 16));
    assertThat(cache.stats().tiers().get(1).usedPages()).isZero();
  }

  @Test
  void warmRestart_makesLowerTierBlocksVisibleAgain() throws Exception {
    chain(4, 32, WritePolicy.writeThrough(), AdmissionPolicy.always());
    int[] a = seq(10, 16);
    run(a);
    awaitLowerCopies(4);
    impl.checkInvariants();
    cache.close();
    chain(4, 32, WritePolicy.writeThrough(), AdmissionPolicy.always());
    assertThat(cache.probeTokens(NS, a, 0)).isEqualTo(16);
    assertThat(cache.probe(NS, a).blocksPerTier()).containsExactly(0, 4);
    expectPagesHold(a);
    assertThat(cache.probeTokens(NS, a, 7)).isZero();
  }

  @Test
  void pinnedLeaseBlocks_surviveInTheTopTier() throws Exception {
    chain(8, 32, WritePolicy.writeBack(), AdmissionPolicy.always());
    int[] a = seq(10, 16);
    run(a);
    try (Lease held = cache.acquire(Request.of(NS, a))) {
      run(seq(200, 16));
      run(seq(300, 16));
      assertThat(cache.probe(NS, a).blocksPerTier()[0]).isEqualTo(4);
      assertThat(held.blockTable()).hasSize(4);
    }
    ticker.advance(Duration.ofSeconds(1));
  }
}
