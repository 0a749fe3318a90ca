package io.kvtier.nvme;

import io.kvtier.event.BlockKey;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The header stored in front of every page on flash, format version {@value #VERSION}. All fields
 * are little-endian; the payload (the page's bytes) follows the header directly.
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
 *   40 |          token count          |         payload bytes         |
 *      +-------------------------------+-------------------------------+
 *   48 |          reserved, 0          |             CRC32C            |
 *      +-------------------------------+-------------------------------+
 *   56 | payload: (payload bytes) bytes of page data ...
 * </pre>
 *
 * <p>The CRC32C covers header bytes {@code [0, }{@value #CHECKSUM_OFFSET}{@code )} and then the
 * payload, so it detects a change anywhere in the record: in the payload, in the keys that say
 * which block this is, or in the checksum itself. Flags are 0 in version 1; bit 0 is reserved for
 * LZ4-compressed payloads.
 *
 * <p>Reading follows the hot-path rule: {@link #check(MemorySegment, MemorySegment)} returns a
 * status ({@link #VALID}, {@link #BAD_MAGIC}, {@link #UNSUPPORTED_FORMAT}, {@link
 * #BAD_PAYLOAD_LENGTH}, {@link #BAD_CHECKSUM}) because a corrupt page is an expected outcome on
 * disk; exceptions are for a header segment that is too short, which is the caller's mistake.
 */
public final class NvmePageHeader {

  /** Format version written by {@link #encode}; the only one {@link #check} accepts. */
  public static final int VERSION = 1;

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

  /** Offset of the payload length (4 bytes, unsigned). */
  public static final int PAYLOAD_BYTES_OFFSET = 44;

  /** Offset of the reserved word (4 bytes, 0 in version 1). */
  public static final int RESERVED_OFFSET = 48;

  /** Offset of the CRC32C (4 bytes); the checksum covers everything before it and the payload. */
  public static final int CHECKSUM_OFFSET = 52;

  /** Size of the header; the payload starts here. */
  public static final int BYTES = 56;

  /** Status: the header is intact and describes the payload. */
  public static final int VALID = 0;

  /** Status: not a kvtier page header. */
  public static final int BAD_MAGIC = 1;

  /** Status: a format version or flags this reader does not know. */
  public static final int UNSUPPORTED_FORMAT = 2;

  /** Status: the payload is not as long as the header says. */
  public static final int BAD_PAYLOAD_LENGTH = 3;

  /** Status: the checksum does not match: some byte of header or payload changed. */
  public static final int BAD_CHECKSUM = 4;

  private static final ValueLayout.OfShort U16 =
      ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfInt I32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfLong I64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final long CHUNK = 1L << 30;

  private NvmePageHeader() {}

  /**
   * Writes a version-{@value #VERSION} header for {@code payload} into {@code header}, checksum
   * included. The two segments may be slices of one record buffer.
   *
   * @param header at least {@value #BYTES} bytes; the first {@value #BYTES} are written
   * @param keyHi the block key's high half
   * @param keyLo the block key's low half
   * @param parentHi the parent key's high half ({@link BlockKey#ROOT} for a first block)
   * @param parentLo the parent key's low half
   * @param tokenCount tokens in the block, not negative
   * @param payload the page's bytes as they will be stored, at most 4 GiB - 1
   * @throws IllegalArgumentException for a short header, a negative token count or a payload too
   *     long to describe
   */
  public static void encode(
      MemorySegment header,
      long keyHi,
      long keyLo,
      long parentHi,
      long parentLo,
      int tokenCount,
      MemorySegment payload) {
    requireHeader(header);
    if (tokenCount < 0) {
      throw new IllegalArgumentException("tokenCount must not be negative, was " + tokenCount);
    }
    if (payload.byteSize() > 0xFFFF_FFFFL) {
      throw new IllegalArgumentException(
          "payload of " + payload.byteSize() + " bytes does not fit the 32-bit length field");
    }
    header.set(I32, MAGIC_OFFSET, MAGIC);
    header.set(U16, VERSION_OFFSET, (short) VERSION);
    header.set(U16, FLAGS_OFFSET, (short) 0);
    header.set(I64, KEY_HI_OFFSET, keyHi);
    header.set(I64, KEY_LO_OFFSET, keyLo);
    header.set(I64, PARENT_HI_OFFSET, parentHi);
    header.set(I64, PARENT_LO_OFFSET, parentLo);
    header.set(I32, TOKEN_COUNT_OFFSET, tokenCount);
    header.set(I32, PAYLOAD_BYTES_OFFSET, (int) payload.byteSize());
    header.set(I32, RESERVED_OFFSET, 0);
    header.set(I32, CHECKSUM_OFFSET, checksum(header, payload));
  }

  /**
   * Like {@link #encode(MemorySegment, long, long, long, long, int, MemorySegment)} with keys as
   * records.
   *
   * @param header at least {@value #BYTES} bytes
   * @param key the block's key
   * @param parent its parent's key
   * @param tokenCount tokens in the block
   * @param payload the page's bytes
   */
  public static void encode(
      MemorySegment header, BlockKey key, BlockKey parent, int tokenCount, MemorySegment payload) {
    encode(header, key.hi(), key.lo(), parent.hi(), parent.lo(), tokenCount, payload);
  }

  /**
   * Checks a header against its payload, without allocating a result or throwing for bad data.
   *
   * @param header the header as read, at least {@value #BYTES} bytes
   * @param payload the payload as read
   * @return {@link #VALID} or the first problem found
   * @throws IllegalArgumentException if {@code header} is shorter than {@value #BYTES} bytes
   */
  public static int check(MemorySegment header, MemorySegment payload) {
    requireHeader(header);
    if (header.get(I32, MAGIC_OFFSET) != MAGIC) {
      return BAD_MAGIC;
    }
    if (version(header) != VERSION || flags(header) != 0) {
      return UNSUPPORTED_FORMAT;
    }
    if (payloadBytes(header) != payload.byteSize()) {
      return BAD_PAYLOAD_LENGTH;
    }
    if (storedChecksum(header) != checksum(header, payload)) {
      return BAD_CHECKSUM;
    }
    return VALID;
  }

  /**
   * Whether the header is intact and describes the payload.
   *
   * @param header the header as read
   * @param payload the payload as read
   * @return {@code check(header, payload) == VALID}
   */
  public static boolean verify(MemorySegment header, MemorySegment payload) {
    return check(header, payload) == VALID;
  }

  /**
   * Whether an intact header names the block a reader asked for: the collision check before a page
   * is served.
   *
   * @param header a header that {@link #verify}d
   * @param key the key looked up
   * @param parent the parent key the reader expects
   * @return true when both keys match
   */
  public static boolean names(MemorySegment header, BlockKey key, BlockKey parent) {
    return keyHi(header) == key.hi()
        && keyLo(header) == key.lo()
        && parentHi(header) == parent.hi()
        && parentLo(header) == parent.lo();
  }

  /**
   * A readable name for a {@link #check} status.
   *
   * @param status a status
   * @return e.g. {@code "bad checksum"}
   */
  public static String describe(int status) {
    return switch (status) {
      case VALID -> "valid";
      case BAD_MAGIC -> "not a kvtier page (bad magic)";
      case UNSUPPORTED_FORMAT -> "unsupported format version or flags";
      case BAD_PAYLOAD_LENGTH -> "payload length differs from the header";
      case BAD_CHECKSUM -> "bad checksum";
      default -> "unknown status " + status;
    };
  }

  /**
   * The CRC32C of header bytes {@code [0, CHECKSUM_OFFSET)} followed by the payload.
   *
   * @param header at least {@value #BYTES} bytes
   * @param payload the payload
   * @return the checksum as an int
   */
  public static int checksum(MemorySegment header, MemorySegment payload) {
    requireHeader(header);
    CRC32C crc = new CRC32C();
    crc.update(header.asSlice(0, CHECKSUM_OFFSET).asByteBuffer());
    for (long off = 0, size = payload.byteSize(); off < size; off += CHUNK) {
      crc.update(payload.asSlice(off, Math.min(CHUNK, size - off)).asByteBuffer());
    }
    return (int) crc.getValue();
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
   * The block key.
   *
   * @param header a header
   * @return a new key
   */
  public static BlockKey key(MemorySegment header) {
    return new BlockKey(keyHi(header), keyLo(header));
  }

  /**
   * The parent key.
   *
   * @param header a header
   * @return a new key
   */
  public static BlockKey parent(MemorySegment header) {
    return new BlockKey(parentHi(header), parentLo(header));
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
   * The payload length.
   *
   * @param header a header
   * @return bytes, unsigned
   */
  public static long payloadBytes(MemorySegment header) {
    return Integer.toUnsignedLong(header.get(I32, PAYLOAD_BYTES_OFFSET));
  }

  /**
   * The checksum field as stored.
   *
   * @param header a header
   * @return the field
   */
  public static int storedChecksum(MemorySegment header) {
    return header.get(I32, CHECKSUM_OFFSET);
  }

  private static void requireHeader(MemorySegment header) {
    if (header.byteSize() < BYTES) {
      throw new IllegalArgumentException(
          "a page header needs " + BYTES + " bytes, the segment has " + header.byteSize());
    }
  }
}
