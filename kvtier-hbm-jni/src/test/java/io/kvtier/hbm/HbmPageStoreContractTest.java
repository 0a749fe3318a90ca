package io.kvtier.hbm;

import io.kvtier.spi.PageStore;
import io.kvtier.testkit.PageStoreContractTest;

/** The HBM tier, kvtier-allocated contiguous pages, passes the tier contract. */
class HbmPageStoreContractTest extends PageStoreContractTest {
  @Override
  protected PageStore open(int pageBytes, int pages) {
    return HbmTier.of(HbmTests.variant(), 0, (long) pageBytes * pages).open(pageBytes);
  }
}
