package io.kvtier.replay;

import io.kvtier.PauseKind;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.zip.GZIPInputStream;

/**
 * The trace formats the replay reads (DESIGN §7), each turning files into {@link TraceRequest}s.
 *
 * <ul>
 *   <li>{@link #MOONCAKE}: JSONL, one request a line: {@code {"timestamp": ms, "input_length",
 *       "output_length", "hash_ids": [...]}}, 512-token blocks, ids global within a file, no
 *       sessions.
 *   <li>{@link #WEKA}: one Claude Code conversation per file ({@code .json} or {@code .json.gz}),
 *       64-token blocks, ids local to the file. Each file is one session on its own id scope;
 *       sub-agents become their own sessions on their own model; a request stopped for a tool
 *       ({@code stop: tool_use}) pauses its session as {@link PauseKind#TOOL}, an {@code end_turn}
 *       as {@link PauseKind#HUMAN}, anything else as {@link PauseKind#UNKNOWN}. The files carry no
 *       absolute time, so conversations start staggered: conversation {@code k} (in file-name
 *       order) starts {@code stagger} seconds after conversation {@code k - 1}, and no earlier than
 *       a slot frees when {@code concurrency} conversations are running.
 *   <li>{@link #KVTIER}: kvtier's agentic JSONL, as {@code gen-agentic} writes it.
 * </ul>
 *
 * Every error names the file and the line ({@link TraceFormatException}).
 */
public enum TraceFormat {
  /** Mooncake FAST'25 JSONL. */
  MOONCAKE(512),
  /** WEKA Claude Code sessions. */
  WEKA(64),
  /** kvtier agentic JSONL. */
  KVTIER(16);

  private final int defaultBlockTokens;

  TraceFormat(int defaultBlockTokens) {
    this.defaultBlockTokens = defaultBlockTokens;
  }

  /**
   * Tokens per block when neither the file nor the command line says.
   *
   * @return tokens per block
   */
  public int defaultBlockTokens() {
    return defaultBlockTokens;
  }

  /**
   * The format of a command-line name.
   *
   * @param name {@code mooncake}, {@code weka} or {@code kvtier}
   * @return the format
   * @throws IllegalArgumentException listing the known names
   */
  public static TraceFormat of(String name) {
    for (TraceFormat f : values()) {
      if (f.name().equalsIgnoreCase(name)) {
        return f;
      }
    }
    throw new IllegalArgumentException(
        "unknown trace format '" + name + "': use mooncake, weka or kvtier");
  }

  /**
   * How to read: block size override, and the WEKA start schedule.
   *
   * @param blockTokens tokens per trace block, 0 for the format's (or file's) own
   * @param concurrency WEKA: conversations running at once, at least 1
   * @param staggerSeconds WEKA: seconds between conversation starts, at least 0
   * @param maxRequests stop after this many requests per file (0: no limit), for samples
   */
  public record Options(int blockTokens, int concurrency, double staggerSeconds, int maxRequests) {
    /** The defaults: the format's block size, 16 conversations, 60 s apart, no limit. */
    public static final Options DEFAULTS = new Options(0, 16, 60, 0);

    /** Checks the components. */
    public Options {
      if (blockTokens < 0 || concurrency < 1 || staggerSeconds < 0 || maxRequests < 0) {
        throw new IllegalArgumentException(
            "block tokens must be >= 0, concurrency >= 1, stagger >= 0, max requests >= 0");
      }
    }
  }

  /**
   * Reads files into a builder.
   *
   * @param files the files, in the order given (WEKA: sorted by name before staggering)
   * @param options how to read
   * @param into where the requests go
   * @throws TraceFormatException naming the file and line of the first bad record
   * @throws UncheckedIOException when a file cannot be read
   */
  public void read(List<Path> files, Options options, Trace.Builder into) {
    switch (this) {
      case MOONCAKE -> {
        for (Path f : files) {
          readMooncake(f, options, into);
        }
      }
      case KVTIER -> {
        for (Path f : files) {
          readKvtier(f, options, into);
        }
      }
      case WEKA -> readWeka(files, options, into);
    }
  }

  /**
   * Reads files into a new trace named after them.
   *
   * @param files the files
   * @param options how to read
   * @return the trace
   */
  public Trace read(List<Path> files, Options options) {
    String name =
        String.join(",", files.stream().map(p -> String.valueOf(p.getFileName())).toList());
    Trace.Builder b = Trace.builder(name);
    read(files, options, b);
    return b.build();
  }

  // ------------------------------------------------------------------ Mooncake

  private static void readMooncake(Path file, Options o, Trace.Builder into) {
    int bt = o.blockTokens() > 0 ? o.blockTokens() : MOONCAKE.defaultBlockTokens;
    String scope = file.toString();
    forEachLine(
        file,
        (line, no) -> {
          Map<String, Object> m = object(line, file, no);
          Rec r = new Rec(m, file, no);
          long t = r.time("timestamp");
          int in = r.nonNegativeInt("input_length");
          int out = r.nonNegativeInt("output_length");
          long[] ids = r.hashIds("hash_ids", in, bt);
          into.add(
              new TraceRequest(
                  t, null, "main", "model", "", scope, in, out, bt, ids, -1, null, 0, 0, false));
          return o.maxRequests() == 0 || no < o.maxRequests();
        });
  }

  // ------------------------------------------------------------------ kvtier agentic JSONL

  private static void readKvtier(Path file, Options o, Trace.Builder into) {
    String scope = file.toString();
    int[] count = {0};
    forEachLine(
        file,
        (line, no) -> {
          Rec r = new Rec(object(line, file, no), file, no);
          long t = r.time("t_ms");
          String session = r.string("session", null);
          String agent = r.string("agent", "main");
          if (!agent.equals("main") && !agent.startsWith("sub:")) {
            throw r.error("agent must be \"main\" or \"sub:<type>\", was \"" + agent + "\"");
          }
          String model = r.string("model", "model");
          String tenant = r.string("tenant", "");
          int in = r.nonNegativeInt("input_length");
          int out = r.intOr("output_length", 0);
          int bt =
              o.blockTokens() > 0
                  ? o.blockTokens()
                  : r.positiveIntOr("block_tokens", KVTIER.defaultBlockTokens);
          long[] ids = r.hashIds("hash_ids", in, bt);
          long pause = r.has("pause_ms") ? r.time("pause_ms") : -1;
          PauseKind kind =
              switch (r.string("pause_kind", "none")) {
                case "tool" -> PauseKind.TOOL;
                case "human" -> PauseKind.HUMAN;
                case "unknown" -> PauseKind.UNKNOWN;
                case "none" -> null;
                default -> throw r.error("pause_kind must be tool, human, unknown or none");
              };
          int k = r.intOr("branches", 0);
          if (k == 1 || k < 0 || k > 64) {
            throw r.error("branches must be 0 (none) or 2 to 64, was " + k);
          }
          int bTok = r.intOr("branch_tokens", 0);
          boolean compacted = r.bool("compacted", false);
          into.add(
              new TraceRequest(
                  t,
                  session,
                  agent,
                  model,
                  tenant,
                  scope,
                  in,
                  out,
                  bt,
                  ids,
                  kind == null ? -1 : pause,
                  kind,
                  k,
                  bTok,
                  compacted));
          return o.maxRequests() == 0 || ++count[0] < o.maxRequests();
        });
  }

  // ------------------------------------------------------------------ WEKA

  private static void readWeka(List<Path> files, Options o, Trace.Builder into) {
    List<Path> sorted = new ArrayList<>(files);
    sorted.sort(
        (a, b) -> String.valueOf(a.getFileName()).compareTo(String.valueOf(b.getFileName())));
    PriorityQueue<Long> running = new PriorityQueue<>();
    long staggerMs = Math.round(o.staggerSeconds() * 1000);
    for (int k = 0; k < sorted.size(); k++) {
      Path f = sorted.get(k);
      List<TraceRequest> conv = readWekaFile(f, o);
      long start = k * staggerMs;
      if (running.size() >= o.concurrency()) {
        start = Math.max(start, running.poll());
      }
      long end = start;
      for (TraceRequest r : conv) {
        into.add(r.at(start + r.timeMs()));
        end = Math.max(end, start + r.timeMs());
      }
      running.add(end);
    }
  }

  /** One conversation, times relative to its start. */
  static List<TraceRequest> readWekaFile(Path file, Options o) {
    String text = readAll(file);
    Object root = Json.parse(text, file.toString(), 1);
    if (!(root instanceof Map<?, ?> m)) {
      throw new TraceFormatException(file.toString(), 1, "expected a JSON object per file");
    }
    Rec top = new Rec(cast(m), file, 0);
    int bt = o.blockTokens() > 0 ? o.blockTokens() : top.positiveIntOr("block_size", 64);
    String name = String.valueOf(file.getFileName());
    String conv = top.string("id", name);
    List<TraceRequest> out = new ArrayList<>();
    readWekaRequests(top, "requests", file, conv, conv, "main", 0, bt, o, out);
    return out;
  }

  private static void readWekaRequests(
      Rec parent,
      String key,
      Path file,
      String scope,
      String session,
      String agent,
      long offsetMs,
      int bt,
      Options o,
      List<TraceRequest> out) {
    List<Map<String, Object>> reqs = parent.objects(key);
    List<TraceRequest> mine = new ArrayList<>();
    List<String> stops = new ArrayList<>();
    for (int i = 0; i < reqs.size(); i++) {
      if (o.maxRequests() > 0 && mine.size() >= o.maxRequests()) {
        break;
      }
      String path = (parent.where == null ? "" : parent.where + ".") + key + "[" + i + "]";
      Rec r = new Rec(reqs.get(i), file, 0, path);
      long t = offsetMs + r.time("t", 1000);
      String type = r.string("type", "n");
      if (type.equals("subagent")) {
        String id = r.string("agent_id", "agent" + i);
        String sub = r.string("subagent_type", "general");
        readWekaRequests(
            r, "requests", file, scope, session + "/" + id, "sub:" + sub, t, bt, o, out);
        continue;
      }
      String model = r.string("model", "model");
      int in = r.nonNegativeInt("in");
      int outTok = r.intOr("out", 0);
      long[] ids = r.hashIds("hash_ids", in, bt);
      mine.add(
          new TraceRequest(
              t, session, agent, model, "", scope, in, outTok, bt, ids, -1, null, 0, 0, false));
      stops.add(r.string("stop", ""));
    }
    for (int i = 0; i + 1 < mine.size(); i++) {
      PauseKind kind =
          switch (stops.get(i)) {
            case "tool_use" -> PauseKind.TOOL;
            case "end_turn" -> PauseKind.HUMAN;
            default -> PauseKind.UNKNOWN;
          };
      mine.set(
          i,
          mine.get(i)
              .withPause(Math.max(0, mine.get(i + 1).timeMs() - mine.get(i).timeMs()), kind));
    }
    out.addAll(mine);
  }

  // ------------------------------------------------------------------ helpers

  @FunctionalInterface
  private interface LineHandler {
    /** Handles one non-blank line; returns false to stop. */
    boolean line(String line, int number);
  }

  private static void forEachLine(Path file, LineHandler h) {
    try (BufferedReader in =
        new BufferedReader(new InputStreamReader(open(file), StandardCharsets.UTF_8), 1 << 16)) {
      String line;
      int no = 0;
      while ((line = in.readLine()) != null) {
        no++;
        if (line.isBlank()) {
          continue;
        }
        if (!h.line(line, no)) {
          return;
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  private static InputStream open(Path file) throws IOException {
    InputStream in = Files.newInputStream(file);
    if (file.toString().toLowerCase(Locale.ROOT).endsWith(".gz")) {
      return new GZIPInputStream(in, 1 << 16);
    }
    return in;
  }

  private static String readAll(Path file) {
    try (InputStream in = open(file)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  private static Map<String, Object> object(String line, Path file, int no) {
    Object v = Json.parse(line, file.toString(), no);
    if (!(v instanceof Map<?, ?> m)) {
      throw new TraceFormatException(file.toString(), no, "expected a JSON object on the line");
    }
    return cast(m);
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> cast(Map<?, ?> m) {
    return (Map<String, Object>) m;
  }

  /** Typed access to one record's fields, with errors that name the file, line and field. */
  private static final class Rec {
    private final Map<String, Object> m;
    private final Path file;
    private final int line;
    private final String where;

    Rec(Map<String, Object> m, Path file, int line) {
      this(m, file, line, null);
    }

    Rec(Map<String, Object> m, Path file, int line, String where) {
      this.m = m;
      this.file = file;
      this.line = line;
      this.where = where;
    }

    TraceFormatException error(String what) {
      return new TraceFormatException(
          file.toString(), line, (where == null ? "" : where + ": ") + what);
    }

    boolean has(String k) {
      return m.get(k) != null;
    }

    private Object need(String k) {
      Object v = m.get(k);
      if (v == null) {
        throw error("missing field \"" + k + "\"");
      }
      return v;
    }

    /** A time in ms from a number of ms (or of seconds × {@code scale}), non-negative. */
    long time(String k) {
      return time(k, 1);
    }

    long time(String k, double scale) {
      Object v = need(k);
      double d;
      if (v instanceof Long l) {
        d = l;
      } else if (v instanceof Double x) {
        d = x;
      } else {
        throw error("\"" + k + "\" must be a number");
      }
      d *= scale;
      if (!(d >= 0) || d > 1e15) {
        throw error("\"" + k + "\" must be a non-negative time, was " + v);
      }
      return Math.round(d);
    }

    int nonNegativeInt(String k) {
      Object v = need(k);
      if (!(v instanceof Long l) || l < 0 || l > Integer.MAX_VALUE) {
        throw error("\"" + k + "\" must be a non-negative integer, was " + v);
      }
      return (int) (long) l;
    }

    int intOr(String k, int dflt) {
      return has(k) ? nonNegativeInt(k) : dflt;
    }

    int positiveIntOr(String k, int dflt) {
      int v = intOr(k, dflt);
      if (v < 1) {
        throw error("\"" + k + "\" must be positive");
      }
      return v;
    }

    String string(String k, String dflt) {
      Object v = m.get(k);
      if (v == null) {
        if (dflt == null && k.equals("session")) {
          return null;
        }
        return dflt;
      }
      if (!(v instanceof String s)) {
        throw error("\"" + k + "\" must be a string");
      }
      return s;
    }

    boolean bool(String k, boolean dflt) {
      Object v = m.get(k);
      if (v == null) {
        return dflt;
      }
      if (!(v instanceof Boolean b)) {
        throw error("\"" + k + "\" must be true or false");
      }
      return b;
    }

    long[] hashIds(String k, int inputLength, int blockTokens) {
      Object v = need(k);
      if (!(v instanceof long[] ids)) {
        throw error("\"" + k + "\" must be an array of integers");
      }
      for (long id : ids) {
        if (id < 0) {
          throw error("\"" + k + "\" holds a negative id " + id);
        }
      }
      long blocks = ((long) inputLength + blockTokens - 1) / blockTokens;
      if (ids.length > blocks) {
        throw error(
            ids.length
                + " hash ids for "
                + inputLength
                + " input tokens: more than one per "
                + blockTokens
                + "-token block (wrong --block-tokens?)");
      }
      return ids;
    }

    @SuppressWarnings("unchecked")
    List<Map<String, Object>> objects(String k) {
      Object v = need(k);
      if (v instanceof long[] a && a.length == 0) {
        return List.of();
      }
      if (!(v instanceof List<?> l)) {
        throw error("\"" + k + "\" must be an array of objects");
      }
      for (Object o : l) {
        if (!(o instanceof Map)) {
          throw error("\"" + k + "\" must be an array of objects");
        }
      }
      return (List<Map<String, Object>>) l;
    }
  }
}
