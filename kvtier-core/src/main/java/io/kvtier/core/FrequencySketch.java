package io.kvtier.core;

/**
 * A Count-Min sketch of 4-bit counters with periodic aging: the popularity estimate behind {@link
 * TinyLfuEvictor}'s admission filter.
 *
 * <p><b>Layout.</b> Four rows of {@code width} counters (a power of two), each counter one byte
 * capped at 15, rows side by side in one {@code byte[]}. Row {@code r} indexes a 64-bit key by
 * {@code (key · SEED[r]) >>> (64 - log2 width)} after a finalising mix, so the rows are independent
 * enough for the minimum to be a tight over-estimate.
 *
 * <p><b>Aging.</b> After {@code 10 · width} increments every counter is halved (TinyLFU's reset),
 * so the sketch forgets old popularity and a burst cannot dominate forever.
 *
 * <p><b>Concurrency.</b> Not thread-safe: its evictor's single writer.
 *
 * <p>References: G. Einziger, R. Friedman, B. Manes, "TinyLFU: A Highly Efficient Cache Admission
 * Policy", ACM TOS 2017; Caffeine's {@code FrequencySketch}.
 */
final class FrequencySketch {

  private static final int ROWS = 4;
  private static final int MAX = 15;
  private static final long[] SEED = {
    0x9E3779B97F4A7C15L, 0xC2B2AE3D27D4EB4FL, 0x165667B19E3779F9L, 0xD6E8FEB86659FD93L
  };

  private final byte[] counters;
  private final int width;
  private final int shift;
  private final long sampleSize;
  private long additions;

  /**
   * A sketch sized for about {@code expectedKeys} distinct hot keys.
   *
   * @param expectedKeys the tier's capacity in blocks; the width is the next power of two, between
   *     16 and 2^24
   */
  FrequencySketch(long expectedKeys) {
    long w = Long.highestOneBit(Math.clamp(expectedKeys, 16L, 1L << 24) - 1) << 1;
    this.width = (int) Math.max(16, w);
    this.shift = 64 - Integer.numberOfTrailingZeros(width);
    this.counters = new byte[ROWS * width];
    this.sampleSize = 10L * width;
  }

  /** Counts one occurrence of {@code key}. */
  void increment(long key) {
    long h = mix(key);
    boolean added = false;
    for (int r = 0; r < ROWS; r++) {
      int i = r * width + (int) ((h * SEED[r]) >>> shift);
      if (counters[i] < MAX) {
        counters[i]++;
        added = true;
      }
    }
    if (added && ++additions >= sampleSize) {
      age();
    }
  }

  /**
   * The estimated count of {@code key}, 0 to 15.
   *
   * @param key a 64-bit key
   * @return the minimum over the rows
   */
  int frequency(long key) {
    long h = mix(key);
    int f = MAX;
    for (int r = 0; r < ROWS; r++) {
      f = Math.min(f, counters[r * width + (int) ((h * SEED[r]) >>> shift)]);
    }
    return f;
  }

  int width() {
    return width;
  }

  private void age() {
    for (int i = 0; i < counters.length; i++) {
      counters[i] = (byte) (counters[i] >>> 1);
    }
    additions /= 2;
  }

  private static long mix(long x) {
    x = (x ^ (x >>> 33)) * 0xFF51AFD7ED558CCDL;
    x = (x ^ (x >>> 33)) * 0xC4CEB9FE1A85EC53L;
    return x ^ (x >>> 33);
  }
}
