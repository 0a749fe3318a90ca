package io.kvtier.replay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.offset;

import io.kvtier.LinkStats;
import io.kvtier.PauseKind;
import io.kvtier.TierStats;
import io.kvtier.tools.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The tiered mode on hand-made traces with known per-tier outcomes, and its command line. */
class TieredReplayTest {

  static final int PAGE = 4096;

  @TempDir Path dir;

  /** Requests of one-token blocks, one second apart: hit tokens are hit blocks. */
  private static Trace trace(long[]... requests) {
    List<TraceRequest> rs = new ArrayList<>();
    for (int i = 0; i < requests.length; i++) {
      rs.add(TraceRequest.plain(i * 1000L, requests[i].length, 1, 1, requests[i]));
    }
    return Trace.of("hand-made", rs);
  }

  /**
   * Three chains of four blocks, then each again, through top (4 pages) > middle (4 pages) > nvme
   * (8 pages). The third chain pushes the first to nvme; bringing the first back pushes the second
   * to nvme too; the third is still in the middle tier when it returns. LRU, leaf-first: a chain
   * goes down tail first.
   */
  private static final Trace THREE_CHAINS =
      trace(
          new long[] {1, 2, 3, 4},
          new long[] {5, 6, 7, 8},
          new long[] {9, 10, 11, 12},
          new long[] {1, 2, 3, 4},
          new long[] {5, 6, 7, 8},
          new long[] {9, 10, 11, 12});

  private TieredReplay.Result run(Trace t, TieredReplay.Tiers tiers, String policy) {
    return new TieredReplay(t, tiers, true).run(policy, ReferenceReplay.Progress.NONE);
  }

  @Test
  void lowerTierHits_areServedFromTheTierThatHeldThem_andEveryCopyIsCounted() {
    TieredReplay.Tiers tiers = new TieredReplay.Tiers(0, 4 * PAGE, 4 * PAGE, 8 * PAGE, PAGE, dir);
    TieredReplay.Result r = run(THREE_CHAINS, tiers, "lru");
    assertThat(r.tierNames()).containsExactly("dram", "cxl", "nvme");
    assertThat(r.hitBlocksPerTier()).containsExactly(0L, 4L, 8L);
    assertThat(r.hitTokensPerTier()).containsExactly(0L, 4L, 8L);
    assertThat(r.hitTokens()).isEqualTo(12);
    assertThat(r.tokenHitRate()).isEqualTo(0.5);
    assertThat(r.onboardRequests()).isEqualTo(3);
    assertThat(r.onboardFailures()).isZero();
    // Demotions: the first chain at the second request, the second at the third, the third when
    // the first comes back; middle -> nvme: the first chain, then the second. Onboarding: one
    // page per lower-tier hit. Evicting a copy that nvme also holds is a drop, not a copy.
    assertThat(r.links())
        .extracting(l -> l.from() + ">" + l.to() + ":" + l.pages())
        .containsExactly("dram>cxl:12", "cxl>dram:4", "cxl>nvme:8", "nvme>dram:8");
    for (LinkStats l : r.links()) {
      assertThat(l.bytes()).isEqualTo(l.pages() * PAGE);
      assertThat(l.nanos()).isPositive();
    }
    // The engine's own per-tier counters agree with the leases'.
    assertThat(r.tiers()).extracting(TierStats::hitBlocks).containsExactly(0L, 4L, 8L);
    assertThat(r.tiers().get(1).bytesIn()).isEqualTo(12L * PAGE);
    // Prefill saved: 12 tokens at 10 tokens/s, less bringing 4 + 8 tokens of 1 KiB up at the
    // bandwidths the run measured.
    TieredReplay.CostModel cost = new TieredReplay.CostModel(10, 1024);
    double bringUp =
        4 * 1024 / r.link("cxl", "dram").bytesPerSecond()
            + 8 * 1024 / r.link("nvme", "dram").bytesPerSecond();
    assertThat(r.prefillSavedSeconds(cost)).isCloseTo(1.2 - bringUp, within(1e-9));
    assertThat(r.prefillSavedSeconds(0, cost)).isZero();
  }

  private static org.assertj.core.data.Offset<Double> within(double d) {
    return offset(d);
  }

  @Test
  void emulatedHbmOnTop_movesTheSamePages() {
    TieredReplay.Tiers tiers = new TieredReplay.Tiers(4 * PAGE, 4 * PAGE, 0, 8 * PAGE, PAGE, dir);
    TieredReplay.Result r = run(THREE_CHAINS, tiers, "lru");
    assertThat(r.tierNames()).containsExactly("hbm", "dram", "nvme");
    assertThat(r.tierKinds().get(0)).startsWith("hbm (");
    assertThat(r.hitBlocksPerTier()).containsExactly(0L, 4L, 8L);
    assertThat(r.links())
        .extracting(l -> l.from() + ">" + l.to() + ":" + l.pages())
        .containsExactly("hbm>dram:12", "dram>hbm:4", "dram>nvme:8", "nvme>hbm:8");
  }

  @Test
  void topTierHits_moveNothing() {
    TieredReplay.Tiers tiers = new TieredReplay.Tiers(0, 16 * PAGE, 4 * PAGE, 0, PAGE, dir);
    TieredReplay.Result r = run(THREE_CHAINS, tiers, "lru");
    assertThat(r.hitBlocksPerTier()).containsExactly(12L, 0L);
    assertThat(r.links()).isEmpty();
    assertThat(r.onboardRequests()).isZero();
    assertThat(r.prefillSavedSeconds(new TieredReplay.CostModel(4, 1))).isEqualTo(3.0);
  }

  /** A generated agentic trace, written to {@code dir} and read back as the command line would. */
  private static Trace generated(AgenticGenerator.Options o, Path dir) throws Exception {
    Path file = dir.resolve("agentic.jsonl");
    Files.writeString(file, AgenticGenerator.generate(o), StandardCharsets.UTF_8);
    return TraceFormat.KVTIER.read(List.of(file), TraceFormat.Options.DEFAULTS);
  }

  @Test
  void sameTraceAndPolicy_giveTheSameHitsEveryRun() throws Exception {
    // Agent sessions with tool pauses (TTL pins on the virtual clock), sub-agents, branches and
    // compaction, through all four tiers: sizes found to give every tier hits.
    Trace t =
        generated(new AgenticGenerator.Options(5, 5, 12, 3, 2, 64, 5_000, 0.3, 0.3, 20_000), dir);
    TieredReplay.Tiers tiers =
        new TieredReplay.Tiers(2 << 20, 512 << 10, 512 << 10, 1 << 20, PAGE, dir);
    for (String policy : List.of("lru", "s3fifo")) {
      TieredReplay.Result a = new TieredReplay(t, tiers).run(policy, ReferenceReplay.Progress.NONE);
      TieredReplay.Result b = new TieredReplay(t, tiers).run(policy, ReferenceReplay.Progress.NONE);
      assertThat(a.hitBlocksPerTier()).as(policy).allMatch(n -> n > 0);
      assertThat(a.links()).as(policy).hasSizeGreaterThanOrEqualTo(6);
      assertThat(b.hitTokens()).as(policy).isEqualTo(a.hitTokens());
      assertThat(b.hitTokensPerTier()).as(policy).isEqualTo(a.hitTokensPerTier());
      assertThat(b.hitBlocksPerTier()).as(policy).isEqualTo(a.hitBlocksPerTier());
      assertThat(b.evictedBlocks()).as(policy).isEqualTo(a.evictedBlocks());
      assertThat(b.links())
          .as(policy)
          .extracting(l -> l.from() + ">" + l.to() + ":" + l.pages())
          .isEqualTo(
              a.links().stream().map(l -> l.from() + ">" + l.to() + ":" + l.pages()).toList());
      // The engine counts every match; the replay drops the lower-tier hits of a request whose
      // onboarding found no room (it recomputes them).
      assertThat(a.tiers().get(0).hitBlocks()).isEqualTo(a.hitBlocksPerTier().get(0));
      for (int k = 1; k < 4; k++) {
        assertThat(a.tiers().get(k).hitBlocks())
            .isGreaterThanOrEqualTo(a.hitBlocksPerTier().get(k));
      }
      if (a.onboardFailures() == 0) {
        assertThat(a.tiers()).extracting(TierStats::hitBlocks).isEqualTo(a.hitBlocksPerTier());
      }
    }
  }

  /**
   * The engine model on a hand-made trace whose timing is known: 1 prefill token per second, and
   * one block (one token of 1,000 KV bytes) per second over the cxl link; a 12-page top tier. r0
   * (A: 4 blocks) runs 0-4 s, r1 (B: 4 blocks, arrived at 0.05 s) 4-8 s, r2 (F: 8 blocks, arrived
   * at 0.1 s) 8-16 s; r3 (A and one new block) arrives at 5 s and is scheduled at 16 s. On demand,
   * F pushes A, the least recently used, down to cxl, and r3 waits 4 s for it. Offered to the cache
   * when it arrived, A counts as used then: F pushes B down instead, and r3 waits for nothing.
   */
  private static final Trace QUEUED =
      Trace.of(
          "queued",
          List.of(
              TraceRequest.plain(0, 4, 1, 1, new long[] {1, 2, 3, 4}),
              TraceRequest.plain(50, 4, 1, 1, new long[] {41, 42, 43, 44}),
              TraceRequest.plain(100, 8, 1, 1, new long[] {11, 12, 13, 14, 15, 16, 17, 18}),
              TraceRequest.plain(5_000, 5, 1, 1, new long[] {1, 2, 3, 4, 5})));

  private static TieredReplay.Result engineRun(Trace t, boolean queued, boolean steps, Path dir) {
    return engineRun(t, queued, steps, 1, dir);
  }

  private static TieredReplay.Result engineRun(
      Trace t, boolean queued, boolean steps, int layers, Path dir) {
    return engineRun(t, queued, steps, layers, TieredReplay.Engine.NO_FORESIGHT, dir);
  }

  private static TieredReplay.Result engineRun(
      Trace t, boolean queued, boolean steps, int layers, double foresight, Path dir) {
    TieredReplay.Engine engine =
        new TieredReplay.Engine(
            new TieredReplay.CostModel(1, 1000),
            java.util.Map.of("cxl", 1000.0),
            queued,
            steps,
            layers,
            foresight);
    TieredReplay.Tiers tiers = new TieredReplay.Tiers(0, 12 * PAGE, 32 * PAGE, 0, PAGE, dir);
    return new TieredReplay(t, tiers, true)
        .engine(engine)
        .run("lru", ReferenceReplay.Progress.NONE);
  }

  @Test
  void engineModel_onDemand_exposesTheCopiesOfAQueuedRequest() {
    TieredReplay.Result r = engineRun(QUEUED, false, false, dir);
    TieredReplay.EngineStats e = r.engine();
    assertThat(r.hitBlocksPerTier()).containsExactly(0L, 4L);
    assertThat(e.queuedRequests()).isEqualTo(3);
    assertThat(e.queueSeconds()).isCloseTo(3.95 + 7.9 + 11, offset(1e-9));
    assertThat(e.exposedRequests()).isEqualTo(1);
    assertThat(e.exposedSeconds()).isCloseTo(4, offset(1e-9));
    assertThat(e.exposedIdleSeconds()).isZero();
    assertThat(e.prefillSeconds()).isCloseTo(17, offset(1e-9));
    assertThat(e.spanSeconds()).isCloseTo(21, offset(1e-9));
    assertThat(e.prefetchCalls()).isZero();
  }

  @Test
  void engineModel_queuedPrefetch_keepsTheQueuedPrefixUp_withTheSameHitTokens() {
    TieredReplay.Result demand = engineRun(QUEUED, false, false, dir);
    TieredReplay.Result r = engineRun(QUEUED, true, false, dir);
    TieredReplay.EngineStats e = r.engine();
    assertThat(r.hitTokens()).isEqualTo(demand.hitTokens());
    assertThat(r.hitBlocksPerTier()).as("A was on top when scheduled").containsExactly(4L, 0L);
    assertThat(e.exposedSeconds()).isZero();
    assertThat(e.spanSeconds()).isCloseTo(17, offset(1e-9));
    assertThat(e.prefetchCalls()).isPositive();
    assertThat(r.link("cxl", "dram").pages()).isZero();
  }

  @Test
  void engineModel_onAgenticTraffic_repeats_andQueuedPrefetchCopiesAndHidesOnboarding()
      throws Exception {
    Trace t =
        generated(new AgenticGenerator.Options(11, 12, 12, 2, 2, 64, 2_000, 0.1, 0.1, 20_000), dir);
    TieredReplay.Engine demand =
        new TieredReplay.Engine(
            new TieredReplay.CostModel(2_000, 131_072), java.util.Map.of(), false);
    TieredReplay.Engine queued =
        new TieredReplay.Engine(
            new TieredReplay.CostModel(2_000, 131_072), java.util.Map.of(), true);
    TieredReplay.Tiers tiers = new TieredReplay.Tiers(0, 256 * PAGE, 4096 * PAGE, 0, PAGE, dir);
    TieredReplay.Result a =
        new TieredReplay(t, tiers).engine(demand).run("lru", ReferenceReplay.Progress.NONE);
    TieredReplay.Result b =
        new TieredReplay(t, tiers).engine(demand).run("lru", ReferenceReplay.Progress.NONE);
    TieredReplay.Result q =
        new TieredReplay(t, tiers).engine(queued).run("lru", ReferenceReplay.Progress.NONE);
    assertThat(b.engine()).as("the model's times repeat").isEqualTo(a.engine());
    assertThat(a.engine().queuedRequests()).isPositive();
    assertThat(a.engine().exposedSeconds()).isPositive();
    assertThat(q.engine().prefetchBlocks()).isPositive();
    assertThat(q.prefetch().used()).isPositive();
    assertThat(q.engine().exposedSeconds()).isLessThan(a.engine().exposedSeconds());
  }

  private static TraceRequest turn(
      long ms, String session, String agent, PauseKind pause, long... blocks) {
    return new TraceRequest(
        ms,
        session,
        agent,
        "model",
        "",
        "",
        blocks.length,
        1,
        1,
        blocks,
        pause == null ? -1 : 1_000,
        pause,
        0,
        0,
        false);
  }

  /**
   * A parent and its sub-agent, timed as {@link #QUEUED} is (1 token/s, 1 block/s, 12 top pages). p
   * runs A (4 blocks) 0-4 s and pauses for a tool call: its sub-agent p/sub-0 (12 blocks) arrives
   * at 4.5 s, runs 4.5-16.5 s and pushes A down to cxl. p's next turn (A and one new block) arrives
   * at {@code parentBackMs}.
   */
  private static Trace subAgentTrace(long parentBackMs) {
    return Trace.of(
        "steps",
        List.of(
            turn(0, "p", "main", PauseKind.TOOL, 1, 2, 3, 4),
            turn(
                4_500,
                "p/sub-0",
                "sub:Explore",
                null,
                21,
                22,
                23,
                24,
                25,
                26,
                27,
                28,
                29,
                30,
                31,
                32),
            turn(parentBackMs, "p", "main", null, 1, 2, 3, 4, 5)));
  }

  @Test
  void engineModel_stepPrefetch_bringsTheParentUpWhenItsLastSubAgentFinishes() {
    Trace t = subAgentTrace(21_000);
    TieredReplay.Result demand = engineRun(t, false, false, dir);
    assertThat(demand.hitBlocksPerTier()).containsExactly(0L, 4L);
    assertThat(demand.engine().exposedSeconds())
        .as("on demand, the parent waits for A at an idle engine")
        .isCloseTo(4, offset(1e-9));
    assertThat(demand.engine().exposedIdleSeconds()).isCloseTo(4, offset(1e-9));
    assertThat(demand.engine().stepPrefetches()).isZero();

    TieredReplay.Result steps = engineRun(t, false, true, dir);
    assertThat(steps.hitTokens()).isEqualTo(demand.hitTokens());
    assertThat(steps.engine().stepPrefetches()).isEqualTo(1);
    assertThat(steps.hitBlocksPerTier())
        .as("copied up at 16.5 s, landed at 20.5 s")
        .containsExactly(4L, 0L);
    assertThat(steps.engine().exposedSeconds()).isZero();
    assertThat(steps.prefetch().used()).isEqualTo(4);
  }

  @Test
  void engineModel_stepPrefetch_waitsForItsCopies_andSkipsAParentThatCameBackFirst() {
    // Back at 18 s: the copies started at 16.5 s land at 20.5 s, so 2.5 s stay exposed.
    TieredReplay.Result early = engineRun(subAgentTrace(18_000), false, true, dir);
    assertThat(early.engine().stepPrefetches()).isEqualTo(1);
    assertThat(early.engine().exposedSeconds()).isCloseTo(2.5, offset(1e-9));
    // Back at 10 s, before its sub-agent finished: nothing to forecast, it onboards on demand.
    TieredReplay.Result back = engineRun(subAgentTrace(10_000), false, true, dir);
    TieredReplay.Result demand = engineRun(subAgentTrace(10_000), false, false, dir);
    assertThat(back.engine().stepPrefetches()).isZero();
    assertThat(back.engine()).isEqualTo(demand.engine());
  }

  private static TieredReplay.Result foresightRun(Trace t, double leadSeconds, Path dir) {
    return engineRun(t, false, false, 1, leadSeconds, dir);
  }

  @Test
  void engineModel_foresight_prefetchesEachRequestItsLeadBeforeItsTrueArrival() {
    // The parent is back at 21 s, at an idle engine, with A (4 blocks) in cxl since its sub-agent
    // ran: on demand it waits 4 s. Foreseen 5 s ahead, A is copied over [16, 20) and nothing is
    // exposed; foreseen 2 s ahead, over [19, 23), so 2 s are.
    Trace t = subAgentTrace(21_000);
    TieredReplay.Result demand = engineRun(t, false, false, dir);
    assertThat(demand.engine().exposedIdleSeconds()).isCloseTo(4, offset(1e-9));
    assertThat(demand.engine().foresightPrefetches()).isZero();

    TieredReplay.Result ahead = foresightRun(t, 5, dir);
    assertThat(ahead.hitTokens()).isEqualTo(demand.hitTokens());
    assertThat(ahead.engine().foresightPrefetches())
        .as("only the parent's second turn had a cached prefix to bring up")
        .isEqualTo(1);
    assertThat(ahead.hitBlocksPerTier()).containsExactly(4L, 0L);
    assertThat(ahead.engine().exposedSeconds()).isZero();
    assertThat(ahead.prefetch().used()).isEqualTo(4);

    TieredReplay.Result late = foresightRun(t, 2, dir);
    assertThat(late.engine().exposedSeconds()).isCloseTo(2, offset(1e-9));
    assertThat(late.engine().exposedIdleSeconds()).isCloseTo(2, offset(1e-9));
    assertThat(late.hitTokens()).isEqualTo(demand.hitTokens());
  }

  @Test
  void engineModel_foresight_refusesANegativeLead() {
    TieredReplay.CostModel cost = new TieredReplay.CostModel(1, 1000);
    assertThatThrownBy(
            () -> new TieredReplay.Engine(cost, java.util.Map.of(), false, false, 1, -0.5))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("foresight lead");
    assertThat(new TieredReplay.Engine(cost, java.util.Map.of(), false, false, 1).foresight())
        .isFalse();
  }

  @Test
  void engineModel_layerByLayer_prefillsEachLayerAsItLands() {
    // r3 is scheduled at 16 s; A's four blocks copy over [16, 20), so with 4 layers layer l has
    // landed at 17 + l s. Its one missed token prefills at 0.25 s a layer: the last layer starts
    // at 20 s and ends at 20.25 s, 3.25 s later than with no copy at all (4 s whole).
    TieredReplay.Result whole = engineRun(QUEUED, false, false, dir);
    TieredReplay.Result layered = engineRun(QUEUED, false, false, 4, dir);
    assertThat(layered.hitBlocksPerTier()).isEqualTo(whole.hitBlocksPerTier());
    assertThat(layered.engine().exposedSeconds()).isCloseTo(3.25, offset(1e-9));
    assertThat(layered.engine().exposedRequests()).isEqualTo(1);
    assertThat(layered.engine().spanSeconds()).isCloseTo(20.25, offset(1e-9));
    assertThat(layered.link("cxl", "dram").pages()).as("the copies are real").isEqualTo(4);
  }

  @Test
  void engineModel_layerByLayer_overlapsThePrefetchStillCopying() {
    // The step prefetch copies A over [16.5, 20.5): with 4 layers they land at 17.5 + l s. The
    // parent, back at 18 s at an idle engine, prefills its missed token 0.25 s a layer and ends at
    // 20.75 s: 1.75 s exposed instead of the 2.5 s it waits for the whole pages.
    TieredReplay.Result layered = engineRun(subAgentTrace(18_000), false, true, 4, dir);
    assertThat(layered.engine().stepPrefetches()).isEqualTo(1);
    assertThat(layered.engine().exposedSeconds()).isCloseTo(1.75, offset(1e-9));
    assertThat(layered.engine().exposedIdleSeconds()).isCloseTo(1.75, offset(1e-9));
    assertThat(engineRun(subAgentTrace(18_000), false, true, 1, dir).engine().exposedSeconds())
        .isCloseTo(2.5, offset(1e-9));
  }

  @Test
  void engineModel_layerByLayer_onAgenticTraffic_exposesLessThanWholePages() throws Exception {
    Trace t =
        generated(new AgenticGenerator.Options(11, 12, 12, 2, 2, 64, 2_000, 0.1, 0.1, 20_000), dir);
    TieredReplay.CostModel cost = new TieredReplay.CostModel(2_000, 131_072);
    TieredReplay.Tiers tiers = new TieredReplay.Tiers(0, 256 * PAGE, 4096 * PAGE, 0, PAGE, dir);
    TieredReplay.Result whole =
        new TieredReplay(t, tiers)
            .engine(new TieredReplay.Engine(cost, java.util.Map.of(), false, false, 1))
            .run("lru", ReferenceReplay.Progress.NONE);
    TieredReplay.Result layered =
        new TieredReplay(t, tiers, true)
            .engine(new TieredReplay.Engine(cost, java.util.Map.of(), false, false, 32))
            .run("lru", ReferenceReplay.Progress.NONE);
    assertThat(whole.engine().exposedSeconds()).isPositive();
    assertThat(layered.engine().exposedSeconds()).isLessThan(whole.engine().exposedSeconds());
    assertThat(layered.onboardFailures()).isZero();
    assertThat(layered.link("cxl", "dram").pages()).isPositive();
  }

  @Test
  void engineModel_link_runsAScheduledRequestsCopiesBeforePrefetchesNotYetStarted() {
    TieredReplay.LinkModel link = new TieredReplay.LinkModel();
    double[] first = link.prefetch(0, 4, 1);
    double[] second = link.prefetch(0, 2, 2);
    assertThat(second).containsExactly(4, 6, 2);
    List<Integer> moved = new ArrayList<>();
    double[] own = link.demand(1, 3, b -> moved.add((int) b[2]));
    assertThat(own).as("behind the batch under way only").containsExactly(4, 7);
    assertThat(first).containsExactly(0, 4, 1);
    assertThat(second).as("overtaken, moved back by 3 s").containsExactly(7, 9, 2);
    assertThat(moved).containsExactly(2);
    assertThat(link.demand(2, 1, b -> moved.add(-1)))
        .as("after earlier onboarding")
        .containsExactly(7, 8);
    assertThat(second).containsExactly(8, 10, 2);
    assertThat(link.prefetch(3, 1, 3)).as("prefetches queue after all").containsExactly(10, 11, 3);
    assertThat(link.demand(20, 1, b -> moved.add(-2))).containsExactly(20, 21);
    assertThat(moved).containsExactly(2, -1);
  }

  @Test
  void engineModel_link_raisesAScheduledRequestsOwnPrefetchAheadOfOthersNotYetStarted() {
    TieredReplay.LinkModel link = new TieredReplay.LinkModel();
    double[] underWay = link.prefetch(0, 4, 1);
    double[] other = link.prefetch(0, 2, 2);
    double[] mine = link.prefetch(0, 3, 3);
    double[] later = link.prefetch(10, 1, 4); // booked when the link is idle: a gap before it
    assertThat(mine).containsExactly(6, 9, 3);
    assertThat(later).containsExactly(10, 11, 4);
    assertThat(link.waits(1, 3)).isTrue();
    assertThat(link.waits(1, 1)).as("under way").isFalse();
    List<Integer> moved = new ArrayList<>();
    double[] own = link.demand(1, 1, 3, b -> moved.add((int) b[2]));
    assertThat(underWay).containsExactly(0, 4, 1);
    assertThat(mine).as("raised: right behind the batch under way").containsExactly(4, 7, 3);
    assertThat(own).as("then the request's own copies").containsExactly(7, 8);
    assertThat(other).as("overtaken by both").containsExactly(8, 10, 2);
    assertThat(later).as("never earlier than it was booked").containsExactly(10, 11, 4);
    assertThat(moved).containsExactly(3, 2);
    assertThat(link.waits(1, 3)).as("queued still, first in line").isTrue();
    assertThat(link.waits(5, 3)).as("under way").isFalse();
    assertThat(link.prefetch(2, 1, 5)).containsExactly(11, 12, 5);
  }

  @Test
  void withoutTheEngineModel_nothingIsTimed() {
    TieredReplay.Tiers tiers = new TieredReplay.Tiers(0, 12 * PAGE, 32 * PAGE, 0, PAGE, dir);
    TieredReplay.Result r =
        new TieredReplay(QUEUED, tiers).run("lru", ReferenceReplay.Progress.NONE);
    assertThat(r.engine()).isEqualTo(TieredReplay.EngineStats.NONE);
  }

  @Test
  void belady_isNotATieredPolicy() {
    TieredReplay.Tiers tiers = new TieredReplay.Tiers(0, 4 * PAGE, 0, 0, PAGE, dir);
    assertThatThrownBy(() -> run(THREE_CHAINS, tiers, "belady"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("reference mode");
  }

  @Test
  void sizes_parseWithBinaryUnits_andBadOnesAreNamed() {
    assertThat(TieredReplay.parseSize("--dram", "4096")).isEqualTo(4096);
    assertThat(TieredReplay.parseSize("--dram", "512k")).isEqualTo(512L << 10);
    assertThat(TieredReplay.parseSize("--dram", "64M")).isEqualTo(64L << 20);
    assertThat(TieredReplay.parseSize("--dram", "1.5GiB")).isEqualTo(3L << 29);
    assertThat(TieredReplay.parseSize("--dram", "2tb")).isEqualTo(2L << 40);
    for (String bad : List.of("", "x", "12x", "-1g", "1.5", "0", "1 gigabyte")) {
      assertThatThrownBy(() -> TieredReplay.parseSize("--nvme", bad))
          .as("'%s'", bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("--nvme");
    }
    assertThatThrownBy(() -> new TieredReplay.Tiers(0, 1000, 0, 0, PAGE, null))
        .hasMessageContaining("holds no page");
    assertThatThrownBy(() -> new TieredReplay.Tiers(0, 0, 0, 0, PAGE, null))
        .hasMessageContaining("at least one tier");
    assertThatThrownBy(() -> new TieredReplay.Tiers(0, 1 << 20, 0, 0, 1000, null))
        .hasMessageContaining("multiple of 4 KiB");
  }

  private record Run(int code, String out, String err) {}

  private static Run cli(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    String[] full = new String[args.length + 1];
    full[0] = "replay";
    System.arraycopy(args, 0, full, 1, args.length);
    int code =
        Main.run(
            full,
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(
        code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void commandLine_rejectsBadSizesAndCostModels_beforeReadingTheTrace() {
    String[][] bad = {
      {"--dram", "12x"},
      {"--dram", "1k"},
      {"--nvme", "0"},
      {"--dram", "1m", "--page-kib", "6"},
      {"--dram", "1m", "--prefill-tps", "0"},
      {"--dram", "1m", "--kv-bytes-per-token", "-5"},
      {"--dram", "1m", "--prefetch", "queued"},
      {"--dram", "1m", "--prefetch", "later"},
      {"--dram", "1m", "--prefetch", "queued,queued"},
      {"--dram", "1m", "--prefetch", "steps"},
      {"--dram", "1m", "--engine", "--link-gbps", "hbm=50"},
      {"--dram", "1m", "--engine", "--link-gbps", "cxl=0"},
      {"--dram", "1m", "--engine", "--layers", "0"},
      {"--dram", "1m", "--layers", "32"},
      {"--dram", "1m", "--prefetch", "foresight"},
      {"--dram", "1m", "--engine", "--prefetch", "foresight", "--foresight-lead-s", "-1"},
    };
    String[] says = {
      "--dram wants a size such as 512m",
      "--dram 1 KiB holds no page of 32 KiB",
      "--nvme must be at least 1 byte",
      "--page-kib must be a positive multiple of 4",
      "--prefill-tps must be positive",
      "--kv-bytes-per-token must be positive",
      "add --engine",
      "--prefetch must be none or a list of resume, queued, steps and foresight, was later",
      "--prefetch must be none or a list of resume, queued, steps and foresight, was queued,queued",
      "--prefetch steps prefetches a parent when its sub-agents finish in the engine: add --engine",
      "a link is named by its lower tier",
      "the bandwidth of link cxl must be positive",
      "--layers must be in [1, 256], was 0",
      "--layers overlaps the engine model's prefill with onboarding: add --engine",
      "--prefetch foresight prefetches ahead of the engine's arrivals: add --engine",
      "--foresight-lead-s must be a finite number of seconds, 0 or more, was -1.0",
    };
    for (int i = 0; i < bad.length; i++) {
      List<String> args =
          new ArrayList<>(List.of("--trace", "missing.jsonl", "--format", "mooncake"));
      args.addAll(List.of(bad[i]));
      Run r = cli(args.toArray(String[]::new));
      assertThat(r.code()).as(String.join(" ", bad[i])).isEqualTo(2);
      assertThat(r.err()).as(String.join(" ", bad[i])).contains(says[i]);
    }
  }

  @Test
  void commandLine_tieredRun_writesTablesJsonCsvAndCharts() throws Exception {
    Path trace = dir.resolve("t.jsonl");
    StringBuilder b = new StringBuilder();
    long[][] reqs = {{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}, {1, 2, 3, 4}, {5, 6, 7, 8}};
    for (int i = 0; i < reqs.length; i++) {
      b.append(
          String.format(
              "{\"timestamp\": %d, \"input_length\": %d, \"output_length\": 1, \"hash_ids\": %s}%n",
              i * 1000, reqs[i].length * 512, java.util.Arrays.toString(reqs[i])));
    }
    Files.writeString(trace, b.toString());
    Path json = dir.resolve("r.json");
    Path out = dir.resolve("out");
    Run r =
        cli(
            "--trace",
            trace.toString(),
            "--format",
            "mooncake",
            "--policy",
            "arc,belady",
            "--dram",
            "16k",
            "--cxl",
            "16k",
            "--nvme",
            "32k",
            "--page-kib",
            "4",
            "--work-dir",
            dir.resolve("work").toString(),
            "--json",
            json.toString(),
            "--out",
            out.toString());
    assertThat(r.code()).as("stdout:%n%s%nstderr:%n%s", r.out(), r.err()).isZero();
    assertThat(r.out())
        .contains("tiers: dram (off-heap) 16 KiB (4 pages) > cxl (pool file) 16 KiB (4 pages)")
        .contains("cost model: prefill saved = hit tokens / 10,000 prefill tokens/s")
        .containsPattern("lru +0\\.4000 +0\\.0000 +0\\.0000 +0\\.4000")
        .containsPattern("arc +0\\.\\d{4}")
        .contains("reference mode, one tier of the same 16 pages")
        .contains("dram -> cxl")
        .contains("nvme -> dram");
    assertThat(r.err()).contains("[1/2] tiered lru").contains("[2/2] tiered arc");
    String j = Files.readString(json);
    assertThat(j)
        .contains("\"mode\": \"tiered\"")
        .contains("\"hit_rate_nvme\": 0.4")
        .contains("\"pages_nvme_to_dram\": 8")
        .contains("\"from\": \"dram\", \"to\": \"cxl\"")
        .contains("\"policy\": \"belady\"");
    assertThat(Files.readString(out.resolve("results.csv")).lines().findFirst().orElseThrow())
        .contains("hit_rate_dram,hit_rate_cxl,hit_rate_nvme")
        .contains("bytes_dram_to_cxl");
    assertThat(Files.readString(out.resolve("links.csv"))).contains("lru,cxl,nvme,8,32768,");
    assertThat(Files.size(out.resolve("hit_rate.png"))).isPositive();
    assertThat(Files.size(out.resolve("bytes_per_link.png"))).isPositive();
    try (var s = Files.list(dir.resolve("work"))) {
      assertThat(s.toList()).as("temporary directories are deleted").isEmpty();
    }
  }
}
