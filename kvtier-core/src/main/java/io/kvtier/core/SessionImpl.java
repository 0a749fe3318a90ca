package io.kvtier.core;

import io.kvtier.CacheClosedException;
import io.kvtier.PauseKind;
import io.kvtier.Session;
import java.time.Duration;

/**
 * An agent session: the deepest block of its latest committed sequence, and at most one pin on it.
 *
 * <p>The block is remembered as (id, key fingerprint), because ids are reused after eviction: a
 * session whose block was evicted simply has nothing to pin. A pin is a reference like a lease's
 * (STYLE §8): it protects the whole path, since eviction is leaf-first. A new commit by the session
 * moves the pin to the new deepest block. All methods take the cache's lock.
 */
final class SessionImpl implements Session {
  private final KvCacheImpl cache;
  private final String id;

  private int tail = PrefixIndex.NONE;
  private long tailFingerprint;
  private int pinned = PrefixIndex.NONE;
  long pinUntil = Long.MAX_VALUE;
  private boolean pinnedByPause;
  private boolean ended;
  private int turns;

  SessionImpl(KvCacheImpl cache, String id) {
    this.cache = cache;
    this.id = id;
  }

  @Override
  public String id() {
    return id;
  }

  private void check() {
    cache.ensureOpen();
    if (ended) {
      throw new CacheClosedException("session '" + id + "' has ended");
    }
  }

  /** The turn of the session's next request: its request count, saturating (lock held). */
  int nextTurn() {
    if (turns < 15) {
      turns++;
    }
    return turns;
  }

  private boolean tailValid() {
    return tail != PrefixIndex.NONE && cache.index.sameBlock(tail, tailFingerprint);
  }

  @Override
  public void pin(Duration ttl) {
    if (ttl == null || ttl.isNegative() || ttl.isZero()) {
      throw new IllegalArgumentException("ttl must be positive, was " + ttl);
    }
    cache.lock.lock();
    try {
      check();
      cache.tick();
      pinFor(ttl, false);
    } finally {
      cache.lock.unlock();
    }
  }

  private void pinFor(Duration ttl, boolean byPause) {
    if (!tailValid()) {
      return;
    }
    if (pinned != tail) {
      dropPin();
      cache.index.pin(tail);
      pinned = tail;
    }
    pinUntil = KvCacheImpl.deadline(cache.ticker.read(), ttl);
    pinnedByPause = byPause;
    cache.schedulePinExpiry(this);
  }

  private void dropPin() {
    if (pinned != PrefixIndex.NONE) {
      cache.index.unpin(pinned);
      pinned = PrefixIndex.NONE;
      cache.cancelPinExpiry(this);
      pinUntil = Long.MAX_VALUE;
      pinnedByPause = false;
    }
  }

  /** Whether the pin is a pause's (policy), which may give way, rather than the engine's own. */
  boolean pinnedByPause() {
    return pinnedByPause && pinned != PrefixIndex.NONE;
  }

  /**
   * Called by the cache when the TTL passed, or when a pause's pin gives way to an allocation that
   * found nothing else to evict (the cache has already taken the session off its expiry queue).
   */
  void expirePin() {
    if (pinned != PrefixIndex.NONE) {
      cache.index.unpin(pinned);
      pinned = PrefixIndex.NONE;
      pinUntil = Long.MAX_VALUE;
      pinnedByPause = false;
    }
  }

  @Override
  public void unpin() {
    cache.lock.lock();
    try {
      check();
      dropPin();
    } finally {
      cache.lock.unlock();
    }
  }

  @Override
  public void priority(int priority) {
    if (priority < 0 || priority > 100) {
      throw new IllegalArgumentException("priority must be in [0, 100], was " + priority);
    }
    cache.lock.lock();
    try {
      check();
      if (tailValid()) {
        cache.index.forPrivateChain(tail, b -> cache.setPriority(b, priority));
      }
    } finally {
      cache.lock.unlock();
    }
  }

  @Override
  public void pause(PauseKind kind, Duration expected) {
    if (kind == null) {
      throw new IllegalArgumentException("kind must not be null");
    }
    cache.lock.lock();
    try {
      check();
      cache.tick();
      long contextTokens = tailValid() ? (long) cache.index.depth(tail) * cache.tpb : 0;
      Duration ttl =
          cache.config.retention().pauseTtl(kind, expected, contextTokens, cache.hasLowerTier());
      if (ttl != null && !ttl.isNegative() && !ttl.isZero()) {
        pinFor(ttl, true);
      }
      if (tailValid()) {
        long nanos = expected == null || expected.isNegative() ? 0 : saturatedNanos(expected);
        cache.setPause(tail, kind, nanos);
      }
      cache.cancelPromotion(this);
      cache.config.prefetch().onPause(id, kind, expected, cache.prefetchContext());
    } finally {
      cache.lock.unlock();
    }
  }

  private static long saturatedNanos(Duration d) {
    try {
      return d.toNanos();
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE;
    }
  }

  @Override
  public void resume() {
    cache.lock.lock();
    try {
      check();
      cache.tick();
      if (pinnedByPause) {
        dropPin();
      }
      if (tailValid()) {
        cache.setPause(tail, null, 0);
      }
      cache.cancelPromotion(this);
      cache.config.prefetch().onResume(id, cache.prefetchContext());
    } finally {
      cache.lock.unlock();
    }
  }

  @Override
  public void compacted() {
    cache.lock.lock();
    try {
      check();
      dropPin();
      if (tailValid()) {
        cache.index.forPrivateChain(tail, cache.index::markDead);
      }
      tail = PrefixIndex.NONE;
    } finally {
      cache.lock.unlock();
    }
  }

  @Override
  public int pinnedBlocks() {
    cache.lock.lock();
    try {
      if (ended || cache.isClosed()) {
        return 0;
      }
      cache.tick();
      return pinned == PrefixIndex.NONE ? 0 : cache.index.depth(pinned);
    } finally {
      cache.lock.unlock();
    }
  }

  @Override
  public void end() {
    cache.lock.lock();
    try {
      if (ended || cache.isClosed()) {
        ended = true;
        return;
      }
      dropPin();
      ended = true;
      cache.forgetSession(this);
    } finally {
      cache.lock.unlock();
    }
  }

  /** The session's lease committed up to {@code block} (lock held). */
  void advance(int block) {
    tail = block;
    tailFingerprint = cache.index.fingerprint(block);
    if (pinned != PrefixIndex.NONE && pinned != block) {
      cache.index.pin(block);
      cache.index.unpin(pinned);
      pinned = block;
    }
  }

  /** The block the session's last commit ended at, or {@link PrefixIndex#NONE}. */
  int tail() {
    return tail;
  }

  /** The key fingerprint {@link #tail()} had when the session reached it. */
  long tailFingerprint() {
    return tailFingerprint;
  }

  int pinnedBlock() {
    return pinned;
  }

  @Override
  public void quota(int blocks) {
    if (blocks < 0) {
      throw new IllegalArgumentException("quota must not be negative, was " + blocks);
    }
    cache.lock.lock();
    try {
      check();
      cache.tick();
      cache.hints.sessionQuota(id, blocks);
    } finally {
      cache.lock.unlock();
    }
  }

  @Override
  public int chargedBlocks() {
    cache.lock.lock();
    try {
      return ended || cache.isClosed() ? 0 : cache.hints.sessionCharged(id);
    } finally {
      cache.lock.unlock();
    }
  }

  void markEnded() {
    ended = true;
  }
}
