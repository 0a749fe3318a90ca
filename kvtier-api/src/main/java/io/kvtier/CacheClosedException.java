package io.kvtier;

/** The cache (or the lease, session or tier the call went to) was closed. */
public final class CacheClosedException extends KvTierException {
  private static final long serialVersionUID = 1L;

  /**
   * A new exception.
   *
   * @param message what was closed
   */
  public CacheClosedException(String message) {
    super(message);
  }
}
