package io.kvtier.replay;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code kvtier gen-agentic}: writes a synthetic agentic trace ({@link AgenticGenerator}). */
@Command(
    name = "kvtier gen-agentic",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    usageHelpAutoWidth = true,
    description = {
      "Writes synthetic agent traffic as kvtier agentic JSONL, deterministic for a seed: context"
          + " growth, tool pauses (median 9 s, p99 about 10 min) and human pauses (median 3 min),"
          + " sub-agent bursts on a smaller model with sibling-shared prompts, compaction,"
          + " speculative forks of 2 to 4 with one survivor, 1 to 3 models.",
      ""
    },
    footer = {
      "",
      "Example:",
      "  kvtier gen-agentic --seed 7 --sessions 200 --out agentic.jsonl",
      "  kvtier replay --trace agentic.jsonl --format kvtier"
    })
public final class GenAgenticCommand implements Callable<Integer> {

  @Option(names = "--seed", required = true, paramLabel = "S", description = "Random seed.")
  long seed;

  @Option(
      names = "--sessions",
      required = true,
      paramLabel = "N",
      description = "Agent sessions (main agents).")
  int sessions;

  @Option(
      names = "--turns",
      paramLabel = "T",
      defaultValue = "30",
      description = "Mean main-agent turns per session. Default: ${DEFAULT-VALUE}.")
  int turns;

  @Option(
      names = "--models",
      paramLabel = "M",
      defaultValue = "2",
      description = "Models, 1 to 3 (the second runs sub-agents). Default: ${DEFAULT-VALUE}.")
  int models;

  @Option(
      names = "--tenants",
      paramLabel = "K",
      defaultValue = "2",
      description = "Tenants (each has its own salt). Default: ${DEFAULT-VALUE}.")
  int tenants;

  @Option(
      names = "--block-tokens",
      paramLabel = "B",
      defaultValue = "64",
      description = "Tokens per block. Default: ${DEFAULT-VALUE}.")
  int blockTokens;

  @Option(
      names = "--arrival-ms",
      paramLabel = "MS",
      defaultValue = "20000",
      description = "Mean gap between session starts (Poisson). Default: ${DEFAULT-VALUE}.")
  long arrivalMs;

  @Option(
      names = "--sub-agents",
      paramLabel = "P",
      defaultValue = "0.1",
      description = "Chance that a tool call is a sub-agent burst. Default: ${DEFAULT-VALUE}.")
  double subAgents;

  @Option(
      names = "--forks",
      paramLabel = "P",
      defaultValue = "0.15",
      description = "Chance that a request forks 2-4 branches. Default: ${DEFAULT-VALUE}.")
  double forks;

  @Option(
      names = "--compact-at",
      paramLabel = "TOKENS",
      defaultValue = "150000",
      description = "Context size at which an agent compacts. Default: ${DEFAULT-VALUE}.")
  int compactAt;

  @Option(
      names = "--out",
      paramLabel = "FILE",
      description = "Where to write; standard output when absent.")
  Path out;

  private final PrintStream stdout;
  private final PrintStream stderr;

  GenAgenticCommand(PrintStream stdout, PrintStream stderr) {
    this.stdout = stdout;
    this.stderr = stderr;
  }

  /**
   * Runs {@code kvtier gen-agentic} without exiting the JVM.
   *
   * @param args its arguments
   * @param out where the trace goes when there is no {@code --out}
   * @param err where the summary, errors and usage go
   * @return 0 on success, 2 for a bad command line, 1 when writing failed
   */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    return ReplayCommand.Cli.execute(new GenAgenticCommand(out, err), args, out, err);
  }

  @Override
  public Integer call() {
    AgenticGenerator.Options o;
    try {
      o =
          new AgenticGenerator.Options(
              seed,
              sessions,
              turns,
              models,
              tenants,
              blockTokens,
              arrivalMs,
              subAgents,
              forks,
              compactAt);
    } catch (IllegalArgumentException e) {
      stderr.println("kvtier gen-agentic: " + e.getMessage());
      return ReplayCommand.Cli.USAGE;
    }
    String text = AgenticGenerator.generate(o);
    long lines = text.chars().filter(c -> c == '\n').count();
    if (out == null) {
      stdout.print(text);
      stdout.flush();
    } else {
      try {
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null) {
          Files.createDirectories(parent);
        }
        Files.writeString(out, text, StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot write " + out + ": " + e.getMessage(), e);
      }
    }
    stderr.printf(
        Locale.ROOT,
        "gen-agentic: %d sessions, %,d requests (seed %d)%s%n",
        sessions,
        lines,
        seed,
        out == null ? "" : " -> " + out);
    return 0;
  }
}
