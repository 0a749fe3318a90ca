package io.kvtier;

import java.util.Arrays;

/**
 * How much of a prompt is cached, without pinning anything: what a router asks before choosing a
 * replica.
 *
 * @param matchedTokens leading tokens whose KV is cached somewhere
 * @param matchedBlocks leading full blocks cached somewhere
 * @param blocksPerTier for each tier (builder order), how many of the matched blocks it holds
 */
public record Warmth(int matchedTokens, int matchedBlocks, int[] blocksPerTier) {

  /**
   * Copies the per-tier array.
   *
   * @throws NullPointerException when {@code blocksPerTier} is null
   */
  public Warmth {
    blocksPerTier = blocksPerTier.clone();
  }

  /**
   * Per-tier block counts.
   *
   * @return a copy of the array
   */
  @Override
  public int[] blocksPerTier() {
    return blocksPerTier.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Warmth w
        && w.matchedTokens == matchedTokens
        && w.matchedBlocks == matchedBlocks
        && Arrays.equals(w.blocksPerTier, blocksPerTier);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * matchedTokens + matchedBlocks) + Arrays.hashCode(blocksPerTier);
  }

  @Override
  public String toString() {
    return "Warmth[tokens="
        + matchedTokens
        + ", blocks="
        + matchedBlocks
        + ", perTier="
        + Arrays.toString(blocksPerTier)
        + "]";
  }
}
