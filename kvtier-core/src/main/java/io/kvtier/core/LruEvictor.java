package io.kvtier.core;

import io.kvtier.spi.BlockView;
import io.kvtier.spi.EvictionPolicy;
import io.kvtier.spi.Evictor;
import java.util.Objects;

/**
 * Least recently used evictable leaf first: the baseline eviction of vLLM's prefix cache and
 * SGLang's radix cache.
 *
 * <p><b>How it works.</b> Exactly the blocks that are evictable now (unpinned leaves) sit in an
 * {@link IndexedHeap} keyed by {@code (lastAccess, -depth)}: the least recently used first and, on
 * a tie (blocks committed by one request share a timestamp), the deeper block first, so a chain is
 * eaten from its tail. A block enters the heap when the cache reports it evictable (or when it is
 * inserted already evictable) and leaves it when it stops being evictable or leaves the tier; its
 * key is read from the {@link BlockView} on entry and re-read on every access while it is in the
 * heap. Pinned and interior blocks are never in the heap, so {@link #victim()} is a peek: O(1),
 * every other operation O(log n) with no allocation.
 *
 * <p><b>Concurrency.</b> Single writer: the cache calls it under its metadata lock.
 *
 * <p>References: vLLM's {@code FreeKVCacheBlockQueue} (the free list ordered by eviction time,
 * blocks of one request appended in reverse so the tail goes first); SGLang's {@code RadixCache}
 * ({@code evict}: a heap of leaves by {@code last_access_time}).
 */
final class LruEvictor implements Evictor {

  /** The policy: one {@link LruEvictor} per tier. */
  static final EvictionPolicy POLICY =
      new StockPolicies.Named("lru", context -> new LruEvictor(context.blocks()));

  private final BlockView view;
  private final IndexedHeap heap = new IndexedHeap();

  LruEvictor(BlockView view) {
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
    heap.update(block, view.lastAccess(block), -(long) view.depth(block));
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
    long a = view.lastAccess(block);
    long d = -(long) view.depth(block);
    if (!heap.update(block, a, d)) {
      heap.add(block, a, d);
    }
  }
}
