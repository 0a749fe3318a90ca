package io.kvtier.core;

import io.kvtier.spi.PageStore;
import io.kvtier.testkit.PageStoreContractTest;

/** The DRAM tier passes the tier contract. */
class DramPageStoreContractTest extends PageStoreContractTest {
  @Override
  protected PageStore open(int pageBytes, int pages) {
    return new DramPageStore("dram", (long) pageBytes * pages, pageBytes);
  }
}
