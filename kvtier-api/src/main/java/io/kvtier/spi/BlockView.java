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

  /**
   * The conversation turn of the request that last used the block: the session's request count when
   * the request named a session, otherwise the number of successive requests that extended the same
   * private path of the prefix tree (a request extending a block shared by many conversations
   * starts at 1). Conversations that have gone on for more turns are likelier to go on again:
   * agent-aware policies keep their blocks longer.
   *
   * @param block the block id
   * @return 1 or more (saturating at 15)
   */
  default int turns(int block) {
    return 1;
  }

  /**
   * Whether the block is coming back: if it was cached before, left the cache, and has just been
   * created again, the turn it had when it left (from the cache's bounded memory of blocks that
   * left); 0 otherwise. Policies learn from it which of their victims they should have kept, as ARC
   * learns from its ghost lists.
   *
   * @param block the block id
   * @return 0, or 1 to 15
   */
  default int returningTurns(int block) {
    return 0;
  }

  /**
   * Whether the block is coming back, and how it left: if {@link #returningTurns(int)} is not 0,
   * the pause kind of its session when it left the cache.
   *
   * @param block the block id
   * @return the pause kind, or null when it was not paused or is not coming back
   */
  default io.kvtier.PauseKind returningPauseKind(int block) {
    return null;
  }

  /**
   * Why the session that last used the block is paused, if it is.
   *
   * @param block the block id
   * @return the pause kind, or null when that session is not paused (or no session used it)
   */
  default io.kvtier.PauseKind pauseKind(int block) {
    return null;
  }

  /**
   * The engine's estimate of that pause, from {@link io.kvtier.Session#pause}; the pause began at
   * about {@link #lastAccess(int)}.
   *
   * @param block the block id
   * @return nanoseconds; 0 when not paused
   */
  default long expectedPause(int block) {
    return 0;
  }
}
