package io.kvtier.cxl;

import io.kvtier.spi.PageStore;
import io.kvtier.testkit.PageStoreContractTest;

/** A NUMA-bound CXL tier (node 0, which every Linux host has) passes the tier contract. */
class NumaPageStoreContractTest extends PageStoreContractTest {

  @Override
  protected PageStore open(int pageBytes, int pages) {
    return CxlTier.numaNode("cxl-numa", 0, (long) pageBytes * pages).open(pageBytes);
  }
}
