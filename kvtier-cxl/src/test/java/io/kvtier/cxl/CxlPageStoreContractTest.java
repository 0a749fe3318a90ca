package io.kvtier.cxl;

import io.kvtier.spi.PageStore;
import io.kvtier.testkit.PageStoreContractTest;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.io.TempDir;

/**
 * A CXL pool file passes the tier contract. Each store gets its own file: a store locks its file.
 */
class CxlPageStoreContractTest extends PageStoreContractTest {

  @TempDir(factory = ShmTempDirFactory.class)
  Path dir;

  private final AtomicInteger files = new AtomicInteger();

  @Override
  protected PageStore open(int pageBytes, int pages) {
    Path pool = dir.resolve("pool-" + files.incrementAndGet());
    return CxlTier.file("cxl", pool, (long) pageBytes * pages).open(pageBytes);
  }
}
