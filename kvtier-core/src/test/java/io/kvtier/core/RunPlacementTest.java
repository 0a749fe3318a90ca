package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvtier.Branches;
import io.kvtier.DramTier;
import io.kvtier.KvCache;
import io.kvtier.KvLayout;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.PageHandle;
import io.kvtier.PauseKind;
import io.kvtier.Request;
import io.kvtier.Session;
import io.kvtier.spi.BranchPolicy;
import io.kvtier.spi.EvictionPolicy;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Where runs of consecutive slots go ({@code KvCacheImpl.takeRun}, {@code moveKeptOutOf}): kept
 * branch pages moved out of a freed run, leases growing side by side, a long prompt in a full tier,
 * pause pins, and the count of pages moved.
 */
class RunPlacementTest {
  static final int T = 4;
  static final KvLayout LAYOUT = KvLayout.ofPageBytes(T, 64);
  static final Namespace NS = Namespace.of("m", LAYOUT);

  KvCache cache;

  private KvCacheImpl cache(int pages, BranchPolicy policy) {
    cache =
        KvCache.builder()
            .layout(LAYOUT)
            .tier(DramTier.offHeap(64L * pages))
            .eviction(EvictionPolicy.lru())
            .branches(policy)
            .eventBuffer(64)
            .build();
    return (KvCacheImpl) cache;
  }

  @AfterEach
  void close() {
    if (cache != null) {
      cache.close();
    }
  }

  private static int[] seq(int from, int n) {
    return IntStream.range(from, from + n).toArray();
  }

  private static int[] concat(int[] a, int[] b) {
    int[] c = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, c, a.length, b.length);
    return c;
  }

  private static int[] slots(Lease l) {
    return Arrays.stream(l.blockTable()).mapToInt(h -> (int) PageHandle.index(h)).toArray();
  }

  private static boolean oneRun(int[] slots) {
    int[] s = slots.clone();
    Arrays.sort(s);
    return s[s.length - 1] - s[0] == s.length - 1;
  }

  private static void fill(KvCacheImpl impl, int slot, byte value) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment page = arena.allocate(64);
      page.fill(value);
      impl.store.write(slot, page);
    }
  }

  private static byte[] read(KvCacheImpl impl, int slot) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment page = arena.allocate(64);
      impl.store.read(slot, page);
      return page.toArray(ValueLayout.JAVA_BYTE);
    }
  }

  private static double freeRunRatio(KvCacheImpl impl) {
    return (double) impl.pages.largestFreeRun() / impl.pages.freePages();
  }

  /**
   * Fills every free page with one-page sequences cached by the index alone, touched in a shuffled
   * order so that the eviction policy's victims lie scattered; when {@code paused}, sequence {@code
   * i} is session {@code "p" + i}'s, paused for a tool call.
   */
  private static void fillScattered(KvCacheImpl impl, boolean paused) {
    List<int[]> seqs = new ArrayList<>();
    Random random = new Random(7);
    for (int i = 0; impl.pages.freePages() > 0; i++) {
      int[] s = seq(10_000 * (i + 1), T);
      seqs.add(s);
      Request r = Request.of(NS, s);
      try (Lease l = impl.acquire(paused ? r.session("p" + i) : r)) {
        l.extend();
        l.commit();
      }
      if (paused) {
        Session session = impl.session("p" + i);
        // pauses of random lengths: the pins that give way first lie scattered too
        session.pause(PauseKind.TOOL, Duration.ofMillis(1000 + random.nextInt(60_000)));
        assertThat(session.pinnedBlocks()).as("a tool pause pins the session's path").isOne();
      }
    }
    List<Integer> order = new ArrayList<>(IntStream.range(0, seqs.size()).boxed().toList());
    Collections.shuffle(order, new Random(42));
    for (int i : order) {
      impl.acquire(Request.of(NS, seqs.get(i))).close();
    }
    assertThat(impl.pages.freePages()).isZero();
  }

  @Test
  void moveKeptOutOf_movesOnlyTheKeptPagesInsideTheRange_intoFreeSpaceThatDoesNotTouchIt() {
    KvCacheImpl impl = cache(10, BranchPolicy.capPerSession(64));
    int[] prompt = seq(0, 8);
    int[] gen = seq(1000, 4 * T);
    long[] chain = new long[4];
    try (Lease l = cache.acquire(Request.of(NS, prompt).session("s"))) {
      l.extend();
      l.commit();
      assertThat(slots(l)).containsExactly(0, 1);
      Branches br = l.fork(2);
      // the first branch's run goes on top of the group's window, its sibling's below it
      br.branch(0).extend(gen);
      br.branch(0).commit();
      br.branch(1).extend(seq(2000, 4 * T));
      assertThat(Arrays.copyOfRange(slots(br.branch(1)), 2, 6)).containsExactly(2, 3, 4, 5);
      int[] kept = Arrays.copyOfRange(slots(br.branch(0)), 2, 6);
      assertThat(kept).containsExactly(6, 7, 8, 9);
      for (int s : kept) {
        fill(impl, s, (byte) s);
      }
      int b = ((LeaseImpl) br.branch(0)).tail();
      for (int i = 0; i < 4; i++) {
        chain[i] = ((long) b << 32) | (impl.index.fingerprint(b) & 0xFFFFFFFFL);
        b = impl.index.parent(b);
      }
      br.keep(1).close();
    }
    // kept dead cache at 6..9, free space at 2..5 (it touches the group's run [2, 9], so the keep
    // itself moved nothing)
    for (int s = 2; s < 10; s++) {
      assertThat(impl.pages.refCountOfSlot(s)).as("slot %d", s).isEqualTo(s < 6 ? 0 : 1);
    }
    long movedBefore = cache.stats().tiers().get(0).movedPages();
    impl.lock.lock();
    try {
      // a range of [7, 9]: the free run 2..5 ends two slots below it; the page at 6 is outside
      impl.moveKeptOutOf(7, 9, chain, chain.length);
    } finally {
      impl.lock.unlock();
    }
    assertThat(cache.stats().tiers().get(0).movedPages() - movedBefore).isEqualTo(3);
    for (int s = 0; s < 10; s++) {
      boolean held = s < 5 || s == 6;
      assertThat(impl.pages.refCountOfSlot(s) != 0).as("slot %d held", s).isEqualTo(held);
    }
    // the chain's deepest block (slot 9) went first, into the shortest run's first slot
    int[] expect = {2, 3, 4, 6};
    int[] from = {9, 8, 7, 6};
    for (int i = 0; i < 4; i++) {
      int b = (int) (chain[i] >>> 32);
      assertThat(impl.index.hasCopy(b, 0)).isTrue();
      assertThat(impl.index.slot(b, 0)).isEqualTo(expect[i]);
      assertThat(read(impl, expect[i])).containsOnly((byte) from[i]);
    }
    assertThat(cache.probeTokens(NS, concat(prompt, gen), 0)).isEqualTo(prompt.length + gen.length);
    impl.checkInvariants();
  }

  @Test
  void twoLeasesGrowingOnePageAtATimeInTurn_inAnEmptyTier_interleave() {
    KvCacheImpl impl = cache(64, BranchPolicy.freeNow());
    try (Lease a = cache.acquire(Request.of(NS, seq(0, T)));
        Lease b = cache.acquire(Request.of(NS, seq(5000, T)))) {
      a.extend();
      b.extend();
      for (int i = 1; i < 8; i++) {
        a.extend(seq(100 * i, T));
        b.extend(seq(5000 + 100 * i, T));
      }
      int[] sa = slots(a);
      int[] sb = slots(b);
      // documents what happens: b's first page, with no previous page to follow, takes the slot
      // just after a's, and from then on each lease's previous-page hint finds the next slot taken
      // by the other, so the two interleave page by page. Runs are taken only when the tier must
      // evict (or for branches), so nothing moved; when one closes, it leaves one-page holes.
      assertThat(sa).containsExactly(0, 2, 4, 6, 8, 10, 12, 14);
      assertThat(sb).containsExactly(1, 3, 5, 7, 9, 11, 13, 15);
      assertThat(cache.stats().tiers().get(0).movedPages()).isZero();
    }
    impl.checkInvariants();
  }

  @Test
  void aLongPromptInAFullScatteredTier_takesOneRun_andItsBranchesComeBackWhole() {
    KvCacheImpl impl = cache(128, BranchPolicy.freeNow());
    fillScattered(impl, false);
    int pages = 32;
    try (Lease l = cache.acquire(Request.of(NS, seq(0, pages * T)))) {
      l.extend();
      l.commit();
      assertThat(oneRun(slots(l))).as("prompt slots %s", Arrays.toString(slots(l))).isTrue();
      assertThat(cache.stats().tiers().get(0).movedPages()).isPositive();
      Branches br = l.fork(3);
      for (int i = 0; i < 3; i++) {
        br.branch(i).extend(seq(100_000 * (i + 1), 6 * T));
        if (i > 0) {
          br.branch(i).commit();
        }
      }
      br.keep(0).close();
      assertThat(impl.pages.freePages()).isEqualTo(18);
      assertThat(freeRunRatio(impl)).isGreaterThanOrEqualTo(0.9);
    }
    impl.checkInvariants();
  }

  @Test
  void takeRun_givesUpPausePins_whenTheTierHasNothingElseToEvict() {
    KvCacheImpl impl = cache(32, BranchPolicy.freeNow());
    try (Lease l = cache.acquire(Request.of(NS, seq(0, 8)))) {
      l.extend();
      l.commit();
      fillScattered(impl, true);
      long yieldsBefore = impl.pauseYields();
      Branches br = l.fork(2);
      for (int i = 0; i < 2; i++) {
        br.branch(i).extend(seq(100_000 * (i + 1), 4 * T));
        br.branch(i).commit();
        int[] s = Arrays.copyOfRange(slots(br.branch(i)), 2, 6);
        assertThat(oneRun(s)).as("branch %d's slots %s", i, Arrays.toString(s)).isTrue();
      }
      assertThat(impl.pauseYields() - yieldsBefore).isEqualTo(8);
      br.keep(0).close();
      assertThat(freeRunRatio(impl)).isEqualTo(1.0);
    }
    impl.checkInvariants();
  }

  @Test
  void aBranchRun_movesPausePinnedPaths_butNotASessionsOwnPin() {
    KvCacheImpl impl = cache(64, BranchPolicy.freeNow());
    try (Lease l = cache.acquire(Request.of(NS, seq(0, 8)))) {
      l.extend();
      l.commit();
      fillScattered(impl, true);
      // the upper half's sessions pinned by their owners as well: those pages keep their slots
      int[] pinnedSlot = new int[62];
      for (int i = 31; i < 62; i++) {
        Session s = impl.session("p" + i);
        s.pin(Duration.ofMinutes(10));
        pinnedSlot[i] = impl.index.slot(((SessionImpl) s).pinnedBlock(), 0);
        assertThat(pinnedSlot[i]).isGreaterThanOrEqualTo(33);
      }
      Branches br = l.fork(3);
      for (int i = 0; i < 3; i++) {
        br.branch(i).extend(seq(100_000 * (i + 1), 4 * T));
        br.branch(i).commit();
      }
      for (int i = 31; i < 62; i++) {
        SessionImpl s = (SessionImpl) impl.session("p" + i);
        assertThat(impl.index.slot(s.pinnedBlock(), 0)).isEqualTo(pinnedSlot[i]);
      }
      // the pause pins that gave way lie scattered over the lower half, the rest of it is paused
      // paths: only moving those gives the branches runs
      int[] all = new int[12];
      for (int i = 0; i < 3; i++) {
        int[] s = Arrays.copyOfRange(slots(br.branch(i)), 2, 6);
        assertThat(oneRun(s)).as("branch %d's slots %s", i, Arrays.toString(s)).isTrue();
        System.arraycopy(s, 0, all, 4 * i, 4);
      }
      assertThat(oneRun(all)).as("the group's slots %s", Arrays.toString(all)).isTrue();
      assertThat(cache.stats().tiers().get(0).movedPages()).isPositive();
      br.keep(0).close();
    }
    impl.checkInvariants();
  }
}
