package io.kvtier.nvme;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.event.BlockKey;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

class NvmePageHeaderTest {

  private static final BlockKey KEY = new BlockKey(0x0123456789abcdefL, 0xfedcba9876543210L);
  private static final BlockKey PARENT = new BlockKey(0x1111222233334444L, 0x5555666677778888L);

  /** A record as it sits on disk: header, then payload, in one buffer. */
  private static MemorySegment record(Arena arena, int payloadBytes, long seed) {
    MemorySegment record = arena.allocate(NvmePageHeader.BYTES + payloadBytes);
    byte[] bytes = new byte[payloadBytes];
    new Random(seed).nextBytes(bytes);
    MemorySegment payload = payload(record);
    MemorySegment.copy(MemorySegment.ofArray(bytes), 0, payload, 0, payloadBytes);
    NvmePageHeader.encode(record, KEY, PARENT, 16, payload);
    return record;
  }

  private static MemorySegment payload(MemorySegment record) {
    return record.asSlice(NvmePageHeader.BYTES);
  }

  @Test
  void encode_thenRead_roundTripsEveryField() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment record = record(arena, 4096, 1);
      assertThat(NvmePageHeader.check(record, payload(record))).isEqualTo(NvmePageHeader.VALID);
      assertThat(NvmePageHeader.verify(record, payload(record))).isTrue();
      assertThat(NvmePageHeader.version(record)).isEqualTo(NvmePageHeader.VERSION);
      assertThat(NvmePageHeader.flags(record)).isZero();
      assertThat(NvmePageHeader.key(record)).isEqualTo(KEY);
      assertThat(NvmePageHeader.parent(record)).isEqualTo(PARENT);
      assertThat(NvmePageHeader.tokenCount(record)).isEqualTo(16);
      assertThat(NvmePageHeader.payloadBytes(record)).isEqualTo(4096);
      assertThat(NvmePageHeader.names(record, KEY, PARENT)).isTrue();
      assertThat(NvmePageHeader.names(record, KEY, BlockKey.ROOT)).isFalse();
      assertThat(NvmePageHeader.names(record, PARENT, PARENT)).isFalse();
    }
  }

  @Test
  void encoding_isLittleEndianWithTheDocumentedMagic() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment record = record(arena, 64, 2);
      byte[] magic = record.asSlice(0, 4).toArray(ValueLayout.JAVA_BYTE);
      assertThat(new String(magic, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("KVTP");
      assertThat(record.get(ValueLayout.JAVA_BYTE, NvmePageHeader.KEY_LO_OFFSET))
          .isEqualTo((byte) 0x10);
    }
  }

  @Test
  void checksum_isCrc32cOfHeaderPrefixAndPayload() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment record = record(arena, 1000, 3);
      CRC32C crc = new CRC32C();
      byte[] all = record.toArray(ValueLayout.JAVA_BYTE);
      crc.update(all, 0, NvmePageHeader.CHECKSUM_OFFSET);
      crc.update(all, NvmePageHeader.BYTES, 1000);
      assertThat(NvmePageHeader.storedChecksum(record)).isEqualTo((int) crc.getValue());
    }
  }

  @Test
  void flippedByte_anywhereInHeaderOrPayload_isDetected() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment record = record(arena, 2048, 4);
      for (long i = 0; i < record.byteSize(); i++) {
        for (int bit = 0; bit < 8; bit += 3) {
          byte original = record.get(ValueLayout.JAVA_BYTE, i);
          record.set(ValueLayout.JAVA_BYTE, i, (byte) (original ^ (1 << bit)));
          assertThat(NvmePageHeader.verify(record, payload(record)))
              .as("bit %d of byte %d flipped", bit, i)
              .isFalse();
          record.set(ValueLayout.JAVA_BYTE, i, original);
        }
      }
      assertThat(NvmePageHeader.verify(record, payload(record))).isTrue();
    }
  }

  @Test
  void check_namesTheProblem() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment record = record(arena, 512, 5);
      MemorySegment payload = payload(record);

      record.set(ValueLayout.JAVA_BYTE, 0, (byte) 'X');
      assertThat(NvmePageHeader.check(record, payload)).isEqualTo(NvmePageHeader.BAD_MAGIC);
      record.set(ValueLayout.JAVA_BYTE, 0, (byte) 'K');

      record.set(ValueLayout.JAVA_BYTE, NvmePageHeader.VERSION_OFFSET, (byte) 2);
      assertThat(NvmePageHeader.check(record, payload))
          .isEqualTo(NvmePageHeader.UNSUPPORTED_FORMAT);
      record.set(ValueLayout.JAVA_BYTE, NvmePageHeader.VERSION_OFFSET, (byte) 1);

      assertThat(NvmePageHeader.check(record, payload.asSlice(0, 511)))
          .isEqualTo(NvmePageHeader.BAD_PAYLOAD_LENGTH);

      payload.set(ValueLayout.JAVA_BYTE, 100, (byte) ~payload.get(ValueLayout.JAVA_BYTE, 100));
      assertThat(NvmePageHeader.check(record, payload)).isEqualTo(NvmePageHeader.BAD_CHECKSUM);
      assertThat(NvmePageHeader.describe(NvmePageHeader.BAD_CHECKSUM)).contains("checksum");
    }
  }

  @Test
  void separateSegments_andHeapPayloads_work() {
    byte[] page = new byte[300];
    new Random(6).nextBytes(page);
    MemorySegment header = MemorySegment.ofArray(new byte[NvmePageHeader.BYTES]);
    MemorySegment payload = MemorySegment.ofArray(page);
    NvmePageHeader.encode(header, 1, 2, 3, 4, 7, payload);
    assertThat(NvmePageHeader.verify(header, payload)).isTrue();
    assertThat(NvmePageHeader.keyHi(header)).isEqualTo(1);
    assertThat(NvmePageHeader.parentLo(header)).isEqualTo(4);
    MemorySegment empty = MemorySegment.ofArray(new byte[0]);
    NvmePageHeader.encode(header, 1, 2, 3, 4, 0, empty);
    assertThat(NvmePageHeader.verify(header, empty)).isTrue();
  }

  @Test
  void badInput_isRejected() {
    MemorySegment shortHeader = MemorySegment.ofArray(new byte[NvmePageHeader.BYTES - 1]);
    MemorySegment header = MemorySegment.ofArray(new byte[NvmePageHeader.BYTES]);
    MemorySegment payload = MemorySegment.ofArray(new byte[8]);
    assertThatThrownBy(() -> NvmePageHeader.encode(shortHeader, KEY, PARENT, 1, payload))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(String.valueOf(NvmePageHeader.BYTES));
    assertThatThrownBy(() -> NvmePageHeader.check(shortHeader, payload))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> NvmePageHeader.encode(header, KEY, PARENT, -1, payload))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(NvmePageHeader.check(header, payload)).isEqualTo(NvmePageHeader.BAD_MAGIC);
  }
}
