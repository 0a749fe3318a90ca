package io.kvtier.replay;

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
          + " blocks x block tokens, input length) / sum input length.",
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
          + " --policy lru,tinylfu,belady --out out/weka"
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
              + " default) and belady (the offline bound). Default: ${DEFAULT-VALUE}.")
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

  @Option(names = "--hbm", paramLabel = "SIZE", description = "Tiered mode: HBM tier size.")
  String hbm;

  @Option(names = "--dram", paramLabel = "SIZE", description = "Tiered mode: DRAM tier size.")
  String dram;

  @Option(names = "--cxl", paramLabel = "SIZE", description = "Tiered mode: CXL tier size.")
  String cxl;

  @Option(names = "--nvme", paramLabel = "SIZE", description = "Tiered mode: NVMe tier size.")
  String nvme;

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
      description = "Replays run at once; 0 (default): one per available processor.")
  int threads;

  @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON.")
  Path json;

  @Option(
      names = "--out",
      paramLabel = "DIR",
      description = "Also write results.csv, hit_rate.png and belady_fraction.png into DIR.")
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

  @Override
  public Integer call() {
    if (hbm != null || dram != null || cxl != null || nvme != null) {
      stderr.println(
          "kvtier replay: tiered mode (--hbm/--dram/--cxl/--nvme) needs the engine's tier chain,"
              + " which this build does not have yet; use --capacity-fraction (reference mode)");
      return Cli.USAGE;
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
