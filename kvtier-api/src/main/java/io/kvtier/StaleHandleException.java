package io.kvtier;

/** A page handle that was freed, belongs to another tier, or was never issued. */
public final class StaleHandleException extends KvTierException {
  private static final long serialVersionUID = 1L;

  /**
   * A new exception.
   *
   * @param message which handle and why it is stale
   */
  public StaleHandleException(String message) {
    super(message);
  }
}
