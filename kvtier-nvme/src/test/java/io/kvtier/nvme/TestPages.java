package io.kvtier.nvme;

import io.kvtier.spi.BlockRecord;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

/** Deterministic blocks and page contents for the NVMe tests: both follow from one seed. */
final class TestPages {
  private TestPages() {}

  static BlockRecord block(long seed) {
    Random r = new Random(seed * 31 + 7);
    int[] tokens = new int[16];
    for (int i = 0; i < tokens.length; i++) {
      tokens[i] = r.nextInt(128_000);
    }
    return new BlockRecord(seed, r.nextLong(), seed - 1, r.nextLong(), 99, 100, tokens);
  }

  static MemorySegment page(Arena arena, int bytes, long seed) {
    byte[] b = new byte[bytes];
    new Random(seed).nextBytes(b);
    MemorySegment seg = arena.allocate(bytes, 4096);
    MemorySegment.copy(b, 0, seg, ValueLayout.JAVA_BYTE, 0, bytes);
    return seg;
  }

  /** A page that LZ4 shrinks a lot: a short random pattern repeated. */
  static MemorySegment compressiblePage(Arena arena, int bytes, long seed) {
    byte[] pattern = new byte[61];
    new Random(seed).nextBytes(pattern);
    MemorySegment seg = arena.allocate(bytes, 4096);
    for (int i = 0; i < bytes; i++) {
      seg.set(ValueLayout.JAVA_BYTE, i, pattern[i % pattern.length]);
    }
    return seg;
  }
}
