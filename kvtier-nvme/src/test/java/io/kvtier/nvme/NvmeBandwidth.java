package io.kvtier.nvme;

import io.kvtier.spi.BlockRecord;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

/**
 * NVMe page bandwidth of each store against raw direct sequential I/O on the same disk, measured in
 * the same run: 2 MiB pages of incompressible random bytes, written to consecutive slots and read
 * back verified ({@code writeBlock} / {@code readBlock}), beside an O_DIRECT {@code pwrite} /
 * {@code pread} of the same total bytes in 2 MiB requests to one preallocated file. The raw file
 * and the slab are written once before timing, so rounds measure overwrites of allocated blocks
 * (the steady state of a cache); RocksDB writes new blob files each round, as it always does.
 * Rounds alternate raw, slab and RocksDB so drift in the disk hits all three alike; the median
 * round is reported with the best and worst.
 *
 * <p>Not a unit test (it takes a minute and needs a quiet disk): run it by hand, see the module
 * README. Arguments: {@code dir [totalMiB=2048] [rounds=3] [threads=1]}.
 */
public final class NvmeBandwidth {

  private static final int PAGE = 2 << 20;
  private static final int SOURCES = 8;

  private NvmeBandwidth() {}

  /**
   * Runs the comparison.
   *
   * @param args directory, total MiB, rounds, threads
   * @throws Exception on I/O failure
   */
  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args.length > 0 ? args[0] : "target/nvme-bench");
    long totalMiB = args.length > 1 ? Long.parseLong(args[1]) : 2048;
    int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
    int threads = args.length > 3 ? Integer.parseInt(args[3]) : 1;
    int pages = (int) (totalMiB * (1 << 20) / PAGE);
    Files.createDirectories(dir);
    System.out.printf(
        "NVMe bandwidth: %d pages of %d MiB (%d MiB), %d rounds, %d thread(s), dir %s%n",
        pages, PAGE >> 20, totalMiB, rounds, threads, dir.toAbsolutePath());

    try (Arena arena = Arena.ofShared()) {
      MemorySegment[] src = new MemorySegment[SOURCES];
      Random random = new Random(42);
      byte[] bytes = new byte[PAGE];
      for (int i = 0; i < SOURCES; i++) {
        random.nextBytes(bytes);
        src[i] = arena.allocate(PAGE, 4096);
        MemorySegment.copy(bytes, 0, src[i], ValueLayout.JAVA_BYTE, 0, PAGE);
      }
      String[] names = {"raw O_DIRECT", "slab", "rocksdb"};
      double[][] write = new double[3][rounds];
      double[][] read = new double[3][rounds];
      Path rawFile = dir.resolve("raw.bin");
      Files.deleteIfExists(rawFile);
      int fd =
          DirectIo.open(
              rawFile.toString(), DirectIo.O_RDWR | DirectIo.O_CREAT | DirectIo.O_DIRECT, 0644);
      Path slabFile = dir.resolve("bench.slab");
      Files.deleteIfExists(slabFile);
      try (NvmePageStore slab = NvmeTier.slab("slab", slabFile, (long) pages * PAGE).open(PAGE)) {
        DirectIo.allocate(fd, 0, (long) pages * PAGE);
        // Warm-up: both files written once, so rounds measure overwrites of allocated blocks.
        rawWrite(fd, pages, src, threads, arena);
        slabWrite(slab, pages, src, threads, arena);
        for (int r = 0; r < rounds; r++) {
          write[0][r] = rawWrite(fd, pages, src, threads, arena);
          write[1][r] = slabWrite(slab, pages, src, threads, arena);
          Path rocksDir = dir.resolve("bench-rocksdb");
          NvmeTier.Spec rocks = NvmeTier.rocksdb("rocksdb", rocksDir, (long) pages * PAGE);
          write[2][r] = rocksWrite(rocks, pages, src, threads, arena);
          read[0][r] = rawRead(fd, pages, threads, arena);
          read[1][r] = storeRead(slab, pages, threads, arena);
          try (NvmePageStore store = rocks.open(PAGE)) {
            read[2][r] = storeRead(store, pages, threads, arena);
          }
          cleanup(rocksDir);
          System.out.printf(
              "round %d: write GB/s raw %.2f slab %.2f rocksdb %.2f | read GB/s raw %.2f slab"
                  + " %.2f rocksdb %.2f%n",
              r + 1, write[0][r], write[1][r], write[2][r], read[0][r], read[1][r], read[2][r]);
        }
      } finally {
        DirectIo.close(fd);
        Files.deleteIfExists(rawFile);
        Files.deleteIfExists(slabFile);
      }
      System.out.println();
      System.out.println("median of rounds (min..max), GB/s, and ratio of medians to raw:");
      for (int s = 0; s < 3; s++) {
        System.out.printf(
            "  %-13s write %s  x%.2f   read %s  x%.2f%n",
            names[s],
            summary(write[s]),
            median(write[s]) / median(write[0]),
            summary(read[s]),
            median(read[s]) / median(read[0]));
      }
    }
  }

  private static double slabWrite(
      NvmePageStore store, int pages, MemorySegment[] src, int threads, Arena arena)
      throws Exception {
    long t0 = System.nanoTime();
    parallel(
        threads,
        pages,
        (slot, buf) -> store.writeBlock(slot, block(slot), src[slot % SOURCES]),
        arena);
    return gbs(pages, System.nanoTime() - t0);
  }

  /** Opens, writes every page and closes: the close flushes RocksDB's memtables. */
  private static double rocksWrite(
      NvmeTier.Spec spec, int pages, MemorySegment[] src, int threads, Arena arena)
      throws Exception {
    long t0 = System.nanoTime();
    try (NvmePageStore store = spec.open(PAGE)) {
      parallel(
          threads,
          pages,
          (slot, buf) -> store.writeBlock(slot, block(slot), src[slot % SOURCES]),
          arena);
    }
    return gbs(pages, System.nanoTime() - t0);
  }

  private static double storeRead(NvmePageStore store, int pages, int threads, Arena arena)
      throws Exception {
    long misses = store.misses();
    long t0 = System.nanoTime();
    parallel(
        threads,
        pages,
        (slot, buf) -> {
          if (!store.readBlock(slot, block(slot), buf)) {
            throw new IllegalStateException("slot " + slot + " did not verify");
          }
        },
        arena);
    double gbs = gbs(pages, System.nanoTime() - t0);
    if (store.misses() != misses) {
      throw new IllegalStateException("misses: " + (store.misses() - misses));
    }
    return gbs;
  }

  private static double rawWrite(int fd, int pages, MemorySegment[] src, int threads, Arena arena)
      throws Exception {
    long t0 = System.nanoTime();
    parallel(
        threads,
        pages,
        (slot, buf) -> {
          try (Arena a = Arena.ofConfined()) {
            DirectIo.writeFully(fd, src[slot % SOURCES], (long) slot * PAGE, DirectIo.callState(a));
          }
        },
        arena);
    return gbs(pages, System.nanoTime() - t0);
  }

  private static double rawRead(int fd, int pages, int threads, Arena arena) throws Exception {
    long t0 = System.nanoTime();
    parallel(
        threads,
        pages,
        (slot, buf) -> {
          try (Arena a = Arena.ofConfined()) {
            DirectIo.readFully(fd, buf, (long) slot * PAGE, DirectIo.callState(a));
          }
        },
        arena);
    return gbs(pages, System.nanoTime() - t0);
  }

  @FunctionalInterface
  private interface SlotTask {
    void run(int slot, MemorySegment buffer) throws Exception;
  }

  /** Runs slots {@code [0, pages)} in order, split into {@code threads} contiguous ranges. */
  private static void parallel(int threads, int pages, SlotTask task, Arena arena)
      throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> futures = new ArrayList<>();
      int per = (pages + threads - 1) / threads;
      for (int t = 0; t < threads; t++) {
        int from = t * per;
        int to = Math.min(pages, from + per);
        MemorySegment buf = arena.allocate(PAGE, 4096);
        futures.add(
            pool.submit(
                () -> {
                  for (int slot = from; slot < to; slot++) {
                    task.run(slot, buf);
                  }
                  return null;
                }));
      }
      for (Future<?> f : futures) {
        f.get();
      }
    } finally {
      pool.shutdown();
    }
  }

  static BlockRecord block(int slot) {
    int[] tokens = new int[16];
    Arrays.setAll(tokens, i -> slot * 16 + i);
    return new BlockRecord(slot, ~slot, slot - 1, ~(slot - 1), 7, 8, tokens);
  }

  private static double gbs(int pages, long nanos) {
    return (double) pages * PAGE / nanos;
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }

  private static String summary(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return String.format("%.2f (%.2f..%.2f)", median(v), s[0], s[s.length - 1]);
  }

  private static void cleanup(Path dir) throws IOException {
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        if (!p.equals(dir)) {
          Files.delete(p);
        }
      }
    }
  }
}
