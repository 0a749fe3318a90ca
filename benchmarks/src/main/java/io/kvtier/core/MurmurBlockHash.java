package io.kvtier.core;

import io.kvtier.bench.VllmStylePrefixCache;

/**
 * kvtier's 128-bit block key ({@link BlockHasher#key}) as the vLLM-style baseline's block hash, in
 * a two-long record, so the baseline and kvtier pay for the same hash function. Not thread-safe.
 */
final class MurmurBlockHash implements VllmStylePrefixCache.BlockHashFunction {

  /** A 128-bit key as a map key. */
  record Key128(long hi, long lo) {
    @Override
    public int hashCode() {
      return (int) (lo ^ (lo >>> 32));
    }
  }

  private final long[] out = new long[2];
  private final Key128 root;

  MurmurBlockHash(int tokensPerBlock) {
    BlockHasher.rootKey("bench-model", "", tokensPerBlock, 0, out);
    root = new Key128(out[0], out[1]);
  }

  @Override
  public Object root() {
    return root;
  }

  @Override
  public Object hash(Object parent, int[] tokens, int off, int len) {
    Key128 p = (Key128) parent;
    BlockHasher.key(p.hi, p.lo, tokens, off, len, out);
    return new Key128(out[0], out[1]);
  }
}
