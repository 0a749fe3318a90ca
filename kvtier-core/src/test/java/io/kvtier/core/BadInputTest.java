package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
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
import io.kvtier.spi.BranchPolicy;
import io.kvtier.spi.EvictionPolicy;
import java.time.Duration;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every misuse gets a clear exception and leaves the cache as it was: the engine's invariants hold
 * and a prefix cached before the bad call is still cached after it.
 */
class BadInputTest {
  static final int T = 4;
  static final int PAGES = 16;
  static final KvLayout LAYOUT = KvLayout.ofPageBytes(T, 64);
  static final Namespace NS = Namespace.of("m", LAYOUT);
  static final int[] WARM = seq(0, 8);

  final ManualTicker ticker = new ManualTicker();
  KvCache cache;
  KvCacheImpl impl;

  @BeforeEach
  void open() {
    cache =
        KvCache.builder()
            .layout(LAYOUT)
            .tier(DramTier.offHeap(64L * PAGES))
            .eviction(EvictionPolicy.lru())
            .branches(BranchPolicy.keepAll())
            .ticker(ticker)
            .eventBuffer(64)
            .build();
    impl = (KvCacheImpl) cache;
    try (Lease l = cache.acquire(Request.of(NS, WARM).session("warm"))) {
      l.extend();
      l.commit();
    }
  }

  @AfterEach
  void close() {
    cache.close();
  }

  static int[] seq(int base, int n) {
    return IntStream.range(0, n).map(i -> base + i).toArray();
  }

  /** The cache is consistent and still serves the prefix cached before the bad call. */
  void assertIntact() {
    impl.checkInvariants();
    assertThat(cache.probeTokens(NS, WARM, 0)).isEqualTo(WARM.length);
    assertThat(impl.pages.usedPages()).isLessThanOrEqualTo(PAGES);
  }

  // ------------------------------------------------------------------ layouts and sizes

  @Test
  void acquire_rejectsANamespaceWithAnotherBlockSize() {
    Namespace other = Namespace.of("m", KvLayout.ofPageBytes(8, 64));
    assertThatThrownBy(() -> cache.acquire(Request.of(other, seq(0, 16))))
        .isInstanceOf(KvTierException.class)
        .hasMessageContaining("8 tokens per block")
        .hasMessageContaining("has 4");
    assertThatThrownBy(() -> cache.probeTokens(other, seq(0, 16), 0))
        .isInstanceOf(KvTierException.class);
    assertThat(cache.stats().activeLeases()).isZero();
    assertIntact();
  }

  @Test
  void acquire_rejectsANamespaceWhosePagesAreLarger() {
    Namespace bigger = Namespace.of("big", KvLayout.ofPageBytes(T, 128));
    assertThatThrownBy(() -> cache.acquire(Request.of(bigger, seq(0, 8))))
        .isInstanceOf(KvTierException.class)
        .hasMessageContaining("needs pages of 128 bytes")
        .hasMessageContaining("hold 64");
    assertThat(cache.stats().activeLeases()).isZero();
    assertIntact();
  }

  @Test
  void acquire_acceptsANamespaceWhosePagesAreSmaller() {
    Namespace smaller = Namespace.of("small", KvLayout.ofPageBytes(T, 32));
    try (Lease l = cache.acquire(Request.of(smaller, seq(0, 8)))) {
      l.extend();
      assertThat(l.blockCount()).isEqualTo(2);
    }
    assertIntact();
  }

  @Test
  void nullArguments_areNamed() {
    assertThatThrownBy(() -> cache.acquire(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("request");
    assertThatThrownBy(() -> cache.probeTokens(null, WARM, 0))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("namespace");
    // the same answer whether or not the namespace has been used
    Namespace unused = Namespace.of("unused", LAYOUT);
    assertThatThrownBy(() -> cache.probeTokens(NS, null, 0))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("tokens");
    assertThatThrownBy(() -> cache.probeTokens(unused, null, 0))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("tokens");
    assertThatThrownBy(() -> cache.probe(unused, null))
        .isInstanceOf(NullPointerException.class)
        .hasMessageContaining("tokens");
    assertThatThrownBy(() -> cache.session(null)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> cache.session("")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Request.of(NS, WARM).session(""))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> cache.session("warm").pause(null, Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("kind");
    assertIntact();
  }

  @Test
  void extend_beyondTheWholeTier_failsWithoutFlushingTheCache() {
    try (Lease l = cache.acquire(Request.of(NS, seq(5000, (PAGES + 1) * T)))) {
      assertThatThrownBy(l::extend)
          .isInstanceOf(OutOfPagesException.class)
          .hasMessageContaining(PAGES + 1 + " pages")
          .hasMessageContaining("holds " + PAGES);
      assertThat(l.tokenCount()).isZero();
      assertThat(l.blockCount()).isZero();
      assertThatThrownBy(() -> l.extend(seq(9000, (PAGES + 1) * T)))
          .isInstanceOf(OutOfPagesException.class);
      assertThat(l.tokenCount()).isZero();
      assertIntact(); // nothing was evicted for a request that could never fit
      assertThat(cache.stats().evictedBlocks()).isZero();
      // the lease is still usable
      l.commit(0);
      assertThat(l.blockTable()).isEmpty();
    }
    try (Lease l = cache.acquire(Request.of(NS, seq(5000, PAGES * T)))) {
      l.extend(); // exactly the tier: evicts the warm prefix, which is allowed
      assertThat(l.blockCount()).isEqualTo(PAGES);
    }
    impl.checkInvariants();
  }

  // ------------------------------------------------------------------ lease arguments

  @Test
  void commit_outsideTheLeasesTokens_isRejected() {
    try (Lease l = cache.acquire(Request.of(NS, seq(0, 14)))) {
      l.extend();
      assertThatThrownBy(() -> l.commit(-1))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("[0, 14]")
          .hasMessageContaining("-1");
      assertThatThrownBy(() -> l.commit(15))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("was 15");
      assertThatThrownBy(() -> l.commit(Integer.MAX_VALUE))
          .isInstanceOf(IllegalArgumentException.class);
      assertThat(l.committedTokens()).isEqualTo(8);
      assertThat(l.tokenCount()).isEqualTo(14);
      l.commit(14);
      assertThat(l.committedTokens()).isEqualTo(12);
    }
    assertIntact();
  }

  @Test
  void extend_null_isRejected() {
    try (Lease l = cache.acquire(Request.of(NS, seq(0, 10)))) {
      l.extend();
      assertThatThrownBy(() -> l.extend(null))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("null");
      assertThat(l.tokenCount()).isEqualTo(10);
    }
    assertIntact();
  }

  @Test
  void fork_outsideTwoToSixtyFour_isRejected() {
    try (Lease l = cache.acquire(Request.of(NS, seq(0, 10)))) {
      l.extend();
      for (int k : new int[] {Integer.MIN_VALUE, -1, 0, 1, 65, 1000}) {
        assertThatThrownBy(() -> l.fork(k))
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("[2, 64]")
            .hasMessageContaining("was " + k);
      }
      assertThat(cache.stats().activeLeases()).isEqualTo(1);
      Branches most = l.fork(64);
      assertThat(most.size()).isEqualTo(64);
      assertThat(cache.stats().activeLeases()).isEqualTo(65);
      most.discardAll();
      assertThat(cache.stats().activeLeases()).isEqualTo(1);
    }
    assertIntact();
  }

  @Test
  void keep_outOfRange_isRejected_andTheBranchesStayUndecided() {
    try (Lease l = cache.acquire(Request.of(NS, seq(0, 10)))) {
      l.extend();
      Branches br = l.fork(3);
      for (int i : new int[] {-1, 3, Integer.MAX_VALUE}) {
        assertThatThrownBy(() -> br.keep(i))
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("[0, 3)");
        assertThatThrownBy(() -> br.branch(i)).isInstanceOf(IllegalArgumentException.class);
      }
      assertThat(cache.stats().activeLeases()).isEqualTo(4);
      Lease kept = br.keep(1);
      assertThat(kept.isOpen()).isTrue();
      assertThat(br.branch(0).isOpen()).isFalse();
      kept.close();
    }
    assertIntact();
  }

  @Test
  void keep_twice_orAfterDiscard_isRejected() {
    try (Lease l = cache.acquire(Request.of(NS, seq(0, 10)))) {
      l.extend();
      Branches br = l.fork(2);
      Lease kept = br.keep(0);
      assertThatThrownBy(() -> br.keep(0))
          .isInstanceOf(KvTierException.class)
          .hasMessageContaining("already");
      assertThatThrownBy(() -> br.keep(1)).isInstanceOf(KvTierException.class);
      assertThatThrownBy(br::discardAll).isInstanceOf(KvTierException.class);
      assertThat(kept.isOpen())
          .as("a rejected second decision does not touch the survivor")
          .isTrue();
      kept.close();
      Branches other = l.fork(2);
      other.discardAll();
      assertThatThrownBy(() -> other.keep(0)).isInstanceOf(KvTierException.class);
      assertThatThrownBy(other::discardAll).isInstanceOf(KvTierException.class);
    }
    assertIntact();
  }

  @Test
  void blockTable_intoATooSmallArray_isRejectedWithoutWriting() {
    try (Lease l = cache.acquire(Request.of(NS, seq(0, 13)))) {
      l.extend();
      long[] dst = new long[3];
      Arrays.fill(dst, 42L);
      assertThatThrownBy(() -> l.blockTable(dst))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("dst holds 3")
          .hasMessageContaining("has 4");
      assertThat(dst).containsOnly(42L);
      assertThatThrownBy(() -> l.blockTable(null))
          .isInstanceOf(NullPointerException.class)
          .hasMessageContaining("dst");
      long[] big = new long[8];
      assertThat(l.blockTable(big)).isEqualTo(4);
      assertThat(Arrays.copyOf(big, 4)).containsExactly(l.blockTable());
    }
    assertIntact();
  }

  // ------------------------------------------------------------------ handles

  @Test
  void staleHandle_ofAPageThatWasFreedAndReused_isDetected() {
    long old;
    try (Lease l = cache.acquire(Request.of(NS, seq(100, 4)))) {
      l.extend();
      old = l.blockTable()[0];
      impl.lock.lock();
      try {
        impl.pages.validate(old);
      } finally {
        impl.lock.unlock();
      }
    } // never committed: the page goes back to the tier
    assertThatThrownBy(() -> impl.pages.validate(old))
        .isInstanceOf(StaleHandleException.class)
        .hasMessageContaining("not allocated");
    // take every free page: the old slot is handed out again, at a new generation
    int free = (int) (PAGES - impl.pages.usedPages());
    try (Lease l = cache.acquire(Request.of(NS, seq(200, free * T)))) {
      l.extend();
      long reused =
          Arrays.stream(l.blockTable())
              .filter(h -> PageHandle.index(h) == PageHandle.index(old))
              .findFirst()
              .orElseThrow();
      assertThat(PageHandle.generation(reused)).isNotEqualTo(PageHandle.generation(old));
      assertThatCode(() -> impl.pages.validate(reused)).doesNotThrowAnyException();
      assertThatThrownBy(() -> impl.pages.validate(old))
          .isInstanceOf(StaleHandleException.class)
          .hasMessageContaining("generation mismatch");
      assertThatThrownBy(() -> impl.pages.retain(old)).isInstanceOf(StaleHandleException.class);
      assertThatThrownBy(() -> impl.pages.release(old)).isInstanceOf(StaleHandleException.class);
      impl.checkInvariants(); // the failed retain/release changed nothing
    }
    assertIntact();
  }

  @Test
  void foreignHandle_isRejected() {
    long mine;
    try (Lease l = cache.acquire(Request.of(NS, WARM))) {
      mine = l.blockTable()[0];
      long otherTier = PageHandle.of(1, PageHandle.generation(mine), PageHandle.index(mine));
      assertThatThrownBy(() -> impl.pages.validate(otherTier))
          .isInstanceOf(StaleHandleException.class)
          .hasMessageContaining("belongs to tier 1");
      assertThatThrownBy(() -> impl.pages.release(otherTier))
          .isInstanceOf(StaleHandleException.class);
      long outOfRange = PageHandle.of(0, 1, PAGES + 5L);
      assertThatThrownBy(() -> impl.pages.validate(outOfRange))
          .isInstanceOf(StaleHandleException.class)
          .hasMessageContaining("out of range");
      assertThatThrownBy(() -> impl.pages.validate(PageHandle.NONE))
          .isInstanceOf(StaleHandleException.class);
      impl.checkInvariants();
    }
    assertIntact();
  }

  // ------------------------------------------------------------------ close

  @Test
  void doubleClose_isIdempotent() {
    Lease l = cache.acquire(Request.of(NS, seq(0, 12)));
    l.extend();
    Branches br = l.fork(2);
    br.branch(1).close();
    br.branch(1).close();
    br.keep(0).close();
    br.branch(0).close();
    l.close();
    l.close();
    assertThat(cache.stats().activeLeases()).isZero();
    Session s = cache.session("warm");
    s.pin(Duration.ofSeconds(5));
    assertThat(s.pinnedBlocks()).isEqualTo(2);
    s.end();
    s.end();
    assertThat(s.pinnedBlocks()).isZero();
    assertIntact();
    assertThat(impl.pages.usedPages()).isEqualTo(impl.index.liveBlocks());
    cache.close();
    cache.close();
    assertThat(l.isOpen()).isFalse();
  }

  @Test
  void useAfterLeaseClose_isRejected() {
    Lease l = cache.acquire(Request.of(NS, seq(0, 12)));
    l.extend();
    l.close();
    assertThatThrownBy(l::extend)
        .isInstanceOf(CacheClosedException.class)
        .hasMessageContaining("lease is closed");
    assertThatThrownBy(() -> l.extend(seq(1, 2))).isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(() -> l.commit(4)).isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(() -> l.fork(2)).isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(l::blockTable).isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(() -> l.blockTable(new long[8])).isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(l::onboard).isInstanceOf(CacheClosedException.class);
    assertThat(l.isOpen()).isFalse();
    assertThat(l.blockCount()).isZero();
    assertThat(cache.stats().activeLeases()).isZero();
    assertIntact();
  }

  @Test
  void useAfterSessionEnd_isRejected_andTheIdStartsAFreshSession() {
    Session s = cache.session("warm");
    s.end();
    assertThatThrownBy(() -> s.pin(Duration.ofSeconds(1)))
        .isInstanceOf(CacheClosedException.class)
        .hasMessageContaining("'warm' has ended");
    assertThatThrownBy(s::unpin).isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(() -> s.pause(PauseKind.TOOL, Duration.ofSeconds(1)))
        .isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(s::resume).isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(s::compacted).isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(() -> s.priority(50)).isInstanceOf(CacheClosedException.class);
    Session fresh = cache.session("warm");
    assertThat(fresh).isNotSameAs(s);
    fresh.pin(Duration.ofSeconds(1)); // nothing committed in the new session: nothing to pin
    assertThat(fresh.pinnedBlocks()).isZero();
    assertIntact();
  }

  @Test
  void useAfterCacheClose_isRejected() {
    Lease open = cache.acquire(Request.of(NS, seq(0, 12)));
    open.extend();
    Branches br = open.fork(2);
    Session s = cache.session("warm");
    s.pin(Duration.ofSeconds(30));
    assertThat(s.pinnedBlocks()).isEqualTo(2);
    cache.close();

    assertThatThrownBy(() -> cache.acquire(Request.of(NS, WARM)))
        .isInstanceOf(CacheClosedException.class)
        .hasMessageContaining("closed");
    assertThatThrownBy(() -> cache.probe(NS, WARM)).isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(() -> cache.probeTokens(NS, WARM, 0))
        .isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(() -> cache.events(0, 10)).isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(() -> cache.session("warm")).isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(() -> cache.session("new")).isInstanceOf(CacheClosedException.class);

    assertThatThrownBy(open::extend).isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(() -> open.extend(seq(1, 2))).isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(() -> open.commit(4)).isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(() -> open.fork(2)).isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(open::blockTable).isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(() -> open.blockTable(new long[8])).isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(open::onboard).isInstanceOf(CacheClosedException.class);
    assertThat(open.isOpen()).isFalse();
    assertThat(br.branch(0).isOpen()).isFalse();
    assertThatThrownBy(() -> br.keep(0)).isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(br::discardAll).isInstanceOf(CacheClosedException.class);

    assertThatThrownBy(() -> s.pin(Duration.ofSeconds(1))).isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(s::unpin).isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(() -> s.pause(PauseKind.TOOL, Duration.ofSeconds(1)))
        .isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(s::resume).isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(s::compacted).isInstanceOf(CacheClosedException.class);
    assertThatThrownBy(() -> s.priority(50)).isInstanceOf(CacheClosedException.class);
    assertThat(s.pinnedBlocks()).as("a closed cache pins nothing").isZero();

    // closing what the cache already closed is harmless
    assertThatCode(
            () -> {
              open.close();
              br.branch(1).close();
              s.end();
              cache.close();
            })
        .doesNotThrowAnyException();
    assertThat(cache.stats().activeLeases()).isZero();
  }

  // ------------------------------------------------------------------ events, sessions, priorities

  @Test
  void events_withANegativeStartOrNoRoom_areRejected() {
    assertThatThrownBy(() -> cache.events(-1, 10))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("fromSeq");
    assertThatThrownBy(() -> cache.events(0, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("max");
    assertThatThrownBy(() -> cache.events(0, -5)).isInstanceOf(IllegalArgumentException.class);
    assertThat(cache.events(0, 10).events()).hasSize(2);
    assertIntact();
  }

  @Test
  void sessionPin_withoutAPositiveTtl_isRejected_andTheOldPinStays() {
    Session s = cache.session("warm");
    s.pin(Duration.ofSeconds(10));
    for (Duration bad : new Duration[] {Duration.ZERO, Duration.ofNanos(-1), null}) {
      assertThatThrownBy(() -> s.pin(bad))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("positive");
    }
    assertThat(s.pinnedBlocks()).isEqualTo(2);
    ticker.advance(Duration.ofSeconds(11));
    assertThat(s.pinnedBlocks()).as("the original TTL still applies").isZero();
    assertIntact();
  }

  @Test
  void sessionPin_forLongerThanNanosecondsCanCount_lastsPracticallyForever() {
    Session s = cache.session("warm");
    s.pin(Duration.ofSeconds(Long.MAX_VALUE));
    assertThat(s.pinnedBlocks()).isEqualTo(2);
    ticker.advance(Duration.ofDays(365 * 100));
    assertThat(s.pinnedBlocks()).isEqualTo(2);
    s.unpin();
    assertThat(s.pinnedBlocks()).isZero();
    assertIntact();
  }

  @Test
  void requestPriority_forLongerThanNanosecondsCanCount_holdsForTheBlocksLife() {
    int[] p = seq(300, 8);
    try (Lease l =
        cache.acquire(Request.of(NS, p).priority(90, Duration.ofSeconds(Long.MAX_VALUE)))) {
      l.extend();
      l.commit();
      assertThat(l.committedTokens()).isEqualTo(8);
    }
    impl.checkInvariants();
    assertThat(cache.probeTokens(NS, p, 0)).isEqualTo(8);
    assertIntact();
  }

  @Test
  void priority_outOfRange_isRejected() {
    Session s = cache.session("warm");
    for (int bad : new int[] {-1, 101, Integer.MIN_VALUE, Integer.MAX_VALUE}) {
      assertThatThrownBy(() -> s.priority(bad))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("[0, 100]");
      assertThatThrownBy(() -> Request.of(NS, WARM).priority(bad, null))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("[0, 100]");
    }
    assertThatThrownBy(() -> Request.of(NS, WARM).priority(50, Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("negative");
    s.priority(0);
    s.priority(100);
    assertIntact();
  }
}
