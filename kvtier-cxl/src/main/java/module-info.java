/**
 * The CXL memory-pool tier: KV pages in memory that the host maps rather than owns, such as a
 * memory-only NUMA node, a device-DAX node or a file mapping, and pools shared between processes.
 *
 * <p>Chronicle Map (an automatic module) is read only by the shared pool's directory.
 */
@SuppressWarnings({"requires-automatic", "requires-transitive-automatic"})
module io.kvtier.cxl {
  requires transitive io.kvtier.api;
  requires chronicle.map;

  exports io.kvtier.cxl;
}
