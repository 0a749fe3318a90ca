package io.kvtier.cxl;

/**
 * The shared pool's directory: block key (128 bits) to the slot that holds the block, as a packed
 * {@code long} entry (see {@link #entry}). Shared by every process that has the pool open; every
 * operation is atomic across processes. The slot table stays the authority on a slot's state: an
 * entry is a hint that a reader confirms (slot state, generation, header) before trusting it.
 */
interface BlockDirectory extends AutoCloseable {

  /** What {@link #get} returns for a key that is not there. */
  long ABSENT = -1L;

  /**
   * Packs a slot and its generation.
   *
   * @param slot the slot
   * @param gen the slot's generation when the block was published
   * @return the entry
   */
  static long entry(long slot, long gen) {
    return slot << 32 | (gen & 0xFFFF_FFFFL);
  }

  static long slot(long entry) {
    return entry >>> 32;
  }

  static long gen(long entry) {
    return entry & 0xFFFF_FFFFL;
  }

  /**
   * The entry for a key.
   *
   * @param keyHi key, high bits
   * @param keyLo key, low bits
   * @return the entry, or {@link #ABSENT}
   */
  long get(long keyHi, long keyLo);

  /**
   * Adds an entry unless the key has one.
   *
   * @param keyHi key, high bits
   * @param keyLo key, low bits
   * @param entry the entry
   * @param ownerPid the publishing process, kept for diagnostics
   * @return {@link #ABSENT} if added, else the entry already there
   */
  long putIfAbsent(long keyHi, long keyLo, long entry, long ownerPid);

  /**
   * Replaces {@code expected} with {@code entry}.
   *
   * @param keyHi key, high bits
   * @param keyLo key, low bits
   * @param expected the entry that must be there
   * @param entry the new entry
   * @param ownerPid the publishing process
   * @return true if replaced
   */
  boolean replace(long keyHi, long keyLo, long expected, long entry, long ownerPid);

  /**
   * Removes the key if it maps to {@code entry}.
   *
   * @param keyHi key, high bits
   * @param keyLo key, low bits
   * @param entry the entry that must be there
   * @return true if removed
   */
  boolean remove(long keyHi, long keyLo, long entry);

  /**
   * Entries in the directory.
   *
   * @return the count
   */
  long size();

  @Override
  void close();
}
