package io.kvtier.bench;

import java.util.SplittableRandom;

/** Deterministic random prompts for the benchmarks: token ids uniform in a 128K vocabulary. */
public final class Prompts {
  /** Vocabulary size of current large models (Llama 3: 128,256). */
  public static final int VOCAB = 128_256;

  private Prompts() {}

  /** A prompt of {@code length} random token ids, the same for the same seed. */
  public static int[] random(long seed, int length) {
    SplittableRandom r = new SplittableRandom(seed);
    int[] t = new int[length];
    for (int i = 0; i < length; i++) {
      t[i] = r.nextInt(VOCAB);
    }
    return t;
  }

  /** Fills {@code t[from ..)} with random token ids. */
  public static void fill(SplittableRandom r, int[] t, int from) {
    for (int i = from; i < t.length; i++) {
      t[i] = r.nextInt(VOCAB);
    }
  }
}
