package io.kvtier.hbm;

/**
 * The GPU HBM tier's entry point: factories for the cache builder, and whether the native shim is
 * usable here.
 *
 * <pre>{@code
 * KvCache cache = KvCache.builder()
 *     .layout(layout)
 *     .tier(HbmTier.cuda(0, 40L << 30))          // kvtier allocates 40 GiB on GPU 0
 *     // .tier(HbmTier.registered(region))       // or: the engine's own KV tensors
 *     // .tier(HbmTier.emulated(4L << 30))       // or: no GPU (tests, CI)
 *     .tier(DramTier.offHeap(64L << 30))
 *     .build();
 * }</pre>
 *
 * <p>Load state: decided once per {@link HbmVariant}, on first use, and never retried; {@link
 * #isAvailable()} and {@link #unavailabilityCause()} never throw, {@link #ensureAvailability()}
 * throws with the cause attached. This is the pattern of RocksDB's {@code RocksDB.loadLibrary} and
 * Netty's {@code Epoll.isAvailable()}/{@code unavailabilityCause()}. The libraries are packed in
 * the jar under {@code META-INF/native/<os>-<arch>/} (see {@link #nativeResource(HbmVariant)}).
 */
public final class HbmTier {

  /** Base name of the JNI glue: {@code libkvtier_hbm_jni.so} on Linux. */
  public static final String LIBRARY_NAME = "kvtier_hbm_jni";

  private HbmTier() {}

  /**
   * Whether a real GPU can be used: the CUDA build loaded and the driver reports a device.
   *
   * @return true when {@link #cuda(int, long)} can open
   */
  public static boolean isAvailable() {
    return HbmVariant.CUDA.isAvailable();
  }

  /**
   * Why the CUDA build cannot be used.
   *
   * @return a sentence naming what is missing, or null when {@link #isAvailable()}
   */
  public static String unavailabilityCause() {
    return HbmVariant.CUDA.unavailabilityCause();
  }

  /**
   * Throws unless the CUDA build can be used; for code paths that require a GPU.
   *
   * @throws UnsatisfiedLinkError carrying {@link #unavailabilityCause()}
   */
  public static void ensureAvailability() {
    HbmNative.get(HbmVariant.CUDA);
  }

  /**
   * Where a build is packed in the jar.
   *
   * @param variant the build
   * @return a class-path resource, e.g. {@code META-INF/native/linux-x86_64/libkvtier_hbm_cuda.so}
   */
  public static String nativeResource(HbmVariant variant) {
    return HbmNative.resource(HbmNative.libraryName(variant.libraryName()));
  }

  /**
   * Device memory that kvtier allocates on a GPU when the cache is built.
   *
   * @param device CUDA device index
   * @param capacityBytes bytes of page memory
   * @return the tier
   */
  public static HbmTierSpec cuda(int device, long capacityBytes) {
    return HbmTierSpec.owned(HbmVariant.CUDA, device, capacityBytes);
  }

  /**
   * An emulated device (host memory, asynchronous copies) with the same native path as {@link
   * #cuda(int, long)}: for machines without a GPU.
   *
   * @param capacityBytes bytes of page memory
   * @return the tier
   */
  public static HbmTierSpec emulated(long capacityBytes) {
    return HbmTierSpec.owned(HbmVariant.EMULATED, 0, capacityBytes);
  }

  /**
   * Device memory of the given build, allocated by kvtier.
   *
   * @param variant the build
   * @param device device index
   * @param capacityBytes bytes of page memory
   * @return the tier
   */
  public static HbmTierSpec of(HbmVariant variant, int device, long capacityBytes) {
    return HbmTierSpec.owned(variant, device, capacityBytes);
  }

  /**
   * The engine's own KV tensors on a GPU: kvtier manages the block ids {@code [0, region.blocks())}
   * inside them and never frees the memory.
   *
   * @param region where the blocks are
   * @return the tier
   */
  public static HbmTierSpec registered(HbmRegion region) {
    return HbmTierSpec.registered(HbmVariant.CUDA, region);
  }

  /**
   * A registered region on the given build (on the emulated build, the region must lie in memory
   * that build allocated).
   *
   * @param variant the build
   * @param region where the blocks are
   * @return the tier
   */
  public static HbmTierSpec registered(HbmVariant variant, HbmRegion region) {
    return HbmTierSpec.registered(variant, region);
  }
}
