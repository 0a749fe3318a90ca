package io.kvtier;

/**
 * The bit layout of a page handle: a {@code long} naming one page of one tier at one moment.
 *
 * <pre>
 *  63      60 59                        32 31                               0
 * +----------+----------------------------+----------------------------------+
 * |  tier    |        generation          |            page index            |
 * |  4 bits  |          28 bits           |             32 bits              |
 * +----------+----------------------------+----------------------------------+
 * </pre>
 *
 * <p>The generation of a page index advances every time the page is freed, so a handle kept after
 * its page was freed (or reused) is detected as stale rather than silently reading another block's
 * KV. Generations start at 1, so no valid handle is {@link #NONE}. The page index is what an
 * attention kernel wants: the slot of the page inside the tier's memory (for HBM, the block id).
 */
public final class PageHandle {

  /** Not a handle: "no page". */
  public static final long NONE = 0L;

  /** Bits of the page index. */
  public static final int INDEX_BITS = 32;

  /** Bits of the generation. */
  public static final int GENERATION_BITS = 28;

  /** Bits of the tier ordinal. */
  public static final int TIER_BITS = 4;

  /** Largest tier ordinal. */
  public static final int MAX_TIER = (1 << TIER_BITS) - 1;

  /** Largest generation; the next one wraps to 1. */
  public static final int MAX_GENERATION = (1 << GENERATION_BITS) - 1;

  private static final int GENERATION_SHIFT = INDEX_BITS;
  private static final int TIER_SHIFT = INDEX_BITS + GENERATION_BITS;
  private static final long INDEX_MASK = (1L << INDEX_BITS) - 1;
  private static final long GENERATION_MASK = (1L << GENERATION_BITS) - 1;
  private static final long TIER_MASK = (1L << TIER_BITS) - 1;

  private PageHandle() {}

  /**
   * Packs a handle.
   *
   * @param tier tier ordinal, 0 to {@link #MAX_TIER}
   * @param generation 1 to {@link #MAX_GENERATION}
   * @param index page index, 0 to 2<sup>32</sup>-1
   * @return the handle
   */
  public static long of(int tier, int generation, long index) {
    return ((tier & TIER_MASK) << TIER_SHIFT)
        | ((generation & GENERATION_MASK) << GENERATION_SHIFT)
        | (index & INDEX_MASK);
  }

  /**
   * The tier ordinal of a handle (its position in the builder's tier list).
   *
   * @param handle a handle
   * @return the tier ordinal
   */
  public static int tier(long handle) {
    return (int) ((handle >>> TIER_SHIFT) & TIER_MASK);
  }

  /**
   * The generation of a handle.
   *
   * @param handle a handle
   * @return the generation
   */
  public static int generation(long handle) {
    return (int) ((handle >>> GENERATION_SHIFT) & GENERATION_MASK);
  }

  /**
   * The page index (slot) of a handle.
   *
   * @param handle a handle
   * @return the page index
   */
  public static long index(long handle) {
    return handle & INDEX_MASK;
  }

  /**
   * The generation that follows {@code generation}, skipping 0.
   *
   * @param generation a generation
   * @return the next one
   */
  public static int nextGeneration(int generation) {
    return generation >= MAX_GENERATION ? 1 : generation + 1;
  }

  /**
   * A readable form, for messages.
   *
   * @param handle a handle
   * @return e.g. {@code page[tier=0, index=17, gen=3]}
   */
  public static String toString(long handle) {
    return "page[tier="
        + tier(handle)
        + ", index="
        + index(handle)
        + ", gen="
        + generation(handle)
        + "]";
  }
}
