package io.kvtier.nvme;

import io.kvtier.spi.PageStore;
import io.kvtier.testkit.PageStoreContractTest;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.io.TempDir;

/** The RocksDB store passes the tier contract; each store gets its own directory. */
class RocksDbPageStoreContractTest extends PageStoreContractTest {

  @TempDir Path dir;

  private final AtomicInteger dbs = new AtomicInteger();

  NvmeOptions options() {
    return NvmeOptions.defaults();
  }

  @Override
  protected PageStore open(int pageBytes, int pages) {
    return NvmeTier.rocksdb(
            "nvme", dir.resolve("db-" + dbs.incrementAndGet()), (long) pageBytes * pages, options())
        .open(pageBytes);
  }
}
