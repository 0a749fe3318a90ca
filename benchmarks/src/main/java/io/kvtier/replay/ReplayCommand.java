package io.kvtier.replay;

import io.kvtier.spi.PrefetchPolicy;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kvtier replay}: replays traces through the real cache and reports, per policy and
 * capacity, the token hit rate beside LRU and the Belady bound. See {@link ReferenceReplay} for
 * what the reference mode does and {@link TraceFormat} for the formats.
 */
@Command(
    name = "kvtier replay",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    usageHelpAutoWidth = true,
    description = {
      "Replays request traces through the real kvtier cache and reports, per eviction policy and"
          + " capacity, the token hit rate and how far it is from the Belady (offline optimal)"
          + " bound.",
      "",
      "Reference mode (--capacity-fraction): one tier whose capacity in blocks is F x the"
          + " trace's distinct blocks; demand fill (acquire, extend, commit, close per request);"
          + " leaf-only eviction by the library's policies. Token hit rate = sum min(matched"
          + " blocks x block tokens, input length) / sum input length. A trace with speculative"
          + " forks (kvtier format) also reports the discarded-branch pages held at peak against"
          + " the branch policy's per-session cap, and how the freed branch pages came back"
          + " (whole runs, largest free run / free pages).",
      "",
      "Tiered mode (any of --hbm, --dram, --cxl, --nvme): the chain of the tiers given, fastest"
          + " first, one page of --page-kib per trace block; real bytes are written into new"
          + " pages, evicted last copies are demoted down the chain, lower-tier hits are onboarded"
          + " into the top tier. Reports per policy the hit rate per serving tier, pages, bytes"
          + " and time per link, onboarding wait and the prefill time saved under a cost model"
          + " (--prefill-tps, --kv-bytes-per-token), beside the reference mode's LRU and Belady"
          + " at the same total pages. --capacity-fraction does not apply.",
      "",
      "Time is virtual: the trace's timestamps drive the cache's clock (pause pins, priority"
          + " durations), so an hour of traffic replays in seconds.",
      ""
    },
    footer = {
      "",
      "Examples:",
      "  kvtier replay --trace traces/mooncake/conversation_sample.jsonl --format mooncake",
      "  kvtier replay --trace DIR_OF_WEKA_FILES --format weka --concurrency 16 --stagger 60"
          + " --policy lru,tinylfu,belady --out out/weka",
      "  kvtier replay --trace traces/mooncake-fast25/conversation_trace_sample.jsonl"
          + " --format mooncake --policy lru,arc --hbm 16m --dram 32m --cxl 64m --nvme 128m"
    })
public final class ReplayCommand implements Callable<Integer> {

  /** The policies replayed when {@code --policy} is not given. */
  public static final String DEFAULT_POLICIES =
      "lru,s3fifo,tinylfu,arc,priority-lru,default,belady";

  /** The capacities replayed when {@code --capacity-fraction} is not given. */
  public static final String DEFAULT_FRACTIONS = "0.01,0.02,0.05,0.1,0.2";

  @Option(
      names = "--trace",
      required = true,
      split = ",",
      paramLabel = "PATH",
      description = "Trace files, comma-separated; a directory stands for its trace files.")
  List<Path> traces;

  @Option(
      names = "--format",
      required = true,
      paramLabel = "FORMAT",
      description = "mooncake, weka or kvtier.")
  String format;

  @Option(
      names = "--policy",
      split = ",",
      paramLabel = "LIST",
      defaultValue = DEFAULT_POLICIES,
      description =
          "Eviction policies: lru, s3fifo, tinylfu, arc, priority-lru, default (the library's"
              + " default) and belady (the offline bound). Tiered mode runs LRU and the others"
              + " through the tiers, and Belady and LRU in reference mode at the same total"
              + " pages. Default: ${DEFAULT-VALUE}.")
  List<String> policies;

  @Option(
      names = "--capacity-fraction",
      split = ",",
      paramLabel = "F",
      defaultValue = DEFAULT_FRACTIONS,
      description =
          "Reference-mode capacities, as fractions of the trace's distinct blocks."
              + " Default: ${DEFAULT-VALUE}.")
  List<Double> fractions;

  @Option(
      names = "--hbm",
      paramLabel = "SIZE",
      description =
          "Tiered mode: HBM tier size (GPU 0 when usable, else the emulated device), e.g. 512m.")
  String hbm;

  @Option(
      names = "--dram",
      paramLabel = "SIZE",
      description = "Tiered mode: off-heap DRAM tier size.")
  String dram;

  @Option(
      names = "--prefetch",
      paramLabel = "none|LIST",
      defaultValue = "none",
      description =
          "Tiered mode: none; resume: bring a paused session's blocks back to the top tier a"
              + " second before its estimated resume; queued (with --engine): prefetch each"
              + " request's cached prefix when it enters the engine's queue; steps (with --engine):"
              + " prefetch a parent session's prefix when its last running sub-agent finishes;"
              + " foresight (with --engine; a bound, not a policy): prefetch every request's cached"
              + " prefix --foresight-lead-s before its true arrival, reading the trace's future as"
              + " belady does; or a comma-separated list of these.")
  String prefetch;

  @Option(
      names = "--foresight-lead-s",
      paramLabel = "S",
      defaultValue = "1",
      description =
          "With --prefetch foresight: how many seconds before each true arrival the bound"
              + " prefetches (default ${DEFAULT-VALUE}).")
  double foresightLead;

  @Option(
      names = "--engine",
      description =
          "Tiered mode: serve the trace through a modelled engine (one prefill stream at"
              + " --prefill-tps, first come first served; links into the top tier at"
              + " --link-gbps) and report the onboarding time exposed to requests.")
  boolean engineModel;

  @Option(
      names = "--layers",
      paramLabel = "N",
      defaultValue = "1",
      description =
          "With --engine: the model's layers, over which prefill overlaps onboarding (layer-wise"
              + " pre-loading through Lease.onboardLayers: layer l prefills once layer l of every"
              + " page has landed); 1, the default, waits for whole pages. Llama-3-8B has 32.")
  int layers;

  @Option(
      names = "--link-gbps",
      paramLabel = "TIER=GBPS,...",
      split = ",",
      description =
          "With --engine: bandwidth of each lower tier's link into the top tier, in GB/s."
              + " Default: dram=50,cxl=25,nvme=6.")
  java.util.Map<String, Double> linkGbps;

  @Option(
      names = "--last-tier-min-uses",
      paramLabel = "K",
      defaultValue = "1",
      description =
          "Tiered mode: admit into the last tier only blocks a frequency sketch has seen used at"
              + " least K times, over their earlier lives too (1, the default: admit everything).")
  int lastTierMinUses;

  @Option(
      names = "--cxl",
      paramLabel = "SIZE",
      description = "Tiered mode: CXL tier size (a pool file in a temporary directory).")
  String cxl;

  @Option(
      names = "--nvme",
      paramLabel = "SIZE",
      description = "Tiered mode: NVMe tier size (the default store in a temporary directory).")
  String nvme;

  @Option(
      names = "--page-kib",
      paramLabel = "KIB",
      defaultValue = "" + TieredReplay.DEFAULT_PAGE_KIB,
      description =
          "Tiered mode: page size in KiB, one page per trace block, a multiple of 4."
              + " Default: ${DEFAULT-VALUE} (a 16-token block of a 4-layer, 2-KV-head,"
              + " head-dim-64 BF16 model).")
  int pageKib;

  @Option(
      names = "--prefill-tps",
      paramLabel = "N",
      defaultValue = "10000",
      description =
          "Tiered mode, cost model: prefill tokens per second. Default: ${DEFAULT-VALUE} (an 8B"
              + " model on one H100 with long prompts, order of magnitude).")
  double prefillTps;

  @Option(
      names = "--kv-bytes-per-token",
      paramLabel = "N",
      defaultValue = "131072",
      description =
          "Tiered mode, cost model: the model's KV bytes per token that a lower-tier hit brings"
              + " up. Default: ${DEFAULT-VALUE} (Llama-3-8B, BF16).")
  long kvBytesPerToken;

  @Option(
      names = "--work-dir",
      paramLabel = "DIR",
      description =
          "Tiered mode: where the CXL pool file and the NVMe store go (a temporary directory"
              + " inside it, deleted after each run). Default: the system's temporary directory.")
  Path workDir;

  @Option(
      names = "--block-tokens",
      paramLabel = "N",
      defaultValue = "0",
      description =
          "Tokens per trace block; 0 (default) for the trace's own (mooncake 512, weka the"
              + " file's block_size, kvtier each line's block_tokens).")
  int blockTokens;

  @Option(
      names = "--concurrency",
      paramLabel = "N",
      defaultValue = "16",
      description =
          "weka: conversations running at once (a conversation starts when a slot frees)."
              + " Default: ${DEFAULT-VALUE}.")
  int concurrency;

  @Option(
      names = "--stagger",
      paramLabel = "SECONDS",
      defaultValue = "60",
      description =
          "weka: seconds between consecutive conversation starts. Default: ${DEFAULT-VALUE}.")
  double stagger;

  @Option(
      names = "--max-requests",
      paramLabel = "N",
      defaultValue = "0",
      description = "Read at most N requests per file (per session for weka); 0: all.")
  int maxRequests;

  @Option(
      names = "--threads",
      paramLabel = "N",
      defaultValue = "0",
      description =
          "Reference-mode replays run at once; 0 (default): one per available processor."
              + " Tiered replays run one at a time.")
  int threads;

  @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON.")
  Path json;

  @Option(
      names = "--out",
      paramLabel = "DIR",
      description =
          "Also write results.csv, hit_rate.png and belady_fraction.png into DIR (tiered mode:"
              + " results.csv, links.csv, hit_rate.png and bytes_per_link.png).")
  Path out;

  @Option(names = "--quiet", description = "No progress on stderr.")
  boolean quiet;

  private final PrintStream stdout;
  private final PrintStream stderr;

  ReplayCommand(PrintStream stdout, PrintStream stderr) {
    this.stdout = stdout;
    this.stderr = stderr;
  }

  /**
   * Runs {@code kvtier replay} without exiting the JVM.
   *
   * @param args its arguments
   * @param out where results go
   * @param err where progress, errors and usage go
   * @return 0 on success, 2 for a bad command line, 1 when the replay failed (a bad trace, ...)
   */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    return Cli.execute(new ReplayCommand(out, err), args, out, err);
  }

  private TieredReplay.Engine engine;

  @Override
  public Integer call() {
    TieredReplay.Tiers tiers = null;
    TieredReplay.CostModel cost = null;
    if (hbm != null || dram != null || cxl != null || nvme != null) {
      try {
        if (pageKib <= 0 || pageKib % 4 != 0 || pageKib > (1 << 20)) {
          throw new IllegalArgumentException(
              "--page-kib must be a positive multiple of 4 up to 1048576, was " + pageKib);
        }
        tiers =
            new TieredReplay.Tiers(
                size("--hbm", hbm),
                size("--dram", dram),
                size("--cxl", cxl),
                size("--nvme", nvme),
                pageKib * 1024,
                workDir);
        cost = new TieredReplay.CostModel(prefillTps, kvBytesPerToken);
        if (lastTierMinUses < 1 || lastTierMinUses > 15) {
          throw new IllegalArgumentException(
              "--last-tier-min-uses must be in [1, 15], was " + lastTierMinUses);
        }
        List<String> kinds = List.of(prefetch.split(",", -1));
        if (!prefetch.equals("none")
            && (!List.of("resume", "queued", "steps", "foresight").containsAll(kinds)
                || new java.util.HashSet<>(kinds).size() != kinds.size())) {
          throw new IllegalArgumentException(
              "--prefetch must be none or a list of resume, queued, steps and foresight, was "
                  + prefetch);
        }
        if (kinds.contains("steps") && !engineModel) {
          throw new IllegalArgumentException(
              "--prefetch steps prefetches a parent when its sub-agents finish in the engine: add"
                  + " --engine");
        }
        if (kinds.contains("foresight") && !engineModel) {
          throw new IllegalArgumentException(
              "--prefetch foresight prefetches ahead of the engine's arrivals: add --engine");
        }
        if (!(foresightLead >= 0) || Double.isInfinite(foresightLead)) {
          throw new IllegalArgumentException(
              "--foresight-lead-s must be a finite number of seconds, 0 or more, was "
                  + foresightLead);
        }
        if (kinds.contains("queued") && !engineModel) {
          throw new IllegalArgumentException(
              "--prefetch queued prefetches requests waiting in the engine's queue: add --engine");
        }
        if (layers < 1 || layers > TieredReplay.Engine.MAX_LAYERS) {
          throw new IllegalArgumentException(
              "--layers must be in [1, " + TieredReplay.Engine.MAX_LAYERS + "], was " + layers);
        }
        if (layers > 1 && !engineModel) {
          throw new IllegalArgumentException(
              "--layers overlaps the engine model's prefill with onboarding: add --engine");
        }
        if (linkGbps != null && !engineModel) {
          throw new IllegalArgumentException(
              "--link-gbps sets the engine model's links: add --engine");
        }
        if (engineModel) {
          java.util.Map<String, Double> links = new java.util.HashMap<>();
          if (linkGbps != null) {
            linkGbps.forEach((k, v) -> links.put(k, v * 1e9));
          }
          engine =
              new TieredReplay.Engine(
                  cost,
                  links,
                  kinds.contains("queued"),
                  kinds.contains("steps"),
                  layers,
                  kinds.contains("foresight") ? foresightLead : TieredReplay.Engine.NO_FORESIGHT);
        }
      } catch (IllegalArgumentException e) {
        stderr.println("kvtier replay: " + e.getMessage());
        return Cli.USAGE;
      }
    }
    TraceFormat f;
    try {
      f = TraceFormat.of(format);
    } catch (IllegalArgumentException e) {
      stderr.println("kvtier replay: " + e.getMessage());
      return Cli.USAGE;
    }
    for (double fr : fractions) {
      if (!(fr > 0) || fr > 1) {
        stderr.println("kvtier replay: --capacity-fraction must be in (0, 1], was " + fr);
        return Cli.USAGE;
      }
    }
    if (blockTokens < 0 || concurrency < 1 || stagger < 0 || maxRequests < 0 || threads < 0) {
      stderr.println(
          "kvtier replay: --block-tokens, --max-requests and --threads must be >= 0,"
              + " --concurrency >= 1, --stagger >= 0");
      return Cli.USAGE;
    }
    for (String p : policies) {
      try {
        ReferenceReplay.checkPolicy(p);
      } catch (IllegalArgumentException e) {
        stderr.println("kvtier replay: " + e.getMessage());
        return Cli.USAGE;
      }
    }
    List<Path> files = expand(traces);
    TraceFormat.Options opts =
        new TraceFormat.Options(blockTokens, concurrency, stagger, maxRequests);
    long t0 = System.nanoTime();
    if (!quiet) {
      stderr.printf(
          Locale.ROOT,
          "reading %d %s file(s)...%n",
          files.size(),
          f.name().toLowerCase(Locale.ROOT));
    }
    Trace trace = f.read(files, opts);
    if (trace.size() == 0) {
      stderr.println("kvtier replay: the trace has no requests");
      return 1;
    }
    ReferenceReplay replay = new ReferenceReplay(trace);
    if (!quiet) {
      stderr.printf(
          Locale.ROOT,
          "read %,d requests, %,d distinct blocks in %.1f s%n",
          trace.size(),
          trace.distinctBlocks(),
          (System.nanoTime() - t0) / 1e9);
    }
    if (tiers != null) {
      String setup = setup(f);
      if (engine != null) {
        List<String> names = tiers.names();
        String model = engine.describe(names.subList(1, names.size()));
        setup = setup.isEmpty() ? model : setup + System.lineSeparator() + model;
      }
      TieredReport report = replayTiered(trace, f, files, setup, tiers, cost);
      report.printTable(stdout);
      if (json != null) {
        report.writeJson(json);
        stdout.println("wrote " + json);
      }
      if (out != null) {
        for (Path p : report.writeOut(out)) {
          stdout.println("wrote " + p);
        }
      }
      return 0;
    }
    ReplayReport report = replayAll(replay, trace, f, files, setup(f));
    report.printTable(stdout);
    if (json != null) {
      report.writeJson(json);
      stdout.println("wrote " + json);
    }
    if (out != null) {
      for (Path p : report.writeOut(out)) {
        stdout.println("wrote " + p);
      }
    }
    return 0;
  }

  private String setup(TraceFormat f) {
    return switch (f) {
      case WEKA ->
          String.format(
              Locale.ROOT,
              "conversations: %d at once, started %s s apart (file-name order); sub-agents are"
                  + " their own sessions on their own model; pauses passed to the cache as"
                  + " running-median estimates per kind",
              concurrency,
              stagger == Math.rint(stagger) ? String.valueOf((long) stagger) : stagger);
      case KVTIER ->
          "sessions and pauses from the file; pauses passed to the cache as running-median"
              + " estimates per kind, never the true gap";
      case MOONCAKE -> "requests replayed in timestamp order, no sessions";
    };
  }

  private ReplayReport replayAll(
      ReferenceReplay replay, Trace trace, TraceFormat f, List<Path> files, String setup) {
    int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
    List<Callable<ReferenceReplay.Result>> jobs = new ArrayList<>();
    int total = policies.size() * fractions.size();
    AtomicInteger done = new AtomicInteger();
    for (double fr : fractions) {
      for (String p : policies) {
        jobs.add(
            () -> {
              ReferenceReplay.Result r = replay.run(p, fr, ReferenceReplay.Progress.NONE);
              if (!quiet) {
                synchronized (stderr) {
                  stderr.printf(
                      Locale.ROOT,
                      "[%d/%d] %-12s at %5.1f%% (%,d blocks): token hit rate %.4f  (%.1f s)%n",
                      done.incrementAndGet(),
                      total,
                      p,
                      fr * 100,
                      r.capacityBlocks(),
                      r.tokenHitRate(),
                      r.wallMillis() / 1000.0);
                }
              }
              return r;
            });
      }
    }
    long t0 = System.nanoTime();
    List<ReferenceReplay.Result> results = new ArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(Math.min(n, jobs.size()));
    try {
      List<Future<ReferenceReplay.Result>> fs = new ArrayList<>();
      for (Callable<ReferenceReplay.Result> j : jobs) {
        fs.add(pool.submit(j));
      }
      for (Future<ReferenceReplay.Result> fu : fs) {
        results.add(fu.get());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new IllegalStateException(e.getCause());
    } finally {
      pool.shutdownNow();
    }
    long wall = (System.nanoTime() - t0) / 1_000_000;
    String name =
        String.join(",", files.stream().map(p -> String.valueOf(p.getFileName())).toList());
    if (files.size() > 3) {
      name =
          files.size() + " files from " + files.get(0).toAbsolutePath().getParent().getFileName();
    }
    return new ReplayReport(
        name,
        f.name().toLowerCase(Locale.ROOT),
        setup,
        trace.size(),
        trace.distinctBlocks(),
        trace.inputTokens(),
        results,
        wall);
  }

  private static long size(String option, String text) {
    return text == null ? 0 : TieredReplay.parseSize(option, text);
  }

  /** The policies a tiered run replays: LRU first, then the others as given, without Belady. */
  static List<String> tieredPolicies(List<String> given) {
    List<String> ps = new ArrayList<>();
    ps.add("lru");
    for (String p : given) {
      if (!p.equals("belady") && !ps.contains(p)) {
        ps.add(p);
      }
    }
    return ps;
  }

  /**
   * The tiered mode: the reference mode's LRU and Belady at the same total pages first (in
   * parallel, they are cheap), then one tiered replay per policy, one at a time so that the
   * bandwidths each measures are its own.
   */
  private TieredReport replayTiered(
      Trace trace,
      TraceFormat f,
      List<Path> files,
      String setup,
      TieredReplay.Tiers tiers,
      TieredReplay.CostModel cost) {
    long t0 = System.nanoTime();
    if (tiers.hbmBytes() > 0) {
      TieredReplay.hbmVariant(); // fails early, with the cause, when the tier cannot load
    }
    ReferenceReplay ref = new ReferenceReplay(trace);
    long pages = tiers.totalPages();
    double fraction = (double) pages / Math.max(1, trace.distinctBlocks());
    List<ReferenceReplay.Result> reference =
        parallel(
            List.of(
                () -> ref.run("lru", pages, fraction, ReferenceReplay.Progress.NONE),
                () -> ref.run("belady", pages, fraction, ReferenceReplay.Progress.NONE)));
    if (!quiet) {
      stderr.printf(
          Locale.ROOT,
          "reference mode, one tier of %,d pages: lru %.4f, belady %.4f%n",
          pages,
          reference.get(0).tokenHitRate(),
          reference.get(1).tokenHitRate());
    }
    TieredReplay replay = new TieredReplay(trace, tiers);
    if (prefetch.contains("resume")) {
      replay.prefetch(PrefetchPolicy.beforeResume(TieredReplay.PREFETCH_LEAD));
    }
    replay.engine(engine);
    replay.lastTierMinUses(lastTierMinUses);
    List<String> ps = tieredPolicies(policies);
    List<TieredReplay.Result> results = new ArrayList<>();
    for (int k = 0; k < ps.size(); k++) {
      String p = ps.get(k);
      String tag = String.format(Locale.ROOT, "[%d/%d] tiered %s", k + 1, ps.size(), p);
      long r0 = System.nanoTime();
      ReferenceReplay.Progress progress =
          quiet
              ? ReferenceReplay.Progress.NONE
              : (done, total) -> {
                if (done < total) {
                  stderr.printf(
                      Locale.ROOT,
                      "%s: %,d of %,d requests (%.1f s)%n",
                      tag,
                      done,
                      total,
                      (System.nanoTime() - r0) / 1e9);
                }
              };
      TieredReplay.Result r = replay.run(p, progress);
      results.add(r);
      if (!quiet) {
        StringBuilder per = new StringBuilder();
        for (int t = 0; t < r.tierNames().size(); t++) {
          per.append(
              String.format(Locale.ROOT, " %s %.4f", r.tierNames().get(t), r.tierHitRate(t)));
        }
        stderr.printf(
            Locale.ROOT,
            "%s: token hit rate %.4f (%s) in %.1f s%n",
            tag,
            r.tokenHitRate(),
            per.toString().trim(),
            r.wallMillis() / 1000.0);
      }
    }
    return new TieredReport(
        name(files),
        f.name().toLowerCase(Locale.ROOT),
        setup,
        trace.size(),
        trace.distinctBlocks(),
        trace.inputTokens(),
        tiers,
        cost,
        results,
        reference,
        (System.nanoTime() - t0) / 1_000_000);
  }

  private static String name(List<Path> files) {
    String name =
        String.join(",", files.stream().map(p -> String.valueOf(p.getFileName())).toList());
    if (files.size() > 3) {
      name =
          files.size() + " files from " + files.get(0).toAbsolutePath().getParent().getFileName();
    }
    return name;
  }

  private static <T> List<T> parallel(List<Callable<T>> jobs) {
    ExecutorService pool = Executors.newFixedThreadPool(jobs.size());
    try {
      List<Future<T>> fs = new ArrayList<>();
      for (Callable<T> j : jobs) {
        fs.add(pool.submit(j));
      }
      List<T> out = new ArrayList<>();
      for (Future<T> fu : fs) {
        out.add(fu.get());
      }
      return out;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new IllegalStateException(e.getCause());
    } finally {
      pool.shutdownNow();
    }
  }

  /** Files as given, a directory replaced by its trace files in name order. */
  static List<Path> expand(List<Path> paths) {
    List<Path> files = new ArrayList<>();
    for (Path p : paths) {
      if (Files.isDirectory(p)) {
        try (Stream<Path> s = Files.list(p)) {
          s.filter(Files::isRegularFile)
              .filter(
                  x -> {
                    String n = String.valueOf(x.getFileName()).toLowerCase(Locale.ROOT);
                    return n.endsWith(".json")
                        || n.endsWith(".json.gz")
                        || n.endsWith(".jsonl")
                        || n.endsWith(".jsonl.gz");
                  })
              .sorted()
              .forEach(files::add);
        } catch (IOException e) {
          throw new UncheckedIOException("cannot list " + p + ": " + e.getMessage(), e);
        }
      } else {
        files.add(p);
      }
    }
    return files;
  }

  /** picocli wiring shared by the replay tool's commands. */
  static final class Cli {
    static final int USAGE = 2;

    private Cli() {}

    static int execute(Object command, String[] args, PrintStream out, PrintStream err) {
      CommandLine cl = new CommandLine(command);
      cl.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8));
      cl.setErr(new PrintWriter(err, true, StandardCharsets.UTF_8));
      cl.setExecutionExceptionHandler(
          (ex, line, parsed) -> {
            String name = line.getCommandName();
            if (ex instanceof TraceFormatException
                || ex instanceof UncheckedIOException
                || ex instanceof IllegalArgumentException
                || ex instanceof IllegalStateException) {
              err.println(name + ": " + ex.getMessage());
              return 1;
            }
            err.println(name + ": " + ex);
            ex.printStackTrace(err);
            return 1;
          });
      return cl.execute(args);
    }
  }
}
