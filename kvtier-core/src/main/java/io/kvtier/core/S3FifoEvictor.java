package io.kvtier.core;

import io.kvtier.spi.BlockView;
import io.kvtier.spi.EvictionPolicy;
import io.kvtier.spi.Evictor;
import java.util.Arrays;
import java.util.Objects;

/**
 * S3-FIFO over blocks, restricted to evictable leaves: a small probationary FIFO {@code S} (10% of
 * the tier), a main FIFO {@code M} with lazy reinsertion, and a ghost queue {@code G} of
 * fingerprints of blocks that left from {@code S}.
 *
 * <p><b>How it works.</b> Every block in the tier is in exactly one of {@code S} and {@code M}, in
 * intrusive doubly linked lists over {@code int} arrays indexed by block id ({@code prev}, {@code
 * next}, the queue it is in, a 2-bit access count and its fingerprint). A block enters at the head
 * of {@code S}, or of {@code M} if its fingerprint is in {@code G} (a block that was evicted while
 * still young and came back). An access only bumps the count (capped at 3); nothing moves on a hit.
 * {@link #victim()} works from the tails: while {@code S} holds at least its target ({@code
 * capacityPages / 10}, at least 1) or {@code M} is empty, {@code S}'s tail is examined: accessed
 * since it entered (count &ge; 1) &rarr; promoted to {@code M}'s head with the count reset;
 * otherwise, if {@link BlockView#evictable(int)} is false (an interior or pinned block) &rarr;
 * parked (below); otherwise it is the victim. {@code M}'s tail: count &gt; 0 &rarr; decremented and
 * reinserted at the head; not evictable &rarr; parked; otherwise the victim. When the preferred
 * queue yields nothing the other is scanned. Each scan is bounded ({@code |S|} steps for {@code S},
 * {@code 4|M|} for {@code M}, since a count falls to 0 within three rotations), so {@link
 * #victim()} returns {@link #NONE} exactly when no block in the tier is evictable. {@code victim()}
 * leaves the victim in place, and returns it again until it is removed, accessed or stops being
 * evictable (the scan moves blocks, so a fresh scan could otherwise pick another); {@link
 * #onRemove(int)} unlinks a block from whichever queue holds it and, if that was {@code S}, records
 * its fingerprint in {@code G}.
 *
 * <p>{@code G} is a FIFO ring of at most {@code |M|}'s capacity fingerprints beside an
 * open-addressing (linear probing, backward-shift deletion) map from fingerprint to the sequence
 * number of its newest ring entry; a ghost hit removes the map entry, and a ring entry whose
 * sequence number no longer matches is skipped when it falls off the end. Arrays grow on demand, so
 * a large tier costs nothing until its blocks arrive. Every operation is O(1) apart from the
 * bounded scan in {@code victim()}; none allocates except to grow.
 *
 * <p><b>Leaf-only eviction.</b> A block that cannot be evicted (an interior block of the prefix
 * tree, or a pinned one) is <em>parked</em>: taken off its queue's list but still counted in its
 * queue, with its access count, and put back at that queue's tail when it becomes evictable (it
 * entered before the blocks below it, so it is the oldest). So scans only ever see evictable
 * blocks. Rotating past interior blocks instead made a victim cost the ratio of blocks to evictable
 * leaves: on the Claude Code sessions (paths of thousands of blocks, 64 conversations at once) one
 * replay at 1% did not finish in 40 minutes.
 *
 * <p><b>Concurrency.</b> Single writer: the cache calls it under its metadata lock.
 *
 * <p>References: J. Yang, Y. Zhang, Z. Qiu, Y. Yue, R. Vinayak, "FIFO queues are all you need for
 * cache eviction", SOSP 2023; the authors' libCachesim {@code S3FIFO}.
 */
final class S3FifoEvictor implements Evictor {

  /** The policy: one {@link S3FifoEvictor} per tier. */
  static final EvictionPolicy POLICY =
      new StockPolicies.Named(
          "s3fifo", context -> new S3FifoEvictor(context.blocks(), context.capacityPages()));

  /** {@link #queueOf(int)}: not in the tier. */
  static final int NOT_QUEUED = 0;

  /** {@link #queueOf(int)}: the small probationary FIFO. */
  static final int SMALL = 1;

  /** {@link #queueOf(int)}: the main FIFO. */
  static final int MAIN = 2;

  private static final int NIL = -1;
  private static final int MAX_FREQ = 3;
  private static final int MAX_ARRAY = Integer.MAX_VALUE - 8;

  private final BlockView view;
  private final int smallTarget;
  private final FingerprintFifo ghost = new FingerprintFifo();
  private final int ghostLimit;

  private int[] prev = new int[0];
  private int[] next = new int[0];
  private byte[] queue = new byte[0];
  private byte[] freq = new byte[0];
  private long[] fingerprint = new long[0];
  private boolean[] parked = new boolean[0];

  /** Blocks per queue, parked ones included: what the queue's share of the tier is judged by. */
  private final int[] members = new int[3];

  /** Indexed by {@link #SMALL} and {@link #MAIN}; the head is the newest, the tail the oldest. */
  private final int[] head = {NIL, NIL, NIL};

  private final int[] tail = {NIL, NIL, NIL};
  private final int[] size = new int[3];

  /**
   * The last victim chosen, returned again while it is still in the tier, unaccessed, evictable.
   */
  private int chosen = NONE;

  S3FifoEvictor(BlockView view, long capacityPages) {
    this.view = Objects.requireNonNull(view, "view");
    if (capacityPages < 1) {
      throw new IllegalArgumentException("capacityPages must be positive: " + capacityPages);
    }
    long small = Math.max(1, capacityPages / 10);
    this.smallTarget = (int) Math.min(small, MAX_ARRAY);
    this.ghostLimit = (int) Math.clamp(capacityPages - small, 1L, 1L << 30);
  }

  @Override
  public void onInsert(int block) {
    ensureCapacity(block);
    if (queue[block] != NOT_QUEUED) {
      throw new IllegalStateException("block " + block + " is already in the tier");
    }
    long fp = view.fingerprint(block);
    fingerprint[block] = fp;
    freq[block] = 0;
    int q = ghost.remove(fp) ? MAIN : SMALL;
    members[q]++;
    pushHead(q, block);
    if (!view.evictable(block)) {
      park(block);
    }
  }

  @Override
  public void onAccess(int block) {
    if (queued(block) && freq[block] < MAX_FREQ) {
      freq[block]++;
    }
  }

  @Override
  public void onEvictable(int block, boolean isEvictable) {
    if (!queued(block)) {
      return;
    }
    if (isEvictable && parked[block]) {
      unpark(block);
    } else if (!isEvictable && !parked[block]) {
      park(block);
    }
  }

  /** Takes a block that cannot be evicted off its queue's list, keeping its queue and count. */
  private void park(int b) {
    int q = queue[b];
    if (b == chosen) {
      chosen = NONE;
    }
    unlink(b);
    queue[b] = (byte) q;
    parked[b] = true;
  }

  /**
   * Puts a block that became evictable back at its queue's head, where a scan that passed it while
   * it could not go would have put it; a probationary block used meanwhile goes to the main queue,
   * as that scan would have promoted it.
   */
  private void unpark(int b) {
    int q = queue[b];
    parked[b] = false;
    if (q == SMALL && freq[b] >= 1) {
      freq[b] = 0; // used while parked: promoted, as a scan would have on its way
      members[SMALL]--;
      members[MAIN]++;
      q = MAIN;
    }
    pushHead(q, b);
  }

  @Override
  public void onRemove(int block) {
    if (!queued(block)) {
      return;
    }
    if (block == chosen) {
      chosen = NONE;
    }
    int q = queue[block];
    if (parked[block]) {
      parked[block] = false;
      queue[block] = NOT_QUEUED;
    } else {
      unlink(block);
    }
    members[q]--;
    if (q == SMALL) {
      ghost.add(fingerprint[block]);
      if (ghost.size() > ghostLimit) {
        ghost.removeOldest();
      }
    }
  }

  @Override
  public int victim() {
    int c = chosen;
    if (c != NONE && freq[c] == 0 && view.evictable(c)) {
      return c;
    }
    chosen = choose();
    return chosen;
  }

  private int choose() {
    int v;
    if (size[SMALL] > 0 && (members[SMALL] >= smallTarget || size[MAIN] == 0)) {
      v = scanSmall();
      return v != NONE ? v : scanMain();
    }
    v = scanMain();
    if (v != NONE) {
      return v;
    }
    int mainBefore = size[MAIN];
    v = scanSmall();
    if (v != NONE || size[MAIN] == mainBefore) {
      return v;
    }
    return scanMain();
  }

  /** Which queue holds a block: {@link #NOT_QUEUED}, {@link #SMALL} or {@link #MAIN}. */
  int queueOf(int block) {
    return block >= 0 && block < queue.length ? queue[block] : NOT_QUEUED;
  }

  int smallSize() {
    return members[SMALL];
  }

  int mainSize() {
    return members[MAIN];
  }

  int ghostSize() {
    return ghost.size();
  }

  private int scanSmall() {
    for (int steps = size[SMALL]; steps > 0; steps--) {
      int b = tail[SMALL];
      if (freq[b] >= 1) {
        unlink(b);
        freq[b] = 0;
        members[SMALL]--;
        members[MAIN]++;
        pushHead(MAIN, b);
      } else if (view.evictable(b)) {
        return b;
      } else {
        park(b);
      }
    }
    return NONE;
  }

  private int scanMain() {
    for (long steps = (MAX_FREQ + 1L) * size[MAIN]; steps > 0; steps--) {
      int b = tail[MAIN];
      if (freq[b] > 0) {
        freq[b]--;
      } else if (view.evictable(b)) {
        return b;
      } else {
        park(b);
        continue;
      }
      unlink(b);
      pushHead(MAIN, b);
    }
    return NONE;
  }

  private boolean queued(int block) {
    return block >= 0 && block < queue.length && queue[block] != NOT_QUEUED;
  }

  private void pushHead(int q, int b) {
    int h = head[q];
    prev[b] = NIL;
    next[b] = h;
    if (h == NIL) {
      tail[q] = b;
    } else {
      prev[h] = b;
    }
    head[q] = b;
    queue[b] = (byte) q;
    size[q]++;
  }

  private void unlink(int b) {
    int q = queue[b];
    int p = prev[b];
    int n = next[b];
    if (p == NIL) {
      head[q] = n;
    } else {
      next[p] = n;
    }
    if (n == NIL) {
      tail[q] = p;
    } else {
      prev[n] = p;
    }
    queue[b] = NOT_QUEUED;
    size[q]--;
  }

  private void ensureCapacity(int block) {
    if (block < 0) {
      throw new IllegalArgumentException("negative block id " + block);
    }
    if (block < queue.length) {
      return;
    }
    long n = Math.max(block + 1L, Math.max(16L, 2L * queue.length));
    if (block >= MAX_ARRAY) {
      throw new OutOfMemoryError("cannot index block " + block);
    }
    int len = (int) Math.min(n, MAX_ARRAY);
    prev = Arrays.copyOf(prev, len);
    next = Arrays.copyOf(next, len);
    queue = Arrays.copyOf(queue, len);
    freq = Arrays.copyOf(freq, len);
    fingerprint = Arrays.copyOf(fingerprint, len);
    parked = Arrays.copyOf(parked, len);
  }
}
