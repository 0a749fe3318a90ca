package io.kvtier.cxl;

import java.lang.foreign.MemorySegment;

/**
 * One mapped region a CXL store slices into pages, with what it takes to release it: unmapping,
 * then unlocking and closing the file or device it came from.
 *
 * @param segment the mapped memory; at least the store's pages long
 * @param description what was mapped, for {@code toString} and error messages
 * @param release unmaps and releases; called once, by the store's close
 */
record Mapping(MemorySegment segment, String description, Release release) {

  /** Unmaps the region and releases what it held. */
  @FunctionalInterface
  interface Release {
    /**
     * Releases the mapping.
     *
     * @throws Exception if the operating system refused
     */
    void run() throws Exception;
  }
}
