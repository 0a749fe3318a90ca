package io.kvtier.replay;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvtier.tools.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** {@code kvtier demo} on a reduced sample of the bundled traces, as CI runs it. */
class TraceDemoTest {

  @Test
  void demo_replaysBothBundledTraces_besideLruAndBelady() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        Main.run(
            new String[] {
              "demo",
              "--max-requests",
              "150",
              "--policy",
              "lru,tinylfu,belady",
              "--capacity-fraction",
              "0.05,0.2"
            },
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    String o = out.toString(StandardCharsets.UTF_8);
    assertThat(code).as("stdout:%n%s%nstderr:%n%s", o, err).isZero();
    assertThat(o)
        .contains("conversation_trace_sample.jsonl (mooncake)")
        .contains("(weka)")
        .contains("8 at once, started 30 s apart")
        .containsPattern("belady +0\\.\\d{4} \\(1\\.00\\)")
        .containsPattern("lru +0\\.\\d{4} \\(0\\.\\d\\d\\)");
    // The tiered part: the first 150 Mooncake requests through the four tiers.
    String tiered = o.substring(o.indexOf("== Tiers"));
    assertThat(tiered)
        .contains("(mooncake): 150 requests")
        .containsPattern("tiers: hbm \\((emulated|cuda)\\) 16 MiB")
        .contains("> nvme (default store) 64 MiB")
        .containsPattern("lru +0\\.\\d{4}( +0\\.\\d{4}){4} ")
        .containsPattern("agent-aware +0\\.\\d{4}( +0\\.\\d{4}){4} ")
        .containsPattern(
            "reference mode, one tier of the same 4,608 pages .*lru 0\\.\\d{4}  belady")
        .contains("hbm -> dram")
        .contains("cost model: prefill saved");
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("[6/6]")
        .contains("[2/2] tiered agent-aware: token hit rate");
  }

  @Test
  void replay_rejectsBadCommandLines() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8);
    PrintStream o = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    assertThat(Main.run(new String[] {"replay", "--format", "mooncake"}, o, e)).isEqualTo(2);
    assertThat(Main.run(new String[] {"replay", "--trace", "x", "--format", "csv"}, o, e))
        .isEqualTo(2);
    assertThat(
            Main.run(
                new String[] {"replay", "--trace", "x", "--format", "weka", "--dram", "1q"}, o, e))
        .isEqualTo(2);
    assertThat(
            Main.run(
                new String[] {"replay", "--trace", "x", "--format", "weka", "--policy", "clock"},
                o,
                e))
        .isEqualTo(2);
    assertThat(Main.run(new String[] {"replay", "--trace", "x", "--format", "weka"}, o, e))
        .isEqualTo(1);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("Missing required option: '--trace")
        .contains("unknown trace format 'csv'")
        .contains("--dram wants a size such as 512m")
        .contains("unknown eviction policy 'clock'")
        .contains("cannot read x");
  }
}
