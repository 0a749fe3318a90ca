package io.kvtier.core;

import io.kvtier.spi.BlockView;
import io.kvtier.spi.EvictionPolicy;
import io.kvtier.spi.Evictor;
import java.util.Arrays;
import java.util.Objects;

/**
 * W-TinyLFU over blocks, restricted to evictable leaves: a small LRU <em>window</em> (1% of the
 * tier) in front of a segmented LRU <em>main</em> region (probation and protected, protected at
 * most 80% of main), with a {@link FrequencySketch} deciding whether a newcomer may displace an
 * older block of main.
 *
 * <p><b>How it works.</b> Every block in the tier is in one segment ({@code seg[b]}) and carries a
 * recency stamp (a counter bumped on insert, access and move). A block enters the window; every
 * insert and access also counts its fingerprint in the sketch, so popularity survives eviction.
 * When the window is over its share, its least recent blocks move to probation as
 * <em>candidates</em> (Caffeine's window-to-probation admission). An access moves a window block to
 * the window's most recent end, a probation block (candidate or not) to protected, demoting
 * protected's least recent blocks to probation while protected is over its share, and a protected
 * block to protected's most recent end.
 *
 * <p>{@link #victim()} is where TinyLFU's admission happens, as in Caffeine's {@code
 * evictFromMain}: the <em>victim</em> is probation's least recent evictable block and the
 * <em>candidate</em> the newest evictable candidate. If they differ, the sketch judges: a candidate
 * more frequent than the victim is admitted (it stops being a candidate) and the victim goes;
 * otherwise the candidate goes, so a scan of one-hit blocks cannot flush blocks that are used
 * again. With no evictable probation block, protected's least recent evictable block goes, then the
 * window's. The choice is remembered and returned again until it is removed, accessed or stops
 * being evictable.
 *
 * <p><b>Leaf-only eviction.</b> In a prefix tree a block is a leaf only after its descendants have
 * gone, so segments hold interior blocks that are never chosen. Per segment an {@link IndexedHeap}
 * holds the blocks that are evictable now, keyed by stamp, and one more holds the evictable
 * candidates newest first; the window and protected also keep a heap of all their members, for
 * overflow and demotion. Every operation is O(log n); none allocates except to grow.
 *
 * <p><b>Concurrency.</b> Single writer: the cache calls it under its metadata lock.
 *
 * <p>References: G. Einziger, R. Friedman, B. Manes, "TinyLFU: A Highly Efficient Cache Admission
 * Policy", ACM TOS 2017; Caffeine's {@code BoundedLocalCache} (window, probation, protected, {@code
 * evictFromWindow} and {@code evictFromMain}).
 */
final class TinyLfuEvictor implements Evictor {

  /** The policy: one {@link TinyLfuEvictor} per tier. */
  static final EvictionPolicy POLICY =
      new StockPolicies.Named(
          "tinylfu", context -> new TinyLfuEvictor(context.blocks(), context.capacityPages()));

  static final byte NOT_QUEUED = 0;
  static final byte WINDOW = 1;
  static final byte PROBATION = 2;
  static final byte PROTECTED = 3;

  private final BlockView view;
  private final long windowMax;
  private final long protectedMax;
  private final FrequencySketch sketch;

  private byte[] seg = new byte[0];
  private boolean[] candidate = new boolean[0];
  private long[] stamp = new long[0];
  private long[] fingerprint = new long[0];
  private final long[] size = new long[4];
  private long clock;

  private final IndexedHeap windowAll = new IndexedHeap();
  private final IndexedHeap protectedAll = new IndexedHeap();
  private final IndexedHeap[] evictable = {
    null, new IndexedHeap(), new IndexedHeap(), new IndexedHeap()
  };

  /** Evictable candidates, keyed by the negated stamp: the newest first. */
  private final IndexedHeap candidates = new IndexedHeap();

  private int chosen = NONE;

  TinyLfuEvictor(BlockView view, long capacityPages) {
    this.view = Objects.requireNonNull(view, "view");
    if (capacityPages < 1) {
      throw new IllegalArgumentException("capacityPages must be positive: " + capacityPages);
    }
    this.windowMax = Math.max(1, capacityPages / 100);
    this.protectedMax = Math.max(1, (capacityPages - windowMax) * 8 / 10);
    this.sketch = new FrequencySketch(capacityPages);
  }

  @Override
  public void onInsert(int block) {
    ensureCapacity(block);
    if (seg[block] != NOT_QUEUED) {
      throw new IllegalStateException("block " + block + " is already in the tier");
    }
    long fp = view.fingerprint(block);
    fingerprint[block] = fp;
    sketch.increment(fp);
    enter(block, WINDOW);
    if (view.evictable(block)) {
      evictable[WINDOW].add(block, stamp[block], -(long) view.depth(block));
    }
    while (size[WINDOW] > windowMax) {
      int c = windowAll.peek();
      move(c, PROBATION);
      candidate[c] = true;
      if (evictable[PROBATION].contains(c)) {
        candidates.add(c, -stamp[c], 0);
      }
    }
  }

  @Override
  public void onAccess(int block) {
    if (!queued(block)) {
      return;
    }
    if (block == chosen) {
      chosen = NONE;
    }
    sketch.increment(fingerprint[block]);
    switch (seg[block]) {
      case WINDOW -> {
        stamp[block] = ++clock;
        windowAll.update(block, stamp[block], 0);
        evictable[WINDOW].update(block, stamp[block], -(long) view.depth(block));
      }
      case PROBATION -> {
        move(block, PROTECTED);
        while (size[PROTECTED] > protectedMax) {
          move(protectedAll.peek(), PROBATION);
        }
      }
      default -> {
        stamp[block] = ++clock;
        protectedAll.update(block, stamp[block], 0);
        evictable[PROTECTED].update(block, stamp[block], -(long) view.depth(block));
      }
    }
  }

  @Override
  public void onEvictable(int block, boolean isEvictable) {
    if (!queued(block)) {
      return;
    }
    IndexedHeap h = evictable[seg[block]];
    if (isEvictable) {
      if (!h.contains(block)) {
        h.add(block, stamp[block], -(long) view.depth(block));
      }
      if (candidate[block] && !candidates.contains(block)) {
        candidates.add(block, -stamp[block], 0);
      }
    } else {
      h.remove(block);
      candidates.remove(block);
      if (block == chosen) {
        chosen = NONE;
      }
    }
  }

  @Override
  public void onRemove(int block) {
    if (!queued(block)) {
      return;
    }
    if (block == chosen) {
      chosen = NONE;
    }
    leave(block);
  }

  @Override
  public int victim() {
    int c = chosen;
    if (c != NONE && queued(c) && view.evictable(c)) {
      return c;
    }
    chosen = choose();
    return chosen;
  }

  private int choose() {
    int victim = evictable[PROBATION].peek();
    if (victim != IndexedHeap.EMPTY) {
      int c = candidates.peek();
      if (c == IndexedHeap.EMPTY || c == victim) {
        return victim;
      }
      if (sketch.frequency(fingerprint[c]) > sketch.frequency(fingerprint[victim])) {
        admit(c);
        return victim;
      }
      return c;
    }
    int v = evictable[PROTECTED].peek();
    if (v == IndexedHeap.EMPTY) {
      v = evictable[WINDOW].peek();
    }
    return v == IndexedHeap.EMPTY ? NONE : v;
  }

  private void admit(int block) {
    candidate[block] = false;
    candidates.remove(block);
  }

  /** Which segment holds a block (for tests). */
  int segmentOf(int block) {
    return block >= 0 && block < seg.length ? seg[block] : NOT_QUEUED;
  }

  boolean isCandidate(int block) {
    return queued(block) && candidate[block];
  }

  int frequency(int block) {
    return sketch.frequency(fingerprint[block]);
  }

  private void enter(int block, byte s) {
    seg[block] = s;
    stamp[block] = ++clock;
    size[s]++;
    if (s == WINDOW) {
      windowAll.add(block, stamp[block], 0);
    } else if (s == PROTECTED) {
      protectedAll.add(block, stamp[block], 0);
    }
  }

  private void leave(int block) {
    byte s = seg[block];
    admit(block);
    size[s]--;
    windowAll.remove(block);
    protectedAll.remove(block);
    evictable[s].remove(block);
    seg[block] = NOT_QUEUED;
  }

  /** Moves a block to the most recent end of another segment. */
  private void move(int block, byte to) {
    boolean ev = evictable[seg[block]].contains(block);
    leave(block);
    enter(block, to);
    if (ev) {
      evictable[to].add(block, stamp[block], -(long) view.depth(block));
    }
  }

  private boolean queued(int block) {
    return block >= 0 && block < seg.length && seg[block] != NOT_QUEUED;
  }

  private void ensureCapacity(int block) {
    if (block < 0) {
      throw new IllegalArgumentException("negative block id " + block);
    }
    if (block < seg.length) {
      return;
    }
    int len = (int) Math.min(Math.max(block + 1L, Math.max(16L, 2L * seg.length)), 0x7FFF_FFF7L);
    seg = Arrays.copyOf(seg, len);
    candidate = Arrays.copyOf(candidate, len);
    stamp = Arrays.copyOf(stamp, len);
    fingerprint = Arrays.copyOf(fingerprint, len);
  }
}
