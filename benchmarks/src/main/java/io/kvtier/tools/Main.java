package io.kvtier.tools;

import io.kvtier.replay.GenAgenticCommand;
import io.kvtier.replay.ReplayCommand;
import io.kvtier.replay.TraceDemo;
import java.io.PrintStream;
import java.util.Arrays;

/** The {@code kvtier} command line. */
public final class Main {

  /** Exit code for a bad command line. */
  public static final int USAGE = 2;

  private Main() {}

  /**
   * Runs a subcommand and exits with its code.
   *
   * @param args the subcommand and its arguments
   */
  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err));
  }

  /**
   * Runs a subcommand without exiting the JVM.
   *
   * @param args the subcommand and its arguments
   * @param out where results go
   * @param err where errors and usage go
   * @return the exit code: 0 on success, {@value #USAGE} for a bad command line
   */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    if (args.length == 0) {
      usage(err);
      return USAGE;
    }
    String[] rest = Arrays.copyOfRange(args, 1, args.length);
    return switch (args[0]) {
      case "demo" -> TraceDemo.run(rest, out, err);
      case "engine-demo" -> Demo.run(rest, out, err);
      case "replay" -> ReplayCommand.run(rest, out, err);
      case "gen-agentic" -> GenAgenticCommand.run(rest, out, err);
      case "help", "-h", "--help" -> {
        usage(out);
        yield 0;
      }
      default -> {
        err.println("kvtier: unknown command '" + args[0] + "'");
        usage(err);
        yield USAGE;
      }
    };
  }

  private static void usage(PrintStream to) {
    to.println(
        """
        usage: kvtier <command> [options]

        commands:
          demo         replays the bundled samples of real traces through the cache: every
                       policy's hit rate beside LRU and the Belady bound, then hits per tier,
                       bytes per link and prefill saved through four tiers (about a minute)
          engine-demo  a small agent-session engine loop on the DRAM tier; prints what it reused
                       (kvtier engine-demo --help for its options)
          replay       replays request traces through the real cache, every policy beside LRU
                       and the Belady bound; with --hbm/--dram/--cxl/--nvme through real tiers
                       (kvtier replay --help)
          gen-agentic  writes a synthetic agentic trace in kvtier JSONL (kvtier gen-agentic --help)
          help         this text""");
  }
}
