package io.kvtier.hbm;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

/**
 * Every native method of the HBM tier, and the state of the native libraries.
 *
 * <h2>Libraries</h2>
 *
 * <p>Three shared libraries ship in the jar under {@code META-INF/native/<os>-<arch>/}: the JNI
 * glue {@code libkvtier_hbm_jni.so}, and two builds of one C ABI ({@code native/hbm/kvtier_hbm.h}):
 * {@code libkvtier_hbm_cuda.so} (CUDA runtime, linked statically) and {@code
 * libkvtier_hbm_emulated.so} (host memory, worker-thread streams). The glue is loaded with {@link
 * System#load}; it then {@code dlopen}s a build and returns the address of that build's function
 * table, which every other native takes as its first argument. Both builds can therefore be loaded
 * side by side, and one class holds all the natives.
 *
 * <h2>Load state</h2>
 *
 * <p>Per {@link HbmVariant}, decided once on first use and never retried: {@code UNTRIED} → {@code
 * LOADED} (an instance of this class wraps the table) or {@code FAILED} (a cause that names what
 * was missing: no library in the jar, a {@code dlopen} error, or no usable device — for CUDA
 * without a driver, {@code cudaErrorInsufficientDriver (35)}). Each library is extracted from the
 * jar to a temporary file, loaded, and the file deleted at once (the mapping stays). The system
 * property {@value #LIBRARY_PATH_PROPERTY} names a directory to load the libraries from instead,
 * for development builds.
 *
 * <h2>Calls</h2>
 *
 * <p>The natives are {@code private static}, take handles as {@code long} and return a status code
 * ({@code 0} ok, {@code 1} not ready, negative an error) with outputs in a {@code long[]}. The
 * instance methods below are the wrappers: they turn a failing status into an {@link HbmException}
 * that carries the shim's message for this thread. Instances are immutable and thread-safe; the
 * shim's functions are thread-safe.
 */
final class HbmNative {

  /** System property: a directory holding the libraries, used instead of the jar's copies. */
  static final String LIBRARY_PATH_PROPERTY = "kvtier.hbm.library.path";

  /** Status: success. */
  static final int OK = 0;

  /** Status: an event has not completed yet. */
  static final int NOT_READY = 1;

  /** Status: bad argument. */
  static final int E_INVALID = -1;

  /** Status: no such device or no driver. */
  static final int E_NO_DEVICE = -2;

  /** Status: out of range. */
  static final int E_RANGE = -4;

  /** Status: not supported by this build. */
  static final int E_UNSUPPORTED = -5;

  /** Copy direction: host to device. */
  static final int H2D = 1;

  /** Copy direction: device to host. */
  static final int D2H = 2;

  /** Copy direction: device to device within a region. */
  static final int D2D = 3;

  /** Copy direction: one raw contiguous host-to-device copy. */
  static final int RAW_H2D = 4;

  /** Copy direction: one raw contiguous device-to-host copy. */
  static final int RAW_D2H = 5;

  /** Number of live-object counters, as {@code KVT_HBM_LIVE_COUNTERS}. */
  static final int LIVE_COUNTERS = 6;

  private static final String GLUE = "kvtier_hbm_jni";
  private static final String GLUE_CAUSE = loadGlue();
  private static final Map<HbmVariant, Object> STATES = new EnumMap<>(HbmVariant.class);

  private final HbmVariant variant;
  private final long api;

  private HbmNative(HbmVariant variant, long api) {
    this.variant = variant;
    this.api = api;
  }

  // ---- load state ---------------------------------------------------------------------------

  /**
   * The loaded library of a variant, loading it on first use.
   *
   * @param variant the build
   * @return the library
   * @throws UnsatisfiedLinkError with the cause when it cannot be used
   */
  static HbmNative get(HbmVariant variant) {
    Object state = state(variant);
    if (state instanceof HbmNative lib) {
      return lib;
    }
    throw new UnsatisfiedLinkError(
        "the kvtier HBM tier (" + variant.id() + ") is unavailable: " + state);
  }

  /**
   * Why a variant cannot be used.
   *
   * @param variant the build
   * @return the cause, or null when it is available
   */
  static String cause(HbmVariant variant) {
    Object state = state(variant);
    return state instanceof String s ? s : null;
  }

  private static synchronized Object state(HbmVariant variant) {
    return STATES.computeIfAbsent(variant, HbmNative::load);
  }

  private static Object load(HbmVariant variant) {
    if (GLUE_CAUSE != null) {
      return GLUE_CAUSE;
    }
    String name = libraryName(variant.libraryName());
    long[] out = new long[1];
    int rc;
    try {
      Path path = locate(name);
      if (path == null) {
        return "the "
            + variant.id()
            + " build "
            + resource(name)
            + " is not in this jar"
            + (variant == HbmVariant.CUDA
                ? " (it is built only where nvcc is installed; see native/gpu-check.sh)"
                : "");
      }
      try {
        rc = open(path.toString(), out);
      } finally {
        deleteIfExtracted(path);
      }
    } catch (IOException | RuntimeException e) {
      return "could not extract " + resource(name) + ": " + e;
    }
    if (rc != OK) {
      return "could not load " + resource(name) + ": " + lastError(0);
    }
    HbmNative lib = new HbmNative(variant, out[0]);
    long[] count = new long[1];
    rc = deviceCount(lib.api, count);
    if (rc != OK) {
      return "no usable " + variant.id() + " device: " + lastError(lib.api);
    }
    return lib;
  }

  @SuppressWarnings("restricted") // System.load: the JNI glue is why this module exists
  private static String loadGlue() {
    String name = libraryName(GLUE);
    try {
      Path path = locate(name);
      if (path == null) {
        return "the native shim "
            + resource(name)
            + " is not in this jar (built for another platform than "
            + platform()
            + "?)";
      }
      try {
        System.load(path.toAbsolutePath().toString());
      } finally {
        deleteIfExtracted(path);
      }
      return null;
    } catch (IOException | RuntimeException | UnsatisfiedLinkError e) {
      return "could not load " + resource(name) + ": " + e;
    }
  }

  private static boolean extracted(Path path) {
    return System.getProperty(LIBRARY_PATH_PROPERTY) == null
        && path.getFileName().toString().startsWith(tempPrefix());
  }

  private static void deleteIfExtracted(Path path) {
    if (extracted(path)) {
      try {
        Files.deleteIfExists(path);
      } catch (IOException ignored) {
        path.toFile().deleteOnExit();
      }
    }
  }

  /** The library file: from the override directory, or extracted from the jar; null if absent. */
  private static Path locate(String fileName) throws IOException {
    String dir = System.getProperty(LIBRARY_PATH_PROPERTY);
    if (dir != null) {
      Path p = Path.of(dir, fileName);
      return Files.isRegularFile(p) ? p : null;
    }
    try (InputStream in =
        HbmNative.class.getClassLoader().getResourceAsStream(resource(fileName))) {
      if (in == null) {
        return null;
      }
      Path tmp = Files.createTempFile(tempPrefix(), "-" + fileName);
      Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
      return tmp;
    }
  }

  /** Prefix of this process's extracted libraries: {@code kvtier-<pid>-}. */
  static String tempPrefix() {
    return "kvtier-" + ProcessHandle.current().pid() + "-";
  }

  static String libraryName(String base) {
    return System.mapLibraryName(base);
  }

  /**
   * Where a library sits in the jar.
   *
   * @param fileName e.g. {@code libkvtier_hbm_cuda.so}
   * @return {@code META-INF/native/<platform>/<fileName>}
   */
  static String resource(String fileName) {
    return "META-INF/native/" + platform() + "/" + fileName;
  }

  /**
   * The platform folder name, as the native Makefile computes it ({@code uname -s}-{@code uname
   * -m}, lower case).
   *
   * @return e.g. {@code linux-x86_64}
   */
  static String platform() {
    String os = System.getProperty("os.name", "unknown").toLowerCase(Locale.ROOT);
    String arch = System.getProperty("os.arch", "unknown").toLowerCase(Locale.ROOT);
    if (os.startsWith("linux")) {
      os = "linux";
    } else if (os.startsWith("mac")) {
      os = "darwin";
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

  // ---- wrappers -----------------------------------------------------------------------------

  HbmVariant variant() {
    return variant;
  }

  private HbmException fail(int status, String what) {
    return new HbmException(variant, status, what + ": " + lastError(api));
  }

  private void check(int status, String what) {
    if (status != OK) {
      throw fail(status, what);
    }
  }

  /** The build's name as it reports it ("cuda" or "emulated"). */
  String buildName() {
    return variant(api);
  }

  /** Live native objects per kind (device allocations, host allocations, ...). */
  long[] liveObjects() {
    long[] out = new long[LIVE_COUNTERS];
    check(liveObjects(api, out), "live objects");
    return out;
  }

  int deviceCount() {
    long[] out = new long[1];
    check(deviceCount(api, out), "device count");
    return (int) out[0];
  }

  /** {total, free} bytes of a device. */
  long[] deviceMemory(int device) {
    long[] out = new long[2];
    check(deviceMemory(api, device, out), "device memory");
    return out;
  }

  long deviceAlloc(int device, long bytes) {
    long[] out = new long[1];
    check(deviceAlloc(api, device, bytes, out), "device alloc of " + bytes + " bytes");
    return out[0];
  }

  void deviceFree(int device, long ptr) {
    check(deviceFree(api, device, ptr), "device free");
  }

  long hostAlloc(long bytes) {
    long[] out = new long[1];
    check(hostAlloc(api, bytes, out), "pinned host alloc of " + bytes + " bytes");
    return out[0];
  }

  void hostFree(long ptr) {
    check(hostFree(api, ptr), "pinned host free");
  }

  void hostRegister(long ptr, long bytes) {
    check(hostRegister(api, ptr, bytes), "host register of " + bytes + " bytes");
  }

  void hostUnregister(long ptr) {
    check(hostUnregister(api, ptr), "host unregister");
  }

  long regionCreate(int device, long blocks, long segmentBytes, long[] bases, long[] strides) {
    long[] out = new long[1];
    check(regionCreate(api, device, blocks, segmentBytes, bases, strides, out), "register region");
    return out[0];
  }

  void regionDestroy(long region) {
    check(regionDestroy(api, region), "region destroy");
  }

  long streamCreate(int device) {
    long[] out = new long[1];
    check(streamCreate(api, device, out), "stream create");
    return out[0];
  }

  void streamDestroy(long stream) {
    check(streamDestroy(api, stream), "stream destroy");
  }

  void streamSynchronize(long stream) {
    check(streamSynchronize(api, stream), "stream synchronize");
  }

  void streamSetCopyMode(long stream, HbmCopyMode mode) {
    check(streamSetCopyMode(api, stream, mode.ordinal()), "set copy mode " + mode);
  }

  void streamSetDelay(long stream, long nanos) {
    check(streamSetDelay(api, stream, nanos), "set delay");
  }

  /**
   * Waits (on the device) for {@code waits[0..waitCount)}, issues one copy of bytes {@code [offset,
   * offset + bytes)} of each page (host-device directions; the others take 0) and records an event.
   *
   * @param out receives the event in out[0]
   */
  void submit(
      long stream,
      long[] waits,
      int waitCount,
      long region,
      int direction,
      long[] blocks,
      long[] other,
      int n,
      long offset,
      long bytes,
      long[] out) {
    int rc =
        submit(
            api, stream, waits, waitCount, region, direction, blocks, other, n, offset, bytes, out);
    if (rc != OK) {
      throw fail(rc, "copy");
    }
  }

  /** True if the event completed, false if not yet. */
  boolean eventQuery(long event) {
    int rc = eventQuery(api, event);
    if (rc == NOT_READY) {
      return false;
    }
    check(rc, "event query");
    return true;
  }

  /** Blocks until the event completed; returns the status rather than throwing. */
  int eventSynchronizeStatus(long event) {
    return eventSynchronize(api, event);
  }

  /** An exception for a status returned by {@link #eventSynchronizeStatus(long)}. */
  HbmException failure(int status, String what) {
    return fail(status, what);
  }

  void eventDestroy(long event) {
    check(eventDestroy(api, event), "event destroy");
  }

  // ---- natives ------------------------------------------------------------------------------

  private static native int open(String path, long[] apiOut);

  private static native String lastError(long api);

  private static native String variant(long api);

  private static native String strerror(long api, int status);

  private static native int liveObjects(long api, long[] out);

  private static native int deviceCount(long api, long[] out);

  private static native int deviceMemory(long api, int device, long[] out);

  private static native int deviceAlloc(long api, int device, long bytes, long[] out);

  private static native int deviceFree(long api, int device, long ptr);

  private static native int hostAlloc(long api, long bytes, long[] out);

  private static native int hostFree(long api, long ptr);

  private static native int hostRegister(long api, long ptr, long bytes);

  private static native int hostUnregister(long api, long ptr);

  private static native int regionCreate(
      long api,
      int device,
      long blocks,
      long segmentBytes,
      long[] bases,
      long[] strides,
      long[] out);

  private static native int regionDestroy(long api, long region);

  private static native int streamCreate(long api, int device, long[] out);

  private static native int streamDestroy(long api, long stream);

  private static native int streamSynchronize(long api, long stream);

  private static native int streamSetCopyMode(long api, long stream, int mode);

  private static native int streamSetDelay(long api, long stream, long nanos);

  private static native int submit(
      long api,
      long stream,
      long[] waits,
      int waitCount,
      long region,
      int direction,
      long[] blocks,
      long[] other,
      int n,
      long offset,
      long bytes,
      long[] out);

  private static native int eventQuery(long api, long event);

  private static native int eventSynchronize(long api, long event);

  private static native int eventDestroy(long api, long event);

  /**
   * The shim's name for a status code.
   *
   * @param status a status
   * @return its description
   */
  String describe(int status) {
    return strerror(api, status);
  }

  @Override
  public String toString() {
    return "HbmNative[" + variant.id() + "]";
  }
}
