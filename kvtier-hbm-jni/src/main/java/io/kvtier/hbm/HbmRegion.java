package io.kvtier.hbm;

import java.util.Arrays;

/**
 * KV memory that an engine allocated on a device and hands to kvtier, which then manages the block
 * ids inside it ({@link HbmTier#registered(HbmRegion)}). kvtier never frees it.
 *
 * <p>A block (one page) is {@link #segments()} segments of {@link #segmentBytes()} bytes; block
 * {@code b}'s segment {@code i} lives at {@code bases[i] + b * strides[i]}. On the host the page is
 * the segments back to back, in index order:
 *
 * <pre>
 *  device (vLLM-style, one tensor [2][blocks][tokens][heads][dim] per layer):
 *    layer 0 K: | b0 | b1 | b2 | ...      bases[0] = layer0,                 strides[0] = seg
 *    layer 0 V: | b0 | b1 | b2 | ...      bases[1] = layer0 + blocks * seg,  strides[1] = seg
 *    layer 1 K: | b0 | b1 | b2 | ...      bases[2] = layer1, ...
 *  host page of block 1:
 *    | L0 K b1 | L0 V b1 | L1 K b1 | L1 V b1 | ...             segments = 2 * layers
 * </pre>
 *
 * <p>Instances are immutable; the arrays are copied in and out.
 */
public final class HbmRegion {

  private final int device;
  private final long blocks;
  private final long segmentBytes;
  private final long[] bases;
  private final long[] strides;

  private HbmRegion(int device, long blocks, long segmentBytes, long[] bases, long[] strides) {
    if (device < 0) {
      throw new IllegalArgumentException("device must be non-negative, was " + device);
    }
    if (blocks < 1 || blocks > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "blocks must be in [1, " + Integer.MAX_VALUE + "], was " + blocks);
    }
    if (segmentBytes < 1) {
      throw new IllegalArgumentException("segmentBytes must be positive, was " + segmentBytes);
    }
    if (bases.length == 0 || bases.length != strides.length) {
      throw new IllegalArgumentException(
          "bases ("
              + bases.length
              + ") and strides ("
              + strides.length
              + ") must be equally long and not empty");
    }
    if (segmentBytes * bases.length > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "a page of " + bases.length + " x " + segmentBytes + " bytes exceeds 2 GiB");
    }
    for (int i = 0; i < bases.length; i++) {
      if (bases[i] == 0) {
        throw new IllegalArgumentException("segment " + i + " has a null base address");
      }
      if (strides[i] < segmentBytes) {
        throw new IllegalArgumentException(
            "segment "
                + i
                + ": block stride "
                + strides[i]
                + " is less than segmentBytes "
                + segmentBytes
                + ", so blocks would overlap");
      }
    }
    this.device = device;
    this.blocks = blocks;
    this.segmentBytes = segmentBytes;
    this.bases = bases.clone();
    this.strides = strides.clone();
  }

  /**
   * The general form: any base and block stride per segment.
   *
   * @param device the device the memory is on
   * @param blocks number of blocks
   * @param segmentBytes bytes of one segment of one block
   * @param bases device address of block 0's segment {@code i}
   * @param strides bytes from block {@code b} to {@code b + 1} in segment {@code i}
   * @return the region
   * @throws IllegalArgumentException if a size is out of range or blocks would overlap
   */
  public static HbmRegion of(
      int device, long blocks, long segmentBytes, long[] bases, long[] strides) {
    return new HbmRegion(device, blocks, segmentBytes, bases, strides);
  }

  /**
   * One contiguous page per block: block {@code b} at {@code base + b * pageBytes}.
   *
   * @param device the device
   * @param base device address of block 0
   * @param blocks number of blocks
   * @param pageBytes bytes per block
   * @return the region
   */
  public static HbmRegion contiguous(int device, long base, long blocks, long pageBytes) {
    return new HbmRegion(device, blocks, pageBytes, new long[] {base}, new long[] {pageBytes});
  }

  /**
   * One allocation with per-layer strides: layer {@code l}'s keys ({@code kv = 0}) or values
   * ({@code kv = 1}) of block {@code b} at {@code base + l * layerStride + kv * kvStride + b *
   * blockStride}. With {@code [layers][2][blocks][...]}: {@code kvStride = blocks * segmentBytes},
   * {@code layerStride = 2 * kvStride}, {@code blockStride = segmentBytes}; with {@code
   * [blocks][layers][2][...]}: {@code kvStride = segmentBytes}, {@code layerStride = 2 *
   * segmentBytes}, {@code blockStride = 2 * layers * segmentBytes}.
   *
   * @param device the device
   * @param base device address of the allocation
   * @param blocks number of blocks
   * @param layers transformer layers
   * @param layerStride bytes from one layer to the next
   * @param kvStride bytes from a layer's keys to its values
   * @param blockStride bytes from one block to the next within a segment
   * @param segmentBytes bytes of one layer's keys (or values) of one block
   * @return the region, with {@code 2 * layers} segments
   */
  public static HbmRegion strided(
      int device,
      long base,
      long blocks,
      int layers,
      long layerStride,
      long kvStride,
      long blockStride,
      long segmentBytes) {
    if (layers < 1) {
      throw new IllegalArgumentException("layers must be at least 1, was " + layers);
    }
    long[] bases = new long[2 * layers];
    long[] strides = new long[2 * layers];
    for (int l = 0; l < layers; l++) {
      for (int kv = 0; kv < 2; kv++) {
        bases[2 * l + kv] = base + l * layerStride + kv * kvStride;
        strides[2 * l + kv] = blockStride;
      }
    }
    return new HbmRegion(device, blocks, segmentBytes, bases, strides);
  }

  /**
   * One tensor per layer, each {@code [2][blocks][tokens][heads][dim]} (keys then values), as vLLM
   * allocates them for FlashAttention.
   *
   * @param device the device
   * @param layerBases device address of each layer's tensor
   * @param blocks number of blocks
   * @param segmentBytes bytes of one layer's keys (or values) of one block
   * @return the region, with {@code 2 * layerBases.length} segments
   */
  public static HbmRegion perLayerTensors(
      int device, long[] layerBases, long blocks, long segmentBytes) {
    long[] bases = new long[2 * layerBases.length];
    long[] strides = new long[bases.length];
    for (int l = 0; l < layerBases.length; l++) {
      bases[2 * l] = layerBases[l];
      bases[2 * l + 1] = layerBases[l] + blocks * segmentBytes;
      strides[2 * l] = segmentBytes;
      strides[2 * l + 1] = segmentBytes;
    }
    return new HbmRegion(device, blocks, segmentBytes, bases, strides);
  }

  /**
   * The device.
   *
   * @return its index
   */
  public int device() {
    return device;
  }

  /**
   * Number of blocks; block ids are {@code [0, blocks)} and are the store's slots.
   *
   * @return the count
   */
  public long blocks() {
    return blocks;
  }

  /**
   * Bytes of one segment of one block.
   *
   * @return the size
   */
  public long segmentBytes() {
    return segmentBytes;
  }

  /**
   * Segments per block.
   *
   * @return the count
   */
  public int segments() {
    return bases.length;
  }

  /**
   * Bytes of one block on the host: {@code segments * segmentBytes}.
   *
   * @return the page size
   */
  public int pageBytes() {
    return (int) (segmentBytes * bases.length);
  }

  /**
   * Device address of block 0's segments.
   *
   * @return a copy
   */
  public long[] bases() {
    return bases.clone();
  }

  /**
   * Block strides of the segments.
   *
   * @return a copy
   */
  public long[] strides() {
    return strides.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof HbmRegion r
        && r.device == device
        && r.blocks == blocks
        && r.segmentBytes == segmentBytes
        && Arrays.equals(r.bases, bases)
        && Arrays.equals(r.strides, strides);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(bases) * 31 + Long.hashCode(blocks);
  }

  @Override
  public String toString() {
    return "HbmRegion[device="
        + device
        + ", blocks="
        + blocks
        + ", segments="
        + bases.length
        + ", segmentBytes="
        + segmentBytes
        + "]";
  }
}
