package io.kvtier.replay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.PauseKind;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The trace readers on real lines, and on malformed ones: errors name the file and line. */
class TraceFormatTest {

  @TempDir Path dir;

  /** The first three lines of the Mooncake FAST'25 conversation trace, as published. */
  static final String MOONCAKE_HEAD =
      """
      {"timestamp": 0, "input_length": 6758, "output_length": 500, "hash_ids": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]}
      {"timestamp": 0, "input_length": 7322, "output_length": 490, "hash_ids": [0, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27]}
      {"timestamp": 0, "input_length": 7236, "output_length": 794, "hash_ids": [0, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41]}
      """;

  private Path write(String name, String text) throws IOException {
    Path p = dir.resolve(name);
    Files.writeString(p, text, StandardCharsets.UTF_8);
    return p;
  }

  private Path gzip(String name, String text) throws IOException {
    Path p = dir.resolve(name);
    try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(p))) {
      o.write(text.getBytes(StandardCharsets.UTF_8));
    }
    return p;
  }

  private static Trace read(TraceFormat f, Path... files) {
    return f.read(List.of(files), TraceFormat.Options.DEFAULTS);
  }

  @Test
  void mooncake_readsRealLines_sharingTheFirstBlock() throws IOException {
    Trace t = read(TraceFormat.MOONCAKE, write("conv.jsonl", MOONCAKE_HEAD));
    assertThat(t.size()).isEqualTo(3);
    assertThat(t.distinctBlocks()).isEqualTo(42);
    assertThat(t.inputTokens()).isEqualTo(6758 + 7322 + 7236);
    assertThat(t.blocks(0)[0]).isEqualTo(t.blocks(1)[0]);
    assertThat(t.blockTokens(0)).isEqualTo(512);
    assertThat(t.session(0)).isEqualTo(-1);
  }

  @Test
  void mooncake_badLines_nameFileAndLine() throws IOException {
    String good = MOONCAKE_HEAD.lines().findFirst().orElseThrow() + "\n";
    String[][] cases = {
      {
        "{\"timestamp\": 0, \"input_length\": 6758, \"output_length\": 500, \"hash_ids\": [0, 1, 2",
        "truncated"
      },
      {
        "{\"timestamp\": 0, \"output_length\": 500, \"hash_ids\": [0]}",
        "missing field \"input_length\""
      },
      {
        "{\"timestamp\": 0, \"input_length\": \"x\", \"output_length\": 1, \"hash_ids\": [0]}",
        "\"input_length\" must be a non-negative integer"
      },
      {
        "{\"timestamp\": 0, \"input_length\": 10, \"output_length\": 1, \"hash_ids\": [-3]}",
        "negative id"
      },
      {
        "{\"timestamp\": 0, \"input_length\": 10, \"output_length\": 1, \"hash_ids\": [1, 2]}",
        "more than one per 512-token block"
      },
      {
        "{\"timestamp\": -5, \"input_length\": 10, \"output_length\": 1, \"hash_ids\": [1]}",
        "non-negative time"
      },
      {"[1, 2]", "expected a JSON object"},
      {"{\"timestamp\": 0,, }", "expected a key"},
    };
    for (String[] c : cases) {
      Path p = write("bad.jsonl", good + "\n" + c[0] + "\n" + good);
      assertThatThrownBy(() -> read(TraceFormat.MOONCAKE, p))
          .as(c[0])
          .isInstanceOf(TraceFormatException.class)
          .hasMessageContaining("bad.jsonl:3:")
          .hasMessageContaining(c[1])
          .satisfies(e -> assertThat(((TraceFormatException) e).line()).isEqualTo(3));
    }
  }

  static final String WEKA =
      """
      {"id":"trace_9999","models":["claude-opus-4-5-20251101"],"block_size":64,"hash_id_scope":"local",
       "tool_tokens":100,"system_tokens":50,"requests":[
        {"t":0.0,"type":"n","model":"claude-opus-4-5-20251101","in":200,"out":10,"hash_ids":[1,2,3],
         "input_types":["text"],"output_types":["tool_use"],"stop":"tool_use","api_time":1.0,"think_time":0.0},
        {"t":10.0,"type":"subagent","agent_id":"agent_001","subagent_type":"Explore","models":["claude-haiku-4-5-20251001"],
         "requests":[
          {"t":0.0,"type":"n","model":"claude-haiku-4-5-20251001","in":130,"out":5,"hash_ids":[50,51],"stop":"tool_use"},
          {"t":3.5,"type":"n","model":"claude-haiku-4-5-20251001","in":200,"out":5,"hash_ids":[50,51,52],"stop":"end_turn"}]},
        {"t":20.0,"type":"n","model":"claude-opus-4-5-20251101","in":260,"out":10,"hash_ids":[1,2,3,4],
         "stop":"end_turn","api_time":1.0,"think_time":5.0},
        {"t":400.0,"type":"s","model":"claude-opus-4-5-20251101","in":300,"out":10,"hash_ids":[1,2,3,4],
         "stop":"","api_time":1.0,"think_time":300.0}]}
      """;

  @Test
  void weka_subAgentsAreTheirOwnSessions_onTheirOwnModel_andStopsBecomePauses() throws IOException {
    Trace t = read(TraceFormat.WEKA, gzip("trace_9999.json.gz", WEKA));
    assertThat(t.size()).isEqualTo(5);
    assertThat(t.sessions()).containsExactly("trace_9999/agent_001", "trace_9999");
    // time order: main 0 s, sub 10 s and 13.5 s, main 20 s, 400 s
    assertThat(t.timeMs(1)).isEqualTo(10_000);
    assertThat(t.timeMs(2)).isEqualTo(13_500);
    assertThat(t.sessions().get(t.session(1))).isEqualTo("trace_9999/agent_001");
    assertThat(t.models().get(t.model(1))).isEqualTo("claude-haiku-4-5-20251001");
    assertThat(t.agents().get(t.agent(1))).isEqualTo("sub:Explore");
    assertThat(t.pauseKind(0)).isEqualTo(PauseKind.TOOL);
    assertThat(t.pauseMs(0)).isEqualTo(20_000);
    assertThat(t.pauseKind(1)).isEqualTo(PauseKind.TOOL);
    assertThat(t.pauseKind(2)).isNull(); // the sub-agent's last request
    assertThat(t.pauseKind(3)).isEqualTo(PauseKind.HUMAN);
    assertThat(t.pauseKind(4)).isNull();
    assertThat(t.blocks(3)).startsWith(t.blocks(0));
    assertThat(t.blockTokens(0)).isEqualTo(64);
  }

  @Test
  void weka_idsAreLocalToTheirFile_andConversationsAreStaggered() throws IOException {
    Path a = write("trace_0001.json", WEKA.replace("trace_9999", "trace_0001"));
    Path b = write("trace_0002.json", WEKA.replace("trace_9999", "trace_0002"));
    Trace t = TraceFormat.WEKA.read(List.of(b, a), new TraceFormat.Options(0, 1, 30, 0));
    assertThat(t.size()).isEqualTo(10);
    assertThat(t.distinctBlocks()).isEqualTo(2 * 7);
    // one at a time: the second conversation starts when the first ends (400 s), not at 30 s
    long secondStart = -1;
    for (int i = 0; i < t.size(); i++) {
      if (t.sessions().get(t.session(i)).equals("trace_0002")) {
        secondStart = t.timeMs(i);
        break;
      }
    }
    assertThat(secondStart).isEqualTo(400_000);
    Trace wide = TraceFormat.WEKA.read(List.of(a, b), new TraceFormat.Options(0, 4, 30, 0));
    assertThat(wide.timeMs(1)).isEqualTo(10_000);
    assertThat(wide.timeMs(2)).isEqualTo(13_500); // still trace_0001's sub-agent
  }

  @Test
  void weka_badFiles_nameFileAndPlace() throws IOException {
    Path truncated = write("trace_0003.json", WEKA.substring(0, WEKA.length() / 2));
    assertThatThrownBy(() -> read(TraceFormat.WEKA, truncated))
        .isInstanceOf(TraceFormatException.class)
        .hasMessageContaining("trace_0003.json:")
        .hasMessageContaining("truncated");
    Path badField = write("trace_0004.json", WEKA.replace("\"in\":260", "\"in\":\"260\""));
    assertThatThrownBy(() -> read(TraceFormat.WEKA, badField))
        .isInstanceOf(TraceFormatException.class)
        .hasMessageContaining("trace_0004.json")
        .hasMessageContaining("requests[2]")
        .hasMessageContaining("\"in\" must be a non-negative integer");
    Path badSub =
        write(
            "trace_0005.json", WEKA.replace("\"hash_ids\":[50,51,52]", "\"hash_ids\":[50,\"x\"]"));
    assertThatThrownBy(() -> read(TraceFormat.WEKA, badSub))
        .isInstanceOf(TraceFormatException.class)
        .hasMessageContaining("requests[1].requests[1]");
  }

  @Test
  void kvtier_readsEveryField() throws IOException {
    Path p =
        write(
            "a.jsonl",
            """
            {"t_ms":0,"session":"s1","agent":"main","model":"m","tenant":"acme","input_length":40,"output_length":8,"block_tokens":16,"hash_ids":[0,1,2],"pause_ms":9000,"pause_kind":"tool","branches":3,"branch_tokens":8,"compacted":false}
            {"t_ms":9000,"session":"s1","agent":"main","model":"m","tenant":"acme","input_length":60,"output_length":8,"block_tokens":16,"hash_ids":[0,1,3,4],"pause_ms":0,"pause_kind":"none","branches":0,"branch_tokens":0,"compacted":true}
            """);
    Trace t = read(TraceFormat.KVTIER, p);
    assertThat(t.size()).isEqualTo(2);
    assertThat(t.pauseKind(0)).isEqualTo(PauseKind.TOOL);
    assertThat(t.pauseMs(0)).isEqualTo(9000);
    assertThat(t.pauseKind(1)).isNull();
    assertThat(t.branches(0)).isEqualTo(3);
    assertThat(t.branchTokens(0)).isEqualTo(8);
    assertThat(t.compacted(1)).isTrue();
    assertThat(t.tenants().get(t.tenant(0))).isEqualTo("acme");
    assertThat(t.distinctBlocks()).isEqualTo(5);
  }

  @Test
  void kvtier_badLines_nameFileAndLine() throws IOException {
    String ok =
        "{\"t_ms\":0,\"session\":\"s\",\"input_length\":16,\"block_tokens\":16,\"hash_ids\":[0]}";
    String[][] cases = {
      {ok.replace("\"s\"", "7"), "\"session\" must be a string"},
      {ok.replace("}", ",\"pause_kind\":\"coffee\"}"), "pause_kind must be"},
      {ok.replace("}", ",\"branches\":1}"), "branches must be 0"},
      {ok.replace("}", ",\"agent\":\"boss\"}"), "agent must be"},
      {ok.replace("}", ",\"compacted\":\"yes\"}"), "\"compacted\" must be true or false"},
      {ok.substring(0, 30), "truncated"},
    };
    for (String[] c : cases) {
      Path p = write("k.jsonl", ok + "\n" + c[0] + "\n");
      assertThatThrownBy(() -> read(TraceFormat.KVTIER, p))
          .as(c[0])
          .isInstanceOf(TraceFormatException.class)
          .hasMessageContaining("k.jsonl:2:")
          .hasMessageContaining(c[1]);
    }
  }

  @Test
  void json_parsesEscapesNumbersAndNesting() {
    Object v =
        Json.parse("{\"a\":[1,-2,3.5,\"x\\\"y\\u0041\"],\"b\":{\"c\":null,\"d\":true}}", "t", 1);
    assertThat(v.toString()).isEqualTo("{a=[1, -2, 3.5, x\"yA], b={c=null, d=true}}");
    assertThat((long[]) Json.parse("[1, 2, 3]", "t", 1)).containsExactly(1, 2, 3);
    assertThatThrownBy(() -> Json.parse("{\"a\":1}\n{", "f.json", 10))
        .hasMessageContaining("f.json:11:");
  }
}
