package io.kvtier.spi;

import java.util.Arrays;

/**
 * An O(1) allocator of {@code int} slots {@code [0, capacity)} that prefers contiguous runs, for
 * {@link PageStore} implementations whose pages are slots of one memory pool.
 *
 * <h2>Allocation</h2>
 *
 * <p>Free slots form maximal runs. Each free run carries a boundary tag (Knuth; Doug Lea's malloc):
 * its length, stored at its first and at its last slot. Freeing a slot looks at the tags of the two
 * neighbouring slots to merge with the run that ends just before it and the run that starts just
 * after it, in O(1). Free runs are kept in 32 segregated doubly-linked lists by size class {@code
 * floor(log2(length))}, with an {@code int} bitmask of the non-empty classes, as in TLSF (Masmano
 * et al., "TLSF: a New Dynamic Memory Allocator for Real-Time Systems", ECRTS 2004), so finding the
 * class of the largest runs is one {@link Integer#numberOfLeadingZeros(int)}. A run that loses or
 * gains a slot and stays in its size class, the usual case, keeps its place in its list: its node
 * moves to its new first slot and only its two tags are rewritten. A bitmap of free slots answers
 * {@link #isFree(int)}.
 *
 * <pre>
 *  slot:      0   1   2   3   4   5   6   7   8   9
 *           +---+---+---+---+---+---+---+---+---+---+
 *  state:   | A | A | f | f | f | f | A | f | A | A |     A = allocated, f = free
 *           +---+---+---+---+---+---+---+---+---+---+
 *  tag:     |   |   | 4 |   |   | 4 |   | 1 |   |   |     length at a free run's first and last slot
 *  lists:   class 2 (4..7): [2..5]     class 0 (1): [7..7]
 *  mask:    0b0101                                          bit c set: class c is non-empty
 *  next/prev: list links, kept at a run's first slot
 * </pre>
 *
 * <p>{@link #allocate(int) allocate(hint)} takes exactly {@code hint} when it is free, splitting
 * its run into at most two. When a sequence grows with {@code hint = previous + 1} and the previous
 * slot is still allocated, the hint is free only as the first slot of a run, so the split is O(1).
 * A free hint inside a run costs a backward scan of the free bitmap, 64 slots per step, to find the
 * run's start. Without a usable hint it takes the first slot of a run from the highest non-empty
 * class (worst fit), so the remainder stays long and the sequence can keep growing contiguously.
 *
 * <h2>Concurrency</h2>
 *
 * <p>Not thread-safe: one writer at a time (a page store's {@code allocate} and {@code free} are
 * called by the cache's single metadata writer). Readers of {@link #isFree(int)} and the statistics
 * need the same thread or external synchronization.
 *
 * <h2>Memory</h2>
 *
 * <p>Three {@code int}s and one bit per slot, allocated once; {@code allocate} and {@code free} do
 * not allocate.
 */
public final class SlotAllocator {

  /** What {@link #allocate(int)} returns when every slot is in use. */
  public static final int NO_SPACE = -1;

  private static final int CLASSES = 32;
  private static final int NIL = -1;

  private final int capacity;

  /** Bit {@code s} set: slot {@code s} is free. Bits past the capacity are clear. */
  private final long[] freeBits;

  /** At a free run's first and last slot: the run's length. Meaningless elsewhere. */
  private final int[] tag;

  /** At a free run's first slot: the next run of its size class, or {@link #NIL}. */
  private final int[] next;

  /** At a free run's first slot: the previous run of its size class, or {@link #NIL}. */
  private final int[] prev;

  /** First run of each size class, or {@link #NIL}. */
  private final int[] heads = new int[CLASSES];

  /** Bit {@code c} set: {@code heads[c]} is a run. */
  private int nonEmptyClasses;

  private int freeCount;
  private int freeRuns;

  /**
   * An allocator with every slot free.
   *
   * @param capacity number of slots, at least 1
   * @throws IllegalArgumentException if {@code capacity} is less than 1
   */
  public SlotAllocator(int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be at least 1, was " + capacity);
    }
    this.capacity = capacity;
    this.freeBits = new long[(capacity + 63) >>> 6];
    this.tag = new int[capacity];
    this.next = new int[capacity];
    this.prev = new int[capacity];
    Arrays.fill(freeBits, -1L);
    int tail = capacity & 63;
    if (tail != 0) {
      freeBits[freeBits.length - 1] = (1L << tail) - 1;
    }
    Arrays.fill(heads, NIL);
    insertRun(0, capacity);
    freeCount = capacity;
  }

  /**
   * Takes a free slot. If {@code hint} is in range and free, takes exactly that slot. With no hint
   * (-1: a new sequence), takes the first slot of a run of the highest non-empty size class, which
   * packs long-lived pages at run starts. With a hint that is taken (a growing sequence ran into
   * another one), takes the middle of such a run: the sequence that blocked it keeps room to grow
   * from the run's start, and this one grows into the second half, so two sequences that grow in
   * step do not interleave page by page. O(1) when the hint is the first or last slot of its free
   * run or is not used.
   *
   * @param hint the preferred slot (for a growing sequence, its previous slot + 1), or -1 for none
   * @return the slot, or {@link #NO_SPACE} if none is free
   */
  public int allocate(int hint) {
    if (hint >= 0 && hint < capacity && freeBit(hint)) {
      takeHint(hint);
      return hint;
    }
    if (nonEmptyClasses == 0) {
      return NO_SPACE;
    }
    int start = heads[31 - Integer.numberOfLeadingZeros(nonEmptyClasses)];
    int length = tag[start];
    if (hint >= 0 && length >= BLOCKED_SPLIT_MIN) {
      int middle = start + length / 2;
      takeHint(middle);
      return middle;
    }
    if (length > 1) {
      resizeRun(start, length, start + 1, length - 1);
    } else {
      removeRun(start, length);
    }
    markAllocated(start);
    return start;
  }

  /**
   * Shortest run that a blocked sequence splits in the middle rather than taking its first slot.
   */
  static final int BLOCKED_SPLIT_MIN = 4;

  /**
   * Returns a slot, merging it with the free runs on either side. O(1).
   *
   * @param slot an allocated slot
   * @throws IllegalArgumentException if {@code slot} is out of range or already free; the allocator
   *     is then unchanged
   */
  public void free(int slot) {
    if (!tryFree(slot)) {
      throw new IllegalArgumentException("slot " + slot + " is already free (double free)");
    }
  }

  /**
   * Returns a slot like {@link #free(int)}, but reports a slot that is already free instead of
   * throwing, so that a caller can word its own error without checking {@link #isFree(int)} first.
   * O(1).
   *
   * @param slot a slot
   * @return true if the slot was allocated and is now free; false if it was already free, in which
   *     case the allocator is unchanged
   * @throws IllegalArgumentException if {@code slot} is out of range; the allocator is then
   *     unchanged
   */
  public boolean tryFree(int slot) {
    if (slot < 0 || slot >= capacity) {
      throw new IllegalArgumentException("slot " + slot + " is out of range [0, " + capacity + ")");
    }
    if (freeBit(slot)) {
      return false;
    }
    boolean freeBefore = slot > 0 && freeBit(slot - 1);
    boolean freeAfter = slot < capacity - 1 && freeBit(slot + 1);
    if (freeAfter) {
      int after = tag[slot + 1];
      if (freeBefore) {
        // Bridges two runs: the one after is absorbed into the one before.
        int before = tag[slot - 1];
        removeRun(slot + 1, after);
        resizeRun(slot - before, before, slot - before, before + 1 + after);
      } else {
        resizeRun(slot + 1, after, slot, after + 1);
      }
    } else if (freeBefore) {
      int before = tag[slot - 1];
      resizeRun(slot - before, before, slot - before, before + 1);
    } else {
      insertRun(slot, 1);
    }
    freeBits[slot >>> 6] |= 1L << slot;
    freeCount++;
    return true;
  }

  /**
   * {@link PageStore#allocate(long)} over this allocator: a hint outside {@code [0, capacity)}
   * means no hint, and a full allocator answers {@link PageStore#NO_SPACE}. O(1).
   *
   * @param hint the preferred slot, or any value outside the range for none
   * @return the slot, or {@link PageStore#NO_SPACE}
   */
  public long allocatePage(long hint) {
    int slot = allocate(hint >= 0 && hint < capacity ? (int) hint : -1);
    return slot == NO_SPACE ? PageStore.NO_SPACE : slot;
  }

  /**
   * {@link PageStore#free(long)} over this allocator, with the errors every store words the same
   * way. O(1).
   *
   * @param slot the slot
   * @param tier the tier's name, for the error
   * @throws IllegalArgumentException if the slot is out of range or not in use; the allocator is
   *     then unchanged
   */
  public void freePage(long slot, String tier) {
    if (!tryFree(checkSlot(slot, capacity, tier))) {
      throw new IllegalArgumentException(
          "tier '" + tier + "': slot " + slot + " is not in use (double free?)");
    }
  }

  /**
   * Checks a page store's slot.
   *
   * @param slot the slot
   * @param capacity the store's capacity in pages
   * @param tier the tier's name, for the error
   * @return the slot as an {@code int}
   * @throws IllegalArgumentException if {@code slot} is outside {@code [0, capacity)}
   */
  public static int checkSlot(long slot, long capacity, String tier) {
    if (slot < 0 || slot >= capacity) {
      throw new IllegalArgumentException(
          "tier '" + tier + "': slot " + slot + " is out of range [0, " + capacity + ")");
    }
    return (int) slot;
  }

  /**
   * Whether a slot is free.
   *
   * @param slot a slot
   * @return true if free
   * @throws IllegalArgumentException if {@code slot} is out of range
   */
  public boolean isFree(int slot) {
    if (slot < 0 || slot >= capacity) {
      throw new IllegalArgumentException("slot " + slot + " is out of range [0, " + capacity + ")");
    }
    return freeBit(slot);
  }

  /**
   * Number of slots.
   *
   * @return the capacity
   */
  public int capacity() {
    return capacity;
  }

  /**
   * Number of free slots.
   *
   * @return free slots
   */
  public int freeCount() {
    return freeCount;
  }

  /**
   * Number of maximal runs of consecutive free slots. O(1).
   *
   * @return free runs
   */
  public int freeRuns() {
    return freeRuns;
  }

  /**
   * Length of the longest run of consecutive free slots. Scans the runs of the highest non-empty
   * size class: meant for statistics, not for the hot path.
   *
   * @return the length, or 0 if no slot is free
   */
  public int largestFreeRun() {
    if (nonEmptyClasses == 0) {
      return 0;
    }
    int largest = 0;
    for (int run = heads[31 - Integer.numberOfLeadingZeros(nonEmptyClasses)];
        run != NIL;
        run = next[run]) {
      largest = Math.max(largest, tag[run]);
    }
    return largest;
  }

  @Override
  public String toString() {
    return "SlotAllocator[capacity="
        + capacity
        + ", free="
        + freeCount
        + ", freeRuns="
        + freeRuns
        + "]";
  }

  private void takeHint(int hint) {
    int start;
    int length;
    if (hint == 0 || !freeBit(hint - 1)) {
      start = hint;
      length = tag[hint];
    } else if (hint == capacity - 1 || !freeBit(hint + 1)) {
      length = tag[hint];
      start = hint - length + 1;
    } else {
      start = runStartBefore(hint);
      length = tag[start];
    }
    int end = start + length - 1;
    if (hint > start) {
      resizeRun(start, length, start, hint - start);
      if (hint < end) {
        insertRun(hint + 1, end - hint);
      }
    } else if (hint < end) {
      resizeRun(start, length, hint + 1, end - hint);
    } else {
      removeRun(start, length);
    }
    markAllocated(hint);
  }

  /** The first slot of the free run holding {@code slot}: one past the allocated slot before it. */
  private int runStartBefore(int slot) {
    int word = slot >>> 6;
    long allocated = ~freeBits[word] & ((1L << slot) - 1);
    while (allocated == 0) {
      if (--word < 0) {
        return 0;
      }
      allocated = ~freeBits[word];
    }
    return (word << 6) + 64 - Long.numberOfLeadingZeros(allocated);
  }

  private void markAllocated(int slot) {
    freeBits[slot >>> 6] &= ~(1L << slot);
    freeCount--;
  }

  private void insertRun(int start, int length) {
    tag[start] = length;
    tag[start + length - 1] = length;
    int sizeClass = sizeClass(length);
    int head = heads[sizeClass];
    next[start] = head;
    prev[start] = NIL;
    if (head != NIL) {
      prev[head] = start;
    }
    heads[sizeClass] = start;
    nonEmptyClasses |= 1 << sizeClass;
    freeRuns++;
  }

  /**
   * Turns the free run {@code [start, start + length)} into {@code [newStart, newStart +
   * newLength)}, which overlaps it. When the size class stays the same, which is the common case of
   * a run losing or gaining one slot, the run keeps its place in its list: the list node moves from
   * {@code start} to {@code newStart} (the neighbours or the class head are repointed) and only the
   * two length tags are rewritten. Otherwise the run is unlinked and inserted into its new class.
   * The run count does not change.
   */
  private void resizeRun(int start, int length, int newStart, int newLength) {
    int sizeClass = sizeClass(length);
    if (sizeClass(newLength) != sizeClass) {
      removeRun(start, length);
      insertRun(newStart, newLength);
      return;
    }
    if (newStart != start) {
      int after = next[start];
      int before = prev[start];
      next[newStart] = after;
      prev[newStart] = before;
      if (before != NIL) {
        next[before] = newStart;
      } else {
        heads[sizeClass] = newStart;
      }
      if (after != NIL) {
        prev[after] = newStart;
      }
    }
    tag[newStart] = newLength;
    tag[newStart + newLength - 1] = newLength;
  }

  private void removeRun(int start, int length) {
    int after = next[start];
    int before = prev[start];
    if (before != NIL) {
      next[before] = after;
    } else {
      int sizeClass = sizeClass(length);
      heads[sizeClass] = after;
      if (after == NIL) {
        nonEmptyClasses &= ~(1 << sizeClass);
      }
    }
    if (after != NIL) {
      prev[after] = before;
    }
    freeRuns--;
  }

  private static int sizeClass(int length) {
    return 31 - Integer.numberOfLeadingZeros(length);
  }

  private boolean freeBit(int slot) {
    return (freeBits[slot >>> 6] & (1L << slot)) != 0;
  }
}
