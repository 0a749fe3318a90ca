package io.kvtier.nvme;

import io.kvtier.spi.BlockRecord;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The header stored with every page on flash, format version {@value #VERSION}. All fields are
 * little-endian. The header names the block (its key, its parent's key, its root key and its token
 * ids), so a reader can prove that the bytes it is about to serve are the block it asked for.
 *
 * <pre>
 * offset
 *      +-------------------------------+---------------+---------------+
 *    0 |          magic "KVTP"         |    version    |     flags     |
 *      +-------------------------------+---------------+---------------+
 *    8 |                    block key, high 64 bits                    |
 *      +---------------------------------------------------------------+
 *   16 |                     block key, low 64 bits                    |
 *      +---------------------------------------------------------------+
 *   24 |                    parent key, high 64 bits                   |
 *      +---------------------------------------------------------------+
 *   32 |                    parent key, low 64 bits                    |
 *      +-------------------------------+-------------------------------+
 *   40 |       token count (n)         |  stored payload bytes         |
 *      +-------------------------------+-------------------------------+
 *   48 |  header bytes (80 + 4n)       |  payload CRC32C               |
 *      +-------------------------------+-------------------------------+
 *   56 |                     root key, high 64 bits                    |
 *      +---------------------------------------------------------------+
 *   64 |                     root key, low 64 bits                     |
 *      +-------------------------------+-------------------------------+
 *   72 |  page bytes (before LZ4)      |  header CRC32C                |
 *      +-------------------------------+-------------------------------+
 *   80 | token id 0                    | token id 1                    |
 *      | ...                           | token id n-1                  |
 *      +-------------------------------+-------------------------------+
 *      (80 + 4n: end of header)
 * </pre>
 *
 * <p>Two checksums, both CRC32C. The <b>header CRC</b> covers every header byte except the two
 * checksum fields, so warm restart can validate a page's identity without reading its payload. The
 * <b>payload CRC</b> covers the payload as stored (compressed when flag {@link #FLAG_LZ4} is set),
 * so a verified read checks it before decompressing. A page is intact when both match.
 *
 * <p>Flags: bit 0 {@link #FLAG_LZ4}, the payload is an LZ4 block that decompresses to {@code page
 * bytes}; bit 1 {@link #FLAG_UNTYPED}, the page was written without a block identity (keys and
 * tokens are zero) and can be read back as bytes but never matched to a block. Other bits are 0.
 *
 * <p>Versions: version 1 (56 bytes: no root key, no token ids, a single CRC over header and
 * payload) was never written by a store; it cannot prove a block's identity, so this reader reports
 * it as {@link #UNSUPPORTED_FORMAT} instead of serving it.
 *
 * <p>Reading follows the hot-path rule: the checks return a status ({@link #VALID}, {@link
 * #BAD_MAGIC}, {@link #UNSUPPORTED_FORMAT}, {@link #BAD_LENGTH}, {@link #BAD_CHECKSUM}) because a
 * corrupt page is an expected outcome on disk; exceptions are for arguments that are the caller's
 * mistake.
 */
public final class NvmePageHeader {

  /** Format version written by {@link #encode}; the only one the checks accept. */
  public static final int VERSION = 2;

  /** The bytes "KVTP" read as a little-endian int. */
  public static final int MAGIC = 0x5054564B;

  /** Offset of the magic number (4 bytes). */
  public static final int MAGIC_OFFSET = 0;

  /** Offset of the format version (2 bytes, unsigned). */
  public static final int VERSION_OFFSET = 4;

  /** Offset of the flags (2 bytes). */
  public static final int FLAGS_OFFSET = 6;

  /** Offset of the block key's high half (8 bytes). */
  public static final int KEY_HI_OFFSET = 8;

  /** Offset of the block key's low half (8 bytes). */
  public static final int KEY_LO_OFFSET = 16;

  /** Offset of the parent key's high half (8 bytes). */
  public static final int PARENT_HI_OFFSET = 24;

  /** Offset of the parent key's low half (8 bytes). */
  public static final int PARENT_LO_OFFSET = 32;

  /** Offset of the block's token count (4 bytes). */
  public static final int TOKEN_COUNT_OFFSET = 40;

  /** Offset of the stored payload's length (4 bytes, unsigned): after compression, if any. */
  public static final int PAYLOAD_BYTES_OFFSET = 44;

  /** Offset of the header's own length, {@code 80 + 4 * token count} (4 bytes). */
  public static final int HEADER_BYTES_OFFSET = 48;

  /** Offset of the CRC32C of the stored payload (4 bytes). */
  public static final int PAYLOAD_CRC_OFFSET = 52;

  /** Offset of the root key's high half (8 bytes). */
  public static final int ROOT_HI_OFFSET = 56;

  /** Offset of the root key's low half (8 bytes). */
  public static final int ROOT_LO_OFFSET = 64;

  /** Offset of the page's length before compression (4 bytes). */
  public static final int PAGE_BYTES_OFFSET = 72;

  /** Offset of the CRC32C of the header, checksum fields excluded (4 bytes). */
  public static final int HEADER_CRC_OFFSET = 76;

  /** Offset of the first token id; token {@code i} is at {@code TOKENS_OFFSET + 4 * i}. */
  public static final int TOKENS_OFFSET = 80;

  /** Size of a header with no tokens: the fixed part. */
  public static final int FIXED_BYTES = TOKENS_OFFSET;

  /** Flag: the payload is LZ4-compressed. */
  public static final int FLAG_LZ4 = 1;

  /** Flag: the page carries bytes only, no block identity. */
  public static final int FLAG_UNTYPED = 1 << 1;

  /** Status: the header (and payload, where checked) is intact. */
  public static final int VALID = 0;

  /** Status: not a kvtier page header. */
  public static final int BAD_MAGIC = 1;

  /** Status: a format version or flags this reader does not know. */
  public static final int UNSUPPORTED_FORMAT = 2;

  /** Status: a length field is impossible, or the bytes are shorter than it says. */
  public static final int BAD_LENGTH = 3;

  /** Status: a checksum does not match: some byte of header or payload changed. */
  public static final int BAD_CHECKSUM = 4;

  private static final int KNOWN_FLAGS = FLAG_LZ4 | FLAG_UNTYPED;
  private static final ValueLayout.OfShort U16 =
      ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfInt I32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfLong I64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final long CHUNK = 1L << 30;
  private static final int MAX_TOKENS = (Integer.MAX_VALUE - FIXED_BYTES) / 4;

  private NvmePageHeader() {}

  /**
   * Bytes of header for a block of {@code tokenCount} tokens.
   *
   * @param tokenCount tokens in the block
   * @return {@code 80 + 4 * tokenCount}
   * @throws IllegalArgumentException for a negative or absurd count
   */
  public static int bytesFor(int tokenCount) {
    if (tokenCount < 0 || tokenCount > MAX_TOKENS) {
      throw new IllegalArgumentException("token count out of range: " + tokenCount);
    }
    return FIXED_BYTES + 4 * tokenCount;
  }

  /**
   * Writes a header for {@code block} (or an untyped page when {@code block} is null) describing
   * {@code payload}, both checksums included. The segments may be slices of one record buffer.
   *
   * @param header at least {@link #bytesFor(int) bytesFor(tokens)} bytes
   * @param block the block's identity, or null for an untyped page
   * @param flags {@link #FLAG_LZ4} when {@code payload} is compressed, else 0 ({@link
   *     #FLAG_UNTYPED} is set from {@code block})
   * @param pageBytes the page's length before compression
   * @param payload the payload as it will be stored
   * @return the header's length
   * @throws IllegalArgumentException for a short header, unknown flags or lengths that do not fit
   */
  public static int encode(
      MemorySegment header, BlockRecord block, int flags, int pageBytes, MemorySegment payload) {
    if (payload.byteSize() > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "lengths out of range: page " + pageBytes + ", payload " + payload.byteSize());
    }
    return encode(header, block, flags, pageBytes, (int) payload.byteSize(), crc(payload));
  }

  /**
   * {@link #encode(MemorySegment, BlockRecord, int, int, MemorySegment)} for a payload whose CRC32C
   * the caller computed (the slab store checksums a page piece by piece while it writes).
   *
   * @param header at least {@link #bytesFor(int) bytesFor(tokens)} bytes
   * @param block the block's identity, or null for an untyped page
   * @param flags {@link #FLAG_LZ4} or 0
   * @param pageBytes the page's length before compression
   * @param payloadBytes the stored payload's length
   * @param payloadCrc the CRC32C of the stored payload ({@link #crc})
   * @return the header's length
   */
  static int encode(
      MemorySegment header,
      BlockRecord block,
      int flags,
      int pageBytes,
      int payloadBytes,
      int payloadCrc) {
    if ((flags & ~FLAG_LZ4) != 0) {
      throw new IllegalArgumentException("unknown flags " + Integer.toHexString(flags));
    }
    if (pageBytes < 0 || payloadBytes < 0) {
      throw new IllegalArgumentException(
          "lengths out of range: page " + pageBytes + ", payload " + payloadBytes);
    }
    int tokens = block == null ? 0 : block.tokenCount();
    int bytes = bytesFor(tokens);
    requireBytes(header, bytes);
    header.set(I32, MAGIC_OFFSET, MAGIC);
    header.set(U16, VERSION_OFFSET, (short) VERSION);
    header.set(U16, FLAGS_OFFSET, (short) (flags | (block == null ? FLAG_UNTYPED : 0)));
    header.set(I64, KEY_HI_OFFSET, block == null ? 0 : block.keyHi());
    header.set(I64, KEY_LO_OFFSET, block == null ? 0 : block.keyLo());
    header.set(I64, PARENT_HI_OFFSET, block == null ? 0 : block.parentHi());
    header.set(I64, PARENT_LO_OFFSET, block == null ? 0 : block.parentLo());
    header.set(I32, TOKEN_COUNT_OFFSET, tokens);
    header.set(I32, PAYLOAD_BYTES_OFFSET, payloadBytes);
    header.set(I32, HEADER_BYTES_OFFSET, bytes);
    header.set(I32, PAYLOAD_CRC_OFFSET, payloadCrc);
    header.set(I64, ROOT_HI_OFFSET, block == null ? 0 : block.rootHi());
    header.set(I64, ROOT_LO_OFFSET, block == null ? 0 : block.rootLo());
    header.set(I32, PAGE_BYTES_OFFSET, pageBytes);
    for (int i = 0; i < tokens; i++) {
      header.set(I32, TOKENS_OFFSET + 4L * i, block.token(i));
    }
    header.set(I32, HEADER_CRC_OFFSET, headerCrc(header, bytes));
    return bytes;
  }

  /**
   * Checks a header on its own: magic, version, flags, lengths and the header CRC. Reads nothing
   * past {@code header}'s end, so a torn or truncated header is a status, not an exception.
   *
   * @param header the bytes where a header should start; may be longer than the header
   * @return {@link #VALID} or the first problem found
   */
  public static int checkHeader(MemorySegment header) {
    if (header.byteSize() < FIXED_BYTES) {
      return header.byteSize() >= 4 && header.get(I32, MAGIC_OFFSET) != MAGIC
          ? BAD_MAGIC
          : BAD_LENGTH;
    }
    if (header.get(I32, MAGIC_OFFSET) != MAGIC) {
      return BAD_MAGIC;
    }
    if (version(header) != VERSION || (flags(header) & ~KNOWN_FLAGS) != 0) {
      return UNSUPPORTED_FORMAT;
    }
    int tokens = tokenCount(header);
    if (tokens < 0
        || tokens > MAX_TOKENS
        || headerBytes(header) != FIXED_BYTES + 4 * tokens
        || headerBytes(header) > header.byteSize()
        || pageBytes(header) < 0
        || payloadBytes(header) < 0) {
      return BAD_LENGTH;
    }
    if (header.get(I32, HEADER_CRC_OFFSET) != headerCrc(header, headerBytes(header))) {
      return BAD_CHECKSUM;
    }
    return VALID;
  }

  /**
   * Checks a payload against a header that passed {@link #checkHeader}: its length and CRC.
   *
   * @param header a valid header
   * @param payload the payload as read, exactly {@link #payloadBytes} long
   * @return {@link #VALID}, {@link #BAD_LENGTH} or {@link #BAD_CHECKSUM}
   */
  public static int checkPayload(MemorySegment header, MemorySegment payload) {
    if (payload.byteSize() != payloadBytes(header)) {
      return BAD_LENGTH;
    }
    return payloadCrc(header) == crc(payload) ? VALID : BAD_CHECKSUM;
  }

  /**
   * {@link #checkHeader} then {@link #checkPayload}.
   *
   * @param header the header as read
   * @param payload the payload as read
   * @return {@link #VALID} or the first problem found
   */
  public static int check(MemorySegment header, MemorySegment payload) {
    int status = checkHeader(header);
    return status != VALID ? status : checkPayload(header, payload);
  }

  /**
   * Whether header and payload are intact.
   *
   * @param header the header as read
   * @param payload the payload as read
   * @return {@code check(header, payload) == VALID}
   */
  public static boolean verify(MemorySegment header, MemorySegment payload) {
    return check(header, payload) == VALID;
  }

  /**
   * Whether a valid header names exactly {@code block}: keys, parent, root and every token id. The
   * collision check before a page is served; allocation-free.
   *
   * @param header a header that passed {@link #checkHeader}
   * @param block the block the reader expects
   * @return true when every field matches and the page is typed
   */
  public static boolean names(MemorySegment header, BlockRecord block) {
    int tokens = block.tokenCount();
    if ((flags(header) & FLAG_UNTYPED) != 0
        || keyHi(header) != block.keyHi()
        || keyLo(header) != block.keyLo()
        || parentHi(header) != block.parentHi()
        || parentLo(header) != block.parentLo()
        || rootHi(header) != block.rootHi()
        || rootLo(header) != block.rootLo()
        || tokenCount(header) != tokens) {
      return false;
    }
    for (int i = 0; i < tokens; i++) {
      if (header.get(I32, TOKENS_OFFSET + 4L * i) != block.token(i)) {
        return false;
      }
    }
    return true;
  }

  /**
   * The block a valid typed header names; allocates (meant for recovery, not the hot path).
   *
   * @param header a header that passed {@link #checkHeader}
   * @return the record, or null for an untyped page
   */
  public static BlockRecord block(MemorySegment header) {
    if ((flags(header) & FLAG_UNTYPED) != 0) {
      return null;
    }
    int[] tokens = new int[tokenCount(header)];
    MemorySegment.copy(header, I32, TOKENS_OFFSET, tokens, 0, tokens.length);
    return new BlockRecord(
        keyHi(header),
        keyLo(header),
        parentHi(header),
        parentLo(header),
        rootHi(header),
        rootLo(header),
        tokens);
  }

  /**
   * A readable name for a status.
   *
   * @param status a status
   * @return e.g. {@code "bad checksum"}
   */
  public static String describe(int status) {
    return switch (status) {
      case VALID -> "valid";
      case BAD_MAGIC -> "not a kvtier page (bad magic)";
      case UNSUPPORTED_FORMAT -> "unsupported format version or flags";
      case BAD_LENGTH -> "bad or truncated length";
      case BAD_CHECKSUM -> "bad checksum";
      default -> "unknown status " + status;
    };
  }

  /**
   * CRC32C of a segment of any size.
   *
   * @param bytes the bytes
   * @return the checksum as an int
   */
  public static int crc(MemorySegment bytes) {
    CRC32C crc = new CRC32C();
    update(crc, bytes);
    return (int) crc.getValue();
  }

  private static int headerCrc(MemorySegment header, int bytes) {
    CRC32C crc = new CRC32C();
    update(crc, header.asSlice(0, PAYLOAD_CRC_OFFSET));
    update(crc, header.asSlice(ROOT_HI_OFFSET, HEADER_CRC_OFFSET - ROOT_HI_OFFSET));
    update(crc, header.asSlice(TOKENS_OFFSET, bytes - TOKENS_OFFSET));
    return (int) crc.getValue();
  }

  /**
   * Adds {@code bytes} to a running CRC32C, without copying: a native segment is passed as a direct
   * buffer, a heap segment as its array.
   */
  static void update(CRC32C crc, MemorySegment bytes) {
    if (bytes.isNative()) {
      for (long off = 0, size = bytes.byteSize(); off < size; off += CHUNK) {
        crc.update(bytes.asSlice(off, Math.min(CHUNK, size - off)).asByteBuffer());
      }
    } else if (bytes.heapBase().orElse(null) instanceof byte[] array) {
      crc.update(array, (int) bytes.address(), (int) bytes.byteSize());
    } else {
      crc.update(bytes.asByteBuffer());
    }
  }

  /**
   * The format version field.
   *
   * @param header a header
   * @return the version, unsigned
   */
  public static int version(MemorySegment header) {
    return Short.toUnsignedInt(header.get(U16, VERSION_OFFSET));
  }

  /**
   * The flags field.
   *
   * @param header a header
   * @return the flags, unsigned
   */
  public static int flags(MemorySegment header) {
    return Short.toUnsignedInt(header.get(U16, FLAGS_OFFSET));
  }

  /**
   * Whether the payload is LZ4-compressed.
   *
   * @param header a header
   * @return true when {@link #FLAG_LZ4} is set
   */
  public static boolean isCompressed(MemorySegment header) {
    return (flags(header) & FLAG_LZ4) != 0;
  }

  /**
   * The block key's high half.
   *
   * @param header a header
   * @return the field
   */
  public static long keyHi(MemorySegment header) {
    return header.get(I64, KEY_HI_OFFSET);
  }

  /**
   * The block key's low half.
   *
   * @param header a header
   * @return the field
   */
  public static long keyLo(MemorySegment header) {
    return header.get(I64, KEY_LO_OFFSET);
  }

  /**
   * The parent key's high half.
   *
   * @param header a header
   * @return the field
   */
  public static long parentHi(MemorySegment header) {
    return header.get(I64, PARENT_HI_OFFSET);
  }

  /**
   * The parent key's low half.
   *
   * @param header a header
   * @return the field
   */
  public static long parentLo(MemorySegment header) {
    return header.get(I64, PARENT_LO_OFFSET);
  }

  /**
   * The root key's high half.
   *
   * @param header a header
   * @return the field
   */
  public static long rootHi(MemorySegment header) {
    return header.get(I64, ROOT_HI_OFFSET);
  }

  /**
   * The root key's low half.
   *
   * @param header a header
   * @return the field
   */
  public static long rootLo(MemorySegment header) {
    return header.get(I64, ROOT_LO_OFFSET);
  }

  /**
   * The block's token count.
   *
   * @param header a header
   * @return the field
   */
  public static int tokenCount(MemorySegment header) {
    return header.get(I32, TOKEN_COUNT_OFFSET);
  }

  /**
   * The header's length.
   *
   * @param header a header
   * @return the field
   */
  public static int headerBytes(MemorySegment header) {
    return header.get(I32, HEADER_BYTES_OFFSET);
  }

  /**
   * The payload CRC32C field.
   *
   * @param header a header
   * @return the field
   */
  static int payloadCrc(MemorySegment header) {
    return header.get(I32, PAYLOAD_CRC_OFFSET);
  }

  /**
   * The stored payload's length.
   *
   * @param header a header
   * @return the field
   */
  public static int payloadBytes(MemorySegment header) {
    return header.get(I32, PAYLOAD_BYTES_OFFSET);
  }

  /**
   * The page's length before compression.
   *
   * @param header a header
   * @return the field
   */
  public static int pageBytes(MemorySegment header) {
    return header.get(I32, PAGE_BYTES_OFFSET);
  }

  private static void requireBytes(MemorySegment header, int bytes) {
    if (header.byteSize() < bytes) {
      throw new IllegalArgumentException(
          "a page header needs " + bytes + " bytes, the segment has " + header.byteSize());
    }
  }
}
