package io.kvtier.cxl;

import io.kvtier.spi.PageStore;
import io.kvtier.testkit.PageStoreContractTest;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.io.TempDir;

/** A shared pool's local view passes the tier contract. */
class SharedPoolContractTest extends PageStoreContractTest {

  @TempDir(factory = ShmTempDirFactory.class)
  Path dir;

  private final AtomicInteger files = new AtomicInteger();

  @Override
  protected PageStore open(int pageBytes, int pages) {
    Path pool = dir.resolve("shared-" + files.incrementAndGet());
    return CxlTier.sharedPool(
            "cxl-shared", pool, (long) pageBytes * pages, SharedPoolOptions.defaults())
        .open(pageBytes);
  }
}
