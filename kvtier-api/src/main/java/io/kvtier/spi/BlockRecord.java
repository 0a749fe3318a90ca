package io.kvtier.spi;

import java.util.Arrays;
import java.util.Objects;

/**
 * What a lower tier stores beside a page's bytes so that a read can be verified and a restart can
 * rebuild the prefix index: the block's key, its parent's key, the key of its tree's root (model,
 * adapter and tenant salt), and its token ids.
 *
 * <p>A store that keeps pages across processes or restarts writes this header with every page and,
 * on read, compares it with the record the cache expects: a block-key collision or corrupted bytes
 * are then a miss, never wrong KV.
 *
 * @param keyHi block key, high 64 bits
 * @param keyLo block key, low 64 bits
 * @param parentHi parent key, high 64 bits (the root key for a first block)
 * @param parentLo parent key, low 64 bits
 * @param rootHi root key, high 64 bits
 * @param rootLo root key, low 64 bits
 * @param tokens the block's token ids
 */
public record BlockRecord(
    long keyHi, long keyLo, long parentHi, long parentLo, long rootHi, long rootLo, int[] tokens) {

  /**
   * Copies the tokens.
   *
   * @throws NullPointerException when {@code tokens} is null
   */
  public BlockRecord {
    tokens = Objects.requireNonNull(tokens, "tokens").clone();
  }

  /**
   * The token ids.
   *
   * @return a copy
   */
  @Override
  public int[] tokens() {
    return tokens.clone();
  }

  /**
   * Token {@code i}, without copying.
   *
   * @param i index
   * @return the token id
   */
  public int token(int i) {
    return tokens[i];
  }

  /**
   * Number of tokens.
   *
   * @return the block's token count
   */
  public int tokenCount() {
    return tokens.length;
  }

  /**
   * Whether this block is a first block (its parent is its root).
   *
   * @return true for a first block
   */
  public boolean isFirst() {
    return parentHi == rootHi && parentLo == rootLo;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof BlockRecord r
        && r.keyHi == keyHi
        && r.keyLo == keyLo
        && r.parentHi == parentHi
        && r.parentLo == parentLo
        && r.rootHi == rootHi
        && r.rootLo == rootLo
        && Arrays.equals(r.tokens, tokens);
  }

  @Override
  public int hashCode() {
    return Long.hashCode(keyHi) * 31 + Long.hashCode(keyLo);
  }

  @Override
  public String toString() {
    return String.format(
        "BlockRecord[key=%016x%016x, parent=%016x%016x, tokens=%d]",
        keyHi, keyLo, parentHi, parentLo, tokens.length);
  }
}
