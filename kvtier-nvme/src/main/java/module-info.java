/**
 * The NVMe tier: KV pages on local flash, each stored with a checksummed header that names its
 * block, so a hash collision or a torn write is detected rather than served.
 */
module io.kvtier.nvme {
  requires transitive io.kvtier.api;

  exports io.kvtier.nvme;
}
