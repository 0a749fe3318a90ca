package io.kvtier.nvme;

import io.kvtier.spi.PageStore;

/**
 * A {@link PageStore} on flash, with the counters an operator watches: verified-read misses,
 * corrupt pages, I/O errors and what warm restart found. Both NVMe stores implement it; {@link
 * NvmeTier.Spec#open(int)} returns it.
 *
 * <p>Every page is stored with an {@link NvmePageHeader}. {@link #readBlock} checks the header's
 * magic, version and CRC, the payload's CRC, and that the header names exactly the expected block;
 * any difference is a counted miss and nothing is served. {@link #read} checks the CRCs too and
 * throws {@link CorruptPageException} for a corrupt page. Disk-full and I/O errors mark the store
 * {@linkplain #isDegraded() degraded}, are counted and logged once, and surface as {@link
 * java.io.UncheckedIOException} from the failing call.
 */
public interface NvmePageStore extends PageStore {

  /**
   * Verified reads that returned false: absent, corrupt or naming another block.
   *
   * @return the count since open
   */
  long misses();

  /**
   * Pages found corrupt (bad magic, format, length or checksum) by reads or by recovery.
   *
   * @return the count since open
   */
  long corruptPages();

  /**
   * I/O errors (disk full included) since open.
   *
   * @return the count
   */
  long ioErrors();

  /**
   * Pages {@link #recover recover} visited.
   *
   * @return the count
   */
  long recoveredPages();

  /**
   * Pages {@link #recover recover} dropped: corrupt, untyped, or not fitting this store's geometry.
   *
   * @return the count
   */
  long droppedPages();
}
