package io.kvtier.core;

import io.kvtier.spi.BlockView;
import io.kvtier.spi.EvictionPolicy;
import io.kvtier.spi.Evictor;
import java.util.Objects;

/**
 * Lowest retention priority first, least recently used among equals: TensorRT-LLM's KV-cache
 * retention model.
 *
 * <p><b>How it works.</b> Like {@link LruEvictor}, exactly the evictable blocks (unpinned leaves)
 * sit in an {@link IndexedHeap}, here keyed by {@code (priority, lastAccess)}. Priorities (0 to
 * 100) are set per token range by a request or session and revert when their duration expires; the
 * cache reports both through {@link #onPriorityChange(int)}, which re-reads the block's key, as
 * does {@link #onAccess(int)}. {@link #victim()} is a peek, every other operation O(log n) with no
 * allocation. Blocks of equal priority and timestamp come out in an unspecified but deterministic
 * order.
 *
 * <p><b>Concurrency.</b> Single writer: the cache calls it under its metadata lock.
 *
 * <p>References: TensorRT-LLM {@code KVCacheRetentionConfig} (token-range priorities with
 * durations) and its block manager's priority-ordered free queues.
 */
final class PriorityLruEvictor implements Evictor {

  /** The policy: one {@link PriorityLruEvictor} per tier. */
  static final EvictionPolicy POLICY =
      new StockPolicies.Named("priority-lru", context -> new PriorityLruEvictor(context.blocks()));

  private final BlockView view;
  private final IndexedHeap heap = new IndexedHeap();

  PriorityLruEvictor(BlockView view) {
    this.view = Objects.requireNonNull(view, "view");
  }

  @Override
  public void onInsert(int block) {
    if (view.evictable(block)) {
      enter(block);
    }
  }

  @Override
  public void onAccess(int block) {
    heap.update(block, view.priority(block), view.lastAccess(block));
  }

  @Override
  public void onPriorityChange(int block) {
    heap.update(block, view.priority(block), view.lastAccess(block));
  }

  @Override
  public void onEvictable(int block, boolean evictable) {
    if (evictable) {
      enter(block);
    } else {
      heap.remove(block);
    }
  }

  @Override
  public void onRemove(int block) {
    heap.remove(block);
  }

  @Override
  public int victim() {
    return heap.isEmpty() ? NONE : heap.peek();
  }

  private void enter(int block) {
    long p = view.priority(block);
    long a = view.lastAccess(block);
    if (!heap.update(block, p, a)) {
      heap.add(block, p, a);
    }
  }
}
