package io.kvtier.nvme;

import io.kvtier.spi.PageStore;
import io.kvtier.testkit.PageStoreContractTest;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.io.TempDir;

/** The direct-I/O slab store passes the tier contract; each store gets its own file. */
class SlabPageStoreContractTest extends PageStoreContractTest {

  @TempDir Path dir;

  private final AtomicInteger files = new AtomicInteger();

  NvmeOptions options() {
    return NvmeOptions.defaults();
  }

  @Override
  protected PageStore open(int pageBytes, int pages) {
    return NvmeTier.slab(
            "nvme",
            dir.resolve("slab-" + files.incrementAndGet()),
            (long) pageBytes * pages,
            options())
        .open(pageBytes);
  }
}
