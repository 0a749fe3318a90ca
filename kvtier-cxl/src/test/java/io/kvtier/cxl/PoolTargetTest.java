package io.kvtier.cxl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.kvtier.spi.PageStore;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How a path-mode pool reads its path: files, hugetlbfs, and device-DAX nodes (with a stand-in
 * sysfs, since no machine that runs the tests has a DAX device; {@code /dev/zero} stands in for the
 * character device itself).
 */
class PoolTargetTest {

  private static final long MIB = 1L << 20;

  @TempDir(factory = ShmTempDirFactory.class)
  Path dir;

  @Test
  void aFileOnShm_isAPlainFile_mappedAtItsExactLength() throws Exception {
    PoolTarget t = PoolTarget.probe(dir.resolve("pool"), PoolTarget.DAX_SYSFS);
    assertThat(t.kind()).isEqualTo(PoolTarget.Kind.FILE);
    assertThat(t.mapBytes("cxl", 12_345)).isEqualTo(12_345);
    Files.write(dir.resolve("existing"), new byte[10]);
    assertThat(PoolTarget.probe(dir.resolve("existing"), PoolTarget.DAX_SYSFS).kind())
        .isEqualTo(PoolTarget.Kind.FILE);
  }

  @Test
  void aDirectory_isRejected() {
    assertThatThrownBy(() -> PoolTarget.probe(dir, PoolTarget.DAX_SYSFS))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("is a directory");
  }

  @Test
  void deviceDax_takesSizeAndAlignmentFromSysfs() throws Exception {
    Path sysfs = fakeDax("dax1.0", "68719476736\n", "2097152\n");
    PoolTarget t = PoolTarget.deviceDax(Path.of("/dev/dax1.0"), sysfs);
    assertThat(t.kind()).isEqualTo(PoolTarget.Kind.DEVICE_DAX);
    assertThat(t.deviceBytes()).isEqualTo(64L << 30);
    assertThat(t.alignment()).isEqualTo(2 * MIB);
    assertThat(t.mapBytes("cxl", 1)).isEqualTo(2 * MIB);
    assertThat(t.mapBytes("cxl", 2 * MIB)).isEqualTo(2 * MIB);
    assertThat(t.mapBytes("cxl", 2 * MIB + 1)).isEqualTo(4 * MIB);
    assertThat(t.mapBytes("cxl", 64L << 30)).isEqualTo(64L << 30);
  }

  @Test
  void deviceDax_withoutAnAlignFile_alignsTo2MiB_andAcceptsHexSizes() throws Exception {
    Path sysfs = fakeDax("dax0.0", "0x40000000", null);
    PoolTarget t = PoolTarget.deviceDax(Path.of("/dev/dax0.0"), sysfs);
    assertThat(t.deviceBytes()).isEqualTo(1L << 30);
    assertThat(t.alignment()).isEqualTo(PoolTarget.DAX_DEFAULT_ALIGNMENT).isEqualTo(2 * MIB);
    assertThat(t.mapBytes("cxl", 3 * MIB)).isEqualTo(4 * MIB);
  }

  @Test
  void deviceDax_with1GiBAlignment_roundsUpTo1GiB() throws Exception {
    Path sysfs = fakeDax("dax0.1", "4294967296", "1073741824");
    PoolTarget t = PoolTarget.deviceDax(Path.of("/dev/dax0.1"), sysfs);
    assertThat(t.mapBytes("cxl", 1)).isEqualTo(1L << 30);
  }

  @Test
  void deviceDax_tooSmallForTheCapacity_failsNamingWhatFits() throws Exception {
    Path sysfs = fakeDax("dax0.0", String.valueOf(16 * MIB), "2097152");
    PoolTarget t = PoolTarget.deviceDax(Path.of("/dev/dax0.0"), sysfs);
    assertThatThrownBy(() -> t.mapBytes("cxl", 16 * MIB + 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("device holds " + 16 * MIB)
        .hasMessageContaining("at most " + 16 * MIB);
  }

  @Test
  void deviceDax_badSysfs_isRejectedClearly() throws Exception {
    Path sysfs = fakeDax("dax0.0", "lots", "2097152");
    assertThatThrownBy(() -> PoolTarget.deviceDax(Path.of("/dev/dax0.0"), sysfs))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cannot read a size");
    Path odd = fakeDax("dax0.2", "4194304", "3000");
    assertThatThrownBy(() -> PoolTarget.deviceDax(Path.of("/dev/dax0.2"), odd))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not a power of two");
  }

  @Test
  void aCharacterDeviceThatIsNotDax_isRejected() {
    assumeTrue(Files.exists(Path.of("/dev/null")));
    assertThatThrownBy(() -> PoolTarget.probe(Path.of("/dev/null"), dir.resolve("no-sysfs")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not a device-DAX node");
  }

  @Test
  void aCharacterDeviceKnownToSysfs_isProbedAsDeviceDax() throws Exception {
    assumeTrue(Files.exists(Path.of("/dev/zero")));
    Path sysfs = fakeDax("zero", String.valueOf(64 * MIB), null);
    PoolTarget t = PoolTarget.probe(Path.of("/dev/zero"), sysfs);
    assertThat(t.kind()).isEqualTo(PoolTarget.Kind.DEVICE_DAX);
    assertThat(t.deviceBytes()).isEqualTo(64 * MIB);
  }

  /** The device branch maps with mmap(MAP_SHARED) and flock; /dev/zero accepts both. */
  @Test
  void aDeviceStore_mapsWithoutTruncating_roundTripsAndIsExclusive() {
    assumeTrue(Files.exists(Path.of("/dev/zero")));
    Path zero = Path.of("/dev/zero");
    PoolTarget t = new PoolTarget(PoolTarget.Kind.DEVICE_DAX, 2 * MIB, 64 * MIB);
    int page = 64 * 1024;
    long pages = 40; // 2.5 MiB of pages: the mapping rounds up to 4 MiB
    Mapping mapping = MappedPageStore.map("dax", zero, t, pages * page, true);
    assertThat(mapping.segment().byteSize()).isEqualTo(4 * MIB);
    assertThat(mapping.description()).contains("device-DAX");
    try (PageStore store = new MappedPageStore("dax", page, pages, mapping)) {
      assertThatThrownBy(() -> MappedPageStore.map("dax", zero, t, page, true))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("in use");
      byte[] bytes = new byte[page];
      new Random(3).nextBytes(bytes);
      long slot = store.allocate(-1);
      store.write(slot, MemorySegment.ofArray(bytes));
      byte[] out = new byte[page];
      store.read(slot, MemorySegment.ofArray(out));
      assertThat(out).isEqualTo(bytes);
      assertThat(store.segment(slot).orElseThrow().get(ValueLayout.JAVA_BYTE, 5))
          .isEqualTo(bytes[5]);
    }
  }

  @Test
  void hugetlbfs_roundsToItsHugePageSize_whenMounted() throws Exception {
    Path mount = Path.of("/dev/hugepages");
    assumeTrue(Files.isDirectory(mount) && Files.isWritable(mount));
    assumeTrue("hugetlbfs".equals(Files.getFileStore(mount).type()));
    Path file = mount.resolve("kvtier-cxl-test-" + ProcessHandle.current().pid());
    try {
      PoolTarget t = PoolTarget.probe(file, PoolTarget.DAX_SYSFS);
      assertThat(t.kind()).isEqualTo(PoolTarget.Kind.HUGETLBFS);
      assertThat(t.alignment()).isGreaterThanOrEqualTo(2 * MIB);
      try (PageStore store = CxlTier.file("huge", file, 3 * 64 * 1024).open(64 * 1024)) {
        long slot = store.allocate(-1);
        store.write(slot, MemorySegment.ofArray(new byte[] {1, 2, 3}));
        byte[] out = new byte[3];
        store.read(slot, MemorySegment.ofArray(out));
        assertThat(out).containsExactly(1, 2, 3);
      }
    } finally {
      Files.deleteIfExists(file);
    }
  }

  private Path fakeDax(String device, String size, String align) throws Exception {
    Path sysfs = dir.resolve("sys-" + device);
    Path d = Files.createDirectories(sysfs.resolve(device));
    Files.writeString(d.resolve("size"), size);
    if (align != null) {
      Files.writeString(d.resolve("align"), align);
    }
    return sysfs;
  }
}
