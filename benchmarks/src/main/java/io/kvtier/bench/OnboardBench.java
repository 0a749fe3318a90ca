package io.kvtier.bench;

import io.kvtier.DType;
import io.kvtier.DramTier;
import io.kvtier.KvCache;
import io.kvtier.KvLayout;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.Request;
import io.kvtier.bench.nvme.RawDirectFile;
import io.kvtier.cxl.CxlTier;
import io.kvtier.nvme.NvmeTier;
import io.kvtier.spi.TierSpec;
import io.kvtier.spi.WritePolicy;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.IntStream;
import java.util.stream.Stream;
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
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * Onboarding a 128K-token prefix from a lower tier into the DRAM top tier through the public API
 * ({@code acquire}, {@code onboard().join()}, {@code close}), beside the copy the hardware allows,
 * measured in the same run.
 *
 * <p>The cache is a {@code DramTier.offHeap} top tier of 8,192 + 16 pages of 64 KiB ({@code
 * KvLayout.of(1, 1, 1024, BF16, 16)}) and one lower tier chosen by {@code tier}: {@code dram} (a
 * second {@code DramTier}), {@code cxl} ({@code CxlTier.file} on {@code /dev/shm} when writable,
 * else the temp directory) or {@code nvme} ({@code NvmeTier.defaultStore} in a temp directory). The
 * lower tier holds two prompts of 8,192 blocks. Writes go through, so the prefix (131,072 tokens,
 * 8,192 blocks, 512 MiB) is committed once and copied below. Before each invocation a second prompt
 * of 8,192 blocks is brought into the top tier, which drops the prefix's top copies (the lower tier
 * has them); the invocation then onboards the whole prefix.
 *
 * <p>Baselines: for {@code dram} and {@code cxl}, {@code MemorySegment.copy} of 512 MiB between two
 * off-heap segments; for {@code nvme}, an {@code O_DIRECT} sequential read of 512 MiB in 2 MiB
 * requests from a file written in setup, in the same directory as the store. GB/s is 512 MiB
 * divided by the time.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 3)
@Fork(
    value = 1,
    jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xms1g", "-Xmx1g"})
@State(Scope.Benchmark)
public class OnboardBench {
  static final int TOKENS_PER_BLOCK = 16;
  static final int BLOCKS = 8192;
  static final int TOKENS = BLOCKS * TOKENS_PER_BLOCK;
  static final KvLayout LAYOUT = KvLayout.of(1, 1, 1024, DType.BF16, TOKENS_PER_BLOCK);
  static final long PAGE = LAYOUT.pageBytes();
  static final long PREFIX_BYTES = BLOCKS * PAGE;
  static final int SLACK_PAGES = 16;
  static final int FILLER_BLOCKS = BLOCKS + SLACK_PAGES;
  static final int RAW_REQUEST = 2 << 20;
  static final long WAIT_NANOS = TimeUnit.MINUTES.toNanos(5);

  /** The lower tier onboarded from: {@code dram}, {@code cxl} or {@code nvme}. */
  @Param({"dram", "cxl", "nvme"})
  public String tier;

  /** The cache with the prefix committed and pushed below before each invocation. */
  @State(Scope.Benchmark)
  public static class Cache {
    final Namespace ns = Namespace.of("bench", LAYOUT);
    final int[] prefix = IntStream.range(0, TOKENS).toArray();
    final int[] filler =
        IntStream.range(0, FILLER_BLOCKS * TOKENS_PER_BLOCK).map(i -> TOKENS + i).toArray();
    Path dir;
    KvCache cache;

    /**
     * Builds the cache, commits the prefix and waits until the lower tier holds all of it.
     *
     * @param params the benchmark's parameters
     * @throws IOException when the temp directory cannot be made
     */
    @Setup(Level.Trial)
    public void setup(BenchmarkParams params) throws IOException {
      String tier = params.getParam("tier");
      long lowerBytes = (2L * FILLER_BLOCKS) * PAGE;
      TierSpec lower =
          switch (tier) {
            case "dram" -> DramTier.offHeap("lower", lowerBytes);
            case "cxl" -> {
              dir = tempDir(true);
              yield CxlTier.file("lower", dir.resolve("pool"), lowerBytes);
            }
            case "nvme" -> {
              dir = tempDir(false);
              yield NvmeTier.defaultStore("lower", dir, lowerBytes);
            }
            default ->
                throw new IllegalArgumentException("tier must be dram, cxl or nvme: " + tier);
          };
      cache =
          KvCache.builder()
              .layout(LAYOUT)
              .tier(DramTier.offHeap("top", (BLOCKS + SLACK_PAGES) * PAGE))
              .tier(lower)
              .writes(WritePolicy.writeThrough())
              .build();
      run(prefix);
      await(() -> below(prefix) == BLOCKS, "the prefix to be written through");
    }

    /** Brings the filler prompt into the top tier, which drops the prefix's top copies. */
    @Setup(Level.Invocation)
    public void pushPrefixBelow() {
      run(filler);
      await(() -> below(filler) == FILLER_BLOCKS, "the filler to be written through");
      int[] perTier = cache.probe(ns, prefix).blocksPerTier();
      if (perTier[0] != 0 || perTier[1] != BLOCKS) {
        throw new IllegalStateException("prefix not only below: " + Arrays.toString(perTier));
      }
    }

    /**
     * Closes the cache and deletes its files.
     *
     * @throws IOException when the files cannot be deleted
     */
    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
      cache.close();
      delete(dir);
    }

    private void run(int[] prompt) {
      try (Lease lease = cache.acquire(Request.of(ns, prompt))) {
        lease.onboard().join();
        lease.extend();
        lease.commit();
      }
    }

    private int below(int[] prompt) {
      return cache.probe(ns, prompt).blocksPerTier()[1];
    }
  }

  /** The baseline's buffers and, for {@code nvme}, its file. */
  @State(Scope.Benchmark)
  public static class Baseline {
    Arena arena;
    MemorySegment src;
    MemorySegment dst;
    Path dir;
    RawDirectFile raw;

    /**
     * Allocates two 512 MiB segments (one for {@code nvme}) and writes the raw file.
     *
     * @param params the benchmark's parameters
     * @throws Throwable on I/O failure
     */
    @Setup(Level.Trial)
    public void setup(BenchmarkParams params) throws Throwable {
      arena = Arena.ofShared();
      dst = arena.allocate(PREFIX_BYTES, 4096);
      dst.fill((byte) 2);
      if (params.getParam("tier").equals("nvme")) {
        dir = tempDir(false);
        raw = new RawDirectFile(dir.resolve("raw").toString(), PREFIX_BYTES);
        byte[] bytes = new byte[RAW_REQUEST];
        new Random(42).nextBytes(bytes);
        MemorySegment chunk = dst.asSlice(0, RAW_REQUEST);
        MemorySegment.copy(bytes, 0, chunk, ValueLayout.JAVA_BYTE, 0, RAW_REQUEST);
        for (long off = 0; off < PREFIX_BYTES; off += RAW_REQUEST) {
          raw.write(chunk, off);
        }
      } else {
        src = arena.allocate(PREFIX_BYTES, 4096);
        src.fill((byte) 1);
      }
    }

    /**
     * Frees the buffers and deletes the raw file.
     *
     * @throws IOException on failure
     */
    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
      if (raw != null) {
        raw.close();
      }
      arena.close();
      delete(dir);
    }
  }

  /**
   * Onboards the 8,192-block prefix from the lower tier.
   *
   * @param state the cache
   * @return the tokens onboarded
   */
  @Benchmark
  public int onboard(Cache state) {
    try (Lease lease = state.cache.acquire(Request.of(state.ns, state.prefix))) {
      lease.onboard().join();
      int cached = lease.cachedTokens();
      if (cached != TOKENS) {
        throw new IllegalStateException("onboarded " + cached + " tokens, not " + TOKENS);
      }
      return cached;
    }
  }

  /**
   * The hardware's copy of the same 512 MiB: a segment copy, or an {@code O_DIRECT} read.
   *
   * @param state the buffers
   * @return a byte of the destination
   * @throws Throwable on I/O failure
   */
  @Benchmark
  public byte baseline(Baseline state) throws Throwable {
    if (state.raw != null) {
      for (long off = 0; off < PREFIX_BYTES; off += RAW_REQUEST) {
        state.raw.read(state.dst.asSlice(off, RAW_REQUEST), off);
      }
    } else {
      MemorySegment.copy(state.src, 0, state.dst, 0, PREFIX_BYTES);
    }
    return state.dst.get(ValueLayout.JAVA_BYTE, PREFIX_BYTES - 1);
  }

  static Path tempDir(boolean preferShm) throws IOException {
    Path shm = Path.of("/dev/shm");
    return preferShm && Files.isWritable(shm)
        ? Files.createTempDirectory(shm, "kvtier-onboard")
        : Files.createTempDirectory("kvtier-onboard");
  }

  static void await(BooleanSupplier done, String what) {
    long deadline = System.nanoTime() + WAIT_NANOS;
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("timed out waiting for " + what);
      }
      try {
        Thread.sleep(1);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
  }

  static void delete(Path path) throws IOException {
    if (path == null || !Files.exists(path)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(path)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
