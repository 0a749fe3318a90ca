package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvtier.Branches;
import io.kvtier.DramTier;
import io.kvtier.KvCache;
import io.kvtier.KvCacheBuilder;
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
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Reclaiming discarded speculative branches: the default policy's per-session cap, whole runs of
 * free pages, and what a discard must leave alone (the survivor's blocks, the session's path).
 */
class BranchReclamationTest {
  static final int T = 4;
  static final KvLayout LAYOUT = KvLayout.ofPageBytes(T, 64);
  static final Namespace NS = Namespace.of("m", LAYOUT);

  KvCache cache;

  private KvCacheImpl cache(int pages, BranchPolicy policy) {
    KvCacheBuilder b =
        KvCache.builder()
            .layout(LAYOUT)
            .tier(DramTier.offHeap(64L * pages))
            .eviction(EvictionPolicy.lru())
            .eventBuffer(64);
    if (policy != null) {
      b.branches(policy);
    }
    cache = b.build();
    return (KvCacheImpl) cache;
  }

  @AfterEach
  void close() {
    if (cache != null) {
      cache.close();
    }
  }

  private static int[] seq(int from, int n) {
    return java.util.stream.IntStream.range(from, from + n).toArray();
  }

  private static int[] concat(int[] a, int[] b) {
    int[] c = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, c, a.length, b.length);
    return c;
  }

  /** The slots of a lease's last {@code n} pages, ascending. */
  private static int[] lastSlots(Lease l, int n) {
    long[] table = l.blockTable();
    int[] s = new int[n];
    for (int i = 0; i < n; i++) {
      s[i] = (int) PageHandle.index(table[table.length - n + i]);
    }
    Arrays.sort(s);
    return s;
  }

  private static boolean oneRun(int[] sortedSlots) {
    return sortedSlots[sortedSlots.length - 1] - sortedSlots[0] == sortedSlots.length - 1;
  }

  /** Free slots adjacent to {@code [from, to]}: below it plus above it. */
  private static long freeAround(KvCacheImpl impl, int from, int to) {
    long n = 0;
    for (int s = from - 1; s >= 0 && impl.pages.refCountOfSlot(s) == 0; s--) {
      n++;
    }
    long cap = impl.pages.usedPages() + impl.pages.freePages();
    for (int s = to + 1; s < cap && impl.pages.refCountOfSlot(s) == 0; s++) {
      n++;
    }
    return n;
  }

  /** The length of the free run holding {@code slot}. */
  private static long runAt(KvCacheImpl impl, int slot) {
    assertThat(impl.pages.refCountOfSlot(slot)).as("slot %d is free", slot).isZero();
    return 1 + freeAround(impl, slot, slot);
  }

  @Test
  void theBuildersDefault_capsKeptBranchPagesPerSession() {
    KvCacheImpl impl = cache(16, null);
    assertThat(impl.config.branches()).isEqualTo(BranchPolicy.defaults());
    assertThat(BranchPolicy.defaults().keepAsCache()).isTrue();
    assertThat(BranchPolicy.defaults().maxKeptPagesPerSession())
        .isEqualTo(BranchPolicy.DEFAULT_CAP_PAGES)
        .isPositive()
        .isLessThan(Integer.MAX_VALUE);
  }

  @Test
  void aFreedBranch_joinsTheFreeSpaceNextToIt_asOneRun() {
    KvCacheImpl impl = cache(64, BranchPolicy.freeNow());
    int pages = 8;
    try (Lease l = cache.acquire(Request.of(NS, seq(0, 8)))) {
      l.extend();
      l.commit();
      Branches br = l.fork(2);
      for (int i = 0; i < 2; i++) {
        br.branch(i).extend(seq(1000 * (i + 1), pages * T));
      }
      br.branch(0).commit();
      int[] slots = lastSlots(br.branch(0), pages);
      assertThat(oneRun(slots)).as("branch pages %s", Arrays.toString(slots)).isTrue();
      // the first branch's run tops the group's window, the second's lies below it; the second,
      // closed uncommitted, frees its pages, so that the discarded first branch has free space on
      // either side
      br.branch(1).close();
      long around = freeAround(impl, slots[0], slots[pages - 1]);
      assertThat(around).as("the branch lies next to free space").isPositive();
      long runsBefore = impl.pages.freeRuns();
      br.keep(1).close();
      // the branch's pages and the free space on either side are now one run
      assertThat(runAt(impl, slots[0])).isEqualTo(around + pages);
      assertThat(impl.pages.largestFreeRun()).isGreaterThanOrEqualTo(around + pages);
      assertThat(impl.pages.freeRuns()).isLessThan(runsBefore);
    }
    assertThat(cache.probeTokens(NS, concat(seq(0, 8), seq(1000, pages * T)), 0)).isEqualTo(8);
  }

  @Test
  void theDefaultPolicy_keepsTheCapNearestTheForkAndFreesTheRestAsOneRun() {
    KvCacheImpl impl = cache(4 * BranchPolicy.DEFAULT_CAP_PAGES + 64, null);
    int cap = BranchPolicy.DEFAULT_CAP_PAGES;
    int pages = cap + 16;
    int[] prompt = seq(0, 8);
    try (Lease l = cache.acquire(Request.of(NS, prompt).session("s"))) {
      l.extend();
      l.commit();
      Branches br = l.fork(2);
      for (int i = 0; i < 2; i++) {
        br.branch(i).extend(seq(100_000 * (i + 1), pages * T));
        br.branch(i).commit();
      }
      int[] slots = lastSlots(br.branch(1), pages);
      assertThat(oneRun(slots)).isTrue();
      long freeAbove = freeAround(impl, slots[pages - 1], slots[pages - 1]);
      br.keep(0).close();
      // the deepest pages beyond the cap were the branch's last, highest slots: freed, they
      // extend the free run that followed the branch
      for (int s : Arrays.copyOfRange(slots, 0, cap)) {
        assertThat(impl.pages.refCountOfSlot(s)).isPositive();
      }
      assertThat(runAt(impl, slots[cap])).isEqualTo(freeAbove + (pages - cap));
    }
    int held =
        cache.probeTokens(NS, concat(prompt, seq(200_000, pages * T)), 0) / T - prompt.length / T;
    assertThat(held).isEqualTo(cap);

    // the session's allowance is used up: a second discarded branch keeps nothing
    try (Lease l = cache.acquire(Request.of(NS, prompt).session("s"))) {
      Branches br = l.fork(2);
      br.branch(1).extend(seq(300_000, 4 * T));
      br.branch(1).commit();
      br.keep(0).close();
    }
    assertThat(cache.probeTokens(NS, concat(prompt, seq(300_000, 4 * T)), 0)).isEqualTo(8);
    assertThat(cache.probeTokens(NS, concat(prompt, seq(200_000, pages * T)), 0) / T - 2)
        .isEqualTo(cap);
  }

  /**
   * Fills every page but the prompt's with one-page sequences, each cached by the index alone,
   * writes {@code i} into sequence {@code i}'s page, and touches them in a shuffled order so that
   * the eviction policy's victims lie scattered over the tier.
   */
  private static int[][] fillScattered(KvCacheImpl impl, int count) {
    int[][] seqs = new int[count][];
    for (int i = 0; i < count; i++) {
      seqs[i] = seq(10_000 * (i + 1), T);
      try (Lease l = impl.acquire(Request.of(NS, seqs[i]))) {
        l.extend();
        l.commit();
        try (Arena arena = Arena.ofConfined()) {
          MemorySegment page = arena.allocate(64);
          page.fill((byte) i);
          impl.store.write(PageHandle.index(l.blockTable()[0]), page);
        }
      }
    }
    java.util.List<Integer> order = new java.util.ArrayList<>();
    for (int i = 0; i < count; i++) {
      order.add(i);
    }
    java.util.Collections.shuffle(order, new java.util.Random(42));
    for (int i : order) {
      impl.acquire(Request.of(NS, seqs[i])).close();
    }
    assertThat(impl.pages.freePages()).isZero();
    return seqs;
  }

  /** Largest free run / free pages of the tier. */
  private static double freeRunRatio(KvCacheImpl impl) {
    return (double) impl.pages.largestFreeRun() / impl.pages.freePages();
  }

  @Test
  void inAFullTier_freedBranchesComeBackAsOneRun_thoughTheirVictimsWereScattered() {
    KvCacheImpl impl = cache(64, BranchPolicy.freeNow());
    int pages = 6;
    try (Lease l = cache.acquire(Request.of(NS, seq(0, 8)))) {
      l.extend();
      l.commit();
      fillScattered(impl, 62);
      Branches br = l.fork(3);
      for (int i = 0; i < 3; i++) {
        br.branch(i).extend(seq(100_000 * (i + 1), pages * T));
        br.branch(i).commit();
        int[] slots = lastSlots(br.branch(i), pages);
        assertThat(oneRun(slots)).as("branch %d's pages %s", i, Arrays.toString(slots)).isTrue();
      }
      br.keep(0).close();
      assertThat(impl.pages.freePages()).isEqualTo(2L * pages);
      assertThat(freeRunRatio(impl)).isEqualTo(1.0);
      impl.checkInvariants();
    }
  }

  @Test
  void inAFullTier_theDefaultRuleKeepsTheCapAtOneEndAndFreesTheRestAsOneRun() {
    KvCacheImpl impl = cache(64, BranchPolicy.capPerSession(3));
    int pages = 6;
    int[] prompt = seq(0, 8);
    try (Lease l = cache.acquire(Request.of(NS, prompt).session("s"))) {
      l.extend();
      l.commit();
      fillScattered(impl, 62);
      Branches br = l.fork(3);
      for (int i = 0; i < 3; i++) {
        br.branch(i).extend(seq(100_000 * (i + 1), pages * T));
        if (i > 0) {
          br.branch(i).commit();
        }
      }
      br.keep(0).close();
      // 3 pages kept, the survivor's 6 uncommitted pages and the discarded 9 freed
      assertThat(impl.pages.freePages()).isEqualTo(3L * pages - 3);
      assertThat(freeRunRatio(impl)).isGreaterThanOrEqualTo(0.9);
      impl.checkInvariants();
    }
    int held = 0;
    for (int i = 1; i < 3; i++) {
      held += cache.probeTokens(NS, concat(prompt, seq(100_000 * (i + 1), pages * T)), 0) / T - 2;
    }
    assertThat(held).isEqualTo(3);
  }

  @Test
  void pagesMovedOutOfABranchRun_keepTheirBytesAndStayCached() {
    KvCacheImpl impl = cache(64, BranchPolicy.freeNow());
    int pages = 6;
    int[][] seqs;
    try (Lease l = cache.acquire(Request.of(NS, seq(0, 8)))) {
      l.extend();
      l.commit();
      seqs = fillScattered(impl, 62);
      Branches br = l.fork(3);
      for (int i = 0; i < 3; i++) {
        br.branch(i).extend(seq(100_000 * (i + 1), pages * T));
      }
      br.keep(0).close();
    }
    impl.checkInvariants();
    int cached = 0;
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment page = arena.allocate(64);
      for (int i = 0; i < seqs.length; i++) {
        if (cache.probeTokens(NS, seqs[i], 0) != T) {
          continue;
        }
        cached++;
        try (Lease l = cache.acquire(Request.of(NS, seqs[i]))) {
          impl.store.read(PageHandle.index(l.blockTable()[0]), page);
        }
        for (long x = 0; x < 64; x++) {
          assertThat(page.get(java.lang.foreign.ValueLayout.JAVA_BYTE, x))
              .as("sequence %d's page", i)
              .isEqualTo((byte) i);
        }
      }
    }
    // one page evicted for each branch page, wherever the policy chose, and no more
    assertThat(cached).isEqualTo(62 - 3 * pages);
  }

  @Test
  void blocksTheSurvivorShares_areNeitherDeadNorChargedToTheCap() {
    KvCacheImpl impl = cache(64, BranchPolicy.capPerSession(3));
    int[] prompt = seq(0, 8);
    try (Lease l = cache.acquire(Request.of(NS, prompt).session("s"))) {
      l.extend();
      l.commit();
      Branches same = l.fork(2);
      for (int i = 0; i < 2; i++) {
        same.branch(i).extend(seq(500, 2 * T)); // both branches generate the same two blocks
        same.branch(i).commit();
      }
      LeaseImpl survivor = (LeaseImpl) same.keep(0);
      int tail = survivor.tail();
      assertThat(impl.index.dead(tail)).isFalse();
      assertThat(impl.index.dead(impl.index.parent(tail))).isFalse();
      survivor.close();

      // the allowance is whole: a later discard keeps 3 blocks
      Branches other = l.fork(2);
      other.branch(1).extend(seq(900, 3 * T));
      other.branch(1).commit();
      other.keep(0).close();
    }
    assertThat(cache.probeTokens(NS, concat(prompt, seq(900, 3 * T)), 0)).isEqualTo(20);
    assertThat(cache.probeTokens(NS, concat(prompt, seq(500, 2 * T)), 0)).isEqualTo(16);
  }

  @Test
  void keep_movesTheSessionBackFromADiscardedBranch() {
    KvCacheImpl impl = cache(64, null);
    Session s = cache.session("s");
    try (Lease l = cache.acquire(Request.of(NS, seq(0, 8)).session("s"))) {
      l.extend();
      l.commit();
      int forkPoint = ((LeaseImpl) l).tail();
      Branches br = l.fork(3);
      for (int i = 1; i < 3; i++) {
        br.branch(i).extend(seq(100 * i, 2 * T));
        br.branch(i).commit(); // the session follows the last commit: a branch
      }
      assertThat(impl.existingSession("s").tail()).isNotEqualTo(forkPoint);
      br.keep(0).close();
      assertThat(impl.existingSession("s").tail()).isEqualTo(forkPoint);
      s.pause(PauseKind.TOOL, Duration.ofSeconds(30));
      assertThat(impl.existingSession("s").pinnedBlock()).isEqualTo(forkPoint);
    }
  }

  @Test
  void discardAll_movesTheSessionBackToTheForkPoint() {
    KvCacheImpl impl = cache(64, BranchPolicy.freeNow());
    cache.session("s");
    try (Lease l = cache.acquire(Request.of(NS, seq(0, 8)).session("s"))) {
      l.extend();
      l.commit();
      int forkPoint = ((LeaseImpl) l).tail();
      Branches br = l.fork(2);
      br.branch(1).extend(seq(100, 2 * T));
      br.branch(1).commit();
      br.discardAll();
      assertThat(impl.existingSession("s").tail()).isEqualTo(forkPoint);
    }
    assertThat(cache.probeTokens(NS, concat(seq(0, 8), seq(100, 2 * T)), 0)).isEqualTo(8);
  }

  @Test
  void leasesWithoutASession_shareOneAllowance() {
    cache(64, BranchPolicy.capPerSession(3));
    int[] prompt = seq(0, 8);
    int held = 0;
    try (Lease l = cache.acquire(Request.of(NS, prompt))) {
      l.extend();
      l.commit();
      for (int f = 0; f < 3; f++) {
        Branches br = l.fork(2);
        br.branch(1).extend(seq(1000 * (f + 1), 3 * T));
        br.branch(1).commit();
        br.keep(0).close();
      }
      for (int f = 0; f < 3; f++) {
        held += cache.probeTokens(NS, concat(prompt, seq(1000 * (f + 1), 3 * T)), 0) / T - 2;
      }
    }
    assertThat(held).isEqualTo(3);
  }
}
