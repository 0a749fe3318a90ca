package io.kvtier.core;

import io.kvtier.spi.BlockRecord;
import io.kvtier.spi.PageStore;
import io.kvtier.spi.TierKind;
import io.kvtier.spi.TierSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32C;

/**
 * A lower tier for tests: DRAM pages behind the PageStore SPI without direct addressing, keeping a
 * verified record and a checksum per slot (like NVMe), with injectable I/O errors and corruption, a
 * gate that holds reads on transfer threads, and a "disk" that survives close so a new store can
 * recover it. Reads and writes may come from several transfer threads at once, so the disk's maps
 * are concurrent.
 */
final class TestStore implements PageStore {
  /** What survives a restart: slot to (record, bytes). */
  static final class Disk {
    final Map<Long, BlockRecord> records = new ConcurrentHashMap<>();
    final Map<Long, byte[]> bytes = new ConcurrentHashMap<>();
    final Map<Long, Long> checksums = new ConcurrentHashMap<>();
  }

  private final DramPageStore pages;
  private final String name;
  private final Disk disk;
  volatile boolean failWrites;
  volatile boolean failReads;

  /** When set, reads on the cache's transfer threads wait for it (synchronous copies do not). */
  volatile CountDownLatch readGate;

  final AtomicInteger verifyFailures = new AtomicInteger();

  TestStore(String name, long capacityBytes, int pageBytes, Disk disk) {
    this.pages = new DramPageStore(name, capacityBytes, pageBytes);
    this.name = name;
    this.disk = disk;
  }

  static TierSpec spec(String name, long capacityBytes, Disk disk, TestStore[] out) {
    return new TierSpec() {
      @Override
      public String name() {
        return name;
      }

      @Override
      public TierKind kind() {
        return TierKind.NVME;
      }

      @Override
      public long capacityBytes() {
        return capacityBytes;
      }

      @Override
      public PageStore open(int pageBytes) {
        out[0] = new TestStore(name, capacityBytes, pageBytes, disk);
        return out[0];
      }
    };
  }

  /**
   * Flips a byte of the slot on "disk" and in memory, as bit rot would: the checksum catches it.
   */
  void corrupt(long slot) {
    byte[] b = disk.bytes.get(slot);
    b[0] ^= 0x5a;
    pages.segment(slot).orElseThrow().set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0, b[0]);
  }

  static long checksum(MemorySegment bytes) {
    CRC32C crc = new CRC32C();
    crc.update(bytes.asByteBuffer());
    return crc.getValue();
  }

  @Override
  public TierKind kind() {
    return TierKind.NVME;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public int pageBytes() {
    return pages.pageBytes();
  }

  @Override
  public long capacityPages() {
    return pages.capacityPages();
  }

  @Override
  public long freePages() {
    return pages.freePages();
  }

  @Override
  public long allocate(long hint) {
    return pages.allocate(hint);
  }

  @Override
  public void free(long slot) {
    pages.free(slot);
    disk.records.remove(slot);
    disk.bytes.remove(slot);
    disk.checksums.remove(slot);
    corrupted.remove(slot);
  }

  @Override
  public void write(long slot, MemorySegment src) {
    if (failWrites) {
      throw new UncheckedIOException(new IOException("No space left on device"));
    }
    pages.write(slot, src);
    byte[] copy = src.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    disk.checksums.put(slot, checksum(MemorySegment.ofArray(copy)));
    disk.bytes.put(slot, copy);
    corrupted.remove(slot);
  }

  @Override
  public void read(long slot, MemorySegment dst) {
    if (failReads) {
      throw new UncheckedIOException(new IOException("Input/output error"));
    }
    CountDownLatch gate = readGate;
    if (gate != null && Thread.currentThread().getName().startsWith("kvtier-transfer-")) {
      try {
        if (!gate.await(30, TimeUnit.SECONDS)) {
          throw new IllegalStateException("the read gate was never opened");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted at the read gate", e);
      }
    }
    pages.read(slot, dst);
  }

  @Override
  public void writeBlock(long slot, BlockRecord block, MemorySegment src) {
    write(slot, src);
    disk.records.put(slot, block);
  }

  @Override
  public boolean readBlock(long slot, BlockRecord expected, MemorySegment dst) {
    read(slot, dst);
    Long sum = disk.checksums.get(slot);
    boolean ok =
        expected.equals(disk.records.get(slot))
            && sum != null
            && dst.byteSize() == pageBytes()
            && checksum(dst) == sum
            && !corrupted.contains(slot);
    if (!ok) {
      verifyFailures.incrementAndGet();
    }
    return ok;
  }

  /** Slots whose next reads fail verification, until the slot is written or freed. */
  final Set<Long> corrupted = ConcurrentHashMap.newKeySet();

  @Override
  public boolean verifiesBlocks() {
    return true;
  }

  @Override
  public void recover(RecoveryVisitor visitor) {
    for (Map.Entry<Long, BlockRecord> e : new HashMap<>(disk.records).entrySet()) {
      long slot = e.getKey();
      long got = pages.allocate(slot);
      if (got != slot) {
        throw new IllegalStateException("slot " + slot + " not free at recovery");
      }
      pages.write(slot, MemorySegment.ofArray(disk.bytes.get(slot)));
      visitor.block(slot, e.getValue());
    }
  }

  @Override
  public long freeRuns() {
    return pages.freeRuns();
  }

  @Override
  public long largestFreeRun() {
    return pages.largestFreeRun();
  }

  @Override
  public boolean isClosed() {
    return pages.isClosed();
  }

  @Override
  public void close() {
    pages.close();
  }
}
