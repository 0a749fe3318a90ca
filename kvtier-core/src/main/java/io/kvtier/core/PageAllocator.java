package io.kvtier.core;

import io.kvtier.PageHandle;
import io.kvtier.StaleHandleException;
import io.kvtier.spi.PageStore;
import java.util.Arrays;
import java.util.Objects;

/**
 * Issues generation-tagged, reference-counted page handles over one tier's {@link PageStore}.
 *
 * <h2>Allocation</h2>
 *
 * <p>The store owns which slots are free and chooses them (O(1), preferring a hint); this class
 * owns what a handle means. A handle is a {@code long} laid out by {@link PageHandle}: tier
 * ordinal, generation, slot index. Per slot it keeps two {@code int}s in parallel arrays, the
 * current generation and the reference count, and nothing on the Java heap per page or per call. A
 * slot with reference count 0 is free. Generations start at 1 and advance (skipping 0, see {@link
 * PageHandle#nextGeneration(int)}) each time the slot is freed, so a handle kept past its page's
 * release is detected as stale whether or not the slot was reused since: its generation no longer
 * matches, or the slot is free. A generation repeats only after 2<sup>28</sup>-1 frees of the same
 * slot.
 *
 * <p>Contiguity: {@link #allocate(long)} takes the previous page of the same sequence and asks the
 * store for the slot after it, so a sequence's pages tend to form one run of slots; transfers of
 * the sequence then coalesce into few large copies, and dropping a branch returns whole runs. When
 * that slot is taken it asks with no hint, so the store takes the start of a long free run rather
 * than splitting one in the middle: a request that resumes after a cached prefix always finds the
 * slot after its prefix taken, and splitting there halved the largest free run at every such
 * request, leaving a filling tier in hundreds of short runs.
 *
 * <p>Misuse fails loudly and changes nothing: every method that takes a handle validates it first
 * and throws {@link StaleHandleException} naming the handle and the reason (wrong tier, index out
 * of range, page not allocated, generation mismatch). A double release is a release of a handle
 * whose page is no longer allocated, so it is caught the same way. Running out of pages is an
 * expected outcome, not misuse: {@code allocate} returns {@link PageHandle#NONE}.
 *
 * <h2>Concurrency</h2>
 *
 * <p>Not thread-safe: one writer, the cache's metadata thread (or whoever holds its lock), calls
 * every method. The store's {@code read}/{@code write} on page memory may run on transfer threads
 * concurrently; they do not touch this class.
 *
 * <h2>References</h2>
 *
 * <p>Netty's {@code PoolChunk} (a page run encoded in a {@code long} handle) and {@code
 * ReferenceCounted}; generation-tagged handles as in slot maps / generational indices (the
 * "generational arena" of entity-component systems).
 */
final class PageAllocator {

  private final int tier;
  private final PageStore store;
  private final int capacity;
  private final int[] generation;
  private final int[] refCount;
  private int used;
  private java.util.function.IntConsumer onFree;

  /**
   * An allocator over every slot of {@code store}, all of which must be free.
   *
   * @param tierOrdinal the tier's position, 0 to {@link PageHandle#MAX_TIER}
   * @param store the tier's store
   * @throws IllegalArgumentException if the ordinal is out of range or the store's capacity does
   *     not fit in an {@code int}
   */
  PageAllocator(int tierOrdinal, PageStore store) {
    if (tierOrdinal < 0 || tierOrdinal > PageHandle.MAX_TIER) {
      throw new IllegalArgumentException(
          "tier ordinal must be 0 to " + PageHandle.MAX_TIER + ", was " + tierOrdinal);
    }
    Objects.requireNonNull(store, "store");
    long pages = store.capacityPages();
    if (pages < 1 || pages > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "tier '"
              + store.name()
              + "' has "
              + pages
              + " pages; a page allocator manages 1 to "
              + Integer.MAX_VALUE
              + " (use larger pages or a smaller tier)");
    }
    this.tier = tierOrdinal;
    this.store = store;
    this.capacity = (int) pages;
    this.generation = new int[capacity];
    this.refCount = new int[capacity];
    Arrays.fill(generation, 1);
  }

  /**
   * Allocates a page with reference count 1, after {@code hintHandle}'s page if that slot is free.
   *
   * @param hintHandle the previous page of the same sequence in this tier, or {@link
   *     PageHandle#NONE}
   * @return the new page's handle, or {@link PageHandle#NONE} if the tier is full
   * @throws StaleHandleException if {@code hintHandle} is neither {@code NONE} nor a live handle of
   *     this tier
   */
  long allocate(long hintHandle) {
    long hint = -1;
    if (hintHandle != PageHandle.NONE) {
      int previous = slotOf(hintHandle);
      if (previous + 1 < capacity && refCount[previous + 1] == 0) {
        hint = previous + 1;
      }
    }
    long slot = store.allocate(hint);
    if (slot == PageStore.NO_SPACE) {
      return PageHandle.NONE;
    }
    if (slot < 0 || slot >= capacity || refCount[(int) slot] != 0) {
      throw new IllegalStateException(
          "tier '" + store.name() + "' returned slot " + slot + ", which is not a free slot");
    }
    int s = (int) slot;
    refCount[s] = 1;
    used++;
    return PageHandle.of(tier, generation[s], s);
  }

  /**
   * Allocates the page in exactly {@code slot}, with reference count 1, if the slot is free and the
   * store gives it (a store that treats hints as preferences may give another, which is then
   * returned to it).
   *
   * @param slot a slot
   * @return its handle, or {@link PageHandle#NONE} if the store did not give that slot
   */
  long allocateAt(int slot) {
    if (slot < 0 || slot >= capacity || refCount[slot] != 0) {
      return PageHandle.NONE;
    }
    long got = store.allocate(slot);
    if (got != slot) {
      if (got != PageStore.NO_SPACE) {
        store.free(got);
      }
      return PageHandle.NONE;
    }
    refCount[slot] = 1;
    used++;
    return PageHandle.of(tier, generation[slot], slot);
  }

  /**
   * Takes ownership of a slot the store already marked allocated (a page recovered at open), with
   * one reference.
   *
   * @param slot the slot
   * @return its handle
   */
  long adopt(int slot) {
    if (slot < 0 || slot >= capacity || refCount[slot] != 0) {
      throw new IllegalStateException(
          "tier '" + store.name() + "' recovered slot " + slot + ", which is not adoptable");
    }
    refCount[slot] = 1;
    used++;
    return PageHandle.of(tier, generation[slot], slot);
  }

  /**
   * References on a slot, 0 when free (for invariant checks).
   *
   * @param slot the slot
   * @return its reference count
   */
  int refCountOfSlot(int slot) {
    return refCount[slot];
  }

  /**
   * Adds a reference to an allocated slot and returns its handle: what {@code retain(handleOf(s))}
   * does, without encoding and validating the handle a second time (the acquire path does this once
   * per matched block).
   *
   * @param slot an allocated slot
   * @return its handle
   */
  long retainSlot(int slot) {
    long h = handleOf(slot);
    if (refCount[slot] == Integer.MAX_VALUE) {
      throw new IllegalStateException(
          "reference count of " + PageHandle.toString(h) + " would overflow");
    }
    refCount[slot]++;
    return h;
  }

  /**
   * Adds a reference.
   *
   * @param handle a live handle
   * @throws StaleHandleException if the handle is not live
   * @throws IllegalStateException if the count would overflow
   */
  void retain(long handle) {
    int s = slotOf(handle);
    if (refCount[s] == Integer.MAX_VALUE) {
      throw new IllegalStateException(
          "reference count of " + PageHandle.toString(handle) + " would overflow");
    }
    refCount[s]++;
  }

  /**
   * Drops a reference; the last one returns the page to the store and makes every handle to it
   * stale.
   *
   * @param handle a live handle
   * @return true if the page was freed
   * @throws StaleHandleException if the handle is not live (for example, released already)
   */
  boolean release(long handle) {
    int s = slotOf(handle);
    if (refCount[s] > 1) {
      refCount[s]--;
      return false;
    }
    store.free(s);
    refCount[s] = 0;
    generation[s] = PageHandle.nextGeneration(generation[s]);
    used--;
    if (onFree != null) {
      onFree.accept(s);
    }
    return true;
  }

  /**
   * Calls {@code listener} with the slot of every page freed from now on (after the store took it
   * back), under the caller's lock: how the cache's quota accounting learns that a charged page is
   * gone.
   *
   * @param listener the listener, or null for none
   */
  void onFree(java.util.function.IntConsumer listener) {
    this.onFree = listener;
  }

  /**
   * The page's reference count.
   *
   * @param handle a live handle
   * @return at least 1
   * @throws StaleHandleException if the handle is not live
   */
  int refCount(long handle) {
    return refCount[slotOf(handle)];
  }

  /**
   * The live handle of an allocated slot.
   *
   * @param slot a slot in use
   * @return its handle
   * @throws IllegalArgumentException if the slot is out of range or free
   */
  long handleOf(int slot) {
    if (slot < 0 || slot >= capacity) {
      throw new IllegalArgumentException(
          "tier '" + store.name() + "': slot " + slot + " is out of range [0, " + capacity + ")");
    }
    if (refCount[slot] == 0) {
      throw new IllegalArgumentException(
          "tier '" + store.name() + "': slot " + slot + " is not allocated");
    }
    return PageHandle.of(tier, generation[slot], slot);
  }

  /**
   * Checks that a handle names a live page of this tier.
   *
   * @param handle a handle
   * @throws StaleHandleException naming the handle and why it is not live
   */
  void validate(long handle) {
    slotOf(handle);
  }

  /**
   * The tier ordinal in this allocator's handles.
   *
   * @return 0 to {@link PageHandle#MAX_TIER}
   */
  int tierOrdinal() {
    return tier;
  }

  /**
   * The store whose slots this allocator hands out.
   *
   * @return the store
   */
  PageStore store() {
    return store;
  }

  /**
   * Pages allocated.
   *
   * @return pages with a reference count above 0
   */
  long usedPages() {
    return used;
  }

  /**
   * Pages free.
   *
   * @return capacity minus used pages
   */
  long freePages() {
    return capacity - used;
  }

  /**
   * Maximal runs of free slots, a measure of fragmentation.
   *
   * @return the store's free runs
   */
  long freeRuns() {
    return store.freeRuns();
  }

  /**
   * The longest run of free slots.
   *
   * @return its length in pages
   */
  long largestFreeRun() {
    return store.largestFreeRun();
  }

  @Override
  public String toString() {
    return "PageAllocator[tier="
        + tier
        + " '"
        + store.name()
        + "', used="
        + used
        + ", capacity="
        + capacity
        + "]";
  }

  private int slotOf(long handle) {
    long index = PageHandle.index(handle);
    if (PageHandle.tier(handle) != tier
        || index >= capacity
        || refCount[(int) index] == 0
        || generation[(int) index] != PageHandle.generation(handle)) {
      throw stale(handle);
    }
    return (int) index;
  }

  private StaleHandleException stale(long handle) {
    String reason;
    int index = (int) Math.min(PageHandle.index(handle), Integer.MAX_VALUE);
    if (PageHandle.tier(handle) != tier) {
      reason = "it belongs to tier " + PageHandle.tier(handle) + ", not tier " + tier;
    } else if (PageHandle.index(handle) >= capacity) {
      reason = "index out of range [0, " + capacity + ")";
    } else if (refCount[index] == 0) {
      reason = "page not allocated (released, or never issued)";
    } else {
      reason =
          "generation mismatch: the slot is at generation "
              + generation[index]
              + " (freed and maybe reused)";
    }
    return new StaleHandleException(
        "stale handle "
            + PageHandle.toString(handle)
            + " for tier '"
            + store.name()
            + "': "
            + reason);
  }
}
