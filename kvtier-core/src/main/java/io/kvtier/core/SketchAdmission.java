package io.kvtier.core;

import io.kvtier.spi.AdmissionPolicy;
import io.kvtier.spi.BlockView;

/**
 * {@link AdmissionPolicy#frequencySketch(int, int)}: a {@link FrequencySketch} of block keys fed at
 * the filtered tier's door. A block offered to tier {@code fromTier} adds one use plus its hits in
 * this life; it enters when the sketch's estimate reaches {@code minUses}. Deeper tiers only read
 * the estimate (a block offered to them has passed the door already, so counting it again would
 * count one life twice). Keys are the index's block fingerprints, which depend on the block's
 * content and its whole prefix, so the same content computed again has the same key.
 *
 * <p>Synchronized: admission is asked under the cache's lock, but a policy object could be given to
 * two caches.
 */
final class SketchAdmission implements AdmissionPolicy {
  /** Distinct keys the sketch is sized for: 2^20, 4 MiB of counters. */
  static final long DEFAULT_KEYS = 1L << 20;

  private final int fromTier;
  private final int minUses;
  private final FrequencySketch sketch;

  SketchAdmission(int fromTier, int minUses, long keys) {
    this.fromTier = fromTier;
    this.minUses = minUses;
    this.sketch = new FrequencySketch(keys);
  }

  @Override
  public synchronized boolean admit(int tierOrdinal, int block, BlockView blocks) {
    if (tierOrdinal < fromTier) {
      return true;
    }
    long key = blocks.fingerprint(block);
    if (tierOrdinal == fromTier) {
      int uses = 1 + Math.min(14, Math.max(0, blocks.hits(block)));
      for (int i = 0; i < uses; i++) {
        sketch.increment(key);
      }
    }
    return sketch.frequency(key) >= minUses;
  }
}
