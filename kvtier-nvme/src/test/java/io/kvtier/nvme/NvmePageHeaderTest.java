package io.kvtier.nvme;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.spi.BlockRecord;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

class NvmePageHeaderTest {

  static final BlockRecord BLOCK =
      new BlockRecord(
          0x0123456789abcdefL,
          0xfedcba9876543210L,
          0x1111222233334444L,
          0x5555666677778888L,
          0x9999aaaabbbbccccL,
          0xddddeeeeffff0000L,
          new int[] {1, 2, 3, 500_000, -7, 42, 9, 10});

  private static final ValueLayout.OfInt I32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  /** A record as it could sit on disk: header, then payload, in one buffer. */
  private static MemorySegment record(Arena arena, BlockRecord block, int payloadBytes, long seed) {
    int headerBytes = NvmePageHeader.bytesFor(block == null ? 0 : block.tokenCount());
    MemorySegment record = arena.allocate(headerBytes + payloadBytes);
    byte[] bytes = new byte[payloadBytes];
    new Random(seed).nextBytes(bytes);
    MemorySegment payload = record.asSlice(headerBytes);
    MemorySegment.copy(MemorySegment.ofArray(bytes), 0, payload, 0, payloadBytes);
    assertThat(NvmePageHeader.encode(record, block, 0, payloadBytes, payload))
        .isEqualTo(headerBytes);
    return record;
  }

  private static MemorySegment header(MemorySegment record) {
    return record.asSlice(0, NvmePageHeader.headerBytes(record));
  }

  private static MemorySegment payload(MemorySegment record) {
    return record.asSlice(NvmePageHeader.headerBytes(record));
  }

  @Test
  void aCrcComputedPieceByPiece_encodesTheSameHeader_asOneComputedOverThePayload() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment record = record(arena, BLOCK, 3 * 4096 + 77, 5);
      MemorySegment payload = payload(record);
      CRC32C crc = new CRC32C();
      for (long from = 0; from < payload.byteSize(); from += 4096) {
        NvmePageHeader.update(
            crc, payload.asSlice(from, Math.min(4096, payload.byteSize() - from)));
      }
      MemorySegment other = arena.allocate(NvmePageHeader.headerBytes(record));
      NvmePageHeader.encode(
          other,
          BLOCK,
          0,
          (int) payload.byteSize(),
          (int) payload.byteSize(),
          (int) crc.getValue());
      assertThat(other.mismatch(header(record))).isEqualTo(-1);
      NvmePageHeader.encode(
          other,
          BLOCK,
          0,
          (int) payload.byteSize(),
          (int) payload.byteSize(),
          ~(int) crc.getValue());
      assertThat(NvmePageHeader.check(other, payload)).isEqualTo(NvmePageHeader.BAD_CHECKSUM);
    }
  }

  @Test
  void encode_thenRead_roundTripsEveryField() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment record = record(arena, BLOCK, 4096, 1);
      assertThat(NvmePageHeader.check(header(record), payload(record)))
          .isEqualTo(NvmePageHeader.VALID);
      assertThat(NvmePageHeader.version(record)).isEqualTo(2);
      assertThat(NvmePageHeader.flags(record)).isZero();
      assertThat(NvmePageHeader.headerBytes(record)).isEqualTo(80 + 4 * 8);
      assertThat(NvmePageHeader.tokenCount(record)).isEqualTo(8);
      assertThat(NvmePageHeader.payloadBytes(record)).isEqualTo(4096);
      assertThat(NvmePageHeader.pageBytes(record)).isEqualTo(4096);
      assertThat(NvmePageHeader.block(record)).isEqualTo(BLOCK);
      assertThat(NvmePageHeader.names(record, BLOCK)).isTrue();
    }
  }

  @Test
  void names_comparesEveryFieldAndEveryToken() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment record = record(arena, BLOCK, 64, 2);
      long[] f = {
        BLOCK.keyHi(),
        BLOCK.keyLo(),
        BLOCK.parentHi(),
        BLOCK.parentLo(),
        BLOCK.rootHi(),
        BLOCK.rootLo()
      };
      for (int i = 0; i < f.length; i++) {
        long[] g = f.clone();
        g[i] ^= 1;
        BlockRecord other = new BlockRecord(g[0], g[1], g[2], g[3], g[4], g[5], BLOCK.tokens());
        assertThat(NvmePageHeader.names(record, other)).as("field %d", i).isFalse();
      }
      for (int t = 0; t < BLOCK.tokenCount(); t++) {
        int[] tokens = BLOCK.tokens();
        tokens[t]++;
        assertThat(NvmePageHeader.names(record, withTokens(tokens))).as("token %d", t).isFalse();
      }
      assertThat(NvmePageHeader.names(record, withTokens(new int[] {1, 2, 3}))).isFalse();
    }
  }

  private static BlockRecord withTokens(int[] tokens) {
    return new BlockRecord(
        BLOCK.keyHi(),
        BLOCK.keyLo(),
        BLOCK.parentHi(),
        BLOCK.parentLo(),
        BLOCK.rootHi(),
        BLOCK.rootLo(),
        tokens);
  }

  @Test
  void encoding_isLittleEndianWithTheDocumentedMagicAndOffsets() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment record = record(arena, BLOCK, 64, 3);
      byte[] magic = record.asSlice(0, 4).toArray(ValueLayout.JAVA_BYTE);
      assertThat(new String(magic, StandardCharsets.US_ASCII)).isEqualTo("KVTP");
      assertThat(record.get(ValueLayout.JAVA_BYTE, NvmePageHeader.KEY_LO_OFFSET))
          .isEqualTo((byte) 0x10);
      assertThat(record.get(I32, NvmePageHeader.TOKENS_OFFSET + 3 * 4)).isEqualTo(500_000);
    }
  }

  @Test
  void checksums_areCrc32cOfHeaderWithoutCrcFields_andOfPayload() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment record = record(arena, BLOCK, 1000, 4);
      byte[] all = record.toArray(ValueLayout.JAVA_BYTE);
      int headerBytes = NvmePageHeader.headerBytes(record);
      CRC32C h = new CRC32C();
      h.update(all, 0, NvmePageHeader.PAYLOAD_CRC_OFFSET);
      h.update(
          all,
          NvmePageHeader.ROOT_HI_OFFSET,
          NvmePageHeader.HEADER_CRC_OFFSET - NvmePageHeader.ROOT_HI_OFFSET);
      h.update(all, NvmePageHeader.TOKENS_OFFSET, headerBytes - NvmePageHeader.TOKENS_OFFSET);
      assertThat(record.get(I32, NvmePageHeader.HEADER_CRC_OFFSET)).isEqualTo((int) h.getValue());
      CRC32C p = new CRC32C();
      p.update(all, headerBytes, 1000);
      assertThat(record.get(I32, NvmePageHeader.PAYLOAD_CRC_OFFSET)).isEqualTo((int) p.getValue());
    }
  }

  @Test
  void flippedBit_anywhereInHeaderOrPayload_isDetected() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment record = record(arena, BLOCK, 1024, 5);
      for (long i = 0; i < record.byteSize(); i++) {
        for (int bit = 0; bit < 8; bit += 3) {
          byte original = record.get(ValueLayout.JAVA_BYTE, i);
          record.set(ValueLayout.JAVA_BYTE, i, (byte) (original ^ (1 << bit)));
          MemorySegment header = record.asSlice(0, NvmePageHeader.bytesFor(8));
          MemorySegment payload = record.asSlice(NvmePageHeader.bytesFor(8));
          assertThat(NvmePageHeader.verify(header, payload))
              .as("bit %d of byte %d flipped", bit, i)
              .isFalse();
          record.set(ValueLayout.JAVA_BYTE, i, original);
        }
      }
      assertThat(NvmePageHeader.verify(header(record), payload(record))).isTrue();
    }
  }

  @Test
  void check_namesTheProblem() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment record = record(arena, BLOCK, 512, 6);
      MemorySegment header = header(record);
      MemorySegment payload = payload(record);

      record.set(ValueLayout.JAVA_BYTE, 0, (byte) 'X');
      assertThat(NvmePageHeader.check(header, payload)).isEqualTo(NvmePageHeader.BAD_MAGIC);
      record.set(ValueLayout.JAVA_BYTE, 0, (byte) 'K');

      record.set(ValueLayout.JAVA_BYTE, NvmePageHeader.VERSION_OFFSET, (byte) 1);
      assertThat(NvmePageHeader.check(header, payload))
          .as("version 1 cannot prove a block's identity")
          .isEqualTo(NvmePageHeader.UNSUPPORTED_FORMAT);
      record.set(ValueLayout.JAVA_BYTE, NvmePageHeader.VERSION_OFFSET, (byte) 2);

      record.set(ValueLayout.JAVA_BYTE, NvmePageHeader.FLAGS_OFFSET + 1, (byte) 0x80);
      assertThat(NvmePageHeader.check(header, payload))
          .isEqualTo(NvmePageHeader.UNSUPPORTED_FORMAT);
      record.set(ValueLayout.JAVA_BYTE, NvmePageHeader.FLAGS_OFFSET + 1, (byte) 0);

      assertThat(NvmePageHeader.checkHeader(header.asSlice(0, header.byteSize() - 1)))
          .as("truncated header")
          .isEqualTo(NvmePageHeader.BAD_LENGTH);
      assertThat(NvmePageHeader.checkHeader(header.asSlice(0, 20)))
          .isEqualTo(NvmePageHeader.BAD_LENGTH);
      assertThat(NvmePageHeader.check(header, payload.asSlice(0, 511)))
          .isEqualTo(NvmePageHeader.BAD_LENGTH);

      payload.set(ValueLayout.JAVA_BYTE, 100, (byte) ~payload.get(ValueLayout.JAVA_BYTE, 100));
      assertThat(NvmePageHeader.checkHeader(header)).isEqualTo(NvmePageHeader.VALID);
      assertThat(NvmePageHeader.check(header, payload)).isEqualTo(NvmePageHeader.BAD_CHECKSUM);
      assertThat(NvmePageHeader.describe(NvmePageHeader.BAD_CHECKSUM)).contains("checksum");
    }
  }

  @Test
  void untypedPages_verifyButNeverNameABlock() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment record = record(arena, null, 300, 7);
      assertThat(NvmePageHeader.verify(header(record), payload(record))).isTrue();
      assertThat(NvmePageHeader.flags(record) & NvmePageHeader.FLAG_UNTYPED).isNotZero();
      assertThat(NvmePageHeader.block(record)).isNull();
      BlockRecord zero = new BlockRecord(0, 0, 0, 0, 0, 0, new int[0]);
      assertThat(NvmePageHeader.names(record, zero)).isFalse();
    }
  }

  @Test
  void heapSegments_andEmptyPayloads_work() {
    BlockRecord one = new BlockRecord(1, 2, 3, 4, 3, 4, new int[] {7});
    MemorySegment header = MemorySegment.ofArray(new byte[NvmePageHeader.bytesFor(1)]);
    byte[] page = new byte[300];
    new Random(8).nextBytes(page);
    MemorySegment payload = MemorySegment.ofArray(page).asSlice(10);
    NvmePageHeader.encode(header, one, 0, 290, payload);
    assertThat(NvmePageHeader.verify(header, payload)).isTrue();
    MemorySegment empty = MemorySegment.ofArray(new byte[0]);
    NvmePageHeader.encode(header, one, 0, 0, empty);
    assertThat(NvmePageHeader.verify(header, empty)).isTrue();
    assertThat(one.isFirst()).isTrue();
  }

  @Test
  void badInput_isRejected() {
    MemorySegment shortHeader = MemorySegment.ofArray(new byte[NvmePageHeader.bytesFor(8) - 1]);
    MemorySegment payload = MemorySegment.ofArray(new byte[8]);
    assertThatThrownBy(() -> NvmePageHeader.encode(shortHeader, BLOCK, 0, 8, payload))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(String.valueOf(NvmePageHeader.bytesFor(8)));
    MemorySegment header = MemorySegment.ofArray(new byte[NvmePageHeader.bytesFor(8)]);
    assertThatThrownBy(() -> NvmePageHeader.encode(header, BLOCK, 0x40, 8, payload))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> NvmePageHeader.bytesFor(-1))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(NvmePageHeader.checkHeader(header)).isEqualTo(NvmePageHeader.BAD_MAGIC);
  }
}
