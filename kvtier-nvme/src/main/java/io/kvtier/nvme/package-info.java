/**
 * The NVMe tier: KV pages on local flash, in one of two stores behind one page format and one
 * behaviour. {@link io.kvtier.nvme.NvmeTier} makes the tier specs: {@link
 * io.kvtier.nvme.NvmeTier#slab slab} (fixed slots of one preallocated file, O_DIRECT through FFM;
 * the {@linkplain io.kvtier.nvme.NvmeTier#defaultStore default}) and {@link
 * io.kvtier.nvme.NvmeTier#rocksdb rocksdb} (headers in the LSM, payloads in BlobDB blob files),
 * configured by {@link io.kvtier.nvme.NvmeOptions}.
 *
 * <p>Every page is stored with an {@link io.kvtier.nvme.NvmePageHeader}: block key, parent key,
 * root key, token ids, a header CRC32C and a payload CRC32C. A verified read ({@code readBlock})
 * serves a page only when both checksums match and the header names exactly the block the cache
 * expects; anything else is a miss, counted by the {@link io.kvtier.nvme.NvmePageStore}. Warm
 * restart ({@code recover}) hands the cache every intact page so its prefix index sees them again.
 *
 * <p>Faults: a full disk or an I/O error marks the store degraded and surfaces as {@link
 * java.io.UncheckedIOException}; the cache then serves from its other tiers.
 */
package io.kvtier.nvme;
