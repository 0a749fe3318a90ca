package io.kvtier.replay;

import java.io.PrintStream;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kvtier demo}: replays the trace samples bundled in the project ({@code traces/}: real
 * Mooncake chat traffic and real Claude Code sessions) through the real cache in reference mode,
 * every policy beside LRU and the Belady bound, and prints what a newcomer needs to judge them.
 */
@Command(
    name = "kvtier demo",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    usageHelpAutoWidth = true,
    description = {
      "Replays the bundled samples of real traces (traces/: Mooncake chat traffic, WEKA Claude"
          + " Code sessions with sub-agents and tool pauses) through the real kvtier cache, and"
          + " prints each eviction policy's token hit rate (= share of prefill saved) beside LRU"
          + " and the Belady bound. Then replays the first --tiered-requests Mooncake requests"
          + " through a real tier chain (HBM, emulated where no GPU is usable; off-heap DRAM; a"
          + " CXL pool file and an NVMe store in a temporary directory) and prints the hit rate"
          + " per tier, the prefill saved and the bytes moved per link, beside LRU and Belady at"
          + " the same total capacity. Runs in about a minute on two cores.",
      ""
    })
public final class TraceDemo implements Callable<Integer> {

  @Option(
      names = "--traces",
      paramLabel = "DIR",
      description = "The bundled traces folder; found next to the project by default.")
  Path traces;

  @Option(
      names = "--policy",
      split = ",",
      paramLabel = "LIST",
      defaultValue = "lru,s3fifo,tinylfu,arc,priority-lru,agent-aware,belady",
      description = "Policies. Default: ${DEFAULT-VALUE}.")
  List<String> policies;

  @Option(
      names = "--capacity-fraction",
      split = ",",
      paramLabel = "F",
      defaultValue = "0.02,0.05,0.1",
      description = "Capacities, as fractions of distinct blocks. Default: ${DEFAULT-VALUE}.")
  List<Double> fractions;

  @Option(
      names = "--max-requests",
      paramLabel = "N",
      defaultValue = "0",
      description = "Read at most N requests per file (per session for weka); 0: all.")
  int maxRequests;

  @Option(
      names = "--tiered-requests",
      paramLabel = "N",
      defaultValue = "1000",
      description =
          "Mooncake requests replayed through the tier chain (at most --max-requests when that is"
              + " given); 0 skips the tiered part. Default: ${DEFAULT-VALUE}.")
  int tieredRequests;

  @Option(
      names = "--tiered-policy",
      split = ",",
      paramLabel = "LIST",
      defaultValue = "lru,agent-aware",
      description = "Policies of the tiered part (LRU always runs). Default: ${DEFAULT-VALUE}.")
  List<String> tieredPolicies;

  @Option(
      names = "--hbm",
      paramLabel = "SIZE",
      defaultValue = "16m",
      description = "Tiered part: HBM tier size. Default: ${DEFAULT-VALUE}.")
  String hbm;

  @Option(
      names = "--dram",
      paramLabel = "SIZE",
      defaultValue = "32m",
      description = "Tiered part: DRAM tier size. Default: ${DEFAULT-VALUE}.")
  String dram;

  @Option(
      names = "--cxl",
      paramLabel = "SIZE",
      defaultValue = "32m",
      description = "Tiered part: CXL pool file size. Default: ${DEFAULT-VALUE}.")
  String cxl;

  @Option(
      names = "--nvme",
      paramLabel = "SIZE",
      defaultValue = "64m",
      description = "Tiered part: NVMe store size. Default: ${DEFAULT-VALUE}.")
  String nvme;

  private final PrintStream stdout;
  private final PrintStream stderr;

  TraceDemo(PrintStream stdout, PrintStream stderr) {
    this.stdout = stdout;
    this.stderr = stderr;
  }

  /**
   * Runs {@code kvtier demo} without exiting the JVM.
   *
   * @param args its arguments
   * @param out where the tables go
   * @param err where progress and errors go
   * @return 0 on success, 2 for a bad command line, 1 when the traces are missing or bad
   */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    return ReplayCommand.Cli.execute(new TraceDemo(out, err), args, out, err);
  }

  @Override
  public Integer call() {
    Path dir = traces != null ? traces : findTraces();
    if (dir == null || !Files.isDirectory(dir)) {
      stderr.println(
          "kvtier demo: cannot find the bundled traces folder; pass --traces DIR (the project's"
              + " traces/ folder)");
      return 1;
    }
    stdout.println(
        "kvtier demo: the bundled samples of two public traces, replayed through the real cache.");
    stdout.println(
        "Token hit rate = the share of prompt tokens whose KV was reused, i.e. prefill saved;");
    stdout.println(
        "in parentheses, the fraction of the Belady (offline optimal) hit rate at that capacity.");
    stdout.println();
    List<String[]> runs = new ArrayList<>();
    runs.add(
        new String[] {
          "Mooncake (Kimi chat traffic, 512-token blocks)",
          "--trace",
          dir.resolve("mooncake-fast25").resolve("conversation_trace_sample.jsonl").toString(),
          "--format",
          "mooncake"
        });
    runs.add(
        new String[] {
          "WEKA Claude Code sessions (64-token blocks, sub-agents, tool pauses)",
          "--trace",
          dir.resolve("weka-claude-code").toString(),
          "--format",
          "weka",
          "--concurrency",
          "8",
          "--stagger",
          "30"
        });
    for (String[] r : runs) {
      stdout.println("== " + r[0]);
      List<String> args = new ArrayList<>(List.of(r).subList(1, r.length));
      args.addAll(List.of("--policy", String.join(",", policies)));
      args.addAll(
          List.of(
              "--capacity-fraction",
              String.join(
                  ",", fractions.stream().map(f -> String.format(Locale.ROOT, "%s", f)).toList())));
      if (maxRequests > 0) {
        args.addAll(List.of("--max-requests", String.valueOf(maxRequests)));
      }
      stdout.println("   kvtier replay " + String.join(" ", args.subList(0, 4)) + " ...");
      int code = ReplayCommand.run(args.toArray(String[]::new), stdout, stderr);
      if (code != 0) {
        return code;
      }
      stdout.println();
    }
    if (tieredRequests > 0) {
      int n = maxRequests > 0 ? Math.min(maxRequests, tieredRequests) : tieredRequests;
      stdout.println(
          "== Tiers: the first "
              + n
              + " Mooncake requests through hbm > dram > cxl > nvme, 32 KiB of real bytes per"
              + " block");
      List<String> args =
          new ArrayList<>(
              List.of(
                  "--trace",
                  dir.resolve("mooncake-fast25")
                      .resolve("conversation_trace_sample.jsonl")
                      .toString(),
                  "--format",
                  "mooncake",
                  "--max-requests",
                  String.valueOf(n),
                  "--policy",
                  String.join(",", tieredPolicies),
                  "--hbm",
                  hbm,
                  "--dram",
                  dram,
                  "--cxl",
                  cxl,
                  "--nvme",
                  nvme));
      stdout.println(
          "   kvtier replay "
              + String.join(" ", args.subList(0, 4))
              + " "
              + String.join(" ", args.subList(4, args.size())));
      int code = ReplayCommand.run(args.toArray(String[]::new), stdout, stderr);
      if (code != 0) {
        return code;
      }
      stdout.println(
          "Lower tiers add the hits the top tier alone would lose; whether a lower-tier hit"
              + " beats recomputing depends on the bandwidth of its link to the top tier,"
              + " measured above (this machine's, with an emulated HBM unless a GPU is usable).");
      stdout.println();
    }
    stdout.println("Replay your own traces, at other capacities and with JSON, CSV and charts:");
    stdout.println(
        "  kvtier replay --help;  kvtier gen-agentic --help for synthetic agent traffic.");
    return 0;
  }

  /** {@code traces/} in the working directory, or in the project the tool was built in. */
  static Path findTraces() {
    Path here = Path.of("traces");
    if (Files.isDirectory(here.resolve("mooncake-fast25"))) {
      return here;
    }
    try {
      Path code =
          Path.of(TraceDemo.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      for (Path p = code; p != null; p = p.getParent()) {
        Path t = p.resolve("traces");
        if (Files.isDirectory(t.resolve("mooncake-fast25"))) {
          return t;
        }
      }
    } catch (URISyntaxException | SecurityException | NullPointerException e) {
      return null;
    }
    return null;
  }
}
