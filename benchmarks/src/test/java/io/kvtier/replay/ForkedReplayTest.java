package io.kvtier.replay;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvtier.spi.BranchPolicy;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Generated agentic traffic with speculative forks of 2 to 4, replayed under the default branch
 * policy, against the same trace without forks.
 */
class ForkedReplayTest {

  @TempDir Path dir;

  private static final double[] CAPACITIES = {0.01, 0.05, 0.2};

  private Trace generate(double forks) throws Exception {
    Path p = dir.resolve("forks-" + forks + ".jsonl");
    Files.writeString(
        p,
        AgenticGenerator.generate(
            new AgenticGenerator.Options(21, 20, 30, 2, 2, 64, 20_000, 0.1, forks, 150_000)),
        StandardCharsets.UTF_8);
    return TraceFormat.KVTIER.read(List.of(p), TraceFormat.Options.DEFAULTS);
  }

  @Test
  void forksOf2To4_stayWithinTheCap_andCostUnderOnePointOfHitRate() throws Exception {
    Trace forked = generate(0.3);
    Trace plain = generate(0);
    assertThat(forked.distinctBlocks()).isEqualTo(plain.distinctBlocks());
    List<ReferenceReplay.Result> results = new ArrayList<>();
    for (double f : CAPACITIES) {
      ReferenceReplay.Result r =
          new ReferenceReplay(forked).run("default", f, ReferenceReplay.Progress.NONE);
      ReferenceReplay.Result control =
          new ReferenceReplay(plain).run("default", f, ReferenceReplay.Progress.NONE);
      results.add(r);
      ReferenceReplay.BranchStats b = r.branches();
      assertThat(b.cap()).isEqualTo(BranchPolicy.DEFAULT_CAP_PAGES);
      assertThat(b.forks()).as("at %s", f).isGreaterThan(20);
      assertThat(b.discarded()).as("at %s", f).isPositive();
      // discarded branches are kept as cache, so the cap is what bounds them
      assertThat(b.peakPagesPerSession()).as("at %s", f).isPositive().isLessThanOrEqualTo(b.cap());
      assertThat(b.peakPages()).isGreaterThanOrEqualTo(b.peakPagesPerSession());
      assertThat(control.branches().forks()).isZero();
      assertThat(control.branches().peakPages()).isZero();
      assertThat(r.tokenHitRate())
          .as("at %s, with forks against without", f)
          .isCloseTo(control.tokenHitRate(), org.assertj.core.data.Offset.offset(0.01));
      // the free-run ratio is measured, over moments with enough free pages to mean something
      if (b.freeRunMoments() > 0) {
        assertThat(b.minFreeRunRatio()).isBetween(0.0, 1.0);
      } else {
        assertThat(b.minFreeRunRatio()).isNaN();
      }
    }

    ReplayReport report =
        new ReplayReport(
            "forked", "kvtier", "", forked.size(), forked.distinctBlocks(), 0, results, 0);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    report.printTable(new PrintStream(out, true, StandardCharsets.UTF_8));
    assertThat(out.toString(StandardCharsets.UTF_8))
        .contains("speculative branches: " + results.get(0).branches().forks() + " forks")
        .contains("cap: " + BranchPolicy.DEFAULT_CAP_PAGES);
    assertThat(report.toJson())
        .contains("\"branch_cap\": " + BranchPolicy.DEFAULT_CAP_PAGES)
        .contains("\"branch_pages_peak_session\": ")
        .contains("\"min_free_run_ratio\": ");
  }

  @Test
  void longestRun_findsConsecutiveSlotsInAnyOrder() {
    assertThat(BranchMeter.longestRun(new int[] {9, 5, 3, 4, 11, 10})).isEqualTo(3);
    assertThat(BranchMeter.longestRun(new int[] {7})).isEqualTo(1);
    assertThat(BranchMeter.longestRun(new int[] {})).isZero();
  }

  @Test
  void withoutACap_theSameTraceHoldsMoreThanTheCap() throws Exception {
    // the cap check above can fail: keeping every discarded branch exceeds it on this trace
    Trace forked = generate(0.3);
    ReferenceReplay.Result all =
        new ReferenceReplay(forked, BranchPolicy.keepAll())
            .run("default", 0.2, ReferenceReplay.Progress.NONE);
    assertThat(all.branches().peakPagesPerSession()).isGreaterThan(BranchPolicy.DEFAULT_CAP_PAGES);
    ReferenceReplay.Result none =
        new ReferenceReplay(forked, BranchPolicy.freeNow())
            .run("default", 0.2, ReferenceReplay.Progress.NONE);
    assertThat(none.branches().peakPages()).isZero();
  }
}
