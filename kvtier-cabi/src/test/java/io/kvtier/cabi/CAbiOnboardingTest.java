package io.kvtier.cabi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.LayerwiseOnboarding;
import io.kvtier.OutOfPagesException;
import io.kvtier.PageHandle;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Onboarding and prefetch through the entry points, on a two-tier cache: a top tier of 8 pages
 * above a second tier of 24, four layers per page of 256 KiB.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CAbiOnboardingTest extends CAbiFixture {
  private static final int LAYERS = 4;
  private static final int TOP_PAGES = 8;

  private static final String CONFIG =
      """
      layout.layers=4
      layout.kv_heads=8
      layout.head_dim=128
      layout.dtype=fp16
      layout.tokens_per_block=16
      tiers=top,low
      tier.top.kind=dram
      tier.top.capacity=2m
      tier.low.kind=dram
      tier.low.capacity=6m
      """;

  @Override
  String config() {
    return CONFIG;
  }

  /** Acquires, fills and commits a prompt, and releases it: its blocks are cached. */
  private void cache(MemorySegment tok, int n) {
    long a = acquire(tok, n);
    assertThat(CAbi.leaseExtend(a)).as(CAbi.lastError()).isEqualTo(Status.OK);
    assertThat(CAbi.leaseCommit(a, -1)).isEqualTo(Status.OK);
    assertThat(CAbi.leaseRelease(a)).isEqualTo(Status.OK);
  }

  /** Matched blocks of {@code tok} per tier (top, low). */
  private int[] perTier(MemorySegment tok, int n) {
    MemorySegment per = arena.allocate(ValueLayout.JAVA_INT, 2);
    assertThat(CAbi.probe(cache, ns, 0, tok.address(), n, per.address(), 2)).isGreaterThan(0);
    return new int[] {
      per.getAtIndex(ValueLayout.JAVA_INT, 0), per.getAtIndex(ValueLayout.JAVA_INT, 1)
    };
  }

  /**
   * Caches a 4-block prompt, then a prompt of a full top tier that pushes it into the second tier.
   *
   * @return the 4-block prompt (64 tokens)
   */
  private MemorySegment cachedBelowTheTop(int seed) {
    MemorySegment a = tokens(64, seed);
    cache(a, 64);
    cache(tokens(16 * TOP_PAGES, seed + 1), 16 * TOP_PAGES);
    assertThat(perTier(a, 64)).containsExactly(0, 4);
    return a;
  }

  private long[] table(MemorySegment m, int n) {
    long[] t = new long[n];
    MemorySegment.copy(m, ValueLayout.JAVA_LONG, 0, t, 0, n);
    return t;
  }

  private static CAbi.LeaseEntry entry(long lease) {
    return (CAbi.LeaseEntry) CAbi.HANDLES.get(lease, Handles.KIND_LEASE);
  }

  @Test
  void blockTable_failsUntilOnboarded_thenEqualsTheArrivingTable() {
    MemorySegment a = cachedBelowTheTop(1);
    MemorySegment cached = arena.allocate(ValueLayout.JAVA_INT);
    long l = CAbi.acquire(cache, ns, 0, 0, a.address(), 64, cached.address());
    assertThat(cached.get(ValueLayout.JAVA_INT, 0)).isEqualTo(64);
    MemorySegment buf = arena.allocate(ValueLayout.JAVA_LONG, 8);

    assertThat(CAbi.leaseBlockTable(l, buf.address(), 8)).isEqualTo(Status.INVALID_ARGUMENT);
    assertThat(CAbi.lastError()).contains("lower tiers").contains("kvtier_lease_onboard");

    assertThat(CAbi.leaseArrivingTable(l, buf.address(), 3)).isEqualTo(Status.BUFFER_TOO_SMALL);
    assertThat(CAbi.leaseArrivingTable(l, buf.address(), 8)).as(CAbi.lastError()).isEqualTo(4);
    long[] arriving = table(buf, 4);
    Set<Long> indices = new HashSet<>();
    for (long h : arriving) {
      assertThat(h).isNotEqualTo(PageHandle.NONE);
      assertThat(PageHandle.tier(h)).isZero();
      indices.add(PageHandle.index(h));
    }
    assertThat(indices).hasSize(4);

    assertThat(CAbi.leaseOnboard(l, -1, -1)).as(CAbi.lastError()).isEqualTo(Status.OK);
    assertThat(entry(l).onboarding.all()).isCompleted();
    assertThat(CAbi.leaseBlockTable(l, buf.address(), 8)).as(CAbi.lastError()).isEqualTo(4);
    assertThat(table(buf, 4)).containsExactly(arriving);
    assertThat(CAbi.leaseArrivingTable(l, buf.address(), 8)).isEqualTo(4);
    assertThat(table(buf, 4)).containsExactly(arriving);
    assertThat(CAbi.leaseOnboard(l, -1, 0)).isEqualTo(Status.OK);
    assertThat(perTier(a, 64)[0]).isEqualTo(4);
    assertThat(CAbi.leaseRelease(l)).isEqualTo(Status.OK);
  }

  @Test
  void everyLayerLands_andRepeatedCallsWaitOnTheSameOnboarding() {
    MemorySegment a = cachedBelowTheTop(2);
    long l = acquire(a, 64);
    MemorySegment buf = arena.allocate(ValueLayout.JAVA_LONG, 8);
    assertThat(entry(l).onboarding).isNull();
    // The last layer lands last; whether it did is read at once, before anything else runs.
    int rc = CAbi.leaseOnboard(l, LAYERS - 1, -1);
    LayerwiseOnboarding first = entry(l).onboarding;
    boolean lastLanded = first != null && first.layer(LAYERS - 1).isDone();
    assertThat(rc).as(CAbi.lastError()).isEqualTo(Status.OK);
    assertThat(lastLanded).isTrue();
    assertThat(first.layers()).isEqualTo(LAYERS);
    // Layer by layer as an engine's prefill goes: each has landed (a poll says so), on the same
    // onboarding, whose arriving pages stay what they were.
    assertThat(CAbi.leaseArrivingTable(l, buf.address(), 8)).isEqualTo(4);
    long[] arriving = table(buf, 4);
    for (int layer = 0; layer < LAYERS; layer++) {
      assertThat(CAbi.leaseOnboard(l, layer, 0)).as(CAbi.lastError()).isEqualTo(Status.OK);
      assertThat(CAbi.leaseOnboard(l, layer, 10_000)).isEqualTo(Status.OK);
      assertThat(first.layer(layer)).isCompleted();
      assertThat(entry(l).onboarding).isSameAs(first);
      assertThat(CAbi.leaseArrivingTable(l, buf.address(), 8)).isEqualTo(4);
      assertThat(table(buf, 4)).containsExactly(arriving);
    }
    assertThat(CAbi.leaseOnboard(l, -1, -1)).isEqualTo(Status.OK);
    assertThat(first.all()).isCompleted();
    assertThat(entry(l).onboarding).isSameAs(first);
    assertThat(CAbi.leaseBlockTable(l, buf.address(), 8)).isEqualTo(4);
    assertThat(table(buf, 4)).containsExactly(arriving);
    assertThat(CAbi.leaseRelease(l)).isEqualTo(Status.OK);
  }

  @Test
  void polling_returnsTimeoutUntilLanded_andOkAtOnceWithNothingToOnboard() throws Throwable {
    // Nothing below the top: OK at once, for every layer and for the whole, even when polling.
    MemorySegment fresh = tokens(48, 3);
    cache(fresh, 48);
    long top = acquire(fresh, 48);
    for (int layer = -1; layer < LAYERS; layer++) {
      assertThat(CAbi.leaseOnboard(top, layer, 0)).isEqualTo(Status.OK);
    }
    MemorySegment buf = arena.allocate(ValueLayout.JAVA_LONG, 8);
    assertThat(CAbi.leaseBlockTable(top, buf.address(), 8)).isEqualTo(3);

    // A future that has not completed: a poll and a bounded wait time out, and say so.
    CAbi.LeaseEntry e = entry(top);
    CompletableFuture<Void> pending = new CompletableFuture<>();
    assertThat(CAbi.await(e, null, pending, 0, "layer 2")).isEqualTo(Status.TIMEOUT);
    assertThat(CAbi.lastError()).contains("layer 2").contains("not landed");
    assertThat(CAbi.await(e, null, pending, 20, "layer 2")).isEqualTo(Status.TIMEOUT);
    assertThat(CAbi.lastError()).contains("20 ms");
    // A failed one reports its cause.
    CompletableFuture<Void> failed =
        CompletableFuture.failedFuture(new OutOfPagesException("no page"));
    assertThatThrownBy(() -> CAbi.await(e, null, failed, 0, "x"))
        .isInstanceOf(OutOfPagesException.class);
    assertThat(CAbi.leaseRelease(top)).isEqualTo(Status.OK);

    // A real onboarding polled: TIMEOUT while under way, then OK, and nothing else.
    MemorySegment a = cachedBelowTheTop(4);
    long l = acquire(a, 64);
    int rc;
    int polls = 0;
    while ((rc = CAbi.leaseOnboard(l, -1, 0)) == Status.TIMEOUT) {
      polls++;
      Thread.onSpinWait();
    }
    assertThat(rc).as(CAbi.lastError() + " after " + polls + " polls").isEqualTo(Status.OK);
    assertThat(CAbi.leaseBlockTable(l, buf.address(), 8)).isEqualTo(4);
    assertThat(CAbi.leaseRelease(l)).isEqualTo(Status.OK);
  }

  @Test
  void aFullTopTier_isNoSpace_reportedOnce_andTheNextCallStartsOver() {
    MemorySegment a = cachedBelowTheTop(5);
    long filler = acquire(tokens(16 * TOP_PAGES, 7), 16 * TOP_PAGES);
    assertThat(CAbi.leaseExtend(filler)).as(CAbi.lastError()).isEqualTo(Status.OK);
    long l = acquire(a, 64);
    assertThat(CAbi.leaseCachedTokens(l)).isEqualTo(64);

    assertThat(CAbi.leaseOnboard(l, -1, -1)).isEqualTo(Status.NO_SPACE);
    assertThat(CAbi.lastError()).contains("no page");
    assertThat(entry(l).onboarding).as("a reported failure is forgotten").isNull();
    assertThat(CAbi.leaseOnboard(l, 0, 1000)).isEqualTo(Status.NO_SPACE);
    MemorySegment buf = arena.allocate(ValueLayout.JAVA_LONG, 8);
    assertThat(CAbi.leaseArrivingTable(l, buf.address(), 8)).isEqualTo(Status.NO_SPACE);
    assertThat(CAbi.leaseBlockTable(l, buf.address(), 8)).isEqualTo(Status.INVALID_ARGUMENT);

    assertThat(CAbi.leaseRelease(filler)).isEqualTo(Status.OK);
    assertThat(CAbi.leaseOnboard(l, -1, -1)).as(CAbi.lastError()).isEqualTo(Status.OK);
    assertThat(CAbi.leaseBlockTable(l, buf.address(), 8)).isEqualTo(4);
    assertThat(CAbi.leaseRelease(l)).isEqualTo(Status.OK);
  }

  @Test
  void badLayers_areInvalidArguments_andStartNothing() {
    MemorySegment a = cachedBelowTheTop(8);
    long l = acquire(a, 64);
    assertThat(CAbi.leaseOnboard(l, LAYERS, 0)).isEqualTo(Status.INVALID_ARGUMENT);
    assertThat(CAbi.lastError()).contains("layer").contains("[0, 4)");
    assertThat(CAbi.leaseOnboard(l, -2, 0)).isEqualTo(Status.INVALID_ARGUMENT);
    assertThat(CAbi.leaseOnboard(l, Integer.MAX_VALUE, -1)).isEqualTo(Status.INVALID_ARGUMENT);
    assertThat(entry(l).onboarding).isNull();
    assertThat(perTier(a, 64)).containsExactly(0, 4);
    MemorySegment buf = arena.allocate(ValueLayout.JAVA_LONG, 8);
    assertThat(CAbi.leaseArrivingTable(l, buf.address(), -1)).isEqualTo(Status.INVALID_ARGUMENT);
    assertThat(CAbi.leaseArrivingTable(l, 0, 4)).isEqualTo(Status.INVALID_ARGUMENT);
    assertThat(CAbi.leaseRelease(l)).isEqualTo(Status.OK);
  }

  @Test
  void badReleasedAndClosedLeases_comeBackAsCodes() {
    MemorySegment buf = arena.allocate(ValueLayout.JAVA_LONG, 8);
    assertThat(CAbi.leaseOnboard(0, -1, 0)).isEqualTo(Status.BAD_HANDLE);
    assertThat(CAbi.lastError()).contains("NULL");
    assertThat(CAbi.leaseOnboard(ns, -1, 0)).isEqualTo(Status.BAD_HANDLE);
    assertThat(CAbi.lastError()).contains("not a lease");
    assertThat(CAbi.leaseArrivingTable(cache, buf.address(), 8)).isEqualTo(Status.BAD_HANDLE);

    MemorySegment a = cachedBelowTheTop(9);
    long released = acquire(a, 64);
    assertThat(CAbi.leaseOnboard(released, -1, -1)).isEqualTo(Status.OK);
    assertThat(CAbi.leaseRelease(released)).isEqualTo(Status.OK);
    assertThat(CAbi.leaseOnboard(released, -1, -1)).isEqualTo(Status.BAD_HANDLE);
    assertThat(CAbi.lastError()).contains("stale");
    assertThat(CAbi.leaseArrivingTable(released, buf.address(), 8)).isEqualTo(Status.BAD_HANDLE);

    // A destroyed cache: CLOSED whether the onboarding had been started or not.
    long started = acquire(a, 64);
    assertThat(CAbi.leaseOnboard(started, -1, -1)).isEqualTo(Status.OK);
    long notStarted = acquire(a, 64);
    assertThat(CAbi.cacheDestroy(cache)).isEqualTo(Status.OK);
    cache = 0;
    assertThat(CAbi.leaseOnboard(started, 0, -1)).isEqualTo(Status.CLOSED);
    assertThat(CAbi.leaseArrivingTable(started, buf.address(), 8)).isEqualTo(Status.CLOSED);
    assertThat(CAbi.leaseOnboard(notStarted, -1, -1)).isEqualTo(Status.CLOSED);
    assertThat(CAbi.leaseArrivingTable(notStarted, buf.address(), 8)).isEqualTo(Status.CLOSED);
    assertThat(CAbi.leaseRelease(started)).isEqualTo(Status.OK);
    assertThat(CAbi.leaseRelease(notStarted)).isEqualTo(Status.OK);
  }

  @Test
  void prefetch_startsTheCopies_andALaterAcquireFindsThemOnTop() throws Exception {
    MemorySegment a = cachedBelowTheTop(10);
    long session = CAbi.sessionOpen(cache, str("agent"), 5);
    // A prefetch takes only pages of blocks last used before the call, on a millisecond clock: the
    // top tier's blocks must be older than the call for it to find room.
    Thread.sleep(5);
    assertThat(CAbi.prefetch(cache, ns, session, 0, a.address(), 64))
        .as(CAbi.lastError())
        .isEqualTo(4);
    ((CAbi.CacheEntry) CAbi.HANDLES.get(cache, Handles.KIND_CACHE))
        .cache
        .prefetchesLanded()
        .get(30, TimeUnit.SECONDS);
    assertThat(perTier(a, 64)).containsExactly(4, 4);
    // Up already: nothing more to start.
    assertThat(CAbi.prefetch(cache, ns, 0, 0, a.address(), 64)).isZero();

    long l = acquire(a, 64);
    MemorySegment buf = arena.allocate(ValueLayout.JAVA_LONG, 8);
    assertThat(CAbi.leaseBlockTable(l, buf.address(), 8)).as(CAbi.lastError()).isEqualTo(4);
    assertThat(CAbi.leaseOnboard(l, -1, 0)).isEqualTo(Status.OK);
    assertThat(CAbi.leaseRelease(l)).isEqualTo(Status.OK);
    assertThat(CAbi.sessionClose(session)).isEqualTo(Status.OK);
  }

  @Test
  void prefetch_checksItsArgumentsAsAcquireDoes() {
    MemorySegment a = tokens(64, 11);
    // Nothing cached: nothing to start.
    assertThat(CAbi.prefetch(cache, ns, 0, 0, a.address(), 64)).isZero();
    assertThat(CAbi.prefetch(cache, ns, 0, 0, 0, 0)).isZero();
    assertThat(CAbi.prefetch(cache, ns, 0, 0, 0, 5)).isEqualTo(Status.INVALID_ARGUMENT);
    assertThat(CAbi.prefetch(cache, ns, 0, 0, a.address(), -1)).isEqualTo(Status.INVALID_ARGUMENT);
    assertThat(CAbi.prefetch(0, ns, 0, 0, a.address(), 64)).isEqualTo(Status.BAD_HANDLE);
    assertThat(CAbi.prefetch(cache, 0, 0, 0, a.address(), 64)).isEqualTo(Status.BAD_HANDLE);
    assertThat(CAbi.prefetch(ns, ns, 0, 0, a.address(), 64)).isEqualTo(Status.BAD_HANDLE);
    assertThat(CAbi.prefetch(cache, ns, ns, 0, a.address(), 64)).isEqualTo(Status.BAD_HANDLE);

    String one = "layout.page_bytes=512\ntier.dram.capacity=64k\n";
    long other = CAbi.cacheCreate(str(one), len(one));
    assertThat(other).isPositive();
    long otherSession = CAbi.sessionOpen(other, str("s"), 1);
    long otherNs = CAbi.namespaceOpen(other, str("m"), 1, 0, 0);
    assertThat(CAbi.prefetch(cache, ns, otherSession, 0, a.address(), 64))
        .isEqualTo(Status.BAD_HANDLE);
    assertThat(CAbi.lastError()).contains("another cache");
    assertThat(CAbi.prefetch(cache, otherNs, 0, 0, a.address(), 64)).isEqualTo(Status.BAD_HANDLE);
    // One tier: nothing to copy up, ever.
    MemorySegment b = tokens(64, 12);
    long l = CAbi.acquire(other, otherNs, 0, 0, b.address(), 64, 0);
    assertThat(CAbi.leaseExtend(l)).isEqualTo(Status.OK);
    assertThat(CAbi.leaseCommit(l, -1)).isEqualTo(Status.OK);
    assertThat(CAbi.leaseRelease(l)).isEqualTo(Status.OK);
    assertThat(CAbi.prefetch(other, otherNs, 0, 0, b.address(), 64)).isZero();
    assertThat(CAbi.cacheDestroy(other)).isEqualTo(Status.OK);
    assertThat(CAbi.prefetch(other, otherNs, 0, 0, b.address(), 64)).isEqualTo(Status.BAD_HANDLE);
  }

  @Test
  void timeout_isTheNextFreeCode_andTheAbiVersionIsThree() {
    assertThat(Status.TIMEOUT).isEqualTo(Status.INTERNAL - 1);
    // 2 added onboarding and prefetch; 3 added kvtier_hold_queue.
    assertThat(CAbi.abiVersion()).isEqualTo(3);
  }
}
