package io.kvtier.replay;

import java.io.PrintStream;
import java.util.Arrays;

/**
 * The replay tool's commands on their own ({@code replay}, {@code gen-agentic}), for use until (and
 * besides) the {@code kvtier} command line dispatches to them.
 */
public final class ReplayTool {

  private ReplayTool() {}

  /**
   * Runs a command and exits with its code.
   *
   * @param args the command and its arguments
   */
  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err));
  }

  /**
   * Runs a command without exiting.
   *
   * @param args the command and its arguments
   * @param out where results go
   * @param err where progress and errors go
   * @return the exit code
   */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    String cmd = args.length == 0 ? "" : args[0];
    String[] rest = args.length == 0 ? args : Arrays.copyOfRange(args, 1, args.length);
    return switch (cmd) {
      case "replay" -> ReplayCommand.run(rest, out, err);
      default -> {
        err.println("usage: replay ... (--help for its options)");
        yield 2;
      }
    };
  }
}
