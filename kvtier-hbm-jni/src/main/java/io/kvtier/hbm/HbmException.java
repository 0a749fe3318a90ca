package io.kvtier.hbm;

import io.kvtier.KvTierException;

/**
 * A failure reported by the HBM shim: a status code and the shim's message (with the CUDA error's
 * name and number where there is one).
 */
public final class HbmException extends KvTierException {
  private static final long serialVersionUID = 1L;

  private final int status;
  private final HbmVariant variant;

  HbmException(HbmVariant variant, int status, String message) {
    super("HBM (" + variant.id() + "): " + message + " [status " + status + "]");
    this.status = status;
    this.variant = variant;
  }

  /**
   * The shim's status code ({@code KVT_HBM_E_*} in {@code kvtier_hbm.h}).
   *
   * @return a negative code
   */
  public int status() {
    return status;
  }

  /**
   * The build that failed.
   *
   * @return the variant
   */
  public HbmVariant variant() {
    return variant;
  }
}
