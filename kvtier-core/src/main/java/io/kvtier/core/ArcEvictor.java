package io.kvtier.core;

import io.kvtier.spi.BlockView;
import io.kvtier.spi.EvictionPolicy;
import io.kvtier.spi.Evictor;
import java.util.Arrays;
import java.util.Objects;

/**
 * ARC (Adaptive Replacement Cache) over blocks, restricted to evictable leaves: {@code T1} holds
 * blocks seen once since they entered, {@code T2} blocks seen at least twice, and the ghost lists
 * {@code B1} and {@code B2} remember the fingerprints of blocks recently evicted from each. A
 * target {@code p} for the size of {@code T1} adapts to the workload: a ghost hit in {@code B1}
 * (recency would have helped) grows it, one in {@code B2} (frequency would have helped) shrinks it.
 *
 * <p><b>How it works.</b> A block enters {@code T1}, or {@code T2} when its fingerprint is in a
 * ghost list (that hit adapts {@code p} by {@code max(1, |other ghost| / |this ghost|)}, clamped to
 * {@code [0, c]}, {@code c} the tier's capacity in pages). An access moves it to the most recent
 * end of {@code T2}. Per list an {@link IndexedHeap} holds the blocks that are evictable now, keyed
 * by a recency stamp (bumped on insert and access). {@link #victim()} is ARC's REPLACE restricted
 * to evictable leaves: the least recent evictable block of {@code T1} when {@code |T1| > p} (or
 * when {@code T2} has no evictable block), else of {@code T2}. When a block leaves, its fingerprint
 * joins the ghost list of the list it left, and the ghosts are trimmed to ARC's bounds ({@code |T1|
 * + |B1| <= c}, {@code |T1| + |T2| + |B1| + |B2| <= 2c}), oldest first. {@link FingerprintFifo}s
 * hold the ghosts. Sizes count every block of a list, interior ones included: they occupy the tier
 * even though only leaves can leave it.
 *
 * <p>Every operation is O(log n) (ghost operations O(1) amortized); none allocates except to grow.
 *
 * <p><b>Concurrency.</b> Single writer: the cache calls it under its metadata lock.
 *
 * <p>References: N. Megiddo, D. S. Modha, "ARC: A Self-Tuning, Low Overhead Replacement Cache",
 * FAST 2003.
 */
final class ArcEvictor implements Evictor {

  /** The policy: one {@link ArcEvictor} per tier. */
  static final EvictionPolicy POLICY =
      new StockPolicies.Named(
          "arc", context -> new ArcEvictor(context.blocks(), context.capacityPages()));

  static final byte NOT_QUEUED = 0;
  static final byte T1 = 1;
  static final byte T2 = 2;

  private final BlockView view;
  private final long c;
  private double p;

  private byte[] list = new byte[0];
  private long[] stamp = new long[0];
  private long[] fingerprint = new long[0];
  private final long[] size = new long[3];
  private long clock;

  private final IndexedHeap[] evictable = {null, new IndexedHeap(), new IndexedHeap()};
  private final FingerprintFifo b1 = new FingerprintFifo();
  private final FingerprintFifo b2 = new FingerprintFifo();

  ArcEvictor(BlockView view, long capacityPages) {
    this.view = Objects.requireNonNull(view, "view");
    if (capacityPages < 1) {
      throw new IllegalArgumentException("capacityPages must be positive: " + capacityPages);
    }
    this.c = capacityPages;
  }

  @Override
  public void onInsert(int block) {
    ensureCapacity(block);
    if (list[block] != NOT_QUEUED) {
      throw new IllegalStateException("block " + block + " is already in the tier");
    }
    long fp = view.fingerprint(block);
    fingerprint[block] = fp;
    byte to = T1;
    int g1 = b1.size();
    int g2 = b2.size();
    if (b1.remove(fp)) {
      p = Math.min(c, p + Math.max(1.0, (double) g2 / g1));
      to = T2;
    } else if (b2.remove(fp)) {
      p = Math.max(0, p - Math.max(1.0, (double) g1 / g2));
      to = T2;
    }
    list[block] = to;
    size[to]++;
    stamp[block] = ++clock;
    if (view.evictable(block)) {
      evictable[to].add(block, stamp[block], -(long) view.depth(block));
    }
  }

  @Override
  public void onAccess(int block) {
    if (!queued(block)) {
      return;
    }
    byte from = list[block];
    boolean ev = evictable[from].remove(block);
    size[from]--;
    list[block] = T2;
    size[T2]++;
    stamp[block] = ++clock;
    if (ev) {
      evictable[T2].add(block, stamp[block], -(long) view.depth(block));
    }
  }

  @Override
  public void onEvictable(int block, boolean isEvictable) {
    if (!queued(block)) {
      return;
    }
    IndexedHeap h = evictable[list[block]];
    if (isEvictable) {
      if (!h.contains(block)) {
        h.add(block, stamp[block], -(long) view.depth(block));
      }
    } else {
      h.remove(block);
    }
  }

  @Override
  public void onRemove(int block) {
    if (!queued(block)) {
      return;
    }
    byte from = list[block];
    evictable[from].remove(block);
    size[from]--;
    list[block] = NOT_QUEUED;
    (from == T1 ? b1 : b2).add(fingerprint[block]);
    while (b1.size() > Math.max(0, c - size[T1]) && b1.removeOldest()) {
      // trim B1 to |T1| + |B1| <= c
    }
    long room = Math.max(0, 2 * c - size[T1] - size[T2]);
    while (b1.size() + b2.size() > room && (b2.removeOldest() || b1.removeOldest())) {
      // trim to |T1| + |T2| + |B1| + |B2| <= 2c
    }
  }

  @Override
  public int victim() {
    int t1 = evictable[T1].peek();
    int t2 = evictable[T2].peek();
    int v = (t1 != IndexedHeap.EMPTY && size[T1] > p) || t2 == IndexedHeap.EMPTY ? t1 : t2;
    return v == IndexedHeap.EMPTY ? NONE : v;
  }

  /** Which list holds a block (for tests). */
  int listOf(int block) {
    return block >= 0 && block < list.length ? list[block] : NOT_QUEUED;
  }

  double target() {
    return p;
  }

  int ghosts1() {
    return b1.size();
  }

  int ghosts2() {
    return b2.size();
  }

  private boolean queued(int block) {
    return block >= 0 && block < list.length && list[block] != NOT_QUEUED;
  }

  private void ensureCapacity(int block) {
    if (block < 0) {
      throw new IllegalArgumentException("negative block id " + block);
    }
    if (block < list.length) {
      return;
    }
    int len = (int) Math.min(Math.max(block + 1L, Math.max(16L, 2L * list.length)), 0x7FFF_FFF7L);
    list = Arrays.copyOf(list, len);
    stamp = Arrays.copyOf(stamp, len);
    fingerprint = Arrays.copyOf(fingerprint, len);
  }
}
