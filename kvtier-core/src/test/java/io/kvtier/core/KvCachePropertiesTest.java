package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvtier.Branches;
import io.kvtier.DramTier;
import io.kvtier.KvCache;
import io.kvtier.KvLayout;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.OutOfPagesException;
import io.kvtier.PageHandle;
import io.kvtier.PauseKind;
import io.kvtier.Request;
import io.kvtier.Session;
import io.kvtier.spi.BranchPolicy;
import io.kvtier.spi.EvictionPolicy;
import io.kvtier.spi.RetentionPolicy;
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
 * Random operation sequences against a small cache, checked after every step against the engine's
 * own invariant check and a model of what was published and what must stay pinned.
 *
 * <p>The model knows, per (namespace, salt), every full-block prefix that was ever published
 * (commits, and discarded branches kept as cache). A match may only return one of those. It also
 * knows each open lease's sequence and each session's latest committed prefix and pin deadline, so
 * it can tell which prefixes must still be cached: a lease's committed prefix while it is open, a
 * session's pinned prefix until its TTL passes on the ticker.
 */
class KvCachePropertiesTest {

  enum Kind {
    ACQUIRE,
    RUN,
    EXTEND,
    EXTEND_TOKENS,
    COMMIT,
    FORK,
    KEEP,
    DISCARD_ALL,
    PIN,
    UNPIN,
    PAUSE_TOOL,
    PAUSE_HUMAN,
    RESUME,
    COMPACTED,
    END,
    SESSION_PRIORITY,
    ADVANCE,
    CLOSE
  }

  /** One step; {@code a}, {@code b}, {@code c} pick targets and sizes modulo the current state. */
  record Op(Kind kind, int a, int b, int c) {}

  static final String[] SESSIONS = {"s0", "s1", "s2"};
  static final long[] SALTS = {0L, 7L};
  static final int MAX_OPEN = 12;

  @Provide
  Arbitrary<List<Op>> ops() {
    Arbitrary<Kind> kind =
        Arbitraries.frequency(
            Tuple.of(10, Kind.ACQUIRE),
            Tuple.of(8, Kind.RUN),
            Tuple.of(10, Kind.EXTEND),
            Tuple.of(8, Kind.EXTEND_TOKENS),
            Tuple.of(10, Kind.COMMIT),
            Tuple.of(4, Kind.FORK),
            Tuple.of(4, Kind.KEEP),
            Tuple.of(2, Kind.DISCARD_ALL),
            Tuple.of(3, Kind.PIN),
            Tuple.of(2, Kind.UNPIN),
            Tuple.of(3, Kind.PAUSE_TOOL),
            Tuple.of(1, Kind.PAUSE_HUMAN),
            Tuple.of(2, Kind.RESUME),
            Tuple.of(2, Kind.COMPACTED),
            Tuple.of(1, Kind.END),
            Tuple.of(1, Kind.SESSION_PRIORITY),
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
    return Arbitraries.of(
        "lru", "s3fifo", "priority-lru", "tinylfu", "arc", "agent-aware", "agent-aware-tiered");
  }

  @Provide
  Arbitrary<BranchPolicy> branchPolicies() {
    return Arbitraries.of(
        BranchPolicy.freeNow(), BranchPolicy.keepAll(), BranchPolicy.capPerSession(2));
  }

  @Property(tries = 500, edgeCases = EdgeCasesMode.NONE)
  void randomOperations_keepEveryInvariant(
      @ForAll @IntRange(min = 8, max = 64) int capacity,
      @ForAll @IntRange(min = 2, max = 4) int tokensPerBlock,
      @ForAll("evictions") String eviction,
      @ForAll("branchPolicies") BranchPolicy branches,
      @ForAll("ops") List<Op> ops) {
    try (Harness h = new Harness(capacity, tokensPerBlock, eviction, branches)) {
      h.check();
      for (Op op : ops) {
        h.apply(op);
        h.check();
      }
      h.drainAndCheckEndState();
    }
  }

  // ---------------------------------------------------------------- the model

  /** A prefix published in one (namespace, salt) tree. */
  record PrefixKey(Namespace ns, long salt, List<Integer> tokens) {
    static PrefixKey of(Namespace ns, long salt, int[] seq, int len) {
      List<Integer> t = new ArrayList<>(len);
      for (int i = 0; i < len; i++) {
        t.add(seq[i]);
      }
      return new PrefixKey(ns, salt, List.copyOf(t));
    }
  }

  /** What the model knows of one lease. */
  static final class Tracked {
    final Lease lease;
    final Namespace ns;
    final long salt;
    final String session;
    int[] seq;
    int tokenCount;
    int committed;

    Tracked(Lease lease, Namespace ns, long salt, String session, int[] seq) {
      this.lease = lease;
      this.ns = ns;
      this.salt = salt;
      this.session = session;
      this.seq = seq;
      this.tokenCount = lease.cachedTokens();
      this.committed = lease.cachedTokens();
    }

    Tracked branch(Lease b) {
      Tracked t = new Tracked(b, ns, salt, session, seq.clone());
      t.tokenCount = tokenCount;
      t.committed = committed;
      return t;
    }
  }

  /** A session's latest committed prefix and its pin as the model sees them. */
  static final class SessionModel {
    Namespace ns;
    long salt;
    int[] tail;
    boolean pinned;
    boolean byPause;
    long pinUntil;
  }

  record Group(Branches branches, List<Tracked> members, int forkCommitted) {}

  static final class Harness implements AutoCloseable {
    final ManualTicker ticker = new ManualTicker();
    final int capacity;
    final int tpb;
    final KvLayout layout;
    final Namespace[] namespaces;
    final int[][] bases;
    final KvCache cache;
    final KvCacheImpl impl;
    final List<Tracked> open = new ArrayList<>();
    final List<Group> groups = new ArrayList<>();
    final Set<PrefixKey> published = new HashSet<>();
    final Map<String, SessionModel> sessions = new HashMap<>();
    int fresh = 1_000_000;

    Harness(int capacity, int tpb, String eviction, BranchPolicy branches) {
      this.capacity = capacity;
      this.tpb = tpb;
      this.layout = KvLayout.ofPageBytes(tpb, 8 * tpb);
      this.namespaces =
          new Namespace[] {Namespace.of("a", layout), Namespace.of("a", layout).withAdapter("l")};
      this.bases = new int[3][];
      for (int k = 0; k < bases.length; k++) {
        int base = 1000 * (k + 1);
        bases[k] = new int[16];
        for (int i = 0; i < 16; i++) {
          bases[k][i] = base + i;
        }
      }
      this.cache =
          KvCache.builder()
              .layout(layout)
              .tier(DramTier.offHeap((long) capacity * layout.pageBytes()))
              .eviction(EvictionPolicy.named(eviction))
              .branches(branches)
              .retention(RetentionPolicy.toolCallTtl())
              .ticker(ticker)
              .eventBuffer(64)
              .build();
      this.impl = (KvCacheImpl) cache;
    }

    @Override
    public void close() {
      cache.close();
    }

    int[] tokens(int a, int b) {
      int[] base = bases[a % bases.length];
      int cut = (a / 3) % (base.length + 1);
      int suffix = b % 9;
      int[] t = Arrays.copyOf(base, cut + suffix);
      for (int i = 0; i < suffix; i++) {
        t[cut + i] = (b / 9 + i * 7) % 4; // a tiny alphabet, so suffixes collide and split edges
      }
      return t;
    }

    void apply(Op op) {
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
          } else {
            Tracked t = acquire(a, b, c);
            extend(t, null);
            t.lease.commit();
            afterCommit(t);
            if (c % 3 != 0) {
              t.lease.close();
              open.remove(t);
            }
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
            int n = b % 2 == 0 ? t.tokenCount : b % (t.tokenCount + 1);
            t.lease.commit(n);
            afterCommit(t);
          }
        }
        case FORK -> {
          Tracked t = pick(a);
          if (t != null && open.size() < MAX_OPEN) {
            int k = 2 + b % 3;
            Branches br = t.lease.fork(k);
            assertThat(br.size()).isEqualTo(k);
            List<Tracked> members = new ArrayList<>();
            for (int i = 0; i < k; i++) {
              Tracked m = t.branch(br.branch(i));
              assertThat(m.lease.tokenCount()).isEqualTo(t.tokenCount);
              assertThat(m.lease.committedTokens()).isEqualTo(t.committed);
              members.add(m);
              open.add(m);
            }
            groups.add(new Group(br, members, t.committed));
          }
        }
        case KEEP, DISCARD_ALL -> {
          if (!groups.isEmpty()) {
            Group g = groups.remove(a % groups.size());
            int keep = op.kind() == Kind.KEEP ? b % g.branches().size() : -1;
            moveSessionOffBranches(g, keep);
            if (keep >= 0) {
              assertThat(g.branches().keep(keep)).isSameAs(g.members().get(keep).lease);
            } else {
              g.branches().discardAll();
            }
            for (int i = 0; i < g.members().size(); i++) {
              Tracked m = g.members().get(i);
              if (i != keep) {
                assertThat(m.lease.isOpen()).isFalse();
                open.remove(m);
                // a discarded branch may have published its full blocks as dead cache
                m.committed = m.lease.committedTokens();
                recordPublished(m);
              }
            }
          }
        }
        case PIN -> {
          String id = SESSIONS[a % SESSIONS.length];
          Duration ttl = Duration.ofSeconds(1 + b % 40);
          cache.session(id).pin(ttl);
          afterPin(id, ttl, false);
        }
        case UNPIN -> {
          String id = SESSIONS[a % SESSIONS.length];
          cache.session(id).unpin();
          model(id).pinned = false;
        }
        case PAUSE_TOOL -> {
          String id = SESSIONS[a % SESSIONS.length];
          Duration expected = Duration.ofSeconds(1 + b % 20);
          cache.session(id).pause(PauseKind.TOOL, expected);
          afterPin(id, expected.multipliedBy(2), true);
        }
        case PAUSE_HUMAN -> {
          String id = SESSIONS[a % SESSIONS.length];
          cache.session(id).pause(PauseKind.HUMAN, Duration.ofMinutes(5));
        }
        case RESUME -> {
          String id = SESSIONS[a % SESSIONS.length];
          cache.session(id).resume();
          SessionModel m = model(id);
          if (m.byPause) {
            m.pinned = false;
          }
        }
        case COMPACTED -> {
          String id = SESSIONS[a % SESSIONS.length];
          cache.session(id).compacted();
          SessionModel m = model(id);
          m.pinned = false;
          m.tail = null;
        }
        case END -> {
          String id = SESSIONS[a % SESSIONS.length];
          Session s = cache.session(id);
          s.end();
          s.end();
          sessions.remove(id);
        }
        case SESSION_PRIORITY -> cache.session(SESSIONS[a % SESSIONS.length]).priority(b % 101);
        case ADVANCE -> ticker.advance(Duration.ofMillis(1 + (long) a * 4));
        case CLOSE -> closeLease(a);
      }
    }

    Tracked pick(int a) {
      return open.isEmpty() ? null : open.get(a % open.size());
    }

    void closeLease(int a) {
      Tracked t = pick(a);
      if (t != null) {
        t.lease.close();
        assertThat(t.lease.isOpen()).isFalse();
        open.remove(t);
      }
    }

    SessionModel model(String id) {
      return sessions.computeIfAbsent(id, k -> new SessionModel());
    }

    Tracked acquire(int a, int b, int c) {
      Namespace ns = namespaces[c % namespaces.length];
      long salt = SALTS[(c / 2) % SALTS.length];
      int sessionPick = (c / 4) % (SESSIONS.length + 1);
      String session = sessionPick == SESSIONS.length ? null : SESSIONS[sessionPick];
      int[] tok = tokens(a, b);
      Request r = Request.of(ns, tok).salt(salt);
      if (session != null) {
        r = r.session(session);
      }
      if ((c / 16) % 3 == 0) {
        int prio = (c / 48) % 101;
        r = r.priority(prio, (c / 48) % 2 == 0 ? null : Duration.ofSeconds(1 + c % 10));
      }
      Lease l = cache.acquire(r);
      int cached = l.cachedTokens();
      assertThat(cached % tpb).as("cached tokens are whole blocks").isZero();
      assertThat(cached).isLessThanOrEqualTo(tok.length);
      assertThat(l.cachedBlocksPerTier()).containsExactly(cached / tpb);
      if (cached > 0) {
        assertThat(published)
            .as("a match of %d tokens must be a prefix that was published before", cached)
            .contains(PrefixKey.of(ns, salt, tok, cached));
      }
      assertThat(cached)
          .as("the match is the longest published prefix still cached")
          .isLessThanOrEqualTo(longestPublished(ns, salt, tok));
      assertThat(l.tokenCount()).isEqualTo(cached);
      assertThat(l.committedTokens()).isEqualTo(cached);
      Tracked t = new Tracked(l, ns, salt, session, tok);
      open.add(t);
      return t;
    }

    int longestPublished(Namespace ns, long salt, int[] tok) {
      int best = 0;
      for (int len = tpb; len <= tok.length; len += tpb) {
        if (published.contains(PrefixKey.of(ns, salt, tok, len))) {
          best = len;
        }
      }
      return best;
    }

    void extend(Tracked t, int[] more) {
      int beforeTokens = t.lease.tokenCount();
      int beforeBlocks = t.lease.blockCount();
      long[] beforeTable = t.lease.blockTable();
      try {
        if (more == null) {
          t.lease.extend();
        } else {
          t.lease.extend(more);
        }
      } catch (OutOfPagesException e) {
        assertThat(t.lease.tokenCount())
            .as("a failed extend leaves the lease")
            .isEqualTo(beforeTokens);
        assertThat(t.lease.blockCount()).isEqualTo(beforeBlocks);
        assertThat(e.getMessage()).contains("tier 'dram'");
        // the shared partial page may have been copied, but nothing else changed
        long[] after = t.lease.blockTable();
        assertThat(after).hasSameSizeAs(beforeTable);
        for (int i = 0; i < after.length - 1; i++) {
          assertThat(after[i]).isEqualTo(beforeTable[i]);
        }
        return;
      }
      if (more != null) {
        int[] s = Arrays.copyOf(t.seq, t.seq.length + more.length);
        System.arraycopy(more, 0, s, t.seq.length, more.length);
        t.seq = s;
      }
      // play the engine: compute "KV" (here, the token ids) into the new positions
      long[] table = t.lease.blockTable();
      for (int p = t.tokenCount; p < t.seq.length; p++) {
        page(table[p / tpb]).set(ValueLayout.JAVA_INT_UNALIGNED, 4L * (p % tpb), t.seq[p]);
      }
      t.tokenCount = t.seq.length;
    }

    MemorySegment page(long handle) {
      return impl.store.segment(PageHandle.index(handle)).orElseThrow();
    }

    void afterCommit(Tracked t) {
      int committed = t.lease.committedTokens();
      assertThat(committed).isGreaterThanOrEqualTo(t.committed);
      if (committed > t.committed && t.session != null) {
        SessionModel m = model(t.session);
        m.ns = t.ns;
        m.salt = t.salt;
        m.tail = Arrays.copyOf(t.seq, committed);
        if (m.pinned && ticker.read() >= m.pinUntil) {
          m.pinned = false; // expired: the commit's tick dropped it
        }
      }
      t.committed = committed;
      recordPublished(t);
    }

    /**
     * As the engine does before reclaiming: a session left on an open branch's committed path moves
     * to the survivor's path (the fork point when none survives or the survivor closed).
     */
    void moveSessionOffBranches(Group g, int keep) {
      Tracked any = g.members().get(0);
      SessionModel m = any.session == null ? null : sessions.get(any.session);
      if (m == null || m.tail == null || m.ns != any.ns || m.salt != any.salt) {
        return;
      }
      Tracked survivor = keep >= 0 ? g.members().get(keep) : null;
      int[] to =
          survivor != null && open.contains(survivor)
              ? Arrays.copyOf(survivor.seq, survivor.committed)
              : Arrays.copyOf(any.seq, g.forkCommitted());
      if (to.length == 0 || Arrays.equals(to, m.tail)) {
        return;
      }
      for (Tracked b : g.members()) {
        if (open.contains(b)
            && b.committed > g.forkCommitted()
            && Arrays.equals(m.tail, Arrays.copyOf(b.seq, b.committed))) {
          m.tail = to;
          return;
        }
      }
    }

    void recordPublished(Tracked t) {
      for (int len = tpb; len <= t.committed; len += tpb) {
        published.add(PrefixKey.of(t.ns, t.salt, t.seq, len));
      }
    }

    void afterPin(String id, Duration ttl, boolean byPause) {
      SessionModel m = model(id);
      int pinnedBlocks = cache.session(id).pinnedBlocks();
      if (pinnedBlocks > 0) {
        assertThat(m.tail).as("session %s pins without a committed prefix", id).isNotNull();
        assertThat(pinnedBlocks * tpb).isEqualTo(m.tail.length);
        m.pinned = true;
        m.byPause = byPause;
        m.pinUntil = ticker.read() + ttl.toNanos();
      } else if (m.pinned && ticker.read() >= m.pinUntil) {
        m.pinned = false;
      } else {
        assertThat(m.pinned).as("a live pin of session %s vanished", id).isFalse();
      }
    }

    /** Everything checked after every step. */
    void check() {
      impl.checkInvariants();
      assertThat(impl.pages.usedPages()).isLessThanOrEqualTo(capacity);
      assertThat((long) impl.index.liveBlocks()).isLessThanOrEqualTo(impl.pages.usedPages());
      assertThat(cache.stats().activeLeases()).isEqualTo(open.size());
      for (Tracked t : open) {
        Lease l = t.lease;
        assertThat(l.isOpen()).isTrue();
        assertThat(l.tokenCount()).isEqualTo(t.tokenCount);
        assertThat(l.committedTokens()).isEqualTo(t.committed);
        assertThat(l.committedTokens() % tpb).isZero();
        assertThat(l.committedTokens()).isLessThanOrEqualTo(l.tokenCount());
        long[] table = l.blockTable();
        assertThat(table.length).isEqualTo(l.blockCount()).isEqualTo(layout.pagesFor(t.tokenCount));
        for (long h : table) {
          impl.pages.validate(h);
        }
        for (int p = 0; p < t.tokenCount; p++) {
          int got = page(table[p / tpb]).get(ValueLayout.JAVA_INT_UNALIGNED, 4L * (p % tpb));
          if (got != t.seq[p]) {
            throw new AssertionError(
                "token " + p + " of a lease reads " + got + " from its page, wrote " + t.seq[p]);
          }
        }
        assertThat(cache.probeTokens(t.ns, Arrays.copyOf(t.seq, t.committed), t.salt))
            .as("an open lease's committed prefix is pinned and must stay cached")
            .isEqualTo(t.committed);
      }
      long now = ticker.read();
      long yields = impl.pauseYields();
      long gaveWay = 0;
      for (Map.Entry<String, SessionModel> e : sessions.entrySet()) {
        SessionModel m = e.getValue();
        if (m.pinned && now < m.pinUntil && m.byPause) {
          if (cache.session(e.getKey()).pinnedBlocks() == 0) {
            gaveWay++; // a pause pin may give way to an allocation, counted by the cache
            m.pinned = false;
            continue;
          }
        }
        if (m.pinned && now < m.pinUntil) {
          assertThat(cache.probeTokens(m.ns, m.tail, m.salt))
              .as("session %s is pinned for another %d ns", e.getKey(), m.pinUntil - now)
              .isEqualTo(m.tail.length);
          assertThat(cache.session(e.getKey()).pinnedBlocks() * tpb).isEqualTo(m.tail.length);
        }
      }
      assertThat(gaveWay)
          .as("pause pins gone before their TTL without the cache making them give way")
          .isLessThanOrEqualTo(yields - yieldsSeen);
      yieldsSeen = yields;
    }

    /** The cache's count of pause pins that gave way, when {@link #check()} last read it. */
    long yieldsSeen;

    /** Closes everything; the index must then hold the only references, and nothing is pinned. */
    void drainAndCheckEndState() {
      for (Tracked t : new ArrayList<>(open)) {
        t.lease.close();
      }
      open.clear();
      for (String id : SESSIONS) {
        cache.session(id).end();
      }
      impl.checkInvariants();
      assertThat(impl.pages.usedPages()).isEqualTo(impl.index.liveBlocks());
      assertThat(cache.stats().activeLeases()).isZero();
      // nothing is pinned any more: a sequence as large as the tier must fit, evicting everything
      int[] all = new int[capacity * tpb];
      for (int i = 0; i < all.length; i++) {
        all[i] = -1 - i;
      }
      try (Lease l = cache.acquire(Request.of(namespaces[0], all))) {
        l.extend();
        assertThat(l.blockCount()).isEqualTo(capacity);
        assertThat(impl.index.liveBlocks()).isZero();
      }
      impl.checkInvariants();
      assertThat(impl.pages.usedPages()).isZero();
    }
  }
}
