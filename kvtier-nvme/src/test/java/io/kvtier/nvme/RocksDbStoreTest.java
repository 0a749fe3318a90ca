package io.kvtier.nvme;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class RocksDbStoreTest extends NvmeStoreTest {

  @Override
  NvmeTier.Spec spec(Path dir, long capacityBytes, NvmeOptions options) {
    return NvmeTier.rocksdb("rocksdb", dir.resolve("db"), capacityBytes, options);
  }

  /** Flips bytes at a quarter, half and three quarters of every blob file. */
  @Override
  long[] corruptPayloads(Path dir, long[] slots) throws Exception {
    List<Path> blobs;
    try (Stream<Path> files = Files.list(dir.resolve("db"))) {
      blobs = files.filter(p -> p.toString().endsWith(".blob")).toList();
    }
    assertThat(blobs).as("page payloads live in blob files").isNotEmpty();
    for (Path blob : blobs) {
      long size = Files.size(blob);
      for (int q = 1; q <= 3; q++) {
        Corrupt.flip(blob, size * q / 4);
      }
    }
    return new long[0];
  }

  @Test
  void aSecondOpenOfTheSameDirectory_fails() {
    try (NvmePageStore store = open()) {
      assertThat(store.isClosed()).isFalse();
      assertThatThrownBy(this::open)
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("in use");
    }
  }
}
