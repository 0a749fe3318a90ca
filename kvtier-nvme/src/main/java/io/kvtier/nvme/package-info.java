/**
 * The NVMe tier. Today it holds the on-disk page format, {@link io.kvtier.nvme.NvmePageHeader}: the
 * fixed header written before every page's bytes, with the block's key, its parent's key, its token
 * count and a CRC32C over header and payload. A reader checks it before a page is copied up, so a
 * block-key collision, a torn write or a flipped bit never reaches an attention kernel.
 *
 * <p>What arrives later: a RocksDB-backed page store (block key to header + page bytes), LZ4
 * compression of payloads (announced by a header flag), warm restart that rebuilds the index from
 * the headers, and a direct-I/O slab store if it measures faster (DESIGN §2, §4).
 */
package io.kvtier.nvme;
