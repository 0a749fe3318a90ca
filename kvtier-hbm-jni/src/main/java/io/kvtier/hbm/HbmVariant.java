package io.kvtier.hbm;

import java.util.Locale;

/**
 * The two builds of the HBM shim. Both implement one C ABI, so the same store, tests and benchmarks
 * run on either.
 */
public enum HbmVariant {
  /** GPU memory through the CUDA runtime; needs a GPU and its driver. */
  CUDA("cuda"),
  /**
   * Host memory standing in for a device, with copies that complete asynchronously on worker
   * threads: for machines without a GPU, and for tests that inject delays to prove ordering.
   */
  EMULATED("emulated");

  /**
   * System property that picks a variant where a caller asks for "the configured one" (tests, the
   * benchmark): {@code cuda} or {@code emulated}. The environment variable {@value #VARIANT_ENV} is
   * read when the property is absent.
   */
  public static final String VARIANT_PROPERTY = "kvtier.hbm.variant";

  /** Environment variable read when {@value #VARIANT_PROPERTY} is not set. */
  public static final String VARIANT_ENV = "KVTIER_HBM_VARIANT";

  private final String id;

  HbmVariant(String id) {
    this.id = id;
  }

  /**
   * The variant's name, as in the library file {@code libkvtier_hbm_<id>.so}.
   *
   * @return {@code cuda} or {@code emulated}
   */
  public String id() {
    return id;
  }

  String libraryName() {
    return "kvtier_hbm_" + id;
  }

  /**
   * Whether this build loaded and found a device. Never throws.
   *
   * @return true when stores of this variant can be opened
   */
  public boolean isAvailable() {
    return HbmNative.cause(this) == null;
  }

  /**
   * Why this build cannot be used. Never throws.
   *
   * @return a sentence naming what is missing, or null when {@link #isAvailable()}
   */
  public String unavailabilityCause() {
    return HbmNative.cause(this);
  }

  /**
   * The variant named by {@value #VARIANT_PROPERTY} or {@value #VARIANT_ENV}, else {@code
   * fallback}.
   *
   * @param fallback the variant when neither is set
   * @return the configured variant
   * @throws IllegalArgumentException if the setting names no variant
   */
  public static HbmVariant configured(HbmVariant fallback) {
    String v = System.getProperty(VARIANT_PROPERTY);
    if (v == null || v.isBlank()) {
      v = System.getenv(VARIANT_ENV);
    }
    if (v == null || v.isBlank()) {
      return fallback;
    }
    for (HbmVariant h : values()) {
      if (h.id.equals(v.trim().toLowerCase(Locale.ROOT))) {
        return h;
      }
    }
    throw new IllegalArgumentException(
        VARIANT_PROPERTY + "=" + v + " names no HBM variant: use cuda or emulated");
  }
}
