package io.kvtier.cxl;

import io.kvtier.spi.PageStore;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * DRAM to CXL page copies against {@code MemorySegment.copy} of the same sizes, measured in the
 * same run (issue 3, item 7; target: CXL copies at least 0.9x the baseline). The cases run in turn
 * within each round, so a busy machine slows them alike and the ratios stay meaningful.
 *
 * <p>Not JMH: the benchmarks module has no JMH set-up yet, so this is a plain program in the
 * module's test sources; move it to {@code benchmarks} as a JMH class when JMH lands there. Each
 * case copies every page of a working set larger than the last-level cache (default 256 MiB) once
 * per round, after warm-up rounds that also fault every page in; it prints the median and best
 * round in GB/s and the ratio of medians to the baseline.
 *
 * <ul>
 *   <li>{@code baseline}: {@code MemorySegment.copy} between two off-heap DRAM regions;
 *   <li>{@code write}: {@code PageStore.write}, DRAM to a CXL pool file on {@code /dev/shm};
 *   <li>{@code read}: {@code PageStore.read}, pool to DRAM;
 *   <li>{@code numa-write}/{@code numa-read}: the same against the NUMA-node tier (node 0).
 * </ul>
 *
 * <p>Run: {@code ./mvnw -q -pl kvtier-cxl -am test-compile} then {@code ./mvnw -q -pl kvtier-cxl
 * exec:exec -Dexec.executable=java -Dexec.classpathScope=test
 * -Dexec.args="--enable-native-access=ALL-UNNAMED -cp %classpath io.kvtier.cxl.CxlCopyBenchmark"}.
 * Arguments (optional): working-set MiB, rounds.
 */
public final class CxlCopyBenchmark {
  private CxlCopyBenchmark() {}

  private static final int[] PAGE_SIZES = {64 * 1024, 2 * 1024 * 1024};

  public static void main(String[] args) throws IOException {
    long workingSet = (args.length > 0 ? Long.parseLong(args[0]) : 256) << 20;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 15;
    Path dir = Files.createTempDirectory(Path.of("/dev/shm"), "kvtier-cxl-bench");
    System.out.printf(
        Locale.ROOT,
        "working set %d MiB, %d interleaved rounds, %d cores, load average %s, JDK %s%n",
        workingSet >> 20,
        rounds,
        Runtime.getRuntime().availableProcessors(),
        loadAverage(),
        System.getProperty("java.vm.version"));
    System.out.printf(
        Locale.ROOT, "%-7s %-11s %12s %12s %8s%n", "page", "case", "median", "best", "ratio");
    try (Arena arena = Arena.ofShared()) {
      MemorySegment src = arena.allocate(workingSet, 4096);
      MemorySegment dst = arena.allocate(workingSet, 4096);
      src.fill((byte) 1);
      dst.fill((byte) 2);
      for (int page : PAGE_SIZES) {
        int pages = (int) (workingSet / page);
        Path file = dir.resolve("pool-" + page);
        try (PageStore cxl = CxlTier.file("cxl", file, workingSet).open(page);
            PageStore numa = CxlTier.numaNode("numa", 0, workingSet).open(page)) {
          for (int i = 0; i < pages; i++) {
            cxl.allocate(i);
            numa.allocate(i);
          }
          String[] names = {"baseline", "write", "read", "numa-write", "numa-read"};
          Runnable[] cases = {
            () -> copyAll(src, dst, page, pages),
            () -> writeAll(cxl, src, page, pages),
            () -> readAll(cxl, dst, page, pages),
            () -> writeAll(numa, src, page, pages),
            () -> readAll(numa, dst, page, pages)
          };
          double[][] gbps = interleaved(rounds, workingSet, cases);
          double base = median(gbps[0]);
          for (int c = 0; c < cases.length; c++) {
            report(page, names[c], gbps[c], base);
          }
        } finally {
          Files.deleteIfExists(file);
        }
      }
    } finally {
      Files.deleteIfExists(dir);
    }
  }

  private static String loadAverage() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
    } catch (IOException e) {
      return "?";
    }
  }

  private static void copyAll(MemorySegment src, MemorySegment dst, int page, int pages) {
    for (int i = 0; i < pages; i++) {
      long off = (long) i * page;
      MemorySegment.copy(src, off, dst, off, page);
    }
  }

  private static void writeAll(PageStore store, MemorySegment src, int page, int pages) {
    for (int i = 0; i < pages; i++) {
      store.write(i, src.asSlice((long) i * page, page));
    }
  }

  private static void readAll(PageStore store, MemorySegment dst, int page, int pages) {
    for (int i = 0; i < pages; i++) {
      store.read(i, dst.asSlice((long) i * page, page));
    }
  }

  /**
   * Runs every case once per round, in turn, so that all of them see the same machine (other
   * processes, frequency): GB/s per case per round.
   */
  private static double[][] interleaved(int rounds, long bytes, Runnable[] cases) {
    for (int i = 0; i < 3; i++) {
      for (Runnable c : cases) {
        c.run();
      }
    }
    double[][] gbps = new double[cases.length][rounds];
    for (int r = 0; r < rounds; r++) {
      for (int c = 0; c < cases.length; c++) {
        long t0 = System.nanoTime();
        cases[c].run();
        gbps[c][r] = bytes / (double) (System.nanoTime() - t0);
      }
    }
    return gbps;
  }

  private static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    return sorted[sorted.length / 2];
  }

  private static void report(int page, String what, double[] gbps, double base) {
    double median = median(gbps);
    System.out.printf(
        Locale.ROOT,
        "%-7s %-11s %7.2f GB/s %7.2f GB/s %7.2fx%n",
        page >= 1 << 20 ? (page >> 20) + " MiB" : (page >> 10) + " KiB",
        what,
        median,
        Arrays.stream(gbps).max().orElse(0),
        median / base);
  }
}
