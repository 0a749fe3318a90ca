package io.kvtier.nvme;

import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * An unverified {@link NvmePageStore#read read} found a page whose header or checksum is wrong. The
 * page is not served; the store is not degraded (one bad page says nothing about the disk).
 */
public final class CorruptPageException extends UncheckedIOException {
  private static final long serialVersionUID = 1L;

  /**
   * A corrupt page.
   *
   * @param message which store, which slot, what was wrong
   */
  public CorruptPageException(String message) {
    super(message, new IOException(message));
  }
}
