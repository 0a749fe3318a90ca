package io.kvtier.nvme;

import java.lang.foreign.MemorySegment;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;

/**
 * LZ4 block compression of page payloads, deciding cheaply when not to compress.
 *
 * <p>KV pages of bf16 activations rarely shrink much, and a compressor must not tax the pages it
 * cannot help. So a page of at least {@value #PROBE_MIN} bytes is first probed: its first {@value
 * #PROBE} bytes are compressed, and unless they shrink below {@value #KEEP_PERCENT}% the page is
 * stored raw after spending about 1/32 of a full compression. A page that passes the probe is
 * compressed with an output limit of {@value #KEEP_PERCENT}% of its size, so a page that does not
 * shrink enough fails fast and is stored raw too.
 *
 * <p>lz4-java's fastest instance (JNI when its native library loads, else pure Java); stateless and
 * thread-safe. Loaded only by stores that compress.
 */
final class Lz4Codec {

  static final int PROBE = 64 * 1024;
  static final int PROBE_MIN = 2 * PROBE;
  static final int KEEP_PERCENT = 97;

  private static final LZ4Compressor COMPRESSOR = LZ4Factory.fastestInstance().fastCompressor();
  private static final LZ4SafeDecompressor DECOMPRESSOR =
      LZ4Factory.fastestInstance().safeDecompressor();

  private Lz4Codec() {}

  /**
   * Room {@link #compress} needs in its output for {@code bytes} of input.
   *
   * @param bytes input length
   * @return output capacity to provide
   */
  static int outputBytes(int bytes) {
    return COMPRESSOR.maxCompressedLength(bytes);
  }

  /**
   * Compresses {@code src} into {@code dst} if that is worth it.
   *
   * @param src the page
   * @param dst at least {@link #outputBytes(int) outputBytes(src)} bytes
   * @return the compressed length, or -1 to store raw
   */
  static int compress(MemorySegment src, MemorySegment dst) {
    int length = (int) src.byteSize();
    if (length == 0) {
      return -1;
    }
    if (length >= PROBE_MIN && compressedOrMinus1(src.asSlice(0, PROBE), dst, limit(PROBE)) < 0) {
      return -1;
    }
    return compressedOrMinus1(src, dst, limit(length));
  }

  /**
   * Decompresses exactly {@code dst.byteSize()} bytes.
   *
   * @param src a compressed payload
   * @param dst receives the page
   * @return true when {@code src} decompressed to exactly {@code dst}'s length
   */
  static boolean decompress(MemorySegment src, MemorySegment dst) {
    try {
      int n =
          DECOMPRESSOR.decompress(
              src.asByteBuffer(),
              0,
              (int) src.byteSize(),
              dst.asByteBuffer(),
              0,
              (int) dst.byteSize());
      return n == dst.byteSize();
    } catch (LZ4Exception e) {
      return false;
    }
  }

  private static int limit(int length) {
    return (int) ((long) length * KEEP_PERCENT / 100);
  }

  private static int compressedOrMinus1(MemorySegment src, MemorySegment dst, int limit) {
    try {
      return COMPRESSOR.compress(
          src.asByteBuffer(), 0, (int) src.byteSize(), dst.asByteBuffer(), 0, limit);
    } catch (LZ4Exception e) {
      return -1;
    }
  }
}
