package io.kvtier.replay;

import io.kvtier.LinkStats;
import io.kvtier.PrefetchStats;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a tiered replay prints and writes: the per-tier table, the per-link table, {@code --json},
 * and {@code --out}'s CSV files and PNG charts.
 *
 * @param trace the trace's name
 * @param format the trace format
 * @param setup one line on how the trace was read and replayed
 * @param requests requests in the trace
 * @param distinctBlocks distinct blocks in the trace
 * @param inputTokens Σ input length
 * @param tiers the tier chain
 * @param cost the cost model of the prefill saved
 * @param results one per policy, in the order run
 * @param reference the reference mode at the same total capacity (LRU and Belady), for comparison
 * @param wallMillis wall-clock time of all replays together
 */
public record TieredReport(
    String trace,
    String format,
    String setup,
    int requests,
    int distinctBlocks,
    long inputTokens,
    TieredReplay.Tiers tiers,
    TieredReplay.CostModel cost,
    List<TieredReplay.Result> results,
    List<ReferenceReplay.Result> reference,
    long wallMillis) {

  /** Copies the lists. */
  public TieredReport {
    results = List.copyOf(results);
    reference = List.copyOf(reference);
  }

  /** How the tiered mode is defined, for every output. */
  public static final String DEFINITION =
      "tiered mode: one page per trace block, demand fill with real bytes written, write-back (a"
          + " tier's evicted last copy is demoted to the next tier), lower-tier hits onboarded into"
          + " the top tier before the request runs; a hit counts in the tier that held the block's"
          + " fastest copy when it was matched";

  /**
   * The total capacity as a fraction of the trace's distinct blocks: the reference mode's capacity
   * for the comparison.
   *
   * @return total pages / distinct blocks
   */
  public double equivalentFraction() {
    return distinctBlocks == 0 ? 0 : (double) tiers.totalPages() / distinctBlocks;
  }

  /**
   * The reference-mode result of a policy at the same total capacity.
   *
   * @param policy the policy
   * @return the result, or null when not run
   */
  public ReferenceReplay.Result referenceResult(String policy) {
    for (ReferenceReplay.Result r : reference) {
      if (r.policy().equals(policy)) {
        return r;
      }
    }
    return null;
  }

  /**
   * A tiered result's hit rate as a fraction of Belady's at the same total capacity.
   *
   * @param r a result
   * @return its hit rate / the reference Belady's, NaN without Belady
   */
  public double ofBelady(TieredReplay.Result r) {
    ReferenceReplay.Result b = referenceResult("belady");
    return b == null || b.tokenHitRate() == 0 ? Double.NaN : r.tokenHitRate() / b.tokenHitRate();
  }

  /**
   * The links any result moved pages over, in tier order (source, then destination).
   *
   * @return {from, to} pairs
   */
  public List<List<String>> links() {
    List<String> names = tiers.names();
    List<List<String>> out = new ArrayList<>();
    for (String from : names) {
      for (String to : names) {
        for (TieredReplay.Result r : results) {
          if (r.link(from, to).pages() > 0) {
            out.add(List.of(from, to));
            break;
          }
        }
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ table

  /**
   * Prints the tables: per policy the hit rate overall and per tier, the onboarding wait and the
   * prefill saved; the reference mode's LRU and Belady at the same total capacity; per policy and
   * link the pages, bytes, time and bandwidth.
   *
   * @param out where
   */
  public void printTable(PrintStream out) {
    List<String> names = tiers.names();
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
    out.println(chain());
    out.println("cost model: " + cost.describe());
    StringBuilder h =
        new StringBuilder(String.format(Locale.ROOT, "%-13s %9s", "policy", "hit rate"));
    for (String n : names) {
      h.append(String.format(Locale.ROOT, " %8s", n));
    }
    h.append(String.format(Locale.ROOT, "  %-26s %s", "onboard wait", "prefill saved"));
    out.println(h);
    for (TieredReplay.Result r : results) {
      double ob = ofBelady(r);
      StringBuilder row =
          new StringBuilder(
              String.format(
                  Locale.ROOT,
                  "%-13s %9s",
                  r.policy(),
                  String.format(Locale.ROOT, "%.4f", r.tokenHitRate())));
      for (int t = 0; t < names.size(); t++) {
        row.append(String.format(Locale.ROOT, " %8.4f", r.tierHitRate(t)));
      }
      String wait =
          r.onboardRequests() == 0
              ? "none"
              : String.format(
                  Locale.ROOT,
                  "%.2f s, %,d req, max %.0f ms",
                  r.onboardNanos() / 1e9,
                  r.onboardRequests(),
                  r.onboardMaxNanos() / 1e6);
      row.append(
          String.format(
              Locale.ROOT,
              "  %-26s %,.1f s (%.1f%%)",
              wait,
              r.prefillSavedSeconds(cost),
              100 * r.prefillSavedFraction(cost)));
      if (!Double.isNaN(ob)) {
        row.append(String.format(Locale.ROOT, "  %.2f of Belady", ob));
      }
      out.println(row);
    }
    out.println(
        "hit rates: share of input tokens served by each tier; prefill saved: seconds under the"
            + " cost model (share of prefilling every token)");
    if (!reference.isEmpty()) {
      StringBuilder ref =
          new StringBuilder(
              String.format(
                  Locale.ROOT,
                  "reference mode, one tier of the same %,d pages (%s of distinct blocks):",
                  tiers.totalPages(),
                  ReplayReport.pct(round4(equivalentFraction()))));
      for (ReferenceReplay.Result r : reference) {
        ref.append(String.format(Locale.ROOT, "  %s %.4f", r.policy(), r.tokenHitRate()));
      }
      out.println(ref);
    }
    out.println("prefill saved under the cost model, by serving tier:");
    out.printf(
        Locale.ROOT,
        "  %-13s %-6s %14s %12s %26s %12s%n",
        "policy",
        "tier",
        "hit tokens",
        "prefill",
        "bring-up (bandwidth)",
        "saved");
    for (TieredReplay.Result r : results) {
      for (int t = 0; t < names.size(); t++) {
        String bringUp = "-";
        if (t > 0 && r.hitTokensPerTier().get(t) > 0) {
          bringUp =
              String.format(
                  Locale.ROOT,
                  "%,.1f s (%.2f GB/s)",
                  r.bringUpSeconds(t, cost),
                  r.link(names.get(t), names.get(0)).bytesPerSecond() / 1e9);
        }
        out.printf(
            Locale.ROOT,
            "  %-13s %-6s %,14d %,10.1f s %26s %,10.1f s%n",
            t == 0 ? r.policy() : "",
            names.get(t),
            r.hitTokensPerTier().get(t),
            r.hitTokensPerTier().get(t) / cost.prefillTokensPerSecond(),
            bringUp,
            r.prefillSavedSeconds(t, cost));
      }
    }
    out.println("bytes moved per link (time spent moving, measured bandwidth):");
    for (TieredReplay.Result r : results) {
      out.printf(Locale.ROOT, "  %s%n", r.policy());
      if (r.links().isEmpty()) {
        out.println("    nothing moved between tiers");
      }
      for (LinkStats l : r.links()) {
        out.printf(
            Locale.ROOT,
            "    %-14s %,10d pages %11s %9.2f s %8.2f GB/s%n",
            l.from() + " -> " + l.to(),
            l.pages(),
            TieredReplay.human(l.bytes()),
            l.nanos() / 1e9,
            l.bytesPerSecond() / 1e9);
      }
      for (int t = 1; t < names.size(); t++) {
        double s = r.bringUpSeconds(t, cost);
        if (Double.isNaN(s)) {
          out.printf(
              Locale.ROOT,
              "    note: %s served hits but its link to %s moved nothing; its bring-up time is"
                  + " unknown%n",
              names.get(t),
              names.get(0));
        }
      }
    }
    long failures = results.stream().mapToLong(TieredReplay.Result::onboardFailures).sum();
    long overflow = results.stream().mapToLong(TieredReplay.Result::overflowRequests).sum();
    if (failures > 0) {
      out.printf(
          Locale.ROOT,
          "note: %,d onboardings found no free page in the top tier (their lower-tier hits count"
              + " as misses)%n",
          failures);
    }
    if (overflow > 0) {
      out.printf(
          Locale.ROOT,
          "note: %,d request replays could not cache all their new blocks (the top tier was too"
              + " small or pinned)%n",
          overflow);
    }
    for (TieredReplay.Result r : results) {
      out.printf(
          Locale.ROOT,
          "onboarding %s: requests waited for %,d lower-tier pages; %,d onboardings failed%n",
          r.policy(),
          r.onboardPages(),
          r.onboardFailures());
      TieredReplay.EngineStats e = r.engine();
      if (!e.equals(TieredReplay.EngineStats.NONE)) {
        out.printf(
            Locale.ROOT,
            "engine %s: load %.2f (prefill %.0f s over %.0f s); %,d requests queued, %.1f s in"
                + " all (longest %.1f s); onboarding exposed to requests %.2f s over %,d requests"
                + " (longest %.3f s; %.2f s of it at an idle engine)%s%n",
            r.policy(),
            e.load(),
            e.prefillSeconds(),
            e.spanSeconds(),
            e.queuedRequests(),
            e.queueSeconds(),
            e.queueMaxSeconds(),
            e.exposedSeconds(),
            e.exposedRequests(),
            e.exposedMaxSeconds(),
            e.exposedIdleSeconds(),
            e.prefetchCalls() == 0
                ? ""
                : String.format(
                    Locale.ROOT,
                    "; prefetch started %,d blocks' copies over %,d calls (%,d for parents whose"
                        + " sub-agents finished%s)",
                    e.prefetchBlocks(),
                    e.prefetchCalls(),
                    e.stepPrefetches(),
                    e.foresightPrefetches() == 0
                        ? ""
                        : String.format(
                            Locale.ROOT,
                            ", %,d on foresight of an arrival",
                            e.foresightPrefetches())));
      }
      PrefetchStats p = r.prefetch();
      if (p.pages() + p.skipped() > 0) {
        out.printf(
            Locale.ROOT,
            "prefetch %s: %,d pages copied up, %,d used, %,d evicted unused (%s wasted), %,d"
                + " skipped (cap or no cold room)%n",
            r.policy(),
            p.pages(),
            p.used(),
            p.wasted(),
            TieredReplay.human(p.wastedBytes()),
            p.skipped());
      }
    }
    out.printf(
        Locale.ROOT,
        "%d tiered replays in %.1f s wall time (one at a time)%n",
        results.size(),
        wallMillis / 1000.0);
  }

  /** One line describing the chain. */
  String chain() {
    List<String> parts = new ArrayList<>();
    List<String> kinds = results.isEmpty() ? tiers.names() : results.get(0).tierKinds();
    List<String> names = tiers.names();
    for (int t = 0; t < names.size(); t++) {
      parts.add(
          String.format(
              Locale.ROOT,
              "%s %s (%,d pages)",
              kinds.get(t),
              TieredReplay.human(tiers.bytes(TieredReplay.TIER_NAMES.indexOf(names.get(t)))),
              tiers.pages(names.get(t))));
    }
    return "tiers: "
        + String.join(" > ", parts)
        + String.format(
            Locale.ROOT,
            "; %s pages (one trace block each)",
            TieredReplay.human(tiers.pageBytes()));
  }

  private static double round4(double f) {
    return Math.round(f * 10_000) / 10_000.0;
  }

  // ------------------------------------------------------------------ JSON and CSV

  /**
   * The report as JSON: the setup, the chain, the cost model, one object per policy with its
   * per-tier and per-link fields, and the reference results.
   *
   * @return the JSON text
   */
  public String toJson() {
    StringBuilder b = new StringBuilder();
    b.append("{\n");
    field(b, "trace", trace);
    field(b, "format", format);
    field(b, "mode", "tiered");
    field(b, "definition", DEFINITION);
    field(b, "setup", setup);
    field(b, "requests", requests);
    field(b, "distinct_blocks", distinctBlocks);
    field(b, "input_tokens", inputTokens);
    field(b, "page_bytes", tiers.pageBytes());
    b.append("  \"tiers\": [");
    String sep = "";
    List<String> names = tiers.names();
    List<String> kinds = results.isEmpty() ? names : results.get(0).tierKinds();
    for (int t = 0; t < names.size(); t++) {
      String n = names.get(t);
      b.append(sep)
          .append(
              String.format(
                  Locale.ROOT,
                  "{\"name\": %s, \"kind\": %s, \"bytes\": %d, \"pages\": %d}",
                  ReplayReport.str(n),
                  ReplayReport.str(kinds.get(t)),
                  tiers.bytes(TieredReplay.TIER_NAMES.indexOf(n)),
                  tiers.pages(n)));
      sep = ", ";
    }
    b.append("],\n");
    field(b, "total_pages", tiers.totalPages());
    field(b, "equivalent_capacity_fraction", equivalentFraction());
    b.append(
        String.format(
            Locale.ROOT,
            "  \"cost_model\": {\"prefill_tokens_per_second\": %s, \"kv_bytes_per_token\": %d,"
                + " \"break_even_bytes_per_second\": %s, \"definition\": %s},%n",
            ReplayReport.jsonValue(cost.prefillTokensPerSecond()),
            cost.kvBytesPerToken(),
            ReplayReport.jsonValue(cost.breakEvenBytesPerSecond()),
            ReplayReport.str(cost.describe())));
    field(b, "wall_ms", wallMillis);
    b.append("  \"results\": [");
    sep = "\n";
    for (TieredReplay.Result r : results) {
      b.append(sep).append("    {");
      String s2 = "";
      for (Map.Entry<String, Object> e : row(r).entrySet()) {
        b.append(s2)
            .append(ReplayReport.str(e.getKey()))
            .append(": ")
            .append(ReplayReport.jsonValue(e.getValue()));
        s2 = ", ";
      }
      b.append(", \"links\": [");
      String s3 = "";
      for (LinkStats l : r.links()) {
        b.append(s3)
            .append(
                String.format(
                    Locale.ROOT,
                    "{\"from\": %s, \"to\": %s, \"pages\": %d, \"bytes\": %d, \"nanos\": %d,"
                        + " \"bytes_per_second\": %s}",
                    ReplayReport.str(l.from()),
                    ReplayReport.str(l.to()),
                    l.pages(),
                    l.bytes(),
                    l.nanos(),
                    ReplayReport.jsonValue(l.bytesPerSecond())));
        s3 = ", ";
      }
      b.append("]}");
      sep = ",\n";
    }
    b.append("\n  ],\n");
    b.append("  \"reference\": [");
    sep = "\n";
    for (ReferenceReplay.Result r : reference) {
      b.append(sep)
          .append(
              String.format(
                  Locale.ROOT,
                  "    {\"policy\": %s, \"capacity_fraction\": %s, \"capacity_blocks\": %d,"
                      + " \"token_hit_rate\": %s}",
                  ReplayReport.str(r.policy()),
                  ReplayReport.jsonValue(r.capacityFraction()),
                  r.capacityBlocks(),
                  ReplayReport.jsonValue(r.tokenHitRate())));
      sep = ",\n";
    }
    b.append("\n  ]\n}\n");
    return b.toString();
  }

  private static void field(StringBuilder b, String name, Object value) {
    b.append("  ")
        .append(ReplayReport.str(name))
        .append(": ")
        .append(ReplayReport.jsonValue(value))
        .append(",\n");
  }

  /** One policy's flat fields: per tier and per link, for JSON and {@code results.csv}. */
  private Map<String, Object> row(TieredReplay.Result r) {
    Map<String, Object> m = new LinkedHashMap<>();
    List<String> names = tiers.names();
    m.put("policy", r.policy());
    m.put("total_pages", tiers.totalPages());
    m.put("token_hit_rate", r.tokenHitRate());
    for (int t = 0; t < names.size(); t++) {
      m.put("hit_rate_" + names.get(t), r.tierHitRate(t));
    }
    m.put("fraction_of_belady", ofBelady(r));
    m.put("requests", r.requests());
    m.put("input_tokens", r.inputTokens());
    m.put("hit_tokens", r.hitTokens());
    for (int t = 0; t < names.size(); t++) {
      m.put("hit_tokens_" + names.get(t), r.hitTokensPerTier().get(t));
    }
    for (int t = 0; t < names.size(); t++) {
      m.put("hit_blocks_" + names.get(t), r.hitBlocksPerTier().get(t));
    }
    for (List<String> l : links()) {
      LinkStats s = r.link(l.get(0), l.get(1));
      String k = l.get(0) + "_to_" + l.get(1);
      m.put("pages_" + k, s.pages());
      m.put("bytes_" + k, s.bytes());
      m.put("move_ms_" + k, s.nanos() / 1e6);
    }
    m.put("onboard_requests", r.onboardRequests());
    m.put("onboard_wait_ms", r.onboardNanos() / 1e6);
    m.put("onboard_max_wait_ms", r.onboardMaxNanos() / 1e6);
    m.put("onboard_failures", r.onboardFailures());
    m.put("onboard_pages", r.onboardPages());
    m.put("prefetch_pages", r.prefetch().pages());
    m.put("prefetch_used_pages", r.prefetch().used());
    m.put("prefetch_wasted_pages", r.prefetch().wasted());
    m.put("prefetch_wasted_bytes", r.prefetch().wastedBytes());
    m.put("prefetch_skipped_pages", r.prefetch().skipped());
    TieredReplay.EngineStats e = r.engine();
    if (!e.equals(TieredReplay.EngineStats.NONE)) {
      m.put("engine_load", e.load());
      m.put("engine_queued_requests", e.queuedRequests());
      m.put("engine_queue_s", e.queueSeconds());
      m.put("engine_exposed_requests", e.exposedRequests());
      m.put("engine_exposed_s", e.exposedSeconds());
      m.put("engine_exposed_max_s", e.exposedMaxSeconds());
      m.put("engine_exposed_idle_s", e.exposedIdleSeconds());
      m.put("engine_prefetch_blocks", e.prefetchBlocks());
      m.put("engine_step_prefetches", e.stepPrefetches());
      m.put("engine_foresight_prefetches", e.foresightPrefetches());
    }
    for (int t = 1; t < names.size(); t++) {
      m.put("bring_up_s_" + names.get(t), r.bringUpSeconds(t, cost));
    }
    m.put("prefill_saved_s", r.prefillSavedSeconds(cost));
    m.put("prefill_saved_fraction", r.prefillSavedFraction(cost));
    m.put("evicted_blocks", r.evictedBlocks());
    m.put("overflow_requests", r.overflowRequests());
    m.put("wall_ms", r.wallMillis());
    return m;
  }

  /**
   * The results as CSV, one line per policy, with a header.
   *
   * @return the CSV text
   */
  public String toCsv() {
    if (results.isEmpty()) {
      return "";
    }
    StringBuilder b = new StringBuilder();
    b.append(String.join(",", row(results.get(0)).keySet())).append('\n');
    for (TieredReplay.Result r : results) {
      List<String> cells = new ArrayList<>();
      for (Object v : row(r).values()) {
        cells.add(v instanceof String s ? s : ReplayReport.jsonValue(v));
      }
      b.append(String.join(",", cells)).append('\n');
    }
    return b.toString();
  }

  /**
   * The links as CSV, one line per policy and link.
   *
   * @return the CSV text
   */
  public String linksCsv() {
    StringBuilder b = new StringBuilder("policy,from,to,pages,bytes,nanos,bytes_per_second\n");
    for (TieredReplay.Result r : results) {
      for (LinkStats l : r.links()) {
        b.append(
            String.format(
                Locale.ROOT,
                "%s,%s,%s,%d,%d,%d,%s%n",
                r.policy(),
                l.from(),
                l.to(),
                l.pages(),
                l.bytes(),
                l.nanos(),
                ReplayReport.jsonValue(l.bytesPerSecond())));
      }
    }
    return b.toString();
  }

  /**
   * Writes the JSON to a file.
   *
   * @param file where
   */
  public void writeJson(Path file) {
    ReplayReport.write(file, toJson());
  }

  /**
   * Writes {@code results.csv}, {@code links.csv}, {@code hit_rate.png} (per policy, its hit rate
   * stacked by serving tier, beside the reference LRU and Belady at the same total capacity) and
   * {@code bytes_per_link.png} (bytes moved over each link, a bar per policy) into a directory.
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
    ReplayReport.write(csv, toCsv());
    Path links = dir.resolve("links.csv");
    ReplayReport.write(links, linksCsv());
    List<String> names = tiers.names();
    List<String> policies = results.stream().map(TieredReplay.Result::policy).toList();

    double[][] hit = new double[policies.size()][names.size()];
    for (int p = 0; p < policies.size(); p++) {
      for (int t = 0; t < names.size(); t++) {
        hit[p][t] = results.get(p).tierHitRate(t);
      }
    }
    Map<String, Double> refs = new LinkedHashMap<>();
    for (ReferenceReplay.Result r : reference) {
      refs.put(r.policy() + ", one tier", r.tokenHitRate());
    }
    Path hitPng = dir.resolve("hit_rate.png");
    bars(
        hitPng,
        "Token hit rate by serving tier: " + trace,
        "token hit rate",
        policies,
        names,
        hit,
        true,
        refs,
        "policy (tiers: "
            + String.join(" > ", names)
            + "); dashed: the reference mode, one tier of the same total pages");

    List<List<String>> ls = links();
    double[][] gib = new double[ls.size()][policies.size()];
    for (int l = 0; l < ls.size(); l++) {
      for (int p = 0; p < policies.size(); p++) {
        gib[l][p] = results.get(p).link(ls.get(l).get(0), ls.get(l).get(1)).bytes() / 1e9;
      }
    }
    Path bytesPng = dir.resolve("bytes_per_link.png");
    bars(
        bytesPng,
        "Bytes moved per link: " + trace,
        "GB moved",
        ls.stream().map(l -> l.get(0) + " -> " + l.get(1)).toList(),
        policies,
        gib,
        false,
        Map.of(),
        "link (source -> destination tier)");
    return List.of(csv, links, hitPng, bytesPng);
  }

  // ------------------------------------------------------------------ charts

  /**
   * A bar chart: a group of bars per entry of {@code groups}, one bar (or one stacked segment) per
   * entry of {@code series}; dashed horizontal lines for {@code refs}.
   */
  private static void bars(
      Path file,
      String title,
      String yLabel,
      List<String> groups,
      List<String> series,
      double[][] values,
      boolean stacked,
      Map<String, Double> refs,
      String xLabel) {
    double yMax = 0;
    for (double[] row : values) {
      double sum = 0;
      for (double v : row) {
        sum = stacked ? sum + v : Math.max(sum, v);
      }
      yMax = Math.max(yMax, sum);
    }
    for (double v : refs.values()) {
      yMax = Math.max(yMax, v);
    }
    ChartFrame chart = new ChartFrame(title, 260, 80, niceCeiling(yMax));
    Graphics2D g = chart.graphics();
    FontMetrics fm = chart.metrics();
    int left = chart.left;
    int top = chart.top;
    int pw = chart.plotWidth;
    int ph = chart.plotHeight;
    java.util.function.DoubleUnaryOperator py = chart::y;
    chart.axes(xLabel, yLabel);
    int ng = Math.max(1, groups.size());
    double slot = (double) pw / ng;
    int barsPerGroup = stacked ? 1 : Math.max(1, series.size());
    double barW = Math.min(60, slot * 0.7 / barsPerGroup);
    for (int gi = 0; gi < groups.size(); gi++) {
      double x0 = left + gi * slot + (slot - barW * barsPerGroup) / 2;
      double base = 0;
      for (int si = 0; si < series.size(); si++) {
        double v = values[gi][si];
        int xx = (int) (stacked ? x0 : x0 + si * barW);
        int y1 = (int) py.applyAsDouble(stacked ? base + v : v);
        int y0 = (int) py.applyAsDouble(stacked ? base : 0);
        g.setColor(ReplayReport.PALETTE[si % ReplayReport.PALETTE.length]);
        g.fillRect(xx, y1, (int) Math.max(1, barW - 2), Math.max(0, y0 - y1));
        if (stacked) {
          base += v;
        }
      }
      g.setColor(Color.BLACK);
      String label = groups.get(gi);
      int cx = (int) (left + gi * slot + slot / 2);
      g.drawString(label, cx - fm.stringWidth(label) / 2, top + ph + 20);
      if (stacked) {
        String total = String.format(Locale.ROOT, "%.3f", base);
        g.drawString(total, cx - fm.stringWidth(total) / 2, (int) py.applyAsDouble(base) - 5);
      }
    }
    int k = 0;
    for (Map.Entry<String, Double> e : refs.entrySet()) {
      int yy = (int) py.applyAsDouble(e.getValue());
      g.setColor(k == 0 ? new Color(0x555555) : Color.BLACK);
      g.setStroke(
          new BasicStroke(
              2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 1f, new float[] {8, 6}, 0));
      g.drawLine(left, yy, left + pw, yy);
      g.setStroke(new BasicStroke(1f));
      k++;
    }
    int ly = top + 10;
    for (int si = 0; si < series.size(); si++) {
      g.setColor(ReplayReport.PALETTE[si % ReplayReport.PALETTE.length]);
      g.fillRect(left + pw + 20, ly - 9, 24, 10);
      g.setColor(Color.BLACK);
      g.drawString(series.get(si), left + pw + 52, ly);
      ly += 22;
    }
    k = 0;
    for (Map.Entry<String, Double> e : refs.entrySet()) {
      g.setColor(k == 0 ? new Color(0x555555) : Color.BLACK);
      g.setStroke(
          new BasicStroke(
              2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 1f, new float[] {8, 6}, 0));
      g.drawLine(left + pw + 20, ly - 4, left + pw + 44, ly - 4);
      g.setStroke(new BasicStroke(1f));
      g.setColor(Color.BLACK);
      g.drawString(
          String.format(Locale.ROOT, "%s (%.3f)", e.getKey(), e.getValue()), left + pw + 52, ly);
      ly += 22;
      k++;
    }
    chart.save(file);
  }

  /** 1, 2 or 5 times a power of ten, at least {@code v}; 1 for nothing. */
  private static double niceCeiling(double v) {
    if (!(v > 0)) {
      return 1;
    }
    double p = Math.pow(10, Math.floor(Math.log10(v)));
    for (double m : new double[] {1, 2, 5, 10}) {
      if (m * p >= v - 1e-12) {
        return m * p;
      }
    }
    return 10 * p;
  }
}
