/**
 * NVMe tier benchmarks: page writes and verified reads of each NVMe store, beside raw {@code
 * O_DIRECT} sequential I/O of the same bytes on the same disk, measured in the same run ({@link
 * io.kvtier.bench.nvme.NvmePageBench}).
 */
package io.kvtier.bench.nvme;
