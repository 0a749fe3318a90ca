package io.kvtier;

import java.time.Duration;

/**
 * An agent conversation: a sequence of requests that continue one context. The session remembers
 * the path of its latest committed sequence, so it can pin it through pauses.
 *
 * <p>Thread-safe.
 */
public interface Session {

  /**
   * The id.
   *
   * @return the session id
   */
  String id();

  /**
   * Pins the session's current prefix until {@code ttl} passes on the cache's ticker, or until
   * {@link #unpin()}. A new pin replaces the old one.
   *
   * @param ttl how long, positive
   */
  void pin(Duration ttl);

  /** Drops the session's pin, if any. */
  void unpin();

  /**
   * Sets the retention priority of the session's blocks.
   *
   * @param priority 0 (evict first) to 100 (evict last)
   */
  void priority(int priority);

  /**
   * The session stops for a while; the retention policy decides whether to pin it and for how long.
   * A pause's pin is soft: when the top tier has nothing else to evict, the pause pin nearest its
   * expiry gives way rather than a request failing for pages (a pin asked for with {@link
   * #pin(Duration)} never does).
   *
   * @param kind why it stops
   * @param expected the engine's estimate of the pause
   */
  void pause(PauseKind kind, Duration expected);

  /** The session is back: its pause pin (if any) is dropped. */
  void resume();

  /**
   * The agent compacted its context: the session's current prefix will not be asked for again and
   * goes first when memory is needed.
   */
  void compacted();

  /**
   * Blocks pinned by this session now.
   *
   * @return pinned blocks
   */
  int pinnedBlocks();

  /**
   * Limits the pages of the top tier charged to this session. A page is charged to the session
   * whose request allocated it (for a new block, on onboarding, or for copy-on-write), from this
   * call on, and stays charged while it lives, also once it is a shared cached block: the first
   * user pays, as in memory cgroups. A session at its quota that needs a page evicts one of its own
   * evictable blocks first, never another holder's; when it has none, the request fails with {@link
   * QuotaExceededException} and is unchanged (a hard limit, not a clamp). Lowering the quota below
   * the session's pages evicts its evictable ones now; the rest go first whenever the top tier
   * needs room.
   *
   * @param blocks the most top-tier pages, 0 or more; {@link Integer#MAX_VALUE} for no limit
   * @throws IllegalArgumentException if {@code blocks} is negative
   */
  void quota(int blocks);

  /**
   * Top-tier pages charged to this session now (see {@link #quota(int)}); 0 while it has never had
   * a quota.
   *
   * @return charged pages
   */
  int chargedBlocks();

  /** Forgets the session and drops its pins. */
  void end();
}
