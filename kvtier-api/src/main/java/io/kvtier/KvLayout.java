package io.kvtier;

/**
 * How one model's KV cache is shaped, and therefore how large a page is.
 *
 * <p>{@code pageBytes = 2 · layers · kvHeads · headDim · dtypeBytes · tokensPerBlock} (keys and
 * values). Llama-3-8B in bf16 with 16 tokens per block gives 2 MiB pages.
 *
 * @param layers transformer layers, at least 1
 * @param kvHeads key/value heads per layer, at least 1
 * @param headDim dimension of one head, at least 1
 * @param dtype element type
 * @param tokensPerBlock tokens whose KV one block (one page) holds, 1 to 65,536
 * @param arrangement how a block's bytes sit in HBM
 */
public record KvLayout(
    int layers,
    int kvHeads,
    int headDim,
    DType dtype,
    int tokensPerBlock,
    Arrangement arrangement) {

  /** How a block's bytes are placed in device memory. */
  public enum Arrangement {
    /** One contiguous page per block. */
    CONTIGUOUS,
    /** One segment per layer (and K/V), as vLLM and most engines hold their KV tensors. */
    LAYER_SPLIT
  }

  /** Largest supported {@code tokensPerBlock}. */
  public static final int MAX_TOKENS_PER_BLOCK = 1 << 16;

  /**
   * Validates the components.
   *
   * @throws IllegalArgumentException when a dimension is out of range or the page would exceed 2
   *     GiB
   */
  public KvLayout {
    positive("layers", layers);
    positive("kvHeads", kvHeads);
    positive("headDim", headDim);
    if (dtype == null) {
      throw new IllegalArgumentException("dtype must not be null");
    }
    if (arrangement == null) {
      throw new IllegalArgumentException("arrangement must not be null");
    }
    if (tokensPerBlock < 1 || tokensPerBlock > MAX_TOKENS_PER_BLOCK) {
      throw new IllegalArgumentException(
          "tokensPerBlock must be in [1, " + MAX_TOKENS_PER_BLOCK + "], was " + tokensPerBlock);
    }
    long bytes = 2L * layers * kvHeads * headDim * dtype.bytes() * tokensPerBlock;
    if (bytes > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "a page of "
              + bytes
              + " bytes exceeds 2 GiB: use fewer tokensPerBlock (was "
              + tokensPerBlock
              + ")");
    }
  }

  /**
   * A contiguous layout.
   *
   * @param layers transformer layers
   * @param kvHeads key/value heads per layer
   * @param headDim dimension of one head
   * @param dtype element type
   * @param tokensPerBlock tokens per block
   * @return the layout
   */
  public static KvLayout of(int layers, int kvHeads, int headDim, DType dtype, int tokensPerBlock) {
    return new KvLayout(layers, kvHeads, headDim, dtype, tokensPerBlock, Arrangement.CONTIGUOUS);
  }

  /**
   * A tiny layout for tests and reference replays, where only the index and the policies matter.
   *
   * @param tokensPerBlock tokens per block
   * @param pageBytes bytes per page, a multiple of 2
   * @return a one-layer, one-head layout of the given page size
   */
  public static KvLayout ofPageBytes(int tokensPerBlock, int pageBytes) {
    if (pageBytes < 2 || pageBytes % (2 * tokensPerBlock) != 0) {
      throw new IllegalArgumentException(
          "pageBytes must be a positive multiple of 2 * tokensPerBlock ("
              + (2 * tokensPerBlock)
              + "), was "
              + pageBytes);
    }
    return of(1, 1, pageBytes / (2 * tokensPerBlock), DType.INT8, tokensPerBlock);
  }

  /**
   * The same layout with another arrangement.
   *
   * @param arrangement how the block's bytes are placed
   * @return a copy
   */
  public KvLayout with(Arrangement arrangement) {
    return new KvLayout(layers, kvHeads, headDim, dtype, tokensPerBlock, arrangement);
  }

  /**
   * Bytes of one page (one block of KV).
   *
   * @return page size in bytes
   */
  public int pageBytes() {
    return 2 * layers * kvHeads * headDim * dtype.bytes() * tokensPerBlock;
  }

  /**
   * Bytes of one layer's keys (or values) within a block: the segment size of a layer-split block.
   *
   * @return bytes per layer-half
   */
  public int layerSegmentBytes() {
    return kvHeads * headDim * dtype.bytes() * tokensPerBlock;
  }

  /**
   * Full blocks that {@code tokens} tokens fill.
   *
   * @param tokens a token count
   * @return {@code tokens / tokensPerBlock}
   */
  public int fullBlocks(int tokens) {
    return tokens / tokensPerBlock;
  }

  /**
   * Pages needed to hold {@code tokens} tokens, counting a partial last block.
   *
   * @param tokens a token count
   * @return the ceiling of {@code tokens / tokensPerBlock}
   */
  public int pagesFor(int tokens) {
    return (int) (((long) tokens + tokensPerBlock - 1) / tokensPerBlock);
  }

  private static void positive(String name, int value) {
    if (value < 1) {
      throw new IllegalArgumentException(name + " must be at least 1, was " + value);
    }
  }
}
