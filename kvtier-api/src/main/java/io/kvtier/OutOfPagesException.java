package io.kvtier;

/**
 * A tier has no free page and nothing it holds can be evicted (every block is pinned by a lease or
 * a session). The lease that asked is unchanged; release leases or sessions, or give the tier more
 * capacity. Its subclass {@link QuotaExceededException} says that a tenant's or session's quota,
 * not the tier, ran out.
 */
public class OutOfPagesException extends KvTierException {
  private static final long serialVersionUID = 1L;

  /**
   * A new exception.
   *
   * @param message which tier and how many pages were wanted
   */
  public OutOfPagesException(String message) {
    super(message);
  }
}
