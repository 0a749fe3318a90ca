package io.kvtier.cxl;

import io.kvtier.spi.TierSpec;

/** A {@link TierSpec} whose store is a {@link SharedPool}. */
public interface SharedPoolTier extends TierSpec {

  /**
   * Opens this process's view of the pool, creating the pool file and its directory if this is the
   * first process.
   *
   * @param pageBytes bytes per page; every process sharing the pool must use the same
   * @return the open pool
   */
  @Override
  SharedPool open(int pageBytes);
}
