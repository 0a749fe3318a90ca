/**
 * The CXL memory-pool tier. {@link io.kvtier.cxl.CxlTier} makes tier specs; today there is one,
 * {@link io.kvtier.cxl.CxlTier#file(String, java.nio.file.Path, long)}: a file (on tmpfs, a DAX
 * file system, or any file system) mapped read-write with the Foreign Function and Memory API and
 * sliced into pages. The pages stay in the file when the store closes.
 *
 * <p>What arrives later: a tier over a memory-only NUMA node (CXL Type 3 memory as Linux presents
 * it), a device-DAX tier, and a pool shared between processes, whose directory of which block sits
 * in which slot is a cross-process map beside the pool file (DESIGN §2, §9). Until then a pool file
 * is used by one store at a time, which an exclusive file lock enforces.
 */
package io.kvtier.cxl;
