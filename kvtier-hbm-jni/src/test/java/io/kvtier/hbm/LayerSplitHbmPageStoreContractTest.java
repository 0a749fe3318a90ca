package io.kvtier.hbm;

import io.kvtier.spi.PageStore;
import io.kvtier.testkit.PageStoreContractTest;

/**
 * The HBM tier with layer-split pages (four segments, as two layers of K and V), each page gathered
 * and scattered in one transfer, passes the tier contract.
 */
class LayerSplitHbmPageStoreContractTest extends PageStoreContractTest {
  @Override
  protected PageStore open(int pageBytes, int pages) {
    return HbmTier.of(HbmTests.variant(), 0, (long) pageBytes * pages)
        .layerSplit(4)
        .open(pageBytes);
  }
}
