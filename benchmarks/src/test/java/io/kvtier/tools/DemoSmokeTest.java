package io.kvtier.tools;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Runs {@code kvtier demo} in-process against the real engine. */
class DemoSmokeTest {

  private record Result(int code, String out, String err) {}

  private static Result demo(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    String[] full = new String[args.length + 1];
    full[0] = "demo";
    System.arraycopy(args, 0, full, 1, args.length);
    int code =
        Main.run(
            full,
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Result(
        code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  private static double number(String text, String regex) {
    Matcher m = Pattern.compile(regex).matcher(text);
    assertThat(m.find()).as("no match for /%s/ in:%n%s", regex, text).isTrue();
    return Double.parseDouble(m.group(1).replace(",", ""));
  }

  @Test
  void smallRun_reusesTokens_andExitsZero() {
    Result r = demo("--sessions", "3", "--turns", "3", "--seed", "7");
    assertThat(r.code()).as("stdout:%n%s%nstderr:%n%s", r.out(), r.err()).isZero();
    assertThat(number(r.out(), "token hit rate\\s+([0-9.]+) %")).isGreaterThan(0.0);
    assertThat(number(r.out(), "requests\\s+([0-9,]+)")).isEqualTo(9.0);
    assertThat(r.out()).contains("prefill tokens saved").contains("tier dram");
  }

  @Test
  void defaultRun_evictsBecauseTheTierIsSizedBelowTheWorkingSet() {
    Result r = demo();
    assertThat(r.code()).as("stdout:%n%s%nstderr:%n%s", r.out(), r.err()).isZero();
    assertThat(number(r.out(), "evictions\\s+([0-9,]+) blocks")).isGreaterThan(0.0);
    assertThat(number(r.out(), "token hit rate\\s+([0-9.]+) %")).isGreaterThan(50.0);
  }

  @Test
  void sameSeed_printsTheSameRun() {
    assertThat(demo("--sessions", "4", "--turns", "2", "--seed", "3").out())
        .isEqualTo(demo("--sessions", "4", "--turns", "2", "--seed", "3").out());
  }
}
