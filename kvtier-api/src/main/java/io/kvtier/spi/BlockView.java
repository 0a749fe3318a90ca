package io.kvtier.spi;

/**
 * What a policy may read about a cached block, named by its {@code int} id. Ids are reused only
 * after the policy was told the block left (see {@link Evictor#onRemove(int)}).
 */
public interface BlockView {

  /**
   * The cache's clock now.
   *
   * @return nanoseconds, from the cache's {@link io.kvtier.Ticker}
   */
  long now();

  /**
   * 64 bits of the block's key: stable for the block's content across id reuse, for policies that
   * remember blocks after they left (ghost queues, frequency sketches).
   *
   * @param block the block id
   * @return a fingerprint of the block key
   */
  long fingerprint(int block);

  /**
   * One of the block's token ids: for offline analysis and oracle policies (such as the replay's
   * Belady bound) that recognise a block by its content.
   *
   * @param block the block id
   * @param index 0 to tokensPerBlock-1
   * @return the token id
   */
  int token(int block, int index);

  /**
   * When the block was last matched or committed.
   *
   * @param block the block id
   * @return nanoseconds
   */
  long lastAccess(int block);

  /**
   * How many lookups have matched the block since it was cached.
   *
   * @param block the block id
   * @return hits
   */
  int hits(int block);

  /**
   * The block's retention priority now (0 to 100), after any duration has expired.
   *
   * @param block the block id
   * @return the priority
   */
  int priority(int block);

  /**
   * Blocks from the root of its prefix tree to this one, counting itself (the first block has depth
   * 1).
   *
   * @param block the block id
   * @return depth
   */
  int depth(int block);

  /**
   * Whether the block is known to be dead: the prefix of a compacted session, or a discarded
   * speculative branch kept only as cache.
   *
   * @param block the block id
   * @return true if it should go first
   */
  boolean dead(int block);

  /**
   * Whether the block may be evicted now: it is a leaf and nothing but the index holds it.
   *
   * @param block the block id
   * @return true if evictable
   */
  boolean evictable(int block);
}
