package io.kvtier.bench.nvme;

import io.kvtier.nvme.NvmePageStore;
import io.kvtier.nvme.NvmeTier;
import io.kvtier.spi.BlockRecord;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.Random;
import java.util.concurrent.TimeUnit;
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

/**
 * NVMe page bandwidth: 2 MiB pages of incompressible random bytes written to consecutive slots
 * ({@code writeBlock}) and read back verified ({@code readBlock}), for the slab and RocksDB stores,
 * beside the physical limit measured in the same run on a preallocated file on the same disk, two
 * ways: {@code raw}, one {@code O_DIRECT} {@code pwrite}/{@code pread} per 2 MiB page (queue depth
 * 1), and {@code raw-pieces}, each page in 512 KiB {@code O_DIRECT} requests, 3 in flight (native
 * AIO): the slab store's own I/O pattern, without its checksums and header blocks. Pages per second
 * times 2 MiB is the bandwidth; the target is a store at 0.8x raw or better.
 *
 * <p>Each trial fills every slot once before measuring (so the slab and the raw file are measured
 * overwriting allocated blocks, and reads find data on disk); the RocksDB store is then reopened,
 * so reads come from blob files, not the memtable. Every trial {@code fsync}s its files after
 * filling them and again before deleting them, so no trial is timed while the disk still writes
 * back another trial's bytes. Run the {@code store} values in both orders and compare ratios within
 * a run: on a shared machine the bandwidth drifts between trials. Set {@code -p dir=} to a
 * directory on the disk under test.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 1, time = 3)
@Measurement(iterations = 3, time = 3)
@Fork(
    value = 1,
    jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@State(Scope.Benchmark)
public class NvmePageBench {
  static final int PAGE = 2 << 20;
  static final int SOURCES = 8;

  /** The slab store's request size and requests in flight, for {@code raw-pieces}. */
  static final int PIECE = 512 << 10;

  static final int DEPTH = 3;

  /** What to measure: {@code raw}, {@code raw-pieces}, {@code slab} or {@code rocksdb}. */
  @Param({"raw", "raw-pieces", "slab", "rocksdb"})
  public String store;

  /** Slots cycled through: 512 pages are 1 GiB. */
  @Param({"512"})
  public int pages;

  /** Directory on the disk under test. */
  @Param({"target/nvme-bench"})
  public String dir;

  Arena arena;
  MemorySegment[] src;
  MemorySegment dst;
  BlockRecord[] blocks;
  RawDirectFile raw;
  NvmePageStore nvme;
  Path root;
  boolean pieces;
  int next;

  @Setup(Level.Trial)
  public void setup() throws Throwable {
    root = Files.createDirectories(Path.of(dir)).resolve("bench-" + store);
    delete(root);
    pieces = store.equals("raw-pieces");
    arena = Arena.ofShared();
    src = new MemorySegment[SOURCES];
    byte[] bytes = new byte[PAGE];
    Random random = new Random(42);
    for (int i = 0; i < SOURCES; i++) {
      random.nextBytes(bytes);
      src[i] = arena.allocate(PAGE, 4096);
      MemorySegment.copy(bytes, 0, src[i], ValueLayout.JAVA_BYTE, 0, PAGE);
    }
    dst = arena.allocate(PAGE, 4096);
    blocks = new BlockRecord[pages];
    for (int i = 0; i < pages; i++) {
      int[] tokens = new int[16];
      java.util.Arrays.fill(tokens, i);
      blocks[i] = new BlockRecord(i, ~i, i - 1, ~(i - 1), 7, 8, tokens);
    }
    long bytesTotal = (long) pages * PAGE;
    switch (store) {
      case "raw", "raw-pieces" -> raw = new RawDirectFile(root.toString(), bytesTotal);
      case "slab" -> nvme = NvmeTier.slab("slab", root, bytesTotal).open(PAGE);
      case "rocksdb" -> nvme = NvmeTier.rocksdb("rocksdb", root, bytesTotal).open(PAGE);
      default ->
          throw new IllegalArgumentException(
              "store must be raw, raw-pieces, slab or rocksdb: " + store);
    }
    for (int i = 0; i < pages; i++) {
      write(i);
    }
    if (nvme != null && store.equals("rocksdb")) {
      nvme.close();
      nvme = NvmeTier.rocksdb("rocksdb", root, bytesTotal).open(PAGE);
    }
    flush(root);
  }

  @TearDown(Level.Trial)
  public void tearDown() throws IOException {
    if (raw != null) {
      raw.close();
    }
    if (nvme != null) {
      nvme.close();
    }
    arena.close();
    flush(root);
    delete(root);
  }

  /**
   * {@code fsync} of every file under {@code path}: the disk (and, on a virtual machine, the host
   * below it) finishes writing what this trial wrote before timing starts and before the next trial
   * runs, so no trial is measured while another's writes are still being written back.
   */
  private static void flush(Path path) throws IOException {
    if (!Files.exists(path)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(path)) {
      for (Path p : walk.filter(Files::isRegularFile).toList()) {
        try (FileChannel channel = FileChannel.open(p, StandardOpenOption.READ)) {
          channel.force(true);
        }
      }
    }
  }

  private void write(int slot) throws Throwable {
    if (pieces) {
      raw.writePieces(src[slot % SOURCES], (long) slot * PAGE, PIECE, DEPTH);
    } else if (raw != null) {
      raw.write(src[slot % SOURCES], (long) slot * PAGE);
    } else {
      nvme.writeBlock(slot, blocks[slot], src[slot % SOURCES]);
    }
  }

  /**
   * One 2 MiB page written to the next slot.
   *
   * @throws Throwable on I/O failure
   */
  @Benchmark
  public void writePage() throws Throwable {
    int slot = next;
    next = slot + 1 == pages ? 0 : slot + 1;
    write(slot);
  }

  /**
   * One 2 MiB page read from the next slot, verified by the stores.
   *
   * @return whether it verified
   * @throws Throwable on I/O failure
   */
  @Benchmark
  public boolean readPage() throws Throwable {
    int slot = next;
    next = slot + 1 == pages ? 0 : slot + 1;
    if (pieces) {
      raw.readPieces(dst, (long) slot * PAGE, PIECE, DEPTH);
      return true;
    }
    if (raw != null) {
      raw.read(dst, (long) slot * PAGE);
      return true;
    }
    if (!nvme.readBlock(slot, blocks[slot], dst)) {
      throw new IllegalStateException("slot " + slot + " did not verify");
    }
    return true;
  }

  private static void delete(Path path) throws IOException {
    if (!Files.exists(path)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(path)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
