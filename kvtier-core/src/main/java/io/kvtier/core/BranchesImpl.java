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
 * previous-page hints, so they come back as whole runs.
 */
final class BranchesImpl implements Branches {
  private final KvCacheImpl cache;
  private final LeaseImpl[] branches;
  private boolean decided;

  BranchesImpl(KvCacheImpl cache, LeaseImpl[] branches) {
    this.cache = cache;
    this.branches = branches;
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
      for (int j = 0; j < branches.length; j++) {
        if (j != i) {
          discard(branches[j]);
        }
      }
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
      for (LeaseImpl b : branches) {
        discard(b);
      }
    } finally {
      cache.lock.unlock();
    }
  }

  private void decide() {
    if (decided) {
      throw new KvTierException("these branches were already kept or discarded");
    }
    decided = true;
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
