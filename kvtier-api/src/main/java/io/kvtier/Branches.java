package io.kvtier;

/**
 * Speculative continuations forked from one lease. Each branch is a {@link Lease} that starts with
 * the parent's tokens and shares its pages; a shared partial last page is copied the first time the
 * branch writes to it. {@link #keep(int)} chooses the survivor; the others go to the cache's {@link
 * io.kvtier.spi.BranchPolicy}, which frees them as whole runs or keeps them as low-priority cache.
 */
public interface Branches {

  /**
   * Number of branches.
   *
   * @return k
   */
  int size();

  /**
   * Branch {@code i}.
   *
   * @param i 0 to size-1
   * @return its lease
   */
  Lease branch(int i);

  /**
   * Keeps branch {@code i} and reclaims every other.
   *
   * @param i the survivor
   * @return the survivor's lease
   */
  Lease keep(int i);

  /** Reclaims every branch (no survivor). */
  void discardAll();
}
