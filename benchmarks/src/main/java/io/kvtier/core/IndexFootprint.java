package io.kvtier.core;

import io.kvtier.CacheStats;
import io.kvtier.KvCache;
import io.kvtier.bench.Sha256BlockHash;
import io.kvtier.bench.VllmStylePrefixCache;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.util.Locale;

/**
 * Heap bytes of metadata per cached block: builds the 1M-block cache of {@link PrefixMatchBench}
 * (128 prompts of 8,192 blocks, tier of 1.15M pages) and measures the heap after a full GC before
 * and after, less the token-id arena ({@code capacity × tokensPerBlock × 4} bytes; page memory is
 * off-heap). The vLLM-style baseline's footprint is measured the same way (it keeps no token ids).
 *
 * <p>Run with {@code java --enable-native-access=ALL-UNNAMED -cp benchmarks.jar
 * io.kvtier.core.IndexFootprint}.
 */
public final class IndexFootprint {
  private IndexFootprint() {}

  public static void main(String[] args) {
    int[] segments = {8192, 256};
    for (int seg : segments) {
      long before = usedHeap();
      KvCache cache = Fixtures.kvtier(Fixtures.PAGES);
      long empty = usedHeap();
      Fixtures.fill(cache, seg);
      long after = usedHeap();
      CacheStats stats = cache.stats();
      KvCacheImpl impl = Fixtures.impl(cache);
      long blocks = impl.index.liveBlocks();
      long capacity = impl.index.capacity();
      long arena = capacity * Fixtures.TPB * 4L;
      long metadata = after - before - arena;
      System.out.printf(
          Locale.ROOT,
          "kvtier, turns of %d blocks: %,d blocks cached in a capacity of %,d; heap %,d B empty"
              + " (%,d B after fill) above the baseline; token arena %,d B%n"
              + "  metadata: %.1f B per cached block (%.1f B per block of capacity);"
              + " stats().metadataBytesPerBlock() = %d%n",
          seg,
          blocks,
          capacity,
          empty - before,
          after - before,
          arena,
          (double) metadata / blocks,
          (double) metadata / capacity,
          stats.metadataBytesPerBlock());
      cache.close();
      cache = null;
      impl = null;
    }
    for (String name : new String[] {"murmur128", "sha256"}) {
      long before = usedHeap();
      VllmStylePrefixCache c =
          Fixtures.vllm(
              name.equals("sha256") ? new Sha256BlockHash() : new MurmurBlockHash(Fixtures.TPB));
      long after = usedHeap();
      System.out.printf(
          Locale.ROOT,
          "vLLM-style baseline (%s): %,d blocks cached in a pool of %,d:"
              + " %.1f B per cached block (no token ids)%n",
          name,
          c.cachedBlocks(),
          Fixtures.PAGES,
          (double) (after - before) / c.cachedBlocks());
      c = null;
    }
  }

  private static long usedHeap() {
    MemoryMXBean mem = ManagementFactory.getMemoryMXBean();
    long used = Long.MAX_VALUE;
    for (int i = 0; i < 5; i++) {
      System.gc();
      used = Math.min(used, mem.getHeapMemoryUsage().getUsed());
    }
    return used;
  }
}
