package io.kvtier.nvme;

/** The same contract with LZ4 on: random pages are stored raw, compressible ones compressed. */
class RocksDbLz4PageStoreContractTest extends RocksDbPageStoreContractTest {
  @Override
  NvmeOptions options() {
    return NvmeOptions.builder().lz4(true).blobCompression(true).build();
  }
}
