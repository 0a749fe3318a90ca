package io.kvtier.hbm;

import java.util.Locale;

/**
 * The GPU HBM tier's entry point. For now it only reports whether the native shim is present; the
 * tier factories ({@code cuda(device, bytes)}, {@code emulated(bytes)}, {@code registered(...)})
 * arrive with the shim.
 *
 * <p>Load state: decided once, when the class initialises, and never retried; {@link
 * #isAvailable()} and {@link #unavailabilityCause()} never throw, {@link #ensureAvailability()}
 * throws with the cause attached. This is the pattern of RocksDB's {@code RocksDB.loadLibrary} and
 * Netty's {@code Epoll.isAvailable()}/{@code unavailabilityCause()}.
 *
 * <p>The shim is looked for as a class-path resource named {@link #nativeResource()}; this build
 * ships none, so the tier is unavailable with a cause that says so. Nothing native is loaded.
 */
public final class HbmTier {

  /** Base name of the shim: {@code libkvtier_hbm.so} on Linux. */
  public static final String LIBRARY_NAME = "kvtier_hbm";

  private static final String UNAVAILABILITY_CAUSE = probe();

  private HbmTier() {}

  /**
   * Whether the native shim was found and loaded.
   *
   * @return true when the HBM tier can be used in this process
   */
  public static boolean isAvailable() {
    return UNAVAILABILITY_CAUSE == null;
  }

  /**
   * Why the tier cannot be used.
   *
   * @return a sentence naming what is missing, or null when {@link #isAvailable()}
   */
  public static String unavailabilityCause() {
    return UNAVAILABILITY_CAUSE;
  }

  /**
   * Throws unless the tier can be used; for code paths that require HBM.
   *
   * @throws UnsatisfiedLinkError carrying {@link #unavailabilityCause()}
   */
  public static void ensureAvailability() {
    if (UNAVAILABILITY_CAUSE != null) {
      throw new UnsatisfiedLinkError("the kvtier HBM tier is unavailable: " + UNAVAILABILITY_CAUSE);
    }
  }

  /**
   * Where the shim for this platform would be packed in the jar.
   *
   * @return a class-path resource name, e.g. {@code native/linux-x86_64/libkvtier_hbm.so}
   */
  public static String nativeResource() {
    return "native/" + platform() + "/" + System.mapLibraryName(LIBRARY_NAME);
  }

  private static String probe() {
    String resource = nativeResource();
    if (HbmTier.class.getClassLoader().getResource(resource) == null) {
      return "the native shim "
          + resource
          + " is not in this build: the CUDA shim (native/) is not built yet,"
          + " so there is no HBM tier on "
          + platform();
    }
    return "the native shim "
        + resource
        + " is present but this version of kvtier-hbm-jni has no bindings for it";
  }

  private static String platform() {
    String os = System.getProperty("os.name", "unknown").toLowerCase(Locale.ROOT);
    String arch = System.getProperty("os.arch", "unknown").toLowerCase(Locale.ROOT);
    if (os.startsWith("linux")) {
      os = "linux";
    } else if (os.startsWith("mac")) {
      os = "osx";
    } else if (os.startsWith("windows")) {
      os = "windows";
    }
    if (arch.equals("amd64")) {
      arch = "x86_64";
    } else if (arch.equals("arm64")) {
      arch = "aarch64";
    }
    return os + "-" + arch;
  }
}
