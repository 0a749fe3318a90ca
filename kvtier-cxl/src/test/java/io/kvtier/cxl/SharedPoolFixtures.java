package io.kvtier.cxl;

import io.kvtier.spi.BlockRecord;
import java.lang.foreign.MemorySegment;
import java.util.Random;

/** Blocks and page bytes that two processes derive alike from a number. */
final class SharedPoolFixtures {
  private SharedPoolFixtures() {}

  static final long ROOT_HI = 0x6b76_7469_6572_0001L;
  static final long ROOT_LO = 0x0123_4567_89ab_cdefL;

  /** Block {@code i}: a chain under one root, 16 tokens. */
  static BlockRecord block(int i) {
    int[] tokens = new int[16];
    for (int t = 0; t < tokens.length; t++) {
      tokens[t] = i * 1000 + t;
    }
    long parentHi = i == 0 ? ROOT_HI : 0x5eed_0000L;
    long parentLo = i == 0 ? ROOT_LO : i - 1;
    return new BlockRecord(0x5eed_0000L, i, parentHi, parentLo, ROOT_HI, ROOT_LO, tokens);
  }

  /** Page bytes of block {@code i}. */
  static byte[] page(int i, int pageBytes) {
    byte[] bytes = new byte[pageBytes];
    new Random(31L * i + 7).nextBytes(bytes);
    return bytes;
  }

  static MemorySegment pageSegment(int i, int pageBytes) {
    return MemorySegment.ofArray(page(i, pageBytes));
  }
}
