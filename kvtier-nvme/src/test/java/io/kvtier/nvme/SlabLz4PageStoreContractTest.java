package io.kvtier.nvme;

/** The same contract with LZ4 on: random pages are stored raw, compressible ones compressed. */
class SlabLz4PageStoreContractTest extends SlabPageStoreContractTest {
  @Override
  NvmeOptions options() {
    return NvmeOptions.builder().lz4(true).build();
  }
}
