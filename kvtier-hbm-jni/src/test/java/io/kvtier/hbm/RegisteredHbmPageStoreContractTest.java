package io.kvtier.hbm;

import io.kvtier.spi.PageStore;
import io.kvtier.testkit.PageStoreContractTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The HBM tier over an engine's registered KV tensors (two layers, one [2][blocks][...] tensor
 * each, as vLLM holds them) passes the tier contract. The "engine" memory is allocated once per
 * class and outlives every store, as an engine's tensors outlive kvtier's view of them.
 */
class RegisteredHbmPageStoreContractTest extends PageStoreContractTest {

  private static final long ENGINE_BYTES = 1 << 20;
  private static long engineMemory;

  @BeforeAll
  static void allocateEngineTensors() {
    engineMemory = HbmNative.get(HbmTests.variant()).deviceAlloc(0, ENGINE_BYTES);
  }

  @AfterAll
  static void freeEngineTensors() {
    HbmNative.get(HbmTests.variant()).deviceFree(0, engineMemory);
  }

  @Override
  protected PageStore open(int pageBytes, int pages) {
    long segment = pageBytes / 4;
    long layerBytes = 2L * pages * segment;
    HbmRegion region =
        HbmRegion.perLayerTensors(
            0, new long[] {engineMemory, engineMemory + layerBytes}, pages, segment);
    return HbmTier.registered(HbmTests.variant(), region).named("engine-hbm").open(pageBytes);
  }
}
