package io.kvtier;

/**
 * Misuse of the cache: bad sizes, unknown or stale handles, double release, use after close. The
 * operation that threw had no effect.
 */
public class KvTierException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /**
   * A new exception.
   *
   * @param message what was wrong and what to do instead
   */
  public KvTierException(String message) {
    super(message);
  }

  /**
   * A new exception with a cause.
   *
   * @param message what was wrong
   * @param cause the underlying failure
   */
  public KvTierException(String message, Throwable cause) {
    super(message, cause);
  }
}
