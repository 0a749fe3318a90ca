package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.DramTier;
import io.kvtier.KvCache;
import io.kvtier.KvLayout;
import io.kvtier.KvTierException;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.OutOfPagesException;
import io.kvtier.PageHandle;
import io.kvtier.Request;
import io.kvtier.spi.AdmissionPolicy;
import io.kvtier.spi.TierSpec;
import io.kvtier.spi.WritePolicy;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.RandomDistribution;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;

/**
 * Random operation sequences on 2- and 3-tier chains (DRAM over a verifying "NVMe" test store
 * and/or a second DRAM tier), every write and admission policy, with onboarding, write-through
 * settling at random points, I/O errors injected into the NVMe tier and corruption of its copies.
 *
 * <p>Every page a request computes holds a pattern that is a function of the prefix up to each
 * token, so a page served for the wrong block, a copy exposed before it completed, or a corrupted
 * lower-tier copy that slipped through verification shows up as a wrong int. After every step: the
 * engine's own invariant check; every open lease's pages hold their patterns; a lease with blocks
 * still in lower tiers refuses its block table; a pinned block (and the part of its path that is in
 * the top tier with it) keeps its top-tier copy in the same page; and no tier lost more copies than
 * it evicted or found bad (so a fault in one tier never costs the others anything).
 */
class TierChainPropertiesTest {
  static final int T = 4;
  static final int PAGE = 64;
  static final KvLayout LAYOUT = KvLayout.ofPageBytes(T, PAGE);
  static final Namespace NS = Namespace.of("m", LAYOUT);
  static final long[] SALTS = {0L, 7L};
  static final String[] SESSIONS = {"s0", "s1"};
  static final int MAX_OPEN = 4;

  /** The chain, top first. */
  enum Shape {
    DRAM_NVME,
    DRAM_DRAM,
    DRAM_DRAM_NVME,
    DRAM_NVME_DRAM
  }

  enum Kind {
    ACQUIRE,
    RUN,
    ONBOARD,
    ONBOARD_GATED,
    EXTEND,
    COMMIT,
    CLOSE,
    SETTLE,
    PIN,
    UNPIN,
    CORRUPT,
    FAIL_WRITES,
    FAIL_READS,
    PREFETCH,
    HOLD
  }

  record Op(Kind kind, int a, int b, int c) {}

  @Provide
  Arbitrary<List<Op>> ops() {
    Arbitrary<Kind> kind =
        Arbitraries.frequency(
            Tuple.of(10, Kind.ACQUIRE),
            Tuple.of(14, Kind.RUN),
            Tuple.of(5, Kind.ONBOARD),
            Tuple.of(4, Kind.ONBOARD_GATED),
            Tuple.of(8, Kind.EXTEND),
            Tuple.of(8, Kind.COMMIT),
            Tuple.of(9, Kind.CLOSE),
            Tuple.of(4, Kind.SETTLE),
            Tuple.of(2, Kind.PIN),
            Tuple.of(2, Kind.UNPIN),
            Tuple.of(3, Kind.CORRUPT),
            Tuple.of(1, Kind.FAIL_WRITES),
            Tuple.of(1, Kind.FAIL_READS),
            Tuple.of(4, Kind.PREFETCH),
            Tuple.of(3, Kind.HOLD));
    Arbitrary<Integer> n =
        Arbitraries.integers().between(0, 9999).withDistribution(RandomDistribution.uniform());
    return Combinators.combine(kind, n, n, n)
        .as(Op::new)
        .list()
        .ofMinSize(10)
        .ofMaxSize(70)
        .withSizeDistribution(RandomDistribution.uniform());
  }

  @Provide
  Arbitrary<WritePolicy> writes() {
    return Arbitraries.of(
        WritePolicy.writeBack(), WritePolicy.writeThrough(), WritePolicy.writeThroughAfterHits(2));
  }

  @Provide
  Arbitrary<AdmissionPolicy> admissions() {
    return Arbitraries.of(AdmissionPolicy.always(), AdmissionPolicy.afterHits(1));
  }

  @Provide
  Arbitrary<String> evictions() {
    return Arbitraries.of("agent-aware", "agent-aware-tiered", "lru");
  }

  @Property(tries = 80, edgeCases = EdgeCasesMode.NONE)
  void randomOperations_onATierChain_keepEveryInvariant(
      @ForAll Shape shape,
      @ForAll @IntRange(min = 6, max = 14) int topPages,
      @ForAll @IntRange(min = 4, max = 24) int lowerPages,
      @ForAll("writes") WritePolicy writes,
      @ForAll("admissions") AdmissionPolicy admission,
      @ForAll("evictions") String eviction,
      @ForAll("ops") List<Op> ops)
      throws Exception {
    try (Harness h = new Harness(shape, topPages, lowerPages, writes, admission, eviction)) {
      h.check();
      for (Op op : ops) {
        Snapshot before = h.snapshot();
        h.apply(op);
        h.check();
        h.checkAgainst(before);
      }
      h.drainAndCheckEndState();
    }
  }

  // ---------------------------------------------------------------- the model

  record PrefixKey(long salt, List<Integer> tokens) {
    static PrefixKey of(long salt, int[] seq, int len) {
      List<Integer> t = new ArrayList<>(len);
      for (int i = 0; i < len; i++) {
        t.add(seq[i]);
      }
      return new PrefixKey(salt, List.copyOf(t));
    }
  }

  /**
   * The "KV" of position {@code p}: a hash of the salt and every token up to {@code p}, so equal
   * prefixes compute equal pages and any other page reads differently.
   */
  static int[] patterns(long salt, int[] seq, int len) {
    int[] out = new int[len];
    int h = (int) (salt * 0x9E3779B97F4A7C15L) ^ 0x2545F491;
    for (int i = 0; i < len; i++) {
      h = Integer.rotateLeft((h ^ seq[i]) * 0x01000193, 13) + i;
      out[i] = h;
    }
    return out;
  }

  static final class Tracked {
    final Lease lease;
    final long salt;
    int[] seq;
    int tokenCount;
    int committed;
    boolean onboarded;

    Tracked(Lease lease, long salt, int[] seq) {
      this.lease = lease;
      this.salt = salt;
      this.seq = seq;
      this.tokenCount = lease.cachedTokens();
      this.committed = lease.cachedTokens();
    }
  }

  /** What a step may not undo: pinned top-tier copies, and copies per tier with the counters. */
  record Snapshot(
      List<long[]> pinnedTopCopies, List<long[]> copies, long[] evictions, long[] errors) {}

  static final class Harness implements AutoCloseable {
    final ManualTicker ticker = new ManualTicker();
    final TestStore.Disk disk = new TestStore.Disk();
    final TestStore[] nvmeOut = new TestStore[1];
    final int nvmeTier;
    final int topPages;
    final KvCache cache;
    final KvCacheImpl impl;
    final List<Tracked> open = new ArrayList<>();
    final Set<PrefixKey> published = new HashSet<>();
    final Map<String, Boolean> sessionsUsed = new HashMap<>();
    final int[][] bases = new int[3][];
    boolean corrupted;

    Harness(
        Shape shape,
        int topPages,
        int lowerPages,
        WritePolicy writes,
        AdmissionPolicy admission,
        String eviction) {
      this.topPages = topPages;
      long lower = (long) PAGE * lowerPages;
      TierSpec nvme = TestStore.spec("nvme", lower, disk, nvmeOut);
      List<TierSpec> specs = new ArrayList<>();
      specs.add(DramTier.offHeap("hbm", (long) PAGE * topPages));
      switch (shape) {
        case DRAM_NVME -> specs.add(nvme);
        case DRAM_DRAM -> specs.add(DramTier.offHeap("dram", lower));
        case DRAM_DRAM_NVME -> {
          specs.add(DramTier.offHeap("dram", lower));
          specs.add(nvme);
        }
        case DRAM_NVME_DRAM -> {
          specs.add(nvme);
          specs.add(DramTier.offHeap("dram", lower / 2 + PAGE));
        }
      }
      this.nvmeTier = specs.indexOf(nvme);
      var builder =
          KvCache.builder()
              .layout(LAYOUT)
              .writes(writes)
              .admission(admission)
              .eviction(io.kvtier.spi.EvictionPolicy.named(eviction))
              .ticker(ticker);
      for (TierSpec s : specs) {
        builder.tier(s);
      }
      this.cache = builder.build();
      this.impl = (KvCacheImpl) cache;
      for (int k = 0; k < bases.length; k++) {
        bases[k] = new int[16];
        for (int i = 0; i < 16; i++) {
          bases[k][i] = 1000 * (k + 1) + i;
        }
      }
    }

    TestStore nvme() {
      return nvmeTier < 0 ? null : nvmeOut[0];
    }

    @Override
    public void close() {
      TestStore s = nvme();
      if (s != null && s.readGate != null) {
        s.readGate.countDown();
      }
      cache.close();
      cache.close();
    }

    int[] tokens(int a, int b) {
      int[] base = bases[a % bases.length];
      int cut = (a / 3) % (base.length + 1);
      int suffix = b % 9;
      int[] t = Arrays.copyOf(base, cut + suffix);
      for (int i = 0; i < suffix; i++) {
        t[cut + i] = (b / 9 + i * 7) % 4;
      }
      return t;
    }

    void apply(Op op) throws Exception {
      int a = op.a();
      int b = op.b();
      int c = op.c();
      switch (op.kind()) {
        case ACQUIRE -> {
          if (open.size() >= MAX_OPEN) {
            closeLease(a);
          } else {
            acquire(a, b, c);
          }
        }
        case RUN -> {
          if (open.size() >= MAX_OPEN) {
            closeLease(a);
          }
          Tracked t = acquire(a, b, c);
          if (onboard(t, false) && extend(t, c % 4 == 0 ? more(b, c) : null)) {
            t.lease.commit();
            afterCommit(t);
          }
          if (c % 3 != 0 && open.contains(t)) {
            closeTracked(t);
          }
        }
        case PREFETCH -> {
          // A queued request's prefix comes up; at most what is cached, and the checks after
          // every operation hold.
          long salt = SALTS[c % SALTS.length];
          int[] tok = tokens(a, b);
          int cached = cache.probe(NS, tok, salt).matchedBlocks();
          assertThat(cache.prefetch(Request.of(NS, tok).salt(salt))).isBetween(0, cached);
        }
        case HOLD -> {
          // The engine's queue changes: up to three waiting requests (none releases the hold).
          // The hold never exceeds what they have cached, and the checks after every operation
          // (pins among them) hold.
          List<Request> waiting = new ArrayList<>();
          int cached = 0;
          int[] from = {a, b, c};
          for (int k = 0; k < c % 4; k++) {
            long salt = SALTS[(from[k] / 7) % SALTS.length];
            int[] tok = tokens(from[k], from[(k + 1) % 3]);
            cached += cache.probe(NS, tok, salt).matchedBlocks();
            waiting.add(Request.of(NS, tok).salt(salt));
          }
          assertThat(cache.holdQueue(waiting)).isBetween(0, cached);
        }
        case ONBOARD, ONBOARD_GATED -> {
          Tracked t = pick(a);
          if (t != null) {
            onboard(t, op.kind() == Kind.ONBOARD_GATED);
          }
        }
        case EXTEND -> {
          Tracked t = pick(a);
          if (t != null && onboard(t, false)) {
            extend(t, b % 2 == 0 ? null : more(b, c));
          }
        }
        case COMMIT -> {
          Tracked t = pick(a);
          if (t != null) {
            int n = b % 2 == 0 ? t.tokenCount : b % (t.tokenCount + 1);
            t.lease.commit(n);
            afterCommit(t);
          }
        }
        case CLOSE -> closeLease(a);
        case SETTLE -> settle();
        case PIN -> {
          String id = SESSIONS[a % SESSIONS.length];
          cache.session(id).pin(Duration.ofMinutes(10));
          sessionsUsed.put(id, true);
        }
        case UNPIN -> cache.session(SESSIONS[a % SESSIONS.length]).unpin();
        case CORRUPT -> corrupt(a);
        case FAIL_WRITES -> {
          if (nvme() != null) {
            nvme().failWrites = true;
          }
        }
        case FAIL_READS -> {
          if (nvme() != null) {
            nvme().failReads = true;
          }
        }
      }
    }

    int[] more(int b, int c) {
      int[] m = new int[b % (2 * T + 1)];
      for (int i = 0; i < m.length; i++) {
        m[i] = (c / 7 + i * 3) % 5;
      }
      return m;
    }

    Tracked pick(int a) {
      return open.isEmpty() ? null : open.get(a % open.size());
    }

    void closeLease(int a) {
      Tracked t = pick(a);
      if (t != null) {
        closeTracked(t);
      }
    }

    void closeTracked(Tracked t) {
      t.lease.close();
      t.lease.close();
      assertThat(t.lease.isOpen()).isFalse();
      open.remove(t);
    }

    Tracked acquire(int a, int b, int c) {
      long salt = SALTS[c % SALTS.length];
      int[] tok = tokens(a, b);
      Request r = Request.of(NS, tok).salt(salt);
      if ((c / 2) % 3 != 2) {
        r = r.session(SESSIONS[(c / 2) % 3 % SESSIONS.length]);
      }
      Lease l = cache.acquire(r);
      int cached = l.cachedTokens();
      assertThat(cached % T).isZero();
      if (cached > 0) {
        assertThat(published)
            .as("a match of %d tokens must be a prefix that was published", cached)
            .contains(PrefixKey.of(salt, tok, cached));
      }
      int[] perTier = l.cachedBlocksPerTier();
      assertThat(Arrays.stream(perTier).sum()).isEqualTo(cached / T);
      Tracked t = new Tracked(l, salt, tok);
      open.add(t);
      t.onboarded = pendingBlocks(t).isEmpty();
      if (!t.onboarded) {
        assertThatThrownBy(l::blockTable)
            .as("blocks still in lower tiers are not in the block table")
            .isInstanceOf(IllegalStateException.class)
            .hasMessageContaining("onboard()");
      }
      return t;
    }

    /** The lease's matched blocks that have no top-tier copy now, with their source tier. */
    List<int[]> pendingBlocks(Tracked t) {
      impl.lock.lock();
      try {
        int root = impl.index.existingRoot(NS, t.salt);
        int n = t.lease.cachedTokens() / T;
        List<int[]> pending = new ArrayList<>();
        if (n == 0) {
          return pending;
        }
        int[] out = new int[n];
        assertThat(impl.index.match(root, t.seq, n * T, out))
            .as("a lease's cached prefix stays in the index")
            .isEqualTo(n);
        for (int i = 0; i < n; i++) {
          if (!impl.index.hasCopy(out[i], 0)) {
            int src = -1;
            for (int k = 1; k < impl.tiers.length; k++) {
              if (impl.index.hasCopy(out[i], k) && impl.tiers[k].usable()) {
                src = k;
                break;
              }
            }
            pending.add(new int[] {out[i], src});
          }
        }
        return pending;
      } finally {
        impl.lock.unlock();
      }
    }

    /**
     * Onboards the lease's lower-tier blocks; with {@code gated}, NVMe reads on transfer threads
     * wait until the block table was seen to refuse. Returns false (and closes the lease) when
     * onboarding failed for an allowed reason.
     */
    boolean onboard(Tracked t, boolean gated) throws Exception {
      if (t.onboarded) {
        return true;
      }
      TestStore store = nvme();
      CountDownLatch gate = null;
      boolean fromGated = false;
      if (gated && store != null) {
        for (int[] p : pendingBlocks(t)) {
          fromGated |= p[1] == nvmeTier;
        }
        gate = new CountDownLatch(1);
        store.readGate = gate;
      }
      CompletableFuture<Void> f;
      try {
        f = t.lease.onboard();
        if (fromGated) {
          assertThatThrownBy(t.lease::blockTable)
              .as("a block whose copy has not completed is not exposed")
              .isInstanceOf(IllegalStateException.class);
          if (!store.failReads) {
            // It may fail early (no page to onboard into), but it cannot succeed before the gate.
            assertThat(f.isDone() && !f.isCompletedExceptionally())
                .as("the copy waits at the gate")
                .isFalse();
          }
        }
      } finally {
        if (gate != null) {
          store.readGate = null;
          gate.countDown();
        }
      }
      try {
        f.get(10, TimeUnit.SECONDS);
      } catch (TimeoutException e) {
        throw new AssertionError("onboarding did not finish", e);
      } catch (ExecutionException e) {
        Throwable cause = e.getCause();
        assertThat(cause)
            .as("onboarding fails only for a lower-tier fault or a full top tier")
            .isInstanceOf(KvTierException.class);
        assertThatThrownBy(t.lease::blockTable).isInstanceOf(IllegalStateException.class);
        closeTracked(t);
        return false;
      }
      long[] table = t.lease.blockTable(); // must not throw once onboard() completed
      assertThat(table).doesNotContain(PageHandle.NONE);
      t.onboarded = true;
      verifyPages(t);
      return true;
    }

    boolean extend(Tracked t, int[] more) {
      int before = t.lease.tokenCount();
      try {
        if (more == null) {
          t.lease.extend();
        } else {
          t.lease.extend(more);
        }
      } catch (OutOfPagesException e) {
        assertThat(t.lease.tokenCount()).isEqualTo(before);
        return false;
      }
      if (more != null) {
        int[] s = Arrays.copyOf(t.seq, t.seq.length + more.length);
        System.arraycopy(more, 0, s, t.seq.length, more.length);
        t.seq = s;
      }
      long[] table = t.lease.blockTable();
      int[] pat = patterns(t.salt, t.seq, t.seq.length);
      for (int p = t.tokenCount; p < t.seq.length; p++) {
        page(table[p / T]).set(ValueLayout.JAVA_INT_UNALIGNED, 4L * (p % T), pat[p]);
      }
      t.tokenCount = t.seq.length;
      return true;
    }

    void afterCommit(Tracked t) {
      int committed = t.lease.committedTokens();
      assertThat(committed).isGreaterThanOrEqualTo(t.committed);
      t.committed = committed;
      for (int len = T; len <= committed; len += T) {
        published.add(PrefixKey.of(t.salt, t.seq, len));
      }
    }

    MemorySegment page(long handle) {
      return impl.store.segment(PageHandle.index(handle)).orElseThrow();
    }

    void verifyPages(Tracked t) {
      long[] table = t.lease.blockTable();
      assertThat(table.length).isEqualTo(LAYOUT.pagesFor(t.tokenCount));
      int[] pat = patterns(t.salt, t.seq, t.tokenCount);
      for (int p = 0; p < t.tokenCount; p++) {
        int got = page(table[p / T]).get(ValueLayout.JAVA_INT_UNALIGNED, 4L * (p % T));
        if (got != pat[p]) {
          throw new AssertionError(
              "token "
                  + p
                  + " of a lease ("
                  + t.lease.cachedTokens()
                  + " cached) reads "
                  + got
                  + " from its page, expected "
                  + pat[p]);
        }
      }
    }

    void corrupt(int a) {
      TestStore store = nvme();
      if (store == null) {
        return;
      }
      impl.lock.lock();
      try {
        List<Integer> candidates = new ArrayList<>();
        for (int b = 0; b < impl.index.capacity(); b++) {
          if (impl.index.live(b)
              && impl.index.hasCopy(b, nvmeTier)
              && !impl.index.busy(b, nvmeTier)) {
            candidates.add(b);
          }
        }
        if (!candidates.isEmpty()) {
          int b = candidates.get(a % candidates.size());
          store.corrupt(impl.index.slot(b, nvmeTier));
          corrupted = true;
        }
      } finally {
        impl.lock.unlock();
      }
    }

    boolean transfersInFlight() {
      impl.lock.lock();
      try {
        for (Tier tier : impl.tiers) {
          for (int s = 0; s < tier.store.capacityPages(); s++) {
            if (tier.inFlightRefs(s) != 0) {
              return true;
            }
          }
        }
        return false;
      } finally {
        impl.lock.unlock();
      }
    }

    String inFlightSlots() {
      impl.lock.lock();
      try {
        StringBuilder sb = new StringBuilder();
        for (Tier tier : impl.tiers) {
          for (int s = 0; s < tier.store.capacityPages(); s++) {
            if (tier.inFlightRefs(s) != 0) {
              sb.append(tier.name).append('[').append(s).append("]=").append(tier.inFlightRefs(s));
              sb.append(' ');
            }
          }
        }
        return sb.toString();
      } finally {
        impl.lock.unlock();
      }
    }

    void settle() throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (transfersInFlight()) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError("transfers did not settle: " + inFlightSlots());
        }
        Thread.sleep(1);
      }
    }

    Snapshot snapshot() {
      impl.lock.lock();
      try {
        PrefixIndex ix = impl.index;
        List<long[]> pinned = new ArrayList<>();
        List<long[]> copies = new ArrayList<>();
        for (int b = 0; b < ix.capacity(); b++) {
          if (!ix.live(b)) {
            continue;
          }
          for (int t = 0; t < impl.tiers.length; t++) {
            if (ix.hasCopy(b, t)) {
              copies.add(new long[] {b, ix.fingerprint(b), t});
            }
          }
          if (ix.pins(b) > 0 && ix.hasCopy(b, 0)) {
            // the pinned block and the part of its path that sits in the top tier with it
            int x = b;
            while (!PrefixIndex.isRoot(x) && ix.hasCopy(x, 0)) {
              pinned.add(new long[] {x, ix.fingerprint(x), ix.slot(x, 0), b, ix.fingerprint(b)});
              x = ix.parent(x);
            }
          }
        }
        long[] ev = new long[impl.tiers.length];
        long[] er = new long[impl.tiers.length];
        for (Tier t : impl.tiers) {
          ev[t.ordinal] = t.evictions;
          er[t.ordinal] = t.errors;
        }
        return new Snapshot(pinned, copies, ev, er);
      } finally {
        impl.lock.unlock();
      }
    }

    void checkAgainst(Snapshot before) {
      impl.lock.lock();
      try {
        PrefixIndex ix = impl.index;
        for (long[] p : before.pinnedTopCopies()) {
          int pinnedBlock = (int) p[3];
          if (!ix.sameBlock(pinnedBlock, p[4]) || ix.pins(pinnedBlock) == 0) {
            continue; // unpinned during the step
          }
          int b = (int) p[0];
          assertThat(ix.sameBlock(b, p[1]) && ix.hasCopy(b, 0) && ix.slot(b, 0) == (int) p[2])
              .as("block %d on the path of pinned block %d keeps its top-tier page", b, pinnedBlock)
              .isTrue();
        }
        long[] lost = new long[impl.tiers.length];
        for (long[] c : before.copies()) {
          int b = (int) c[0];
          int t = (int) c[2];
          if (!ix.sameBlock(b, c[1]) || !ix.hasCopy(b, t)) {
            lost[t]++;
          }
        }
        for (Tier t : impl.tiers) {
          long allowed =
              (t.evictions - before.evictions()[t.ordinal])
                  + (t.errors - before.errors()[t.ordinal]);
          assertThat(lost[t.ordinal])
              .as("copies tier '%s' lost beyond what it evicted or found bad", t.name)
              .isLessThanOrEqualTo(allowed);
        }
      } finally {
        impl.lock.unlock();
      }
    }

    void check() {
      impl.checkInvariants();
      assertThat(cache.stats().activeLeases()).isEqualTo(open.size());
      for (Tracked t : open) {
        assertThat(t.lease.isOpen()).isTrue();
        assertThat(t.lease.tokenCount()).isEqualTo(t.tokenCount);
        assertThat(t.lease.committedTokens()).isEqualTo(t.committed);
        if (t.onboarded) {
          verifyPages(t);
        } else {
          try {
            t.lease.blockTable();
            // it may only work if everything it matched already arrived in the top tier
            assertThat(pendingBlocks(t)).isEmpty();
          } catch (IllegalStateException expected) {
            // still in lower tiers
          }
        }
      }
    }

    void drainAndCheckEndState() throws Exception {
      for (Tracked t : new ArrayList<>(open)) {
        closeTracked(t);
      }
      for (String id : SESSIONS) {
        cache.session(id).end();
      }
      settle();
      impl.checkInvariants();
      impl.lock.lock();
      try {
        for (Tier t : impl.tiers) {
          long copies = 0;
          for (int b = 0; b < impl.index.capacity(); b++) {
            if (impl.index.live(b) && impl.index.hasCopy(b, t.ordinal)) {
              copies++;
            }
          }
          assertThat(t.pages.usedPages())
              .as("tier '%s': with nothing open or in flight, the index holds every page", t.name)
              .isEqualTo(copies);
        }
      } finally {
        impl.lock.unlock();
      }
      if (corrupted) {
        // Known gap: when the last copy of an interior block fails verification, the engine can
        // neither demote it nor drop it (its descendants need a parent in the index), so it and
        // the top-tier ancestors above it may stay for good. Until the index can hold a block
        // whose copy was lost, only check the rest of the end state.
        return;
      }
      // nothing is pinned: a sequence as large as the top tier fits, whatever the lower tiers did
      int[] all = new int[topPages * T];
      Arrays.setAll(all, i -> -1 - i);
      try (Lease l = cache.acquire(Request.of(NS, all))) {
        l.extend();
        assertThat(l.blockCount()).isEqualTo(topPages);
      }
      settle();
      impl.checkInvariants();
    }
  }
}
