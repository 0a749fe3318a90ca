package io.kvtier.hbm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Host↔device bandwidth of the HBM store's page copies, beside one contiguous {@code
 * cudaMemcpyAsync} of the same total size on the same stream, device memory and pinned host buffer
 * (the link's practical limit), measured in the same run.
 *
 * <p>Each operation moves {@code batchMiB} of data: {@code pages} = one batched store call over
 * {@code batchMiB / pageMiB} pages (contiguous, or layer-split into {@code segments} per page and
 * gathered/scattered); {@code layers} = the same batch as one range transfer per layer ({@code
 * segments / 2} layers, all submitted before the first is waited for: how layer-wise onboarding
 * moves a batch); {@code contiguous} = one raw copy of {@code batchMiB}. The {@code bytes}
 * counter is the bandwidth in bytes per second. On the emulated build both are {@code memcpy} on a
 * worker thread: that run exercises the path, its numbers say nothing about a GPU.
 *
 * <p>{@link #main(String[])} runs the benchmark and prints each page path's ratio to the contiguous
 * copy, against the targets (≥ 0.9 for pages of 2 MiB and more, ≥ 0.8 for layer-split
 * blocks). Any JMH option may be passed, e.g. {@code -p pageMiB=2 -p shape=LAYER_SPLIT -p
 * copyMode=AUTO,MEMCPY,BATCH,KERNEL}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(
    value = 1,
    jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class HbmTransferBenchmark {

  /** Page size in MiB. */
  @Param({"0.5", "2", "8", "32"})
  public String pageMiB;

  /** CONTIGUOUS pages, or LAYER_SPLIT blocks of {@link #segments} segments. */
  @Param({"CONTIGUOUS", "LAYER_SPLIT"})
  public String shape;

  /** Segments of a layer-split block (64 = 32 layers x K/V, Llama-3-8B). */
  @Param({"64"})
  public int segments;

  /** H2D (onboarding) or D2H (offloading). */
  @Param({"H2D", "D2H"})
  public String direction;

  /** Bytes moved per operation, in MiB. */
  @Param({"64"})
  public int batchMiB;

  /** How the CUDA build issues the batch. */
  @Param({"AUTO"})
  public String copyMode;

  /** Creates the state; JMH instantiates it. */
  public HbmTransferBenchmark() {}

  private HbmPageStore store;
  private PinnedBuffer host;
  private long[] slots;
  private MemorySegment[] hostPages;
  private boolean toDevice;
  private long total;
  private long deviceBase;

  /** Bytes per second, as a JMH secondary result. */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.OPERATIONS)
  public static class Bytes {
    /** Bytes moved. */
    public long bytes;

    /** Creates the counter; JMH instantiates it. */
    public Bytes() {}

    /** Resets the count per iteration. */
    @Setup(Level.Iteration)
    public void reset() {
      bytes = 0;
    }
  }

  /** Opens the store and the pinned host buffer. */
  @Setup(Level.Trial)
  public void open() {
    HbmVariant variant = HbmVariant.configured(HbmVariant.EMULATED);
    int pageBytes = (int) Math.round(Double.parseDouble(pageMiB) * (1 << 20));
    int split = shape.equals("LAYER_SPLIT") ? segments : 1;
    total = (long) batchMiB << 20;
    int pages = (int) Math.max(1, total / pageBytes);
    total = (long) pages * pageBytes;
    store =
        HbmTier.of(variant, 0, total)
            .layerSplit(split)
            .copyMode(HbmCopyMode.valueOf(copyMode))
            .open(pageBytes);
    host = store.allocatePinned(total);
    host.segment().fill((byte) 7);
    slots = new long[pages];
    for (int i = 0; i < pages; i++) {
      slots[i] = store.allocate(i == 0 ? -1 : slots[i - 1] + 1);
    }
    hostPages = new MemorySegment[pages];
    for (int i = 0; i < pages; i++) {
      hostPages[i] = host.segment().asSlice((long) i * pageBytes, pageBytes);
    }
    toDevice = direction.equals("H2D");
    deviceBase = store.deviceAddress(0, 0);
  }

  /** Frees everything. */
  @TearDown(Level.Trial)
  public void close() {
    store.close();
  }

  /**
   * The page path: one batched store call over every page.
   *
   * @param counter bytes moved
   */
  @Benchmark
  public void pages(Bytes counter) {
    MemorySegment packed = host.segment();
    if (toDevice) {
      store.writeAsync(slots, packed).join();
    } else {
      store.readAsync(slots, packed).join();
    }
    counter.bytes += total;
  }

  /**
   * Layer-wise pre-loading: the same pages as one range transfer per layer, every layer submitted
   * before the first is waited for, as the transfer engine onboards layer by layer.
   *
   * @param counter bytes moved
   */
  @Benchmark
  public void layers(Bytes counter) {
    int layers = Math.max(1, segments / 2);
    long layerBytes = store.pageBytes() / layers;
    List<CompletableFuture<Void>> done = new ArrayList<>(layers);
    for (int l = 0; l < layers; l++) {
      done.add(
          toDevice
              ? store.writePagesAsync(slots, hostPages, l * layerBytes, layerBytes)
              : store.readPagesAsync(slots, hostPages, l * layerBytes, layerBytes));
    }
    for (CompletableFuture<Void> f : done) {
      f.join();
    }
    counter.bytes += layerBytes * layers * slots.length;
  }

  /**
   * The baseline: one contiguous copy of the same size.
   *
   * @param counter bytes moved
   */
  @Benchmark
  public void contiguous(Bytes counter) {
    long hostBase = host.segment().address();
    if (toDevice) {
      store.rawAsync(deviceBase, hostBase, total, true).join();
    } else {
      store.rawAsync(hostBase, deviceBase, total, false).join();
    }
    counter.bytes += total;
  }

  /**
   * Runs the benchmark and prints the ratio of each page path to the contiguous copy.
   *
   * @param args JMH command-line options
   * @throws Exception if JMH fails
   */
  public static void main(String[] args) throws Exception {
    Options cli = new CommandLineOptions(args);
    Options opts =
        new OptionsBuilder()
            .parent(cli)
            .include(cli.getIncludes().isEmpty() ? HbmTransferBenchmark.class.getSimpleName() : "")
            .build();
    Collection<RunResult> results = new Runner(opts).run();
    Map<String, double[]> rows = new TreeMap<>();
    for (RunResult r : results) {
      var params = r.getParams();
      String method = params.getBenchmark().substring(params.getBenchmark().lastIndexOf('.') + 1);
      String key =
          String.format(
              Locale.ROOT,
              "%-12s %6s MiB %-3s %-6s",
              params.getParam("shape"),
              params.getParam("pageMiB"),
              params.getParam("direction"),
              params.getParam("copyMode"));
      double bytesPerSecond = r.getSecondaryResults().get("bytes").getScore();
      double[] row = rows.computeIfAbsent(key, k -> new double[3]);
      row[method.equals("pages") ? 0 : method.equals("contiguous") ? 1 : 2] = bytesPerSecond;
    }
    List<String> lines = new ArrayList<>();
    lines.add(
        String.format(
            Locale.ROOT,
            "%-37s %10s %11s %12s %7s %7s %7s",
            "shape / page / dir / mode",
            "pages GB/s",
            "layers GB/s",
            "contig GB/s",
            "ratio",
            "layers",
            "target"));
    for (var e : rows.entrySet()) {
      double pages = e.getValue()[0] / 1e9;
      double contiguous = e.getValue()[1] / 1e9;
      double layered = e.getValue()[2] / 1e9;
      double ratio = contiguous > 0 ? pages / contiguous : Double.NaN;
      double layeredRatio = contiguous > 0 ? layered / contiguous : Double.NaN;
      String key = e.getKey();
      double pageMiB = Double.parseDouble(key.substring(13, 19).trim());
      String target =
          key.startsWith("LAYER_SPLIT") ? "0.80" : pageMiB >= 2 ? "0.90" : "-";
      String verdict =
          target.equals("-") ? "" : ratio >= Double.parseDouble(target) ? " ok" : " BELOW";
      lines.add(
          String.format(
              Locale.ROOT,
              "%-37s %10.2f %11.2f %12.2f %7.3f %7.3f %7s%s",
              key,
              pages,
              layered,
              contiguous,
              ratio,
              layeredRatio,
              target,
              verdict));
    }
    System.out.println();
    System.out.println(
        "HBM transfer bandwidth on "
            + HbmVariant.configured(HbmVariant.EMULATED).id()
            + " (pages vs one contiguous copy of the same size, same run):");
    lines.forEach(System.out::println);
  }
}
