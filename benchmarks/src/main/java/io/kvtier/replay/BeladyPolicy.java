package io.kvtier.replay;

import io.kvtier.spi.BlockView;
import io.kvtier.spi.EvictionPolicy;
import io.kvtier.spi.Evictor;
import io.kvtier.spi.EvictorContext;
import java.util.Objects;

/**
 * The offline optimum (Belady's MIN) as an {@link EvictionPolicy}, restricted like every policy to
 * evictable leaves: evict the evictable leaf whose next use is furthest in the future, blocks never
 * used again first, ties to the deeper block.
 *
 * <p><b>How it knows the future.</b> The replay gives each block one token whose id is the block's
 * dense trace id ({@link Trace}), so {@link BlockView#token(int, int) token(block, 0)} names the
 * block; {@link Trace#uses()} lists, per id, the requests that carry it. The replay moves a {@link
 * Cursor} to the index of the request being served before acquiring it; a block's next use is its
 * first use after the cursor, found by a per-id pointer that only moves forward (the cursor never
 * goes back), so every lookup is amortized O(1).
 *
 * <p><b>Ordering.</b> Evictable blocks sit in an indexed heap keyed by {@code (-nextUse, -depth)}.
 * A key changes only when the block is used, and a cached block is always matched when its request
 * comes (its whole path is cached, since eviction is leaf-first), which the cache reports with
 * {@link Evictor#onAccess(int)}: so keys are recomputed on entry to the heap and on access, and are
 * never stale. Interior blocks are not in the heap.
 *
 * <p><b>Concurrency.</b> The evictor has the cache's single writer; the {@link Trace} it reads is
 * immutable. One policy instance serves one replay (it shares that replay's cursor).
 *
 * <p>Reference: L. A. Belady, "A study of replacement algorithms for a virtual-storage computer",
 * IBM Systems Journal 5(2), 1966.
 */
public final class BeladyPolicy implements EvictionPolicy {

  /** The index of the request the replay is serving. */
  public static final class Cursor {
    private int request;

    /**
     * Moves to a request.
     *
     * @param index the request's index in the trace, never less than before
     */
    public void set(int index) {
      request = index;
    }

    /**
     * The request being served.
     *
     * @return its index
     */
    public int get() {
      return request;
    }
  }

  private final Trace trace;
  private final Cursor cursor;

  /**
   * Belady over a trace.
   *
   * @param trace the trace being replayed, whose block ids are the pages' tokens
   * @param cursor moved by the replay before each request
   */
  public BeladyPolicy(Trace trace, Cursor cursor) {
    this.trace = Objects.requireNonNull(trace, "trace");
    this.cursor = Objects.requireNonNull(cursor, "cursor");
  }

  @Override
  public String name() {
    return "belady";
  }

  @Override
  public Evictor newEvictor(EvictorContext context) {
    return new BeladyEvictor(context.blocks(), trace.uses(), cursor);
  }

  @Override
  public String toString() {
    return "belady";
  }

  private static final class BeladyEvictor implements Evictor {
    private static final long NEVER = Long.MAX_VALUE;

    private final BlockView view;
    private final Trace.Uses uses;
    private final Cursor cursor;
    private final int[] next;
    private final IdHeap heap = new IdHeap();

    BeladyEvictor(BlockView view, Trace.Uses uses, Cursor cursor) {
      this.view = view;
      this.uses = uses;
      this.cursor = cursor;
      this.next = java.util.Arrays.copyOf(uses.offsets, uses.offsets.length - 1);
    }

    private long nextUse(int block) {
      int id = view.token(block, 0);
      if (id < 0 || id >= next.length) {
        return NEVER; // not a trace block (a speculative branch's token)
      }
      int now = cursor.get();
      int end = uses.offsets[id + 1];
      int p = next[id];
      while (p < end && uses.requests[p] <= now) {
        p++;
      }
      next[id] = p;
      return p < end ? uses.requests[p] : NEVER;
    }

    private void enter(int block) {
      heap.put(block, -nextUse(block), -(long) view.depth(block));
    }

    @Override
    public void onInsert(int block) {
      if (view.evictable(block)) {
        enter(block);
      }
    }

    @Override
    public void onAccess(int block) {
      if (heap.contains(block)) {
        enter(block);
      }
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
      int v = heap.peek();
      return v == IdHeap.EMPTY ? NONE : v;
    }
  }
}
