package io.kvtier.spi;

/**
 * One tier's eviction state. The cache calls it from its single metadata writer, so implementations
 * need no locking. Eviction is leaf-first: only blocks for which {@link BlockView#evictable(int)}
 * is true may be returned by {@link #victim()}.
 *
 * <p>Lifecycle of a block in a tier: {@link #onInsert(int)}, any number of {@link #onAccess(int)}
 * and {@link #onEvictable(int, boolean)}, then exactly one {@link #onRemove(int)}.
 */
public interface Evictor {

  /** What {@link #victim()} returns when nothing can be evicted. */
  int NONE = -1;

  /**
   * The block entered the tier.
   *
   * @param block the block id
   */
  void onInsert(int block);

  /**
   * The block was matched by a lookup or re-committed.
   *
   * @param block the block id
   */
  void onAccess(int block);

  /**
   * The block became evictable (an unpinned leaf) or stopped being so. Called only on changes.
   *
   * @param block the block id
   * @param evictable its new state
   */
  void onEvictable(int block, boolean evictable);

  /**
   * The block's retention priority changed (set by a request or session, or reverted when its
   * duration expired). Policies that order by priority re-rank the block.
   *
   * @param block the block id
   */
  default void onPriorityChange(int block) {}

  /**
   * The block's agent hints changed: the session that last used it paused or resumed ({@link
   * BlockView#pauseKind(int)}, {@link BlockView#expectedPause(int)}). Policies that use hints
   * re-rank the block.
   *
   * @param block the block id
   */
  default void onHintChange(int block) {}

  /**
   * The block left the tier (evicted or dropped); forget it.
   *
   * @param block the block id
   */
  void onRemove(int block);

  /**
   * Chooses the block to evict next. Does not remove it: the cache calls {@link #onRemove(int)}
   * when it does.
   *
   * @return an evictable block id, or {@link #NONE}
   */
  int victim();
}
