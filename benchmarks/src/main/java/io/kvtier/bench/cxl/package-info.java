/**
 * JMH benchmarks of the CXL tier's data path: page copies between DRAM and a CXL pool, beside
 * {@code MemorySegment.copy} of the same sizes as the baseline.
 */
package io.kvtier.bench.cxl;
