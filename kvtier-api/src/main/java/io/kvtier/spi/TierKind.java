package io.kvtier.spi;

/** The kinds of memory a tier may be, fastest first. */
public enum TierKind {
  /** GPU memory. */
  HBM,
  /** Host memory. */
  DRAM,
  /** A CXL-attached memory pool. */
  CXL,
  /** Local flash. */
  NVME,
  /** Another host's memory or storage. */
  REMOTE
}
