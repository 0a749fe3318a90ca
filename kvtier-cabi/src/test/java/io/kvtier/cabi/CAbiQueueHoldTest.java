package io.kvtier.cabi;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The queue's hold through the entry points ({@code kvtier_hold_queue}), on a two-tier cache: a top
 * tier of 16 pages (so at most 4 are held) above a second tier of 256, 16 tokens per page, LRU.
 * Pressure is new prompts run through the top tier; where a prompt's blocks are is read by a probe.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CAbiQueueHoldTest extends CAbiFixture {
  private static final int B = 16;

  private static final String CONFIG =
      """
      layout.page_bytes=512
      layout.tokens_per_block=16
      tiers=top,low
      tier.top.kind=dram
      tier.top.capacity=8k
      tier.low.kind=dram
      tier.low.capacity=128k
      """;

  @Override
  String config() {
    return CONFIG;
  }

  static int[] seq(int base, int n) {
    int[] a = new int[n];
    for (int i = 0; i < n; i++) {
      a[i] = base + i;
    }
    return a;
  }

  static int[] concat(int[] a, int[] b) {
    int[] c = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, c, a.length, b.length);
    return c;
  }

  MemorySegment ints(int... a) {
    MemorySegment m = arena.allocate(ValueLayout.JAVA_INT, Math.max(a.length, 1));
    MemorySegment.copy(a, 0, m, ValueLayout.JAVA_INT, 0, a.length);
    return m;
  }

  /**
   * Runs a prompt as an engine would: acquires, fills and commits it, and releases it. Its blocks
   * are then the most recently used: the LRU clock counts milliseconds, so the call waits a few
   * first, and every run is younger than the one before.
   */
  void run(int[] prompt) throws InterruptedException {
    Thread.sleep(5);
    long l = acquire(ints(prompt), prompt.length);
    assertThat(CAbi.leaseOnboard(l, -1, -1)).as(CAbi.lastError()).isEqualTo(Status.OK);
    assertThat(CAbi.leaseExtend(l)).as(CAbi.lastError()).isEqualTo(Status.OK);
    assertThat(CAbi.leaseCommit(l, -1)).isEqualTo(Status.OK);
    assertThat(CAbi.leaseRelease(l)).isEqualTo(Status.OK);
  }

  /** Matched blocks of {@code prompt} per tier (top, low). */
  int[] perTier(int[] prompt) {
    MemorySegment per = arena.allocate(ValueLayout.JAVA_INT, 2);
    int matched = CAbi.probe(cache, ns, 0, ints(prompt).address(), prompt.length, per.address(), 2);
    assertThat(matched).as(CAbi.lastError()).isNotNegative();
    return new int[] {
      per.getAtIndex(ValueLayout.JAVA_INT, 0), per.getAtIndex(ValueLayout.JAVA_INT, 1)
    };
  }

  /**
   * {@code kvtier_hold_queue} of these prompts, head first, laid out as a C caller does: one token
   * array, {@code n + 1} offsets, and the salts ({@code null}: the NULL pointer).
   */
  int hold(long[] salts, int[]... prompts) {
    int[] offsets = new int[prompts.length + 1];
    int[] all = new int[0];
    for (int i = 0; i < prompts.length; i++) {
      all = concat(all, prompts[i]);
      offsets[i + 1] = all.length;
    }
    long saltsAddr = 0;
    if (salts != null) {
      MemorySegment s = arena.allocate(ValueLayout.JAVA_LONG, Math.max(salts.length, 1));
      MemorySegment.copy(salts, 0, s, ValueLayout.JAVA_LONG, 0, salts.length);
      saltsAddr = s.address();
    }
    return CAbi.holdQueue(
        cache, ns, prompts.length, saltsAddr, ints(all).address(), ints(offsets).address());
  }

  int hold(int[]... prompts) {
    return hold(null, prompts);
  }

  /** {@code kvtier_hold_queue(cache, ns, 0, NULL, NULL, NULL, &held)}. */
  int release() {
    return CAbi.holdQueue(cache, ns, 0, 0, 0, 0);
  }

  @Test
  void aHeldPrefix_staysOnTopUnderPressure_untilReleased_thenIsPushedDown() throws Exception {
    int[] queued = seq(1_000, 4 * B);
    run(queued);
    assertThat(hold(queued)).as(CAbi.lastError()).isEqualTo(4);

    int[] first = seq(10_000, 12 * B);
    run(first);
    run(seq(20_000, 12 * B)); // the oldest blocks on top are the held ones
    assertThat(perTier(queued)).as("held: the pressure went past it").containsExactly(4, 0);
    assertThat(perTier(first)).as("what was younger went down").containsExactly(0, 12);

    assertThat(release()).as(CAbi.lastError()).isZero();
    run(seq(30_000, 12 * B));
    assertThat(perTier(queued))
        .as("released: oldest goes first, down not out")
        .containsExactly(0, 4);
  }

  @Test
  void outHeld_isHeadFirst_sharedBlocksOnce_andAQuarterOfTheTopTier() throws Exception {
    int[] a = seq(1_000, 3 * B);
    int[] b = seq(2_000, 3 * B);
    run(a);
    run(b);
    assertThat(hold(a, a, b)).as("a's 3 blocks once, then b's first: 16 / 4 pages").isEqualTo(4);
    assertThat(hold(b, a)).as("each call replaces the last: b's 3, then a's first").isEqualTo(4);
    assertThat(hold(a, a, b)).isEqualTo(4);
    run(seq(10_000, 12 * B)); // 10 free pages, then two evictions: b's blocks that are not held
    assertThat(perTier(a)).containsExactly(3, 0);
    assertThat(perTier(b)).containsExactly(1, 2);

    // Two requests on one cached prefix: the shared block counts once.
    int[] shared = seq(3_000, B);
    int[] x = concat(shared, seq(4_000, B));
    int[] y = concat(shared, seq(5_000, B));
    run(x);
    run(y);
    assertThat(hold(x, y)).isEqualTo(3);
    assertThat(hold(x, x, y, y)).isEqualTo(3);
    // What is not cached holds nothing: a longer prompt holds its cached prefix, an empty or
    // unknown one nothing.
    assertThat(hold(concat(x, seq(6_000, 5 * B)), new int[0], seq(7_000, 4 * B))).isEqualTo(2);
    // Salts are per request: a under salt 7 is not cached, x unsalted is.
    assertThat(hold(new long[] {7, 0}, a, x)).isEqualTo(2);
    assertThat(hold(new long[] {0, 7}, a, x)).isEqualTo(3);
    assertThat(hold(new long[] {0, 0}, a, x)).isEqualTo(hold(a, x)).isEqualTo(4);
    assertThat(release()).isZero();
  }

  @Test
  void badInput_comesBackAsCodes_andLeavesThePreviousHold() throws Exception {
    int[] queued = seq(1_000, 4 * B);
    run(queued);
    assertThat(hold(queued)).isEqualTo(4);

    MemorySegment tok = ints(queued);
    long t = tok.address();
    long sane = ints(0, 4 * B).address();
    assertThat(CAbi.holdQueue(cache, ns, -1, 0, t, sane)).isEqualTo(Status.INVALID_ARGUMENT);
    assertThat(CAbi.lastError()).contains("n_requests");
    assertThat(CAbi.holdQueue(cache, ns, 1, 0, t, 0)).isEqualTo(Status.INVALID_ARGUMENT);
    assertThat(CAbi.lastError()).contains("offsets is NULL");
    assertThat(CAbi.holdQueue(cache, ns, 1, 0, 0, sane)).isEqualTo(Status.INVALID_ARGUMENT);
    assertThat(CAbi.lastError()).contains("tokens is NULL");
    assertThat(CAbi.holdQueue(cache, ns, 1, 0, t, ints(16, 64).address()))
        .isEqualTo(Status.INVALID_ARGUMENT);
    assertThat(CAbi.lastError()).contains("offsets[0] must be 0");
    // The first requests are sound; the last one's end comes before its start.
    assertThat(CAbi.holdQueue(cache, ns, 3, 0, t, ints(0, 32, 64, 48).address()))
        .isEqualTo(Status.INVALID_ARGUMENT);
    assertThat(CAbi.lastError()).contains("offsets[2] is 64, offsets[3] is 48");

    // Bad handles, also with no requests (which would release the hold).
    String one = "layout.page_bytes=512\ntier.dram.capacity=64k\n";
    long other = CAbi.cacheCreate(str(one), len(one));
    assertThat(other).isPositive();
    long otherNs = CAbi.namespaceOpen(other, str("m"), 1, 0, 0);
    for (int n : new int[] {0, 1}) {
      assertThat(CAbi.holdQueue(0, ns, n, 0, t, sane)).isEqualTo(Status.BAD_HANDLE);
      assertThat(CAbi.holdQueue(cache, 0, n, 0, t, sane)).isEqualTo(Status.BAD_HANDLE);
      assertThat(CAbi.holdQueue(ns, ns, n, 0, t, sane)).isEqualTo(Status.BAD_HANDLE);
      assertThat(CAbi.holdQueue(cache, cache, n, 0, t, sane)).isEqualTo(Status.BAD_HANDLE);
      assertThat(CAbi.holdQueue(cache, otherNs, n, 0, t, sane)).isEqualTo(Status.BAD_HANDLE);
      assertThat(CAbi.lastError()).contains("another cache");
    }
    // One tier: nothing is ever held.
    long l = CAbi.acquire(other, otherNs, 0, 0, t, 4 * B, 0);
    assertThat(CAbi.leaseExtend(l)).isEqualTo(Status.OK);
    assertThat(CAbi.leaseCommit(l, -1)).isEqualTo(Status.OK);
    assertThat(CAbi.leaseRelease(l)).isEqualTo(Status.OK);
    assertThat(CAbi.holdQueue(other, otherNs, 1, 0, t, sane)).isZero();
    assertThat(CAbi.cacheDestroy(other)).isEqualTo(Status.OK);
    assertThat(CAbi.holdQueue(other, otherNs, 0, 0, 0, 0)).isEqualTo(Status.BAD_HANDLE);
    assertThat(CAbi.lastError()).contains("stale");

    // Every refusal left the hold: the pressure goes past the queued prefix.
    run(seq(10_000, 12 * B));
    run(seq(20_000, 12 * B));
    assertThat(perTier(queued)).as("still held").containsExactly(4, 0);
    assertThat(release()).isZero();
    run(seq(30_000, 12 * B));
    assertThat(perTier(queued)).as("released").containsExactly(0, 4);

    // A destroyed cache's handle is stale, as for kvtier_prefetch.
    assertThat(CAbi.cacheDestroy(cache)).isEqualTo(Status.OK);
    long destroyed = cache;
    cache = 0;
    assertThat(CAbi.holdQueue(destroyed, ns, 1, 0, t, sane)).isEqualTo(Status.BAD_HANDLE);
    assertThat(CAbi.holdQueue(destroyed, ns, 0, 0, 0, 0)).isEqualTo(Status.BAD_HANDLE);
  }
}
