/**
 * The GPU HBM tier: KV pages in device memory, reached through a small native shim over CUDA (or an
 * emulated device with the same native ABI on machines without a GPU).
 */
module io.kvtier.hbm {
  requires transitive io.kvtier.api;

  exports io.kvtier.hbm;
}
