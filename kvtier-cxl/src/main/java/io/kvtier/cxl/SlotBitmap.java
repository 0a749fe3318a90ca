package io.kvtier.cxl;

import io.kvtier.spi.PageStore;

/**
 * Which slots of a store are in use: one bit per slot, set when used.
 *
 * <p>Allocation: the hinted slot if it is free (so a sequence that passes its previous slot + 1
 * stays contiguous), else the first free slot at or after a roving cursor, found a 64-slot word at
 * a time with {@link Long#numberOfTrailingZeros}. Free is O(1). Bits past the capacity in the last
 * word are set at construction, so the search never returns them.
 *
 * <p>Concurrency: none; the owning store serialises calls.
 */
final class SlotBitmap {

  private final long capacity;
  private final long[] words;
  private long free;
  private int cursorWord;

  SlotBitmap(long capacity) {
    if (capacity < 1 || capacity > (1L << 32)) {
      throw new IllegalArgumentException(
          "a store holds 1 to 2^32 slots (the page index of a handle), asked for " + capacity);
    }
    this.capacity = capacity;
    this.words = new long[(int) ((capacity + 63) >>> 6)];
    int tail = (int) (capacity & 63);
    if (tail != 0) {
      words[words.length - 1] = -1L << tail;
    }
    this.free = capacity;
  }

  long capacity() {
    return capacity;
  }

  long free() {
    return free;
  }

  boolean isUsed(long slot) {
    return (words[(int) (slot >>> 6)] & (1L << slot)) != 0;
  }

  long allocate(long hint) {
    if (free == 0) {
      return PageStore.NO_SPACE;
    }
    if (hint >= 0 && hint < capacity && !isUsed(hint)) {
      take(hint);
      return hint;
    }
    for (int n = 0, w = cursorWord;
        n <= words.length;
        n++, w = (w + 1 == words.length ? 0 : w + 1)) {
      long freeBits = ~words[w];
      if (freeBits != 0) {
        long slot = ((long) w << 6) + Long.numberOfTrailingZeros(freeBits);
        take(slot);
        cursorWord = w;
        return slot;
      }
    }
    throw new AssertionError("free count " + free + " but no free bit");
  }

  void release(long slot) {
    if (slot < 0 || slot >= capacity) {
      throw new IllegalArgumentException("slot " + slot + " is out of range [0, " + capacity + ")");
    }
    if (!isUsed(slot)) {
      throw new IllegalArgumentException("slot " + slot + " is not in use");
    }
    words[(int) (slot >>> 6)] &= ~(1L << slot);
    free++;
  }

  /** Maximal runs of free slots; O(capacity / 64) for full words, bit by bit elsewhere. */
  long freeRuns() {
    long runs = 0;
    boolean inRun = false;
    for (long s = 0; s < capacity; ) {
      long word = words[(int) (s >>> 6)];
      if ((s & 63) == 0 && (word == 0 || word == -1L)) {
        boolean wordFree = word == 0;
        if (wordFree && !inRun) {
          runs++;
        }
        inRun = wordFree;
        s += 64;
        continue;
      }
      boolean slotFree = (word & (1L << s)) == 0;
      if (slotFree && !inRun) {
        runs++;
      }
      inRun = slotFree;
      s++;
    }
    return runs;
  }

  long largestFreeRun() {
    long best = 0;
    long run = 0;
    for (long s = 0; s < capacity; ) {
      long word = words[(int) (s >>> 6)];
      if ((s & 63) == 0 && (word == 0 || word == -1L)) {
        run = word == 0 ? run + 64 : 0;
        best = Math.max(best, run);
        s += 64;
        continue;
      }
      run = (word & (1L << s)) == 0 ? run + 1 : 0;
      best = Math.max(best, run);
      s++;
    }
    return best;
  }

  private void take(long slot) {
    words[(int) (slot >>> 6)] |= 1L << slot;
    free--;
  }
}
