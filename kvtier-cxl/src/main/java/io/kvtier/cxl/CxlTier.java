package io.kvtier.cxl;

import io.kvtier.spi.PageStore;
import io.kvtier.spi.TierKind;
import io.kvtier.spi.TierSpec;
import java.nio.file.Path;
import java.util.Objects;

/** CXL memory-pool tiers. */
public final class CxlTier {
  private CxlTier() {}

  /**
   * A pool backed by a file, mapped read-write when the cache is built. The file is created if
   * missing and extended to {@code capacityBytes} if shorter; it is never shrunk or deleted, so a
   * pool on a persistent or shared file system keeps its bytes across restarts. While the store is
   * open it holds an exclusive lock on the file.
   *
   * <p>Put the file on memory you want pages in: a DAX mount of CXL memory, or {@code /dev/shm} for
   * a tmpfs pool. On an ordinary disk file system it works, at page-cache speed.
   *
   * @param name the tier's name in stats and events
   * @param path the pool file; its directory must exist
   * @param capacityBytes bytes of page memory; the store holds {@code capacityBytes / pageBytes}
   *     pages
   * @return the tier
   * @throws IllegalArgumentException for an empty name or a capacity that is not positive
   */
  public static TierSpec file(String name, Path path, long capacityBytes) {
    if (name == null || name.isEmpty()) {
      throw new IllegalArgumentException("tier name must be non-empty");
    }
    Objects.requireNonNull(path, "path");
    if (capacityBytes <= 0) {
      throw new IllegalArgumentException("capacityBytes must be positive, was " + capacityBytes);
    }
    return new FileSpec(name, path, capacityBytes);
  }

  private record FileSpec(String name, Path path, long capacityBytes) implements TierSpec {
    @Override
    public TierKind kind() {
      return TierKind.CXL;
    }

    @Override
    public PageStore open(int pageBytes) {
      return MappedFilePageStore.open(name, path, capacityBytes, pageBytes);
    }
  }
}
