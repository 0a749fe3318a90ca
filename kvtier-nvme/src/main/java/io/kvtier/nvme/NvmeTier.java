package io.kvtier.nvme;

import io.kvtier.spi.TierKind;
import io.kvtier.spi.TierSpec;
import java.nio.file.Path;
import java.util.Objects;

/**
 * NVMe tiers: where pages go when DRAM and CXL are full, and what survives a restart.
 *
 * <p>Two stores, one page format ({@link NvmePageHeader}) and one behaviour: verified reads, warm
 * restart through {@link io.kvtier.spi.PageStore#recover}, degraded on I/O errors. {@link #rocksdb}
 * keeps pages in RocksDB with BlobDB; {@link #slab} keeps them in fixed slots of one preallocated
 * file with O_DIRECT. {@link #defaultStore} is the one that measured faster (the slab: see the
 * module README for figures).
 */
public final class NvmeTier {
  private NvmeTier() {}

  /** A tier spec whose {@link #open(int)} returns an {@link NvmePageStore}. */
  public interface Spec extends TierSpec {
    @Override
    NvmePageStore open(int pageBytes);
  }

  /**
   * The faster store for this tier: {@link #slab} on a file {@code pages.slab} in {@code dir}.
   *
   * @param name the tier's name in stats and events
   * @param dir a directory on the flash device; created if missing
   * @param capacityBytes bytes of page memory
   * @param options store options
   * @return the tier
   */
  public static Spec defaultStore(String name, Path dir, long capacityBytes, NvmeOptions options) {
    Objects.requireNonNull(dir, "dir");
    return slab(name, dir.resolve(SlabPageStore.FILE_NAME), capacityBytes, options);
  }

  /**
   * {@link #defaultStore(String, Path, long, NvmeOptions)} with default options.
   *
   * @param name the tier's name
   * @param dir a directory on the flash device
   * @param capacityBytes bytes of page memory
   * @return the tier
   */
  public static Spec defaultStore(String name, Path dir, long capacityBytes) {
    return defaultStore(name, dir, capacityBytes, NvmeOptions.defaults());
  }

  /**
   * Pages in RocksDB in {@code dir}: headers in the LSM, payloads in BlobDB blob files. The store
   * holds {@code capacityBytes / pageBytes} slots and returns {@code NO_SPACE} when they are all in
   * use (the cache evicts); disk use can exceed {@code capacityBytes} by blob garbage not yet
   * collected and by RocksDB's own files. Reopening the same directory recovers its pages.
   *
   * @param name the tier's name in stats and events
   * @param dir the database directory; created if missing; one open store at a time
   * @param capacityBytes bytes of page memory
   * @param options store options
   * @return the tier
   */
  public static Spec rocksdb(String name, Path dir, long capacityBytes, NvmeOptions options) {
    check(name, dir, capacityBytes, options);
    return new RocksSpec(name, dir, capacityBytes, options);
  }

  /**
   * {@link #rocksdb(String, Path, long, NvmeOptions)} with default options.
   *
   * @param name the tier's name
   * @param dir the database directory
   * @param capacityBytes bytes of page memory
   * @return the tier
   */
  public static Spec rocksdb(String name, Path dir, long capacityBytes) {
    return rocksdb(name, dir, capacityBytes, NvmeOptions.defaults());
  }

  /**
   * Pages in fixed slots of one file, preallocated to its full size at open (so a full disk is
   * found at open, not mid-write), read and written with O_DIRECT through FFM. Each slot holds a
   * header block and the page. Reopening the same file recovers its pages by scanning slot headers.
   * Linux only.
   *
   * @param name the tier's name in stats and events
   * @param file the slab file; its directory must exist; one open store at a time
   * @param capacityBytes bytes of page memory (the file is a little larger: one 4 KiB header block
   *     per slot and one superblock)
   * @param options store options ({@code blobCompression}, {@code writeBufferBytes} and {@code wal}
   *     do not apply)
   * @return the tier
   */
  public static Spec slab(String name, Path file, long capacityBytes, NvmeOptions options) {
    check(name, file, capacityBytes, options);
    return new SlabSpec(name, file, capacityBytes, options);
  }

  /**
   * {@link #slab(String, Path, long, NvmeOptions)} with default options.
   *
   * @param name the tier's name
   * @param file the slab file
   * @param capacityBytes bytes of page memory
   * @return the tier
   */
  public static Spec slab(String name, Path file, long capacityBytes) {
    return slab(name, file, capacityBytes, NvmeOptions.defaults());
  }

  private static void check(String name, Path path, long capacityBytes, NvmeOptions options) {
    if (name == null || name.isEmpty()) {
      throw new IllegalArgumentException("tier name must be non-empty");
    }
    Objects.requireNonNull(path, "path");
    Objects.requireNonNull(options, "options");
    if (capacityBytes <= 0) {
      throw new IllegalArgumentException("capacityBytes must be positive, was " + capacityBytes);
    }
  }

  private record RocksSpec(String name, Path dir, long capacityBytes, NvmeOptions options)
      implements Spec {
    @Override
    public TierKind kind() {
      return TierKind.NVME;
    }

    @Override
    public NvmePageStore open(int pageBytes) {
      return RocksDbPageStore.open(name, dir, capacityBytes, pageBytes, options);
    }
  }

  private record SlabSpec(String name, Path file, long capacityBytes, NvmeOptions options)
      implements Spec {
    @Override
    public TierKind kind() {
      return TierKind.NVME;
    }

    @Override
    public NvmePageStore open(int pageBytes) {
      return SlabPageStore.open(name, file, capacityBytes, pageBytes, options);
    }
  }
}
