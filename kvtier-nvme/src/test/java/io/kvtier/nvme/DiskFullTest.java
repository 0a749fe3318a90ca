package io.kvtier.nvme;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real full disk: an 8 MiB tmpfs mounted for the test (needs root; skipped by an assumption where
 * mounting is not permitted, as in an unprivileged CI container).
 */
class DiskFullTest {

  static final int PAGE = 256 * 1024;

  @TempDir Path tmp;
  Path mnt;
  boolean mounted;

  @BeforeEach
  void mountSmallTmpfs() throws Exception {
    mnt = Files.createDirectory(tmp.resolve("mnt"));
    mounted = run("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt.toString());
    assumeTrue(mounted, "mounting a tmpfs is not permitted here (needs root)");
  }

  @AfterEach
  void unmount() throws Exception {
    if (mounted) {
      run("umount", mnt.toString());
    }
  }

  private static boolean run(String... command) throws Exception {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException e) {
      return false;
    }
  }

  @Test
  void rocksdb_onAFullDisk_degrades_andThrowsUncheckedIoException_neverServesBadBytes() {
    NvmeOptions options = NvmeOptions.builder().writeBufferBytes(1 << 20).build();
    try (Arena arena = Arena.ofConfined();
        NvmePageStore store =
            NvmeTier.rocksdb("nvme", mnt.resolve("db"), 64L << 20, options).open(PAGE)) {
      int written = 0;
      UncheckedIOException failure = null;
      for (int i = 0; i < 256 && failure == null; i++) {
        try {
          store.writeBlock(i, TestPages.block(i), TestPages.page(arena, PAGE, i));
          written++;
        } catch (UncheckedIOException e) {
          failure = e;
        }
      }
      assertThat(failure).as("a write fails once the 8 MiB disk is full").isNotNull();
      assertThat(failure.getMessage()).containsIgnoringCase("space");
      assertThat(store.isDegraded()).isTrue();
      assertThat(store.ioErrors()).isPositive();
      assertThat(written).isPositive();

      MemorySegment dst = arena.allocate(PAGE, 4096);
      for (int i = 0; i < written; i++) {
        try {
          if (store.readBlock(i, TestPages.block(i), dst)) {
            assertThat(dst.mismatch(TestPages.page(arena, PAGE, i))).isEqualTo(-1);
          }
        } catch (UncheckedIOException e) {
          // a degraded store may fail reads too; what it must never do is serve wrong bytes
        }
      }
    }
  }

  @Test
  void slab_preallocates_soAFullDiskFailsTheOpen_andNeverAWrite() throws Exception {
    assertThatThrownBy(() -> NvmeTier.slab("nvme", mnt.resolve("big.slab"), 16L << 20).open(PAGE))
        .isInstanceOf(UncheckedIOException.class)
        .hasMessageContaining("No space left");
    Files.deleteIfExists(mnt.resolve("big.slab"));

    try (Arena arena = Arena.ofConfined();
        NvmePageStore store =
            NvmeTier.slab("nvme", mnt.resolve("small.slab"), 4L << 20).open(PAGE)) {
      fillTheDisk(mnt.resolve("filler"));
      for (int i = 0; i < store.capacityPages(); i++) {
        store.writeBlock(i, TestPages.block(i), TestPages.page(arena, PAGE, i));
      }
      MemorySegment dst = arena.allocate(PAGE, 4096);
      for (int i = 0; i < store.capacityPages(); i++) {
        assertThat(store.readBlock(i, TestPages.block(i), dst)).isTrue();
      }
      assertThat(store.isDegraded()).isFalse();
    }
  }

  private static void fillTheDisk(Path filler) throws IOException {
    try (FileChannel ch =
        FileChannel.open(filler, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
      ByteBuffer chunk = ByteBuffer.allocate(64 * 1024);
      while (true) {
        chunk.clear();
        try {
          ch.write(chunk);
        } catch (IOException full) {
          return;
        }
      }
    }
  }
}
