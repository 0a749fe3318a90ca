package io.kvtier.hbm;

/**
 * How the CUDA build issues a batched copy of many pages or layer segments. The emulated build
 * always uses {@code memcpy}; it accepts every mode.
 */
public enum HbmCopyMode {
  /**
   * {@link #BATCH} where the CUDA runtime and driver have it (12.8 and later), else {@link
   * #MEMCPY}.
   */
  AUTO,
  /**
   * One {@code cudaMemcpy2DAsync} per block when the block's segments are evenly spaced (the layout
   * kvtier allocates), else one {@code cudaMemcpyAsync} per coalesced piece.
   */
  MEMCPY,
  /** One {@code cudaMemcpyBatchAsync} for all pieces of the call. */
  BATCH,
  /**
   * One gather/scatter kernel that moves the pieces through unified addressing; used only when the
   * host pages are pinned and mapped (else the call falls back to {@link #AUTO}).
   */
  KERNEL
}
