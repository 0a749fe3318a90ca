package io.kvtier.cabi;

import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The table that turns the C side's opaque handles into Java objects: every cache, namespace,
 * session and lease the C ABI hands out is a {@code long} id into this table, never a pointer, so a
 * stale, foreign, forged or double-released handle is detected here and answered with a status code
 * instead of touching freed memory.
 *
 * <h2>Layout of a handle</h2>
 *
 * <pre>
 *  63 62      56 55                              24 23                   0
 * +--+----------+----------------------------------+---------------------+
 * |0 |   kind   |            generation            |        slot         |
 * |  |  7 bits  |             32 bits              |       24 bits       |
 * +--+----------+----------------------------------+---------------------+
 * </pre>
 *
 * Bit 63 is always clear, so a valid handle is positive and the entry points can return either a
 * handle or a negative {@link Status} in one {@code long}. Kinds start at 1 and generations at 1,
 * so 0 (a C {@code NULL}) is never a handle. The C header passes handles as opaque struct pointers
 * whose value is the id; C never dereferences them.
 *
 * <h2>Allocation</h2>
 *
 * Slots live in chunks of {@value #CHUNK} that are created on demand and never move, so a lookup is
 * two array reads with no lock. A slot's generation advances each time it is reused. Freed slots
 * are reused first-in first-out, and fresh slots are handed out until {@value #MIN_ROTATION} exist,
 * so a slot is reused at most once per {@value #MIN_ROTATION} releases: a handle would have to be
 * kept across 2<sup>32</sup> of its slot's reuses to alias a live one.
 *
 * <h2>Concurrency</h2>
 *
 * Lookups are lock-free (an acquire read of the slot, then a comparison of the full id held by the
 * entry). Removal is a compare-and-set of the slot from the entry to null, so of two threads
 * releasing the same handle exactly one wins and the other sees a stale handle. Allocation and the
 * free queue are guarded by one lock, held for a few instructions.
 */
final class Handles {

  /** A cache. */
  static final int KIND_CACHE = 1;

  /** A namespace of a cache. */
  static final int KIND_NAMESPACE = 2;

  /** A session of a cache. */
  static final int KIND_SESSION = 3;

  /** A lease. */
  static final int KIND_LEASE = 4;

  static final int SLOT_BITS = 24;
  static final int GENERATION_BITS = 32;
  static final int KIND_BITS = 7;

  private static final int GENERATION_SHIFT = SLOT_BITS;
  private static final int KIND_SHIFT = SLOT_BITS + GENERATION_BITS;
  private static final long SLOT_MASK = (1L << SLOT_BITS) - 1;
  private static final long GENERATION_MASK = (1L << GENERATION_BITS) - 1;
  private static final long KIND_MASK = (1L << KIND_BITS) - 1;

  private static final int CHUNK_BITS = 12;
  static final int CHUNK = 1 << CHUNK_BITS;
  static final int MAX_SLOTS = 1 << SLOT_BITS;
  private static final int MIN_ROTATION = 1024;

  /** An object that a handle names; it remembers its own id, so a lookup compares all 64 bits. */
  abstract static class Entry {
    long handle;
  }

  private static final class Chunk {
    final AtomicReferenceArray<Entry> slots = new AtomicReferenceArray<>(CHUNK);
    final int[] generations = new int[CHUNK];
  }

  private final AtomicReferenceArray<Chunk> chunks = new AtomicReferenceArray<>(MAX_SLOTS / CHUNK);
  private final ReentrantLock lock = new ReentrantLock();

  // @GuardedBy("lock")
  private int fresh;
  // @GuardedBy("lock"): a ring of freed slots, oldest at head
  private int[] freeRing = new int[MIN_ROTATION];
  private int freeHead;
  private int freeSize;
  private int live;

  /**
   * Registers {@code entry} under a new handle of {@code kind}.
   *
   * @return the handle, or 0 when the table is full
   */
  long add(int kind, Entry entry) {
    lock.lock();
    try {
      int slot;
      if (freeSize > 0 && (fresh >= MIN_ROTATION || fresh >= MAX_SLOTS)) {
        slot = freeRing[freeHead];
        freeHead = (freeHead + 1) % freeRing.length;
        freeSize--;
      } else if (fresh < MAX_SLOTS) {
        slot = fresh++;
        if (chunks.get(slot >>> CHUNK_BITS) == null) {
          chunks.set(slot >>> CHUNK_BITS, new Chunk());
        }
      } else {
        return 0L;
      }
      Chunk c = chunks.get(slot >>> CHUNK_BITS);
      int i = slot & (CHUNK - 1);
      int gen = c.generations[i] + 1;
      if (gen == 0) {
        gen = 1;
      }
      c.generations[i] = gen;
      long h = pack(kind, gen, slot);
      entry.handle = h;
      c.slots.set(i, entry);
      live++;
      return h;
    } finally {
      lock.unlock();
    }
  }

  /**
   * The entry a handle names, if it is live and of {@code kind}.
   *
   * @return the entry, or null for a stale, foreign or forged handle
   */
  Entry get(long handle, int kind) {
    if (handle <= 0 || kind(handle) != kind) {
      return null;
    }
    Chunk c = chunks.get((int) (handle & SLOT_MASK) >>> CHUNK_BITS);
    if (c == null) {
      return null;
    }
    Entry e = c.slots.get((int) (handle & SLOT_MASK) & (CHUNK - 1));
    return e != null && e.handle == handle ? e : null;
  }

  /**
   * Removes the entry a handle names; of concurrent removals of one handle exactly one succeeds.
   *
   * @return the removed entry, or null if the handle was not live
   */
  Entry remove(long handle, int kind) {
    Entry e = get(handle, kind);
    if (e == null) {
      return null;
    }
    int slot = (int) (handle & SLOT_MASK);
    Chunk c = chunks.get(slot >>> CHUNK_BITS);
    if (!c.slots.compareAndSet(slot & (CHUNK - 1), e, null)) {
      return null;
    }
    lock.lock();
    try {
      if (freeSize == freeRing.length) {
        int[] bigger = new int[freeRing.length * 2];
        for (int k = 0; k < freeSize; k++) {
          bigger[k] = freeRing[(freeHead + k) % freeRing.length];
        }
        freeRing = bigger;
        freeHead = 0;
      }
      freeRing[(freeHead + freeSize) % freeRing.length] = slot;
      freeSize++;
      live--;
    } finally {
      lock.unlock();
    }
    return e;
  }

  /**
   * Handles live now.
   *
   * @return the count
   */
  int live() {
    lock.lock();
    try {
      return live;
    } finally {
      lock.unlock();
    }
  }

  static long pack(int kind, int generation, int slot) {
    return ((kind & KIND_MASK) << KIND_SHIFT)
        | ((generation & GENERATION_MASK) << GENERATION_SHIFT)
        | (slot & SLOT_MASK);
  }

  static int kind(long handle) {
    return (int) ((handle >>> KIND_SHIFT) & KIND_MASK);
  }

  static int generation(long handle) {
    return (int) ((handle >>> GENERATION_SHIFT) & GENERATION_MASK);
  }

  static int slot(long handle) {
    return (int) (handle & SLOT_MASK);
  }
}
