package io.kvtier;

/**
 * A tenant or a session reached its top-tier quota ({@link KvCacheBuilder#tenantQuota(long, int)},
 * {@link Session#quota(int)}) and none of the pages charged to it can be evicted, because its own
 * leases pin them. The request that asked is unchanged; close some of the holder's leases, or give
 * it a larger quota. An {@link OutOfPagesException}, so an engine that handles a full tier (by
 * waiting or preempting) handles this the same way.
 */
public final class QuotaExceededException extends OutOfPagesException {
  private static final long serialVersionUID = 1L;

  /**
   * A new exception.
   *
   * @param message which holder, its quota and what to do
   */
  public QuotaExceededException(String message) {
    super(message);
  }
}
