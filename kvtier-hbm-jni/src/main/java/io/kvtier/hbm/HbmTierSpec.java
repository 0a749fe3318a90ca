package io.kvtier.hbm;

import io.kvtier.KvLayout;
import io.kvtier.spi.TierKind;
import io.kvtier.spi.TierSpec;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;

/**
 * An HBM tier as the cache builder sees it; made by the factories of {@link HbmTier} and refined
 * with the {@code with}-style methods below, each of which returns a new spec. {@link #open(int)}
 * opens an {@link HbmPageStore}.
 *
 * <table>
 *   <caption>Options</caption>
 *   <tr><th>option</th><th>default</th></tr>
 *   <tr><td>{@link #named(String)}</td><td>{@code "hbm"}</td></tr>
 *   <tr><td>{@link #layerSplit(int)} / {@link #layout(KvLayout)}</td><td>1 segment (contiguous
 *       pages); ignored for registered regions, which carry their own</td></tr>
 *   <tr><td>{@link #copyMode(HbmCopyMode)}</td><td>system property {@value #COPY_MODE_PROPERTY},
 *       else {@link HbmCopyMode#AUTO}</td></tr>
 *   <tr><td>{@link #completions(Executor)}</td><td>{@link ForkJoinPool#commonPool()}</td></tr>
 * </table>
 */
public final class HbmTierSpec implements TierSpec {

  /** System property naming the default {@link HbmCopyMode} ({@code auto}, {@code batch}, ...). */
  public static final String COPY_MODE_PROPERTY = "kvtier.hbm.copyMode";

  private final String name;
  private final HbmVariant variant;
  private final int device;
  private final long capacityBytes;
  private final int segments;
  private final HbmRegion region;
  private final HbmCopyMode copyMode;
  private final Executor completions;

  private HbmTierSpec(
      String name,
      HbmVariant variant,
      int device,
      long capacityBytes,
      int segments,
      HbmRegion region,
      HbmCopyMode copyMode,
      Executor completions) {
    this.name = name;
    this.variant = variant;
    this.device = device;
    this.capacityBytes = capacityBytes;
    this.segments = segments;
    this.region = region;
    this.copyMode = copyMode;
    this.completions = completions;
  }

  static HbmTierSpec owned(HbmVariant variant, int device, long capacityBytes) {
    Objects.requireNonNull(variant, "variant");
    if (device < 0) {
      throw new IllegalArgumentException("device must be non-negative, was " + device);
    }
    if (capacityBytes <= 0) {
      throw new IllegalArgumentException("capacityBytes must be positive, was " + capacityBytes);
    }
    return new HbmTierSpec(
        "hbm",
        variant,
        device,
        capacityBytes,
        1,
        null,
        defaultCopyMode(),
        ForkJoinPool.commonPool());
  }

  static HbmTierSpec registered(HbmVariant variant, HbmRegion region) {
    Objects.requireNonNull(variant, "variant");
    Objects.requireNonNull(region, "region");
    return new HbmTierSpec(
        "hbm",
        variant,
        region.device(),
        region.blocks() * region.pageBytes(),
        region.segments(),
        region,
        defaultCopyMode(),
        ForkJoinPool.commonPool());
  }

  private static HbmCopyMode defaultCopyMode() {
    String v = System.getProperty(COPY_MODE_PROPERTY);
    if (v == null || v.isBlank()) {
      return HbmCopyMode.AUTO;
    }
    try {
      return HbmCopyMode.valueOf(v.trim().toUpperCase(java.util.Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          COPY_MODE_PROPERTY + "=" + v + " is not one of auto, memcpy, batch, kernel", e);
    }
  }

  /**
   * The same tier under another name.
   *
   * @param tierName unique within the cache
   * @return a new spec
   */
  public HbmTierSpec named(String tierName) {
    Objects.requireNonNull(tierName, "name");
    if (tierName.isBlank()) {
      throw new IllegalArgumentException("an HBM tier needs a non-blank name");
    }
    return new HbmTierSpec(
        tierName, variant, device, capacityBytes, segments, region, copyMode, completions);
  }

  /**
   * Pages split into {@code count} equal segments, each in its own slab of device memory, as
   * engines hold layer-split KV ({@code count = 2 * layers}). Copies gather and scatter the
   * segments so that a page is still one transfer.
   *
   * @param count segments per page, at least 1
   * @return a new spec
   */
  public HbmTierSpec layerSplit(int count) {
    if (count < 1) {
      throw new IllegalArgumentException("segments must be at least 1, was " + count);
    }
    if (region != null) {
      throw new IllegalStateException(
          "a registered region has its own segments (" + region.segments() + ")");
    }
    return new HbmTierSpec(
        name, variant, device, capacityBytes, count, null, copyMode, completions);
  }

  /**
   * Segments as the layout arranges a block: {@code 2 * layers} for {@link
   * KvLayout.Arrangement#LAYER_SPLIT}, one for {@link KvLayout.Arrangement#CONTIGUOUS}.
   *
   * @param layout the cache's layout
   * @return a new spec
   */
  public HbmTierSpec layout(KvLayout layout) {
    return layerSplit(
        layout.arrangement() == KvLayout.Arrangement.LAYER_SPLIT ? 2 * layout.layers() : 1);
  }

  /**
   * How batched copies are issued on the CUDA build.
   *
   * @param mode the mode
   * @return a new spec
   */
  public HbmTierSpec copyMode(HbmCopyMode mode) {
    return new HbmTierSpec(
        name,
        variant,
        device,
        capacityBytes,
        segments,
        region,
        Objects.requireNonNull(mode, "copyMode"),
        completions);
  }

  /**
   * Where the futures of asynchronous copies complete (their dependent stages run there), for the
   * methods that take no executor.
   *
   * @param executor the executor
   * @return a new spec
   */
  public HbmTierSpec completions(Executor executor) {
    return new HbmTierSpec(
        name,
        variant,
        device,
        capacityBytes,
        segments,
        region,
        copyMode,
        Objects.requireNonNull(executor, "completions"));
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public TierKind kind() {
    return TierKind.HBM;
  }

  @Override
  public long capacityBytes() {
    return capacityBytes;
  }

  /**
   * The build the store will use.
   *
   * @return the variant
   */
  public HbmVariant variant() {
    return variant;
  }

  /**
   * The device index.
   *
   * @return the device
   */
  public int device() {
    return device;
  }

  /**
   * Segments per page.
   *
   * @return the count
   */
  public int segments() {
    return segments;
  }

  /**
   * The engine's region, for a registered tier.
   *
   * @return the region, or null when kvtier allocates the memory
   */
  public HbmRegion region() {
    return region;
  }

  /**
   * The copy mode.
   *
   * @return the mode
   */
  public HbmCopyMode copyMode() {
    return copyMode;
  }

  Executor completionExecutor() {
    return completions;
  }

  /**
   * Opens the store: loads the variant's library, then allocates device memory (or describes the
   * registered region) and starts its two streams.
   *
   * @param pageBytes bytes per page, from the layout
   * @return the open store
   * @throws UnsatisfiedLinkError if the variant is unavailable, with the cause
   * @throws IllegalArgumentException if the page size does not fit the tier
   * @throws HbmException if the device refuses (out of memory, a region outside device memory)
   */
  @Override
  public HbmPageStore open(int pageBytes) {
    return new HbmPageStore(this, HbmNative.get(variant), pageBytes);
  }

  @Override
  public String toString() {
    return "HbmTierSpec[name="
        + name
        + ", variant="
        + variant.id()
        + ", device="
        + device
        + ", capacityBytes="
        + capacityBytes
        + ", segments="
        + segments
        + (region != null ? ", registered " + region : "")
        + "]";
  }
}
