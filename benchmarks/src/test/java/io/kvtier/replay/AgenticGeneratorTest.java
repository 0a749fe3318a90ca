package io.kvtier.replay;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AgenticGeneratorTest {

  @TempDir Path dir;

  private static AgenticGenerator.Options opts(long seed) {
    return new AgenticGenerator.Options(seed, 12, 12, 3, 2, 64, 5_000, 0.3, 0.3, 20_000);
  }

  @Test
  void sameSeed_sameBytes_otherSeed_otherTrace() {
    String a = AgenticGenerator.generate(opts(7));
    assertThat(AgenticGenerator.generate(opts(7))).isEqualTo(a);
    assertThat(AgenticGenerator.generate(opts(8))).isNotEqualTo(a);
  }

  @Test
  void noForks_giveTheSameRequests_withoutTheirBranches() {
    AgenticGenerator.Options forked = opts(7);
    AgenticGenerator.Options plain =
        new AgenticGenerator.Options(
            forked.seed(),
            forked.sessions(),
            forked.meanTurns(),
            forked.models(),
            forked.tenants(),
            forked.blockTokens(),
            forked.meanArrivalMs(),
            forked.subAgentProbability(),
            0,
            forked.compactAt());
    String a = AgenticGenerator.generate(forked);
    String b = AgenticGenerator.generate(plain);
    assertThat(a).containsPattern("\"branches\":[2-4],");
    assertThat(b).doesNotContainPattern("\"branches\":[1-9]");
    String noBranches = "\"branches\":\\d+,\"branch_tokens\":\\d+";
    assertThat(b.replaceAll(noBranches, "")).isEqualTo(a.replaceAll(noBranches, ""));
  }

  @Test
  void generatedTrace_readsBack_withEveryFeatureTheDesignAsksFor() throws Exception {
    Path p = dir.resolve("g.jsonl");
    Files.writeString(p, AgenticGenerator.generate(opts(3)), StandardCharsets.UTF_8);
    Trace t = TraceFormat.KVTIER.read(List.of(p), TraceFormat.Options.DEFAULTS);
    assertThat(t.models()).hasSizeBetween(2, 3).contains("model-small");
    assertThat(t.agents()).anyMatch(a -> a.startsWith("sub:"));
    Set<Object> kinds = new HashSet<>();
    boolean compacted = false;
    boolean forked = false;
    for (int i = 0; i < t.size(); i++) {
      kinds.add(t.pauseKind(i));
      compacted |= t.compacted(i);
      forked |= t.branches(i) >= 2;
      if (i > 0) {
        assertThat(t.timeMs(i)).isGreaterThanOrEqualTo(t.timeMs(i - 1));
      }
    }
    assertThat(kinds).contains(io.kvtier.PauseKind.TOOL, io.kvtier.PauseKind.HUMAN);
    assertThat(compacted).isTrue();
    assertThat(forked).isTrue();
    // sessions reuse their prefix: far fewer distinct blocks than block references
    assertThat((double) t.distinctBlocks() / t.blockRefs()).isLessThan(0.3);
  }

  @Test
  void replayOfAGeneratedTrace_isDeterministic_andBeladyBoundsLru() throws Exception {
    Path p = dir.resolve("g.jsonl");
    Files.writeString(p, AgenticGenerator.generate(opts(11)), StandardCharsets.UTF_8);
    Trace t = TraceFormat.KVTIER.read(List.of(p), TraceFormat.Options.DEFAULTS);
    ReferenceReplay.Result a =
        new ReferenceReplay(t).run("tinylfu", 0.1, ReferenceReplay.Progress.NONE);
    Trace again = TraceFormat.KVTIER.read(List.of(p), TraceFormat.Options.DEFAULTS);
    ReferenceReplay.Result b =
        new ReferenceReplay(again).run("tinylfu", 0.1, ReferenceReplay.Progress.NONE);
    assertThat(b.hitTokens()).isEqualTo(a.hitTokens());
    assertThat(b.evictedBlocks()).isEqualTo(a.evictedBlocks());
    ReferenceReplay.Result lru =
        new ReferenceReplay(t).run("lru", 0.1, ReferenceReplay.Progress.NONE);
    ReferenceReplay.Result opt =
        new ReferenceReplay(t).run("belady", 0.1, ReferenceReplay.Progress.NONE);
    assertThat(opt.tokenHitRate()).isGreaterThanOrEqualTo(lru.tokenHitRate());
  }
}
