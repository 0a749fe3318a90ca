package io.kvtier.core;

import io.kvtier.Branches;
import io.kvtier.KvTierException;
import io.kvtier.Lease;
import io.kvtier.spi.BranchPolicy;

/**
 * Speculative branches of one lease. Each branch is a full {@link LeaseImpl} that took its own
 * references on the parent's pages; a shared partial last page is copied on the branch's first
 * write ({@code LeaseImpl.growTo}). Discarding a branch applies the {@link BranchPolicy}: its full
 * blocks may first be published as dead, lowest-priority cache (within the per-session cap), then
 * the branch is closed, which returns the pages only it held: they were allocated with
 * previous-page hints, so those taken from free space come back as whole runs (those taken by
 * evicting come back where the victims were).
 *
 * <p>A branch's commits advance its session like any commit, so before the others are reclaimed the
 * session is moved back to the survivor's tail (to the fork point when none survives), if it was
 * left on a branch: otherwise a pause would pin, and the next turn would extend, a discarded path.
 */
final class BranchesImpl implements Branches {
  private final KvCacheImpl cache;
  private final LeaseImpl[] branches;
  private final int forkTail;
  private final long forkFingerprint;
  private boolean decided;

  /** The lowest and highest slot of the runs the branches took ({@link #took}); -1 before any. */
  int low = -1;

  int high = -1;

  /** Branches just forked, before any of them committed (the caller holds the lock). */
  BranchesImpl(KvCacheImpl cache, LeaseImpl[] branches) {
    this.cache = cache;
    this.branches = branches;
    this.forkTail = branches[0].tail();
    this.forkFingerprint = forkTail == PrefixIndex.NONE ? 0 : cache.index.fingerprint(forkTail);
  }

  /** A branch took the run of {@code n} slots from {@code first}. */
  void took(int first, int n) {
    if (low < 0) {
      low = first;
      high = first + n - 1;
    } else {
      low = Math.min(low, first);
      high = Math.max(high, first + n - 1);
    }
  }

  @Override
  public int size() {
    return branches.length;
  }

  @Override
  public Lease branch(int i) {
    checkIndex(i);
    return branches[i];
  }

  private void checkIndex(int i) {
    if (i < 0 || i >= branches.length) {
      throw new IllegalArgumentException(
          "branch index must be in [0, " + branches.length + "), was " + i);
    }
  }

  @Override
  public Lease keep(int i) {
    checkIndex(i);
    cache.lock.lock();
    try {
      cache.ensureOpen();
      decide();
      LeaseImpl survivor = branches[i];
      int tail = survivor.isOpenUnlocked() ? survivor.tail() : PrefixIndex.NONE;
      if (tail == PrefixIndex.NONE) {
        moveSessionOffBranches(forkTail, forkFingerprint);
      } else {
        moveSessionOffBranches(tail, cache.index.fingerprint(tail));
      }
      discardInSlotOrder(i);
      return branches[i];
    } finally {
      cache.lock.unlock();
    }
  }

  @Override
  public void discardAll() {
    cache.lock.lock();
    try {
      cache.ensureOpen();
      decide();
      moveSessionOffBranches(forkTail, forkFingerprint);
      discardInSlotOrder(-1);
    } finally {
      cache.lock.unlock();
    }
  }

  /** Moves the branches' session to {@code tail} if one of the branches left it on its own path. */
  private void moveSessionOffBranches(int tail, long fingerprint) {
    SessionImpl s = cache.existingSession(branches[0].sessionId());
    if (s == null || tail == PrefixIndex.NONE || !cache.index.sameBlock(tail, fingerprint)) {
      return;
    }
    int at = s.tail();
    if (at == tail || at == PrefixIndex.NONE) {
      return;
    }
    for (LeaseImpl b : branches) {
      if (b.isOpenUnlocked() && b.tail() == at && b.committedBlocks() > b.forkCommitted()) {
        s.advance(tail);
        return;
      }
    }
  }

  private void decide() {
    if (decided) {
      throw new KvTierException("these branches were already kept or discarded");
    }
    decided = true;
  }

  /**
   * Discards every branch but {@code survivor} (-1: all), lowest first slot first, so that the
   * pages the policy keeps (each branch's nearest the fork, while the session's allowance lasts)
   * are the lowest of the group's runs and what is freed is the rest, in one piece.
   */
  private void discardInSlotOrder(int survivor) {
    Integer[] order = new Integer[branches.length];
    int n = 0;
    for (int j = 0; j < branches.length; j++) {
      if (j != survivor) {
        order[n++] = j;
      }
    }
    int[] first = new int[branches.length];
    for (int j = 0; j < branches.length; j++) {
      int s = branches[j].isOpenUnlocked() ? branches[j].firstOwnSlot() : -1;
      first[j] = s < 0 ? Integer.MAX_VALUE : s;
    }
    java.util.Arrays.sort(order, 0, n, (a, b) -> Integer.compare(first[a], first[b]));
    long[] chains = new long[0];
    int chainLength = 0;
    for (int x = 0; x < n; x++) {
      LeaseImpl b = branches[order[x]];
      int own = b.isOpenUnlocked() ? b.committedBlocks() - b.forkCommitted() : 0;
      if (low >= 0 && own > 0) {
        if (chains.length < chainLength + own) {
          chains = java.util.Arrays.copyOf(chains, Math.max(chainLength + own, 2 * chains.length));
        }
        for (int i = 0, blk = b.tail(); i < own && !PrefixIndex.isRoot(blk); i++) {
          chains[chainLength++] = ((long) blk << 32) | (cache.index.fingerprint(blk) & 0xFFFFFFFFL);
          blk = cache.index.parent(blk);
        }
      }
      discard(b);
    }
    if (chainLength > 0) {
      cache.moveKeptOutOf(low, high, chains, chainLength);
    }
  }

  private void discard(LeaseImpl b) {
    if (!b.isOpenUnlocked()) {
      return;
    }
    // Only what the branch committed holds computed KV; its uncommitted pages are just freed.
    int own = b.committedBlocks() - b.forkCommitted();
    int tail = b.tail();
    long fp = tail == PrefixIndex.NONE ? 0 : cache.index.fingerprint(tail);
    b.release();
    if (own <= 0) {
      return;
    }
    BranchPolicy policy = cache.config.branches();
    int keep = 0;
    if (policy.keepAsCache()) {
      keep = Math.max(0, Math.min(own, cache.keptBranchBudget(b.sessionId())));
    }
    cache.discardChain(b.sessionId(), tail, fp, own, keep);
  }
}
