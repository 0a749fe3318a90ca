package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvtier.Branches;
import io.kvtier.DramTier;
import io.kvtier.KvCache;
import io.kvtier.KvCacheBuilder;
import io.kvtier.KvLayout;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.NextStep;
import io.kvtier.OutOfPagesException;
import io.kvtier.Request;
import io.kvtier.Session;
import io.kvtier.spi.EvictionPolicy;
import io.kvtier.spi.PrefetchPolicy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
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
 * Random operation sequences with agent hints and quotas, checked after every step: the engine's
 * invariants (which recount every quota charge and warm pin from scratch), no tenant ever holds
 * more top-tier pages than its quota, a session over its quota (after its quota was lowered) never
 * grows, and, in the second property, another tenant's blocks are never evicted by a tenant that is
 * held to its quota.
 */
class AgentHintsPropertiesTest {

  enum Kind {
    ACQUIRE,
    RUN,
    EXTEND,
    EXTEND_TOKENS,
    COMMIT,
    ONBOARD,
    FORK,
    KEEP,
    SESSION_QUOTA,
    END,
    PIN,
    EXPECT,
    ADVANCE,
    CLOSE
  }

  record Op(Kind kind, int a, int b, int c) {}

  static final long QUOTA_A = 7L;
  static final long QUOTA_B = 9L;
  static final long[] SALTS = {0L, QUOTA_A, QUOTA_B};
  static final String[] SESSIONS = {"s0", "s1", "s2"};
  static final String[] AGENTS = {"explore", "review"};
  static final int MAX_OPEN = 10;

  @Provide
  Arbitrary<List<Op>> ops() {
    Arbitrary<Kind> kind =
        Arbitraries.frequency(
            Tuple.of(10, Kind.ACQUIRE),
            Tuple.of(10, Kind.RUN),
            Tuple.of(8, Kind.EXTEND),
            Tuple.of(6, Kind.EXTEND_TOKENS),
            Tuple.of(8, Kind.COMMIT),
            Tuple.of(4, Kind.ONBOARD),
            Tuple.of(3, Kind.FORK),
            Tuple.of(3, Kind.KEEP),
            Tuple.of(3, Kind.SESSION_QUOTA),
            Tuple.of(1, Kind.END),
            Tuple.of(2, Kind.PIN),
            Tuple.of(5, Kind.EXPECT),
            Tuple.of(4, Kind.ADVANCE),
            Tuple.of(10, Kind.CLOSE));
    Arbitrary<Integer> n =
        Arbitraries.integers().between(0, 9999).withDistribution(RandomDistribution.uniform());
    return Combinators.combine(kind, n, n, n)
        .as(Op::new)
        .list()
        .ofMinSize(20)
        .ofMaxSize(150)
        .withSizeDistribution(RandomDistribution.uniform());
  }

  @Provide
  Arbitrary<String> evictions() {
    return Arbitraries.of("lru", "s3fifo", "priority-lru", "tinylfu", "arc");
  }

  @Property(tries = 300, edgeCases = EdgeCasesMode.NONE)
  void randomOperations_neverPassAQuota_andKeepEveryInvariant(
      @ForAll @IntRange(min = 8, max = 48) int capacity,
      @ForAll @IntRange(min = 2, max = 4) int tokensPerBlock,
      @ForAll @IntRange(min = 1, max = 2) int tiers,
      @ForAll @IntRange(min = 0, max = 40) int quotaA,
      @ForAll @IntRange(min = 0, max = 40) int quotaB,
      @ForAll @IntRange(min = 0, max = 48) int warmBlocks,
      @ForAll("evictions") String eviction,
      @ForAll("ops") List<Op> ops) {
    try (Harness h =
        new Harness(
            capacity,
            tokensPerBlock,
            tiers,
            b ->
                b.eviction(EvictionPolicy.named(eviction))
                    .tenantQuota(QUOTA_A, quotaA)
                    .tenantQuota(QUOTA_B, quotaB)
                    .warmPrefixes(warmBlocks, Duration.ofSeconds(2)))) {
      h.quotas.put(QUOTA_A, quotaA);
      h.quotas.put(QUOTA_B, quotaB);
      h.check();
      for (Op op : ops) {
        h.apply(op, SALTS);
        h.check();
      }
      h.drain();
    }
  }

  /**
   * Tenant B caches its blocks first; then only tenant A, held to a quota of exactly the rest of
   * the tier, runs. A never holds more than its quota, so it never needs another tenant's page: B's
   * blocks must all stay cached whatever A does.
   */
  @Property(tries = 200, edgeCases = EdgeCasesMode.NONE)
  void aTenantHeldToItsQuota_neverEvictsAnotherTenantsBlocks(
      @ForAll @IntRange(min = 2, max = 16) int blocksOfB,
      @ForAll @IntRange(min = 1, max = 24) int quotaA,
      @ForAll @IntRange(min = 2, max = 4) int tokensPerBlock,
      @ForAll @IntRange(min = 0, max = 16) int warmBlocks,
      @ForAll("evictions") String eviction,
      @ForAll("ops") List<Op> ops)
      throws Exception {
    int capacity = blocksOfB + quotaA;
    try (Harness h =
        new Harness(
            capacity,
            tokensPerBlock,
            1,
            b ->
                b.eviction(EvictionPolicy.named(eviction))
                    .tenantQuota(QUOTA_A, quotaA)
                    .warmPrefixes(warmBlocks, Duration.ofSeconds(2)))) {
      h.quotas.put(QUOTA_A, quotaA);
      List<int[]> ofB = new ArrayList<>();
      for (int left = blocksOfB, k = 0; left > 0; k++) {
        int n = Math.min(left, 1 + k % 3);
        int[] tok = new int[n * tokensPerBlock];
        Arrays.setAll(tok, i -> -1 - 1000 * ofB.size() - i);
        try (Lease l = h.cache.acquire(Request.of(h.namespaces[0], tok).salt(QUOTA_B))) {
          l.extend();
          l.commit();
        }
        ofB.add(tok);
        left -= n;
      }
      h.check();
      for (Op op : ops) {
        h.apply(op, new long[] {QUOTA_A});
        h.check();
        for (int[] tok : ofB) {
          assertThat(h.cache.probeTokens(h.namespaces[0], tok, QUOTA_B))
              .as("tenant B's blocks after %s", op)
              .isEqualTo(tok.length);
        }
      }
      h.drain();
    }
  }

  static final class Tracked {
    final Lease lease;
    final Namespace ns;
    final long salt;
    int[] seq;

    Tracked(Lease lease, Namespace ns, long salt, int[] seq) {
      this.lease = lease;
      this.ns = ns;
      this.salt = salt;
      this.seq = seq;
    }
  }

  static final class Harness implements AutoCloseable {
    final ManualTicker ticker = new ManualTicker();
    final int capacity;
    final int tpb;
    final Namespace[] namespaces;
    final int[][] bases;
    final KvCache cache;
    final KvCacheImpl impl;
    final Map<Long, Integer> quotas = new HashMap<>();
    final Map<String, Integer> sessionQuotas = new HashMap<>();
    final Map<String, Integer> sessionCharged = new HashMap<>();
    final List<Tracked> open = new ArrayList<>();
    final List<Branches> groups = new ArrayList<>();
    int fresh = 1_000_000;

    Harness(
        int capacity,
        int tpb,
        int tiers,
        java.util.function.UnaryOperator<KvCacheBuilder> options) {
      this.capacity = capacity;
      this.tpb = tpb;
      KvLayout layout = KvLayout.ofPageBytes(tpb, 8 * tpb);
      this.namespaces =
          new Namespace[] {Namespace.of("small", layout), Namespace.of("big", layout)};
      this.bases = new int[3][];
      for (int k = 0; k < bases.length; k++) {
        bases[k] = new int[24];
        int base = 1000 * (k + 1);
        Arrays.setAll(bases[k], i -> base + i);
      }
      KvCacheBuilder b =
          KvCache.builder()
              .layout(layout)
              .tier(DramTier.offHeap("top", (long) capacity * layout.pageBytes()))
              .ticker(ticker);
      if (tiers == 2) {
        b.tier(DramTier.offHeap("below", 2L * capacity * layout.pageBytes()))
            .prefetch(PrefetchPolicy.nextSteps(1));
      }
      this.cache = options.apply(b).build();
      this.impl = (KvCacheImpl) cache;
    }

    @Override
    public void close() {
      cache.close();
    }

    /** A prompt: a cut of one of three shared bases, then a short suffix. */
    int[] tokens(int a, int b) {
      int[] base = bases[a % bases.length];
      int cut = (a / 3) % (base.length + 1);
      int suffix = b % (3 * tpb);
      int[] t = Arrays.copyOf(base, cut + suffix);
      for (int i = 0; i < suffix; i++) {
        t[cut + i] = (b / 9 + i * 7) % 5;
      }
      return t;
    }

    void apply(Op op, long[] salts) {
      int a = op.a();
      int b = op.b();
      int c = op.c();
      switch (op.kind()) {
        case ACQUIRE -> {
          if (open.size() >= MAX_OPEN) {
            closeLease(a);
          } else {
            acquire(a, b, c, salts);
          }
        }
        case RUN -> {
          if (open.size() >= MAX_OPEN) {
            closeLease(a);
          } else {
            Tracked t = acquire(a, b, c, salts);
            onboard(t);
            if (extend(t, null)) {
              t.lease.commit();
            }
            t.lease.close();
            open.remove(t);
          }
        }
        case EXTEND -> {
          Tracked t = pick(a);
          if (t != null) {
            extend(t, null);
          }
        }
        case EXTEND_TOKENS -> {
          Tracked t = pick(a);
          if (t != null) {
            int[] more = new int[b % (3 * tpb + 1)];
            for (int i = 0; i < more.length; i++) {
              more[i] = (c + i) % 3 == 0 ? fresh++ : (c / 3 + i) % 4;
            }
            extend(t, more);
          }
        }
        case COMMIT -> {
          Tracked t = pick(a);
          if (t != null) {
            int count = t.lease.tokenCount();
            t.lease.commit(b % 2 == 0 ? count : b % (count + 1));
          }
        }
        case ONBOARD -> {
          Tracked t = pick(a);
          if (t != null) {
            onboard(t);
          }
        }
        case FORK -> {
          Tracked t = pick(a);
          if (t != null && open.size() + 3 <= MAX_OPEN) {
            try {
              Branches br = t.lease.fork(2 + b % 2);
              groups.add(br);
            } catch (IllegalStateException notOnboarded) {
              // a lease must onboard before it forks
            }
          }
        }
        case KEEP -> {
          if (!groups.isEmpty()) {
            Branches g = groups.remove(a % groups.size());
            if (b % 3 == 0) {
              g.discardAll();
            } else {
              Lease kept = g.keep(b % g.size());
              if (c % 2 == 0) {
                kept.close();
              } else {
                open.add(new Tracked(kept, kept.namespace(), 0L, new int[0]));
              }
            }
          }
        }
        case SESSION_QUOTA -> {
          String id = SESSIONS[a % SESSIONS.length];
          Session s = cache.session(id);
          int q = b % 3 == 0 ? Integer.MAX_VALUE : b % (capacity + 1);
          s.quota(q);
          sessionQuotas.put(id, q);
          sessionCharged.put(id, s.chargedBlocks());
        }
        case END -> {
          String id = SESSIONS[a % SESSIONS.length];
          cache.session(id).end();
          sessionQuotas.remove(id);
          sessionCharged.remove(id);
        }
        case PIN -> cache.session(SESSIONS[a % SESSIONS.length]).pin(Duration.ofSeconds(1));
        case EXPECT -> {
          try {
            List<NextStep> steps = new ArrayList<>();
            for (int i = 0; i < b % 3; i++) {
              long salt = salts[(c + i) % salts.length];
              Namespace ns = namespaces[(c / 3 + i) % namespaces.length];
              NextStep s =
                  (c + i) % 4 == 0
                      ? NextStep.ofAgent(ns, AGENTS[i % AGENTS.length], i)
                      : NextStep.of(ns, tokens(a + i, c), i);
              steps.add(s.salt(salt));
            }
            cache.expect("wf-" + (a % 2), steps);
          } catch (IllegalArgumentException emptyPrefix) {
            assertThat(emptyPrefix).hasMessageContaining("prefix");
          }
        }
        case ADVANCE -> ticker.advance(Duration.ofMillis(1 + (long) a));
        case CLOSE -> closeLease(a);
      }
    }

    Tracked pick(int a) {
      open.removeIf(t -> !t.lease.isOpen());
      return open.isEmpty() ? null : open.get(a % open.size());
    }

    void closeLease(int a) {
      Tracked t = pick(a);
      if (t != null) {
        t.lease.close();
        open.remove(t);
      }
    }

    Tracked acquire(int a, int b, int c, long[] salts) {
      Namespace ns = namespaces[c % namespaces.length];
      long salt = salts[(c / 2) % salts.length];
      int sessionPick = (c / 8) % (SESSIONS.length + 1);
      int[] tok = tokens(a, b);
      Request r = Request.of(ns, tok).salt(salt);
      if (sessionPick < SESSIONS.length) {
        r = r.session(SESSIONS[sessionPick]);
      }
      if ((c / 32) % 2 == 0) {
        r = r.agent(AGENTS[(c / 64) % AGENTS.length]);
      }
      Tracked t = new Tracked(cache.acquire(r), ns, salt, tok);
      open.add(t);
      return t;
    }

    void onboard(Tracked t) {
      CompletableFuture<Void> f = t.lease.onboard();
      try {
        f.get(10, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        assertThat(e.getCause()).isInstanceOf(OutOfPagesException.class);
      } catch (InterruptedException | TimeoutException e) {
        throw new AssertionError("onboarding did not finish", e);
      }
    }

    /** Extends; false when the tier or a quota refused, which must leave the lease as it was. */
    boolean extend(Tracked t, int[] more) {
      int tokens = t.lease.tokenCount();
      int blocks = t.lease.blockCount();
      try {
        if (more == null) {
          t.lease.extend();
        } else {
          t.lease.extend(more);
        }
        return true;
      } catch (OutOfPagesException e) {
        assertThat(t.lease.tokenCount()).isEqualTo(tokens);
        assertThat(t.lease.blockCount()).isEqualTo(blocks);
        return false;
      } catch (IllegalStateException notOnboarded) {
        assertThat(notOnboarded).hasMessageContaining("onboard()");
        return false;
      }
    }

    void check() {
      impl.checkInvariants();
      assertThat(impl.pages.usedPages()).isLessThanOrEqualTo(capacity);
      for (Map.Entry<Long, Integer> q : quotas.entrySet()) {
        assertThat(impl.hints.tenantCharged(q.getKey()))
            .as("top-tier pages of tenant %d, quota %d", q.getKey(), q.getValue())
            .isLessThanOrEqualTo(q.getValue());
      }
      for (Map.Entry<String, Integer> q : sessionQuotas.entrySet()) {
        int charged = cache.session(q.getKey()).chargedBlocks();
        int before = sessionCharged.get(q.getKey());
        assertThat(charged)
            .as("session %s: quota %d, %d pages before this step", q.getKey(), q.getValue(), before)
            .isLessThanOrEqualTo(Math.max(q.getValue(), before));
        sessionCharged.put(q.getKey(), charged);
      }
    }

    /** Closes everything; then nothing may stay charged to a lease, and pins may only be warm. */
    void drain() {
      for (Branches g : groups) {
        g.discardAll();
      }
      for (Tracked t : open) {
        t.lease.close();
      }
      for (String id : SESSIONS) {
        cache.session(id).end();
      }
      impl.checkInvariants();
      assertThat(cache.stats().activeLeases()).isZero();
      cache.expect("wf-0", List.of());
      cache.expect("wf-1", List.of());
      ticker.advance(Duration.ofSeconds(3)); // past every warm pin's duration
      cache.acquire(Request.of(namespaces[0], new int[] {1})).close(); // its tick expires them
      assertThat(impl.hints.warmPinnedBlocks()).isZero();
      impl.checkInvariants();
    }
  }
}
