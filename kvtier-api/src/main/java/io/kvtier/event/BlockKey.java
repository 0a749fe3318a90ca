package io.kvtier.event;

/**
 * A block's 128-bit key: a chained hash of its parent's key, its token ids and extra keys (tenant
 * salt, adapter, namespace). Identical across processes and restarts.
 *
 * @param hi the high 64 bits
 * @param lo the low 64 bits
 */
public record BlockKey(long hi, long lo) {

  /** The key of "no parent": the parent of a first block. */
  public static final BlockKey ROOT = new BlockKey(0L, 0L);

  @Override
  public String toString() {
    return String.format("%016x%016x", hi, lo);
  }
}
