package io.kvtier.tools;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The command line's parsing; needs no engine. */
class MainTest {

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  private int run(String... args) {
    return Main.run(
        args,
        new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  @Test
  void noCommand_printsUsage_andFails() {
    assertThat(run()).isEqualTo(Main.USAGE);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("usage: kvtier");
  }

  @Test
  void help_printsUsage_andSucceeds() {
    assertThat(run("--help")).isZero();
    assertThat(out.toString(StandardCharsets.UTF_8)).contains("demo");
    assertThat(run("demo", "--help")).isZero();
    assertThat(out.toString(StandardCharsets.UTF_8)).contains("--sessions N");
  }

  @Test
  void unknownCommandOrOption_fails() {
    assertThat(run("frobnicate")).isEqualTo(Main.USAGE);
    assertThat(run("demo", "--bogus")).isEqualTo(Main.USAGE);
    assertThat(run("demo", "--turns")).isEqualTo(Main.USAGE);
    assertThat(run("demo", "--sessions", "0")).isEqualTo(Main.USAGE);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("unknown command 'frobnicate'")
        .contains("unknown option '--bogus'")
        .contains("--turns needs a value")
        .contains("--sessions must be in [1, 100000]");
  }

  @Test
  void demoOptions_acceptBothForms_andDefault() {
    assertThat(Demo.parse(new String[0])).isEqualTo(Demo.Options.DEFAULTS);
    assertThat(Demo.parse(new String[] {"--sessions=5", "--turns", "2", "--seed=-9"}))
        .isEqualTo(new Demo.Options(5, 2, -9));
    assertThat(Demo.parse(new String[] {"-h"})).isNull();
    assertThatThrownBy(() -> Demo.parse(new String[] {"--seed", "x"}))
        .hasMessageContaining("whole number");
  }

  @Test
  void capacity_holdsTwoLongestContexts() {
    for (int turns : new int[] {1, 6, 50}) {
      long longestPages = Demo.LAYOUT.pagesFor(512 + 192 + turns * (320 + 160));
      assertThat(Demo.capacityPages(turns)).isGreaterThanOrEqualTo(2 * longestPages);
    }
  }
}
