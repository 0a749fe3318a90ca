package io.kvtier.cxl;

import io.kvtier.spi.PageStore;
import io.kvtier.spi.TierKind;
import io.kvtier.spi.TierSpec;
import java.nio.file.Path;
import java.util.Objects;

/**
 * CXL memory-pool tiers, in three modes.
 *
 * <ul>
 *   <li>{@link #file(String, Path, long)}: a path, mapped read-write: a device-DAX node ({@code
 *       /dev/daxX.Y}), or a file on tmpfs, hugetlbfs, a DAX file system or any other.
 *   <li>{@link #numaNode(String, int, long)}: anonymous memory bound to a NUMA node (a CXL memory
 *       expander appears to Linux as a memory-only node).
 *   <li>{@link #sharedPool(String, Path, long, SharedPoolOptions)}: a pool file that several
 *       processes map at once and whose blocks they find through a shared directory.
 * </ul>
 *
 * <p>Runtime flags: the file and NUMA modes need {@code --enable-native-access=ALL-UNNAMED} only.
 * The shared pool's directory is a Chronicle Map, which needs more (see {@link SharedPool}).
 */
public final class CxlTier {
  private CxlTier() {}

  /**
   * A pool at a path, mapped read-write when the cache is built.
   *
   * <p>What the path may be:
   *
   * <ul>
   *   <li>a file (created if missing, extended to {@code capacityBytes} if shorter, never shrunk or
   *       deleted, so a pool on a persistent or shared file system keeps its bytes across
   *       restarts). Put it on memory you want pages in: {@code /dev/shm} (tmpfs), a DAX mount of
   *       CXL memory; on an ordinary disk file system it works, at page-cache speed;
   *   <li>a file on hugetlbfs: as a file, with the mapped length rounded up to the mount's huge
   *       page size;
   *   <li>a device-DAX node {@code /dev/daxX.Y}: mapped whole-device style, never truncated or
   *       extended; its size comes from {@code /sys/bus/dax/devices/daxX.Y/size} and the mapping is
   *       aligned to the device's alignment (2 MiB unless sysfs says otherwise). {@code
   *       capacityBytes} rounded up to that alignment must fit in the device.
   * </ul>
   *
   * <p>While the store is open it holds an exclusive lock on the file or device, so a second store
   * fails to open rather than hand out the same pages twice; to share a pool between processes use
   * {@link #sharedPool}.
   *
   * @param name the tier's name in stats and events
   * @param path the pool file or device; a file's directory must exist
   * @param capacityBytes bytes of page memory; the store holds {@code capacityBytes / pageBytes}
   *     pages
   * @return the tier
   * @throws IllegalArgumentException for an empty name or a capacity that is not positive
   */
  public static TierSpec file(String name, Path path, long capacityBytes) {
    checkName(name);
    Objects.requireNonNull(path, "path");
    checkCapacity(capacityBytes);
    return new FileSpec(name, path, capacityBytes);
  }

  /**
   * A pool of anonymous memory bound to NUMA node {@code node} ({@code mbind(MPOL_BIND)}): pages
   * are allocated on that node only. The node is checked when the store opens: one that does not
   * exist or has no memory is an {@link IllegalArgumentException} that names the nodes that do. The
   * memory is released when the store closes.
   *
   * @param name the tier's name in stats and events
   * @param node the NUMA node, as {@code numactl --hardware} numbers it
   * @param capacityBytes bytes of page memory
   * @return the tier
   * @throws IllegalArgumentException for an empty name, a negative node or a capacity that is not
   *     positive
   */
  public static TierSpec numaNode(String name, int node, long capacityBytes) {
    checkName(name);
    if (node < 0) {
      throw new IllegalArgumentException("NUMA node must be >= 0, was " + node);
    }
    checkCapacity(capacityBytes);
    return new NumaSpec(name, node, capacityBytes);
  }

  /**
   * A pool file that several processes map at once. Each process's store is its own view (the pages
   * it allocated) plus a directory, shared by all, from block key to the page that holds the block;
   * see {@link SharedPool} for leases, crash recovery and the runtime flags it needs.
   *
   * <p>The pool file is created by the first process to open it and laid out for {@code
   * capacityBytes} of pages of the page size it opens with; later processes must open it with the
   * same page size. The directory is a file beside it, {@code path + ".dir"}.
   *
   * @param name the tier's name in stats and events
   * @param path the pool file, typically on {@code /dev/shm} or a DAX mount of shared CXL memory
   * @param capacityBytes bytes of page memory
   * @param options leases and limits; {@link SharedPoolOptions#defaults()} suits most pools
   * @return the tier; its {@code open} returns a {@link SharedPool}
   * @throws IllegalArgumentException for an empty name or a capacity that is not positive
   */
  public static SharedPoolTier sharedPool(
      String name, Path path, long capacityBytes, SharedPoolOptions options) {
    checkName(name);
    Objects.requireNonNull(path, "path");
    Objects.requireNonNull(options, "options");
    checkCapacity(capacityBytes);
    return new SharedSpec(name, path, capacityBytes, options);
  }

  private static void checkName(String name) {
    if (name == null || name.isEmpty()) {
      throw new IllegalArgumentException("tier name must be non-empty");
    }
  }

  private static void checkCapacity(long capacityBytes) {
    if (capacityBytes <= 0) {
      throw new IllegalArgumentException("capacityBytes must be positive, was " + capacityBytes);
    }
  }

  private record FileSpec(String name, Path path, long capacityBytes) implements TierSpec {
    @Override
    public TierKind kind() {
      return TierKind.CXL;
    }

    @Override
    public PageStore open(int pageBytes) {
      return MappedPageStore.open(name, path, capacityBytes, pageBytes);
    }
  }

  private record NumaSpec(String name, int node, long capacityBytes) implements TierSpec {
    @Override
    public TierKind kind() {
      return TierKind.CXL;
    }

    @Override
    public PageStore open(int pageBytes) {
      long pages = MappedPageStore.pagesIn(name, capacityBytes, pageBytes);
      return new MappedPageStore(
          name, pageBytes, pages, NumaMemory.map(name, node, pages * pageBytes));
    }
  }

  private record SharedSpec(String name, Path path, long capacityBytes, SharedPoolOptions options)
      implements SharedPoolTier {
    @Override
    public TierKind kind() {
      return TierKind.CXL;
    }

    @Override
    public SharedPool open(int pageBytes) {
      return SharedPoolStore.open(name, path, capacityBytes, pageBytes, options);
    }
  }
}
