/**
 * The NVMe tier: KV pages on local flash, each stored with a checksummed header that names its
 * block, so a hash collision, a torn write or a flipped bit is detected rather than served.
 */
@SuppressWarnings({"requires-automatic", "requires-transitive-automatic"})
module io.kvtier.nvme {
  requires transitive io.kvtier.api;
  requires rocksdbjni;
  requires org.lz4.java;

  exports io.kvtier.nvme;
}
