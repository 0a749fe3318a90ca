package io.kvtier.replay;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * What a replay prints and writes: the table, {@code --json}, and {@code --out}'s CSV and PNG
 * charts (drawn with {@code java.awt} in headless mode, so no plotting dependency).
 *
 * @param trace the trace's name
 * @param format the trace format
 * @param setup one line on how the trace was read and replayed (concurrency, stagger, ...)
 * @param requests requests in the trace
 * @param distinctBlocks distinct blocks in the trace
 * @param inputTokens Σ input length
 * @param results one per (policy, capacity), in any order
 * @param wallMillis wall-clock time of all replays together
 */
public record ReplayReport(
    String trace,
    String format,
    String setup,
    int requests,
    int distinctBlocks,
    long inputTokens,
    List<ReferenceReplay.Result> results,
    long wallMillis) {

  /** Copies the results. */
  public ReplayReport {
    results = List.copyOf(results);
  }

  /** How the reference mode and its hit rate are defined, for every output. */
  public static final String DEFINITION =
      "reference mode: one tier of F x distinct blocks, demand fill, leaf-only eviction;"
          + " token hit rate = sum min(matched blocks x block tokens, input length)"
          + " / sum input length";

  /**
   * The policies, in the order first seen.
   *
   * @return policy names
   */
  public List<String> policies() {
    List<String> p = new ArrayList<>();
    for (ReferenceReplay.Result r : results) {
      if (!p.contains(r.policy())) {
        p.add(r.policy());
      }
    }
    return p;
  }

  /**
   * The capacity fractions, ascending.
   *
   * @return fractions
   */
  public List<Double> fractions() {
    TreeSet<Double> f = new TreeSet<>();
    results.forEach(r -> f.add(r.capacityFraction()));
    return new ArrayList<>(f);
  }

  /**
   * The result of a policy at a capacity.
   *
   * @param policy the policy
   * @param fraction the capacity fraction
   * @return the result, or null
   */
  public ReferenceReplay.Result result(String policy, double fraction) {
    for (ReferenceReplay.Result r : results) {
      if (r.policy().equals(policy) && r.capacityFraction() == fraction) {
        return r;
      }
    }
    return null;
  }

  /**
   * The hit rate as a fraction of Belady's at the same capacity.
   *
   * @param r a result
   * @return r's hit rate / Belady's, NaN when Belady was not run or hit nothing
   */
  public double ofBelady(ReferenceReplay.Result r) {
    ReferenceReplay.Result b = result("belady", r.capacityFraction());
    if (b == null || b.tokenHitRate() == 0) {
      return Double.NaN;
    }
    return r.tokenHitRate() / b.tokenHitRate();
  }

  // ------------------------------------------------------------------ table

  /**
   * Prints the table: a row per policy, a column per capacity, each cell the token hit rate and, in
   * parentheses, its fraction of Belady's.
   *
   * @param out where
   */
  public void printTable(PrintStream out) {
    out.printf(
        Locale.ROOT,
        "trace %s (%s): %,d requests, %,d distinct blocks, %,d input tokens%n",
        trace,
        format,
        requests,
        distinctBlocks,
        inputTokens);
    if (!setup.isEmpty()) {
      out.println(setup);
    }
    out.println(DEFINITION);
    List<Double> fr = fractions();
    StringBuilder h = new StringBuilder(String.format(Locale.ROOT, "%-14s", "policy"));
    for (double f : fr) {
      h.append(String.format(Locale.ROOT, "%18s", pct(f) + " (" + blocksAt(f) + " blk)"));
    }
    out.println(h);
    for (String p : policies()) {
      StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%-14s", p));
      for (double f : fr) {
        ReferenceReplay.Result r = result(p, f);
        if (r == null) {
          row.append(String.format(Locale.ROOT, "%18s", "-"));
          continue;
        }
        double ob = ofBelady(r);
        String cell =
            String.format(Locale.ROOT, "%.4f", r.tokenHitRate())
                + (Double.isNaN(ob) ? "" : String.format(Locale.ROOT, " (%.2f)", ob));
        row.append(String.format(Locale.ROOT, "%18s", cell));
      }
      out.println(row);
    }
    out.println("cells: token hit rate (fraction of Belady's at the same capacity)");
    if (results.stream().anyMatch(r -> r.siblingPromptBlocks() > 0)) {
      out.println(
          "sub-agents' first requests, share of the prompt shared with the previous sibling that"
              + " was cached:");
      for (ReferenceReplay.Result r : results) {
        if (r.siblingPromptBlocks() > 0) {
          out.printf(
              Locale.ROOT,
              "  %-14s %5.1f%%  %.4f (%,d blocks)%n",
              r.policy(),
              100 * r.capacityFraction(),
              r.siblingPromptHitRate(),
              r.siblingPromptBlocks());
        }
      }
    }
    printBranches(out, fr);
    long overflow = results.stream().mapToLong(ReferenceReplay.Result::overflowRequests).sum();
    if (overflow > 0) {
      out.printf(
          Locale.ROOT,
          "note: %,d request replays could not cache all their new blocks (pins left too little"
              + " room)%n",
          overflow);
    }
    out.printf(
        Locale.ROOT, "%d replays in %.1f s wall time%n", results.size(), wallMillis / 1000.0);
  }

  /** The speculative-branch tables, when the trace forks. */
  private void printBranches(PrintStream out, List<Double> fr) {
    ReferenceReplay.Result any =
        results.stream().filter(r -> r.branches().forks() > 0).findFirst().orElse(null);
    if (any == null) {
      return;
    }
    ReferenceReplay.BranchStats a = any.branches();
    out.printf(
        Locale.ROOT,
        "speculative branches: %,d forks of 2-4, the first branch kept, the others commit their"
            + " tokens and are discarded; branch policy cap: %s discarded-branch pages per"
            + " session%n",
        a.forks(),
        a.cap() == Integer.MAX_VALUE ? "no" : String.format(Locale.ROOT, "%,d", a.cap()));
    branchRows(
        out,
        fr,
        b -> String.format(Locale.ROOT, "%,d/%,d", b.peakPagesPerSession(), b.peakPages()));
    out.println("cells: peak discarded-branch pages held by one session / by all sessions");
    branchRows(out, fr, b -> ratio(b.wholeRunShare()) + " / " + ratio(b.minFreeRunRatio()));
    out.printf(
        Locale.ROOT,
        "cells: share of the pages freed from discarded branches that came back in their branch's"
            + " longest run / least (largest free run / free pages) right after a reclamation,"
            + " over those leaving >= %d pages free%n",
        a.freeFloor());
    branchRows(out, fr, b -> String.format(Locale.ROOT, "%,d", b.movedPages()));
    out.println(
        "cells: pages copied from one slot to another to make runs (branches' runs, long prompts"
            + " in a full tier, kept branch pages moved out of a freed run)");
  }

  private void branchRows(
      PrintStream out,
      List<Double> fr,
      java.util.function.Function<ReferenceReplay.BranchStats, String> cell) {
    for (String p : policies()) {
      StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%-14s", p));
      for (double f : fr) {
        ReferenceReplay.Result r = result(p, f);
        row.append(String.format(Locale.ROOT, "%18s", r == null ? "-" : cell.apply(r.branches())));
      }
      out.println(row);
    }
  }

  private static String ratio(double d) {
    return Double.isNaN(d) ? "-" : String.format(Locale.ROOT, "%.2f", d);
  }

  private String blocksAt(double f) {
    for (ReferenceReplay.Result r : results) {
      if (r.capacityFraction() == f) {
        return String.format(Locale.ROOT, "%,d", r.capacityBlocks());
      }
    }
    return "?";
  }

  static String pct(double f) {
    double p = f * 100;
    return p == Math.rint(p)
        ? String.format(Locale.ROOT, "%d%%", (long) p)
        : String.format(Locale.ROOT, "%s%%", trim(p));
  }

  private static String trim(double d) {
    String s = String.format(Locale.ROOT, "%.4f", d);
    return s.replaceAll("0+$", "").replaceAll("\\.$", "");
  }

  // ------------------------------------------------------------------ JSON and CSV

  /**
   * The report as JSON: {@code {"trace": …, "results": [{"policy": …, "capacity_fraction": …,
   * "capacity_blocks": …, "token_hit_rate": …, …}]}}.
   *
   * @return the JSON text
   */
  public String toJson() {
    StringBuilder b = new StringBuilder();
    b.append("{\n");
    b.append("  \"trace\": ").append(str(trace)).append(",\n");
    b.append("  \"format\": ").append(str(format)).append(",\n");
    b.append("  \"mode\": \"reference\",\n");
    b.append("  \"definition\": ").append(str(DEFINITION)).append(",\n");
    b.append("  \"setup\": ").append(str(setup)).append(",\n");
    b.append("  \"requests\": ").append(requests).append(",\n");
    b.append("  \"distinct_blocks\": ").append(distinctBlocks).append(",\n");
    b.append("  \"input_tokens\": ").append(inputTokens).append(",\n");
    b.append("  \"wall_ms\": ").append(wallMillis).append(",\n");
    b.append("  \"results\": [");
    String sep = "\n";
    for (ReferenceReplay.Result r : sorted()) {
      b.append(sep).append("    {");
      String s2 = "";
      for (Map.Entry<String, Object> e : row(r).entrySet()) {
        b.append(s2).append(str(e.getKey())).append(": ").append(jsonValue(e.getValue()));
        s2 = ", ";
      }
      b.append("}");
      sep = ",\n";
    }
    b.append("\n  ]\n}\n");
    return b.toString();
  }

  /**
   * The results as CSV, one line per result, with a header.
   *
   * @return the CSV text
   */
  public String toCsv() {
    StringBuilder b = new StringBuilder();
    List<ReferenceReplay.Result> rs = sorted();
    if (rs.isEmpty()) {
      return "";
    }
    b.append(String.join(",", row(rs.get(0)).keySet())).append('\n');
    for (ReferenceReplay.Result r : rs) {
      List<String> cells = new ArrayList<>();
      for (Object v : row(r).values()) {
        cells.add(v instanceof String s ? s : jsonValue(v));
      }
      b.append(String.join(",", cells)).append('\n');
    }
    return b.toString();
  }

  private List<ReferenceReplay.Result> sorted() {
    List<ReferenceReplay.Result> rs = new ArrayList<>();
    for (String p : policies()) {
      for (double f : fractions()) {
        ReferenceReplay.Result r = result(p, f);
        if (r != null) {
          rs.add(r);
        }
      }
    }
    return rs;
  }

  private Map<String, Object> row(ReferenceReplay.Result r) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("policy", r.policy());
    m.put("capacity_fraction", r.capacityFraction());
    m.put("capacity_blocks", r.capacityBlocks());
    m.put("token_hit_rate", r.tokenHitRate());
    m.put("fraction_of_belady", ofBelady(r));
    m.put("block_hit_rate", r.blockHitRate());
    m.put("requests", r.requests());
    m.put("input_tokens", r.inputTokens());
    m.put("hit_tokens", r.hitTokens());
    m.put("evicted_blocks", r.evictedBlocks());
    m.put("overflow_requests", r.overflowRequests());
    ReferenceReplay.BranchStats b = r.branches();
    m.put("forks", b.forks());
    m.put("branches_discarded", b.discarded());
    m.put("branch_cap", b.cap());
    m.put("branch_pages_peak_session", b.peakPagesPerSession());
    m.put("branch_pages_peak", b.peakPages());
    m.put("free_run_floor", b.freeFloor());
    m.put("free_run_moments", b.freeRunMoments());
    m.put("min_free_run_ratio", b.minFreeRunRatio());
    m.put("freed_branch_pages", b.freedBranchPages());
    m.put("whole_run_share", b.wholeRunShare());
    m.put("moved_pages", b.movedPages());
    m.put("wall_ms", r.wallMillis());
    if (r.siblingPromptBlocks() > 0) {
      m.put("sibling_prompt_blocks", r.siblingPromptBlocks());
      m.put("sibling_prompt_hit_rate", r.siblingPromptHitRate());
    }
    return m;
  }

  static String jsonValue(Object v) {
    if (v instanceof Double d) {
      return Double.isNaN(d) || Double.isInfinite(d)
          ? "null"
          : String.format(Locale.ROOT, "%.6f", d).replaceAll("0+$", "").replaceAll("\\.$", ".0");
    }
    if (v instanceof String s) {
      return str(s);
    }
    return String.valueOf(v);
  }

  static String str(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20) {
            b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append('"').toString();
  }

  /**
   * Writes the JSON to a file.
   *
   * @param file where
   */
  public void writeJson(Path file) {
    write(file, toJson());
  }

  /**
   * Writes {@code results.csv}, {@code hit_rate.png} (hit rate against capacity, a line per policy)
   * and {@code belady_fraction.png} (each policy's fraction of Belady against capacity) into a
   * directory, creating it.
   *
   * @param dir the directory
   * @return the files written
   */
  public List<Path> writeOut(Path dir) {
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create " + dir + ": " + e.getMessage(), e);
    }
    Path csv = dir.resolve("results.csv");
    write(csv, toCsv());
    Path hit = dir.resolve("hit_rate.png");
    chart(
        hit,
        "Token hit rate vs capacity: " + trace,
        "token hit rate",
        ReferenceReplay.Result::tokenHitRate);
    Path ob = dir.resolve("belady_fraction.png");
    chart(ob, "Fraction of Belady's hit rate: " + trace, "fraction of Belady", this::ofBelady);
    return List.of(csv, hit, ob);
  }

  static void write(Path file, String text) {
    try {
      Path parent = file.toAbsolutePath().getParent();
      if (parent != null) {
        Files.createDirectories(parent);
      }
      Files.writeString(file, text, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
    }
  }

  // ------------------------------------------------------------------ charts

  static final Color[] PALETTE = {
    new Color(0x1f77b4),
    new Color(0xff7f0e),
    new Color(0x2ca02c),
    new Color(0xd62728),
    new Color(0x9467bd),
    new Color(0x8c564b),
    new Color(0xe377c2),
    new Color(0x7f7f7f),
    new Color(0xbcbd22),
    new Color(0x17becf)
  };

  private void chart(
      Path file,
      String title,
      String yLabel,
      java.util.function.ToDoubleFunction<ReferenceReplay.Result> y) {
    List<Double> fr = fractions();
    double yMax = 0;
    for (ReferenceReplay.Result r : results) {
      double v = y.applyAsDouble(r);
      if (!Double.isNaN(v)) {
        yMax = Math.max(yMax, v);
      }
    }
    yMax = yMax <= 0 ? 1 : Math.ceil(yMax * 10 - 1e-9) / 10;
    ChartFrame chart = new ChartFrame(title, 190, 70, yMax);
    Graphics2D g = chart.graphics();
    FontMetrics fm = chart.metrics();
    int left = chart.left;
    int top = chart.top;
    int pw = chart.plotWidth;
    int ph = chart.plotHeight;
    boolean log = fr.size() > 1 && fr.get(fr.size() - 1) / fr.get(0) >= 8;
    double x0 = log ? Math.log(fr.get(0)) : 0;
    double x1 = log ? Math.log(fr.get(fr.size() - 1)) : fr.get(fr.size() - 1);
    if (x1 <= x0) {
      x1 = x0 + 1;
    }
    final double fx0 = x0;
    final double fx1 = x1;
    java.util.function.DoubleUnaryOperator px =
        f -> left + ((log ? Math.log(f) : f) - fx0) / (fx1 - fx0) * pw;
    java.util.function.DoubleUnaryOperator py = chart::y;
    chart.axes(
        "capacity (fraction of the trace's distinct blocks" + (log ? ", log scale)" : ")"), yLabel);
    g.setColor(Color.BLACK);
    for (double f : fr) {
      int xx = (int) px.applyAsDouble(f);
      g.drawLine(xx, top + ph, xx, top + ph + 5);
      String s = pct(f);
      g.drawString(s, xx - fm.stringWidth(s) / 2, top + ph + 20);
    }
    List<String> ps = policies();
    for (int k = 0; k < ps.size(); k++) {
      String p = ps.get(k);
      Color c = p.equals("belady") ? Color.BLACK : PALETTE[k % PALETTE.length];
      g.setColor(c);
      g.setStroke(
          p.equals("belady")
              ? new BasicStroke(
                  2.5f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND, 1f, new float[] {8, 6}, 0)
              : new BasicStroke(2f));
      int lastX = -1;
      int lastY = -1;
      for (double f : fr) {
        ReferenceReplay.Result r = result(p, f);
        if (r == null || Double.isNaN(y.applyAsDouble(r))) {
          continue;
        }
        int xx = (int) px.applyAsDouble(f);
        int yy = (int) py.applyAsDouble(y.applyAsDouble(r));
        if (lastX >= 0) {
          g.drawLine(lastX, lastY, xx, yy);
        }
        g.fillOval(xx - 4, yy - 4, 8, 8);
        lastX = xx;
        lastY = yy;
      }
      int ly = top + 10 + k * 22;
      g.fillRect(left + pw + 20, ly - 6, 24, 4);
      g.setColor(Color.BLACK);
      g.drawString(p, left + pw + 52, ly);
    }
    chart.save(file);
  }
}
