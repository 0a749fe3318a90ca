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

  /** Forgets the session and drops its pins. */
  void end();
}
