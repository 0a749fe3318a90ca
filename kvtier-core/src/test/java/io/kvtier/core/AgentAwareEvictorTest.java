package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvtier.DramTier;
import io.kvtier.KvCache;
import io.kvtier.KvLayout;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.PauseKind;
import io.kvtier.Request;
import io.kvtier.Session;
import io.kvtier.Ticker;
import io.kvtier.spi.EvictionPolicy;
import io.kvtier.spi.Evictor;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class AgentAwareEvictorTest {

  private static final long SECOND = 1_000_000_000L;

  private final FakeBlocks blocks = new FakeBlocks(16);

  private AgentAwareEvictor evictor() {
    return new AgentAwareEvictor(blocks);
  }

  private void insert(Evictor e, int b, long lastAccessSeconds) {
    blocks.lastAccess[b] = lastAccessSeconds * SECOND;
    blocks.evictable[b] = true;
    e.onInsert(b);
  }

  @Test
  void withoutHints_firstTurnBlocksGoInLruOrder_deeperFirstOnATie() {
    AgentAwareEvictor e = evictor();
    insert(e, 0, 30);
    insert(e, 1, 10);
    blocks.depth[2] = 5;
    insert(e, 2, 20);
    blocks.depth[3] = 6;
    insert(e, 3, 20);
    int[] order = new int[4];
    for (int i = 0; i < 4; i++) {
      order[i] = e.victim();
      e.onRemove(order[i]);
    }
    assertThat(order).containsExactly(1, 3, 2, 0);
  }

  @Test
  void lowerPriorityAlwaysGoesFirst() {
    AgentAwareEvictor e = evictor();
    insert(e, 0, 10);
    blocks.priority[1] = 0;
    insert(e, 1, 1_000);
    assertThat(e.victim()).isEqualTo(1);
  }

  @Test
  void laterTurnsAndToolPausesOutlastAFirstTurnOfTheSameAge_humanPausesDoNot() {
    AgentAwareEvictor e = evictor();
    insert(e, 0, 100); // first turn
    blocks.turns[1] = 3;
    insert(e, 1, 100); // a later turn
    blocks.pause[2] = PauseKind.TOOL;
    insert(e, 2, 100);
    blocks.pause[3] = PauseKind.HUMAN;
    blocks.turns[3] = 3;
    insert(e, 3, 100);
    assertThat(e.retentionMillis(1)).isGreaterThan(e.retentionMillis(0));
    assertThat(e.retentionMillis(2)).isGreaterThan(e.retentionMillis(0));
    assertThat(e.retentionMillis(3)).isEqualTo(e.retentionMillis(0));
    // block 0 and the human-paused block 3 tie on retention time; the others outlast both
    int first = e.victim();
    e.onRemove(first);
    int second = e.victim();
    assertThat(new int[] {first, second}).containsExactlyInAnyOrder(0, 3);
  }

  @Test
  void aHintChangeReranksTheBlock() {
    AgentAwareEvictor e = evictor();
    insert(e, 0, 100);
    insert(e, 1, 110);
    assertThat(e.victim()).isEqualTo(0);
    blocks.pause[0] = PauseKind.TOOL;
    e.onHintChange(0);
    assertThat(e.victim()).isEqualTo(1);
  }

  @Test
  void returningVictims_moveTheirClassCredit_andFirstTurnReturnsLowerTheOthers() {
    AgentAwareEvictor e = evictor();
    long later = e.creditMillis(AgentAwareEvictor.LATER_TURN);
    long tool = e.creditMillis(AgentAwareEvictor.TOOL_PAUSE);
    // a block evicted in a later turn comes back: that class should have been kept longer
    blocks.returningTurns[5] = 2;
    insert(e, 5, 10);
    assertThat(e.creditMillis(AgentAwareEvictor.LATER_TURN)).isGreaterThan(later);
    assertThat(e.creditMillis(AgentAwareEvictor.TOOL_PAUSE)).isEqualTo(tool);
    assertThat(e.creditMillis(AgentAwareEvictor.FIRST_TURN)).isZero();
    // a first-turn victim comes back: every other credit falls
    long laterNow = e.creditMillis(AgentAwareEvictor.LATER_TURN);
    blocks.returningTurns[6] = 1;
    insert(e, 6, 11);
    assertThat(e.creditMillis(AgentAwareEvictor.LATER_TURN)).isLessThan(laterNow);
    assertThat(e.creditMillis(AgentAwareEvictor.TOOL_PAUSE)).isLessThan(tool);
    assertThat(e.creditMillis(AgentAwareEvictor.FIRST_TURN)).isZero();
    // a tool-paused victim comes back: the tool class gains
    long toolNow = e.creditMillis(AgentAwareEvictor.TOOL_PAUSE);
    blocks.returningTurns[7] = 4;
    blocks.returningPause[7] = PauseKind.TOOL;
    insert(e, 7, 12);
    assertThat(e.creditMillis(AgentAwareEvictor.TOOL_PAUSE)).isGreaterThan(toolNow);
  }

  @Test
  void creditsStayBounded() {
    AgentAwareEvictor e = evictor();
    for (int i = 0; i < 200_000; i++) {
      blocks.returningTurns[9] = 3;
      e.onInsert(9);
      e.onRemove(9);
    }
    assertThat(e.creditMillis(AgentAwareEvictor.LATER_TURN))
        .isEqualTo(AgentAwareEvictor.MAX_CREDIT_MS);
  }

  // ------------------------------------------------------------------ through the cache

  private static final KvLayout LAYOUT = KvLayout.ofPageBytes(1, 64);

  @Test
  void isTheBuildersDefault() {
    try (KvCache c = KvCache.builder().layout(LAYOUT).tier(DramTier.offHeap("d", 64 * 8)).build()) {
      assertThat(((KvCacheImpl) c).tiers[0].evictor).isInstanceOf(AgentAwareEvictor.class);
    }
  }

  @Test
  void aToolPausedSessionOutlastsAHumanPausedOneUnderPressure() {
    AtomicLong nanos = new AtomicLong();
    Ticker ticker = nanos::get;
    Namespace ns = Namespace.of("m", LAYOUT);
    try (KvCache c =
        KvCache.builder()
            .layout(LAYOUT)
            .tier(DramTier.offHeap("d", 64 * 12))
            .eviction(EvictionPolicy.agentAware())
            .retention((kind, expected) -> Duration.ZERO) // no pins: ranking alone
            .ticker(ticker)
            .build()) {
      Session tool = c.session("tool");
      Session human = c.session("human");
      int[] a = {1, 2, 3, 4};
      int[] b = {11, 12, 13, 14};
      run(c, Request.of(ns, a).session("tool"));
      run(c, Request.of(ns, b).session("human"));
      // the tool-paused session was used earlier: plain LRU would evict it first
      tool.pause(PauseKind.TOOL, Duration.ofSeconds(9));
      human.pause(PauseKind.HUMAN, Duration.ofMinutes(5));
      nanos.addAndGet(2 * SECOND);
      run(c, Request.of(ns, new int[] {21, 22, 23, 24, 25, 26, 27, 28}));
      assertThat(c.probeTokens(ns, a, 0)).isEqualTo(4);
      assertThat(c.probeTokens(ns, b, 0)).isZero();
      ((KvCacheImpl) c).checkInvariants();
    }
  }

  @Test
  void aBlockThatLeftIsRememberedWithItsTurnWhenItComesBack() {
    AtomicLong nanos = new AtomicLong();
    Namespace ns = Namespace.of("m", LAYOUT);
    try (KvCache c =
        KvCache.builder()
            .layout(LAYOUT)
            .tier(DramTier.offHeap("d", 64 * 64))
            .eviction(EvictionPolicy.lru())
            .ticker(nanos::get)
            .build()) {
      KvCacheImpl impl = (KvCacheImpl) c;
      run(c, Request.of(ns, new int[] {1, 2}));
      nanos.addAndGet(SECOND);
      run(c, Request.of(ns, new int[] {1, 2, 3})); // turn 2 of the conversation
      nanos.addAndGet(SECOND);
      int[] filler = new int[64];
      for (int i = 0; i < filler.length; i++) {
        filler[i] = 1000 + i;
      }
      run(c, Request.of(ns, filler)); // evicts all of it
      assertThat(c.probeTokens(ns, new int[] {1, 2, 3}, 0)).isZero();
      nanos.addAndGet(SECOND);
      // the conversation comes back: block 3 is re-created and remembered from its turn 2, so
      // the request is the conversation's turn 3 though nothing of it was still cached
      int three = tailAfter(impl, Request.of(ns, new int[] {1, 2, 3}));
      assertThat(impl.index.returningTurns(three)).isEqualTo(2);
      assertThat(impl.index.turns(three)).isEqualTo(3);
      impl.checkInvariants();
    }
  }

  /**
   * Runs a request (acquire the cached prefix, extend by the rest, commit) and returns its tail.
   */
  private static int tailAfter(KvCache c, Request r) {
    int[] tokens = r.tokens();
    int cached = c.probeTokens(r.namespace(), tokens, r.salt());
    Request prefix = Request.of(r.namespace(), java.util.Arrays.copyOf(tokens, cached));
    if (r.sessionId() != null) {
      prefix = prefix.session(r.sessionId());
    }
    try (Lease l = c.acquire(prefix)) {
      if (cached < tokens.length) {
        l.extend(java.util.Arrays.copyOfRange(tokens, cached, tokens.length));
      }
      l.commit();
      return ((LeaseImpl) l).tail();
    }
  }

  private static void run(KvCache c, Request r) {
    tailAfter(c, r);
  }
}
