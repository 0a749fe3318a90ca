package io.kvtier;

/** Element type of the KV tensors, with its size in bytes. */
public enum DType {
  /** 32-bit IEEE float. */
  FP32(4),
  /** 16-bit IEEE float. */
  FP16(2),
  /** bfloat16. */
  BF16(2),
  /** 8-bit float, e4m3. */
  FP8_E4M3(1),
  /** 8-bit float, e5m2. */
  FP8_E5M2(1),
  /** 8-bit integer (quantised KV). */
  INT8(1);

  private final int bytes;

  DType(int bytes) {
    this.bytes = bytes;
  }

  /**
   * Size of one element.
   *
   * @return bytes per element
   */
  public int bytes() {
    return bytes;
  }
}
