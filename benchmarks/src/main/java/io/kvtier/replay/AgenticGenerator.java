package io.kvtier.replay;

import io.kvtier.PauseKind;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Writes synthetic agent traffic in kvtier's agentic JSONL (DESIGN §7), shaped by what public agent
 * traces show (DESIGN §6). Deterministic: the same {@link Options} give the same bytes.
 *
 * <p><b>Model of a session.</b> Sessions arrive as a Poisson process. A session belongs to a tenant
 * and runs a main agent on a large model (with three models, half the sessions use the third
 * model). Its first prompt is the (model, tenant) system-and-tools prefix, shared by every session
 * of that model and tenant, then a user message. Each turn the context grows by the previous output
 * and a tool result or user message (log-normal sizes), and the prompt's block ids continue the
 * previous prompt's full blocks (a partial last block changes content, so it gets a new id). After
 * a turn the session pauses: for a tool call (85%, log-normal with a median of 9 s and a p99 of
 * about 10 min) or for a person (15%, median 3 min, tail of hours).
 *
 * <p><b>Sub-agents.</b> With some probability a tool call is a burst of 2 to 4 sub-agents of one
 * type (Explore, Plan, general-purpose) on the small model (the second model; the main one when
 * there is one). A sub-agent's prompt starts with its type's system prefix on that model, shared
 * with its siblings and with every sub-agent of that type and tenant, never with the parent (KV is
 * model-specific); each runs 2 to 8 quick turns, and the parent resumes after the last one ends.
 *
 * <p><b>Compaction and branches.</b> When the context passes {@code compactAt} tokens the agent
 * compacts: the next prompt is the system prefix plus a fresh summary of about 20% of that size,
 * marked {@code "compacted": true}, and the old prefix is dead. Some requests fork 2 to 4
 * speculative branches of the output's length, of which one survives ({@code branches}, {@code
 * branch_tokens}). Forks are drawn from their own random stream, so the same seed with fork
 * probability 0 gives the same requests without branches: the control for what forks cost.
 *
 * <p>Not thread-safe; one generator writes one trace.
 */
public final class AgenticGenerator {

  /**
   * What to generate.
   *
   * @param seed the random seed
   * @param sessions sessions, at least 1
   * @param meanTurns mean main-agent turns per session (geometric), at least 1
   * @param models 1 to 3
   * @param tenants tenants, at least 1
   * @param blockTokens tokens per block
   * @param meanArrivalMs mean gap between session starts
   * @param subAgentProbability chance that a tool call is a burst of sub-agents
   * @param forkProbability chance that a request forks speculative branches
   * @param compactAt context size (tokens) at which the agent compacts
   */
  public record Options(
      long seed,
      int sessions,
      int meanTurns,
      int models,
      int tenants,
      int blockTokens,
      long meanArrivalMs,
      double subAgentProbability,
      double forkProbability,
      int compactAt) {

    /** Checks the components. */
    public Options {
      if (sessions < 1
          || meanTurns < 1
          || models < 1
          || models > 3
          || tenants < 1
          || blockTokens < 1
          || meanArrivalMs < 0
          || !(subAgentProbability >= 0 && subAgentProbability <= 1)
          || !(forkProbability >= 0 && forkProbability <= 1)
          || compactAt < 4096) {
        throw new IllegalArgumentException(
            "need sessions >= 1, turns >= 1, models in [1, 3], tenants >= 1, block tokens >= 1,"
                + " arrival >= 0, probabilities in [0, 1] and compact-at >= 4096");
      }
    }

    /**
     * The defaults for a seed and a number of sessions.
     *
     * @param seed the seed
     * @param sessions the sessions
     * @return options
     */
    public static Options defaults(long seed, int sessions) {
      return new Options(seed, sessions, 30, 2, 2, 64, 20_000, 0.1, 0.15, 150_000);
    }
  }

  private static final String[] MODELS = {"model-large", "model-small", "model-medium"};
  private static final String[] SUB_TYPES = {"Explore", "Plan", "general-purpose"};
  private static final int MAIN_SYSTEM_TOKENS = 6_000;
  private static final int SUB_SYSTEM_TOKENS = 2_500;

  private final Options o;
  private final SplittableRandom root;

  /**
   * Draws only the forks, so that the fork probability changes nothing else: the same seed with
   * {@code forkProbability} 0 gives the same requests, without their branches.
   */
  private final SplittableRandom forkRoot;

  private final Map<String, long[]> prefixes = new HashMap<>();
  private final List<Line> lines = new ArrayList<>();
  private long nextId;
  private int bursts;

  private record Line(long tMs, int seq, String json) {}

  private AgenticGenerator(Options options) {
    this.o = options;
    this.root = new SplittableRandom(options.seed());
    this.forkRoot = new SplittableRandom(options.seed() ^ 0x9E3779B97F4A7C15L);
  }

  /**
   * Generates the trace.
   *
   * @param options what to generate
   * @return the JSONL text, one request a line, in time order
   */
  public static String generate(Options options) {
    AgenticGenerator g = new AgenticGenerator(options);
    g.run();
    StringBuilder b = new StringBuilder();
    g.lines.sort(Comparator.comparingLong(Line::tMs).thenComparingInt(Line::seq));
    for (Line l : g.lines) {
      b.append(l.json).append('\n');
    }
    return b.toString();
  }

  private void run() {
    double t = 0;
    for (int s = 0; s < o.sessions(); s++) {
      SplittableRandom r = root.split();
      SplittableRandom forks = forkRoot.split();
      t += o.meanArrivalMs() * -Math.log(1 - root.nextDouble());
      mainSession(r, forks, String.format(Locale.ROOT, "s%05d", s), (long) t);
    }
  }

  /** A shared prefix of {@code tokens} for a key, created once. */
  private long[] prefix(String key, int tokens) {
    return prefixes.computeIfAbsent(key, k -> freshIds(tokens / o.blockTokens()));
  }

  private long[] freshIds(int n) {
    long[] ids = new long[n];
    for (int i = 0; i < n; i++) {
      ids[i] = nextId++;
    }
    return ids;
  }

  /** The ids of a prompt of {@code tokens} tokens that continues {@code prev}'s full blocks. */
  private long[] grow(long[] prev, int prevTokens, int tokens) {
    int keep = Math.min(prev.length, prevTokens / o.blockTokens());
    int n = (tokens + o.blockTokens() - 1) / o.blockTokens();
    long[] ids = Arrays.copyOf(prev, n);
    for (int i = keep; i < n; i++) {
      ids[i] = nextId++;
    }
    return ids;
  }

  private static int logNormal(SplittableRandom r, double median, double sigma, int max) {
    double g = gaussian(r);
    return (int) Math.min(max, Math.max(1, Math.round(median * Math.exp(sigma * g))));
  }

  private static double gaussian(SplittableRandom r) {
    double u = 1 - r.nextDouble();
    double v = r.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  private void mainSession(SplittableRandom r, SplittableRandom forks, String session, long start) {
    String tenant = "tenant-" + r.nextInt(o.tenants());
    String model = o.models() == 3 && r.nextBoolean() ? MODELS[2] : MODELS[0];
    String subModel = o.models() >= 2 ? MODELS[1] : MODELS[0];
    int turns =
        1 + (int) Math.floor(Math.log(1 - r.nextDouble()) / Math.log(1 - 1.0 / o.meanTurns()));
    long[] sys = prefix("main|" + model + "|" + tenant, MAIN_SYSTEM_TOKENS);
    int tokens = sys.length * o.blockTokens() + logNormal(r, 800, 0.8, 20_000);
    long[] ids = grow(sys, sys.length * o.blockTokens(), tokens);
    long t = start;
    boolean compacted = false;
    for (int turn = 0; turn < turns; turn++) {
      int out = logNormal(r, 300, 0.9, 8_000);
      boolean last = turn == turns - 1;
      boolean human = r.nextDouble() < 0.15;
      boolean burst = !last && !human && r.nextDouble() < o.subAgentProbability();
      long gap;
      if (burst) {
        long end = subAgentBurst(r, session, tenant, subModel, t + 2_000 + r.nextInt(3_000));
        gap = end - t + 1_000 + r.nextInt(4_000);
      } else if (human) {
        gap = (long) logNormal(r, 180_000, 1.5, 8 * 3_600_000);
      } else {
        gap = (long) logNormal(r, 9_000, 1.8, 1_800_000);
      }
      int k = forks.nextDouble() < o.forkProbability() ? 2 + forks.nextInt(3) : 0;
      emit(
          t,
          session,
          "main",
          model,
          tenant,
          tokens,
          out,
          ids,
          last ? -1 : gap,
          last ? null : human ? PauseKind.HUMAN : PauseKind.TOOL,
          k,
          k > 0 ? out : 0,
          compacted);
      if (last) {
        return;
      }
      t += gap;
      int next =
          tokens + out + (human ? logNormal(r, 300, 1.0, 8_000) : logNormal(r, 1_500, 1.2, 40_000));
      compacted = next > o.compactAt();
      if (compacted) {
        int summary = Math.max(2_000, o.compactAt() / 5 + logNormal(r, 1_000, 0.5, 10_000));
        int base = sys.length * o.blockTokens();
        ids = grow(sys, base, base + summary);
        tokens = base + summary;
      } else {
        ids = grow(ids, tokens, next);
        tokens = next;
      }
    }
  }

  /** Runs 2 to 4 sibling sub-agents starting at {@code start}; returns when the last one ends. */
  private long subAgentBurst(
      SplittableRandom r, String parent, String tenant, String model, long start) {
    String type = SUB_TYPES[r.nextInt(SUB_TYPES.length)];
    int n = 2 + r.nextInt(3);
    long[] sys = prefix("sub|" + type + "|" + model + "|" + tenant, SUB_SYSTEM_TOKENS);
    long end = start;
    int burst = bursts++;
    for (int a = 0; a < n; a++) {
      String session = parent + "/" + type + "-" + burst + "-" + a;
      long t = start + r.nextInt(1_500);
      int tokens = sys.length * o.blockTokens() + logNormal(r, 400, 0.6, 4_000);
      long[] ids = grow(sys, sys.length * o.blockTokens(), tokens);
      int turns = 2 + r.nextInt(7);
      for (int turn = 0; turn < turns; turn++) {
        int out = logNormal(r, 150, 0.7, 2_000);
        boolean last = turn == turns - 1;
        long gap = last ? -1 : 1_500 + logNormal(r, 2_500, 0.7, 60_000);
        emit(
            t,
            session,
            "sub:" + type,
            model,
            tenant,
            tokens,
            out,
            ids,
            gap,
            last ? null : PauseKind.TOOL,
            0,
            0,
            false);
        if (last) {
          end = Math.max(end, t + 1_000 + out * 10L);
          break;
        }
        t += gap;
        int next = tokens + out + logNormal(r, 1_200, 1.0, 20_000);
        ids = grow(ids, tokens, next);
        tokens = next;
      }
    }
    return end;
  }

  private void emit(
      long t,
      String session,
      String agent,
      String model,
      String tenant,
      int input,
      int output,
      long[] ids,
      long pauseMs,
      PauseKind kind,
      int branches,
      int branchTokens,
      boolean compacted) {
    StringBuilder b = new StringBuilder(64 + ids.length * 7);
    b.append("{\"t_ms\":").append(t);
    b.append(",\"session\":\"").append(session).append('"');
    b.append(",\"agent\":\"").append(agent).append('"');
    b.append(",\"model\":\"").append(model).append('"');
    b.append(",\"tenant\":\"").append(tenant).append('"');
    b.append(",\"input_length\":").append(input);
    b.append(",\"output_length\":").append(output);
    b.append(",\"block_tokens\":").append(o.blockTokens());
    b.append(",\"hash_ids\":[");
    for (int i = 0; i < ids.length; i++) {
      if (i > 0) {
        b.append(',');
      }
      b.append(ids[i]);
    }
    b.append(']');
    b.append(",\"pause_ms\":").append(kind == null ? 0 : pauseMs);
    b.append(",\"pause_kind\":\"")
        .append(kind == null ? "none" : kind.name().toLowerCase(Locale.ROOT))
        .append('"');
    b.append(",\"branches\":").append(branches);
    b.append(",\"branch_tokens\":").append(branchTokens);
    b.append(",\"compacted\":").append(compacted);
    b.append('}');
    lines.add(new Line(t, lines.size(), b.toString()));
  }
}
