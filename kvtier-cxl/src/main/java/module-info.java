/**
 * The CXL memory-pool tier: KV pages in memory that the host maps rather than owns, such as a
 * memory-only NUMA node, a device-DAX file or a shared file mapping.
 */
module io.kvtier.cxl {
  requires transitive io.kvtier.api;

  exports io.kvtier.cxl;
}
