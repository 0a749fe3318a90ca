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

/**
 * A lower tier for tests: DRAM pages behind the PageStore SPI without direct addressing, keeping a
 * verified record per slot (like NVMe), with injectable I/O errors and corruption, and a "disk"
 * that survives close so a new store can recover it.
 */
final class TestStore implements PageStore {
  /** What survives a restart: slot to (record, bytes). */
  static final class Disk {
    final Map<Long, BlockRecord> records = new HashMap<>();
    final Map<Long, byte[]> bytes = new HashMap<>();
  }

  private final DramPageStore pages;
  private final String name;
  private final Disk disk;
  volatile boolean failWrites;
  volatile boolean failReads;
  int verifyFailures;

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

  void corrupt(long slot) {
    byte[] b = disk.bytes.get(slot);
    b[0] ^= 0x5a;
    pages.segment(slot).orElseThrow().set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0, b[0]);
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
  }

  @Override
  public void write(long slot, MemorySegment src) {
    if (failWrites) {
      throw new UncheckedIOException(new IOException("No space left on device"));
    }
    pages.write(slot, src);
    disk.bytes.put(slot, src.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
  }

  @Override
  public void read(long slot, MemorySegment dst) {
    if (failReads) {
      throw new UncheckedIOException(new IOException("Input/output error"));
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
    byte[] stored = disk.bytes.get(slot);
    boolean ok =
        expected.equals(disk.records.get(slot))
            && stored != null
            && MemorySegment.ofArray(stored).mismatch(dst.asSlice(0, stored.length)) == -1;
    if (ok && stored[0] != dst.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0)) {
      ok = false;
    }
    if (!ok) {
      verifyFailures++;
    }
    return ok && !corrupted.contains(slot);
  }

  final java.util.Set<Long> corrupted = new java.util.HashSet<>();

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
