package io.kvtier.cxl;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * What a path-mode pool's path names, and what that means for mapping it.
 *
 * <ul>
 *   <li>{@link Kind#FILE}: a file on any file system (tmpfs {@code /dev/shm}, a DAX mount, a disk):
 *       created if missing, extended to the mapped length, never shrunk.
 *   <li>{@link Kind#HUGETLBFS}: a file on hugetlbfs; lengths are rounded up to the mount's huge
 *       page size (the file system's block size), since hugetlbfs refuses anything else.
 *   <li>{@link Kind#DEVICE_DAX}: a device-DAX character device ({@code /dev/daxX.Y}, CXL or
 *       persistent memory handed to user space whole). Its size is not the file's size (a character
 *       device has none) but {@code /sys/bus/dax/devices/daxX.Y/size}; its mappings must be aligned
 *       to {@code .../align} (2 MiB when the kernel does not say), and it is never truncated or
 *       extended.
 * </ul>
 *
 * @param kind what the path is
 * @param alignment the mapped length is rounded up to a multiple of this
 * @param deviceBytes a device's size; the mapped length may not exceed it (-1 for files)
 */
record PoolTarget(Kind kind, long alignment, long deviceBytes) {

  /** Where device-DAX devices describe themselves. */
  static final Path DAX_SYSFS = Path.of("/sys/bus/dax/devices");

  /** The alignment a device-DAX mapping needs when sysfs does not give one. */
  static final long DAX_DEFAULT_ALIGNMENT = 2L << 20;

  /** The kinds of path a pool can live at. */
  enum Kind {
    FILE,
    HUGETLBFS,
    DEVICE_DAX
  }

  static PoolTarget file() {
    return new PoolTarget(Kind.FILE, 1, -1);
  }

  /**
   * Looks at a path: a device-DAX node if it is a character device that {@code daxSysfs} knows, a
   * hugetlbfs file if its file system says so, else a plain file.
   *
   * @param path the pool's path (need not exist yet, for a file)
   * @param daxSysfs {@link #DAX_SYSFS}, or a stand-in in tests
   * @return the target
   * @throws IOException if sysfs or the file system cannot be read
   * @throws IllegalArgumentException for a device that is not device-DAX, or a directory
   */
  static PoolTarget probe(Path path, Path daxSysfs) throws IOException {
    if (!Files.exists(path)) {
      Path dir = path.toAbsolutePath().getParent();
      return dir != null && Files.isDirectory(dir) ? forFileStore(dir) : file();
    }
    BasicFileAttributes attrs = Files.readAttributes(path, BasicFileAttributes.class);
    if (attrs.isDirectory()) {
      throw new IllegalArgumentException(path + " is a directory; name a pool file in it");
    }
    if (attrs.isOther()) {
      return deviceDax(path.toRealPath(), daxSysfs);
    }
    return forFileStore(path);
  }

  private static PoolTarget forFileStore(Path path) throws IOException {
    var store = Files.getFileStore(path);
    if ("hugetlbfs".equals(store.type())) {
      return new PoolTarget(Kind.HUGETLBFS, store.getBlockSize(), -1);
    }
    return file();
  }

  /**
   * Reads a device-DAX node's size and alignment from sysfs.
   *
   * @param device the device node, symbolic links resolved
   * @param daxSysfs where {@code daxX.Y/size} and {@code daxX.Y/align} are
   * @return the target
   * @throws IOException if sysfs cannot be read
   * @throws IllegalArgumentException if sysfs does not describe the device
   */
  static PoolTarget deviceDax(Path device, Path daxSysfs) throws IOException {
    String name = String.valueOf(device.getFileName());
    Path dir = daxSysfs.resolve(name);
    Path size = dir.resolve("size");
    if (!Files.isReadable(size)) {
      throw new IllegalArgumentException(
          device
              + " is a device but not a device-DAX node ("
              + size
              + " does not exist); use a /dev/daxX.Y node or a file");
    }
    long bytes = parseSize(size);
    if (bytes <= 0) {
      throw new IllegalArgumentException(device + " reports size " + bytes + " in " + size);
    }
    Path alignFile = dir.resolve("align");
    long alignment = Files.isReadable(alignFile) ? parseSize(alignFile) : DAX_DEFAULT_ALIGNMENT;
    if (alignment <= 0 || Long.bitCount(alignment) != 1) {
      throw new IllegalArgumentException(
          device + " reports alignment " + alignment + " in " + alignFile + ", not a power of two");
    }
    return new PoolTarget(Kind.DEVICE_DAX, alignment, bytes);
  }

  private static long parseSize(Path file) throws IOException {
    String text = Files.readString(file).strip();
    try {
      return text.startsWith("0x")
          ? Long.parseUnsignedLong(text.substring(2), 16)
          : Long.parseLong(text);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("cannot read a size from " + file + ": '" + text + "'", e);
    }
  }

  /**
   * The length to map for {@code bytes} of pages: rounded up to the alignment, and for a device no
   * more than the device holds.
   *
   * @param tier the tier's name, for messages
   * @param bytes page bytes wanted
   * @return the length to map
   * @throws IllegalArgumentException if a device is too small
   */
  long mapBytes(String tier, long bytes) {
    long mapped = Math.ceilDiv(bytes, alignment) * alignment;
    if (deviceBytes >= 0 && mapped > deviceBytes) {
      throw new IllegalArgumentException(
          "tier '"
              + tier
              + "' needs "
              + mapped
              + " bytes ("
              + bytes
              + " rounded up to the "
              + alignment
              + "-byte alignment) but the device holds "
              + deviceBytes
              + "; ask for at most "
              + (deviceBytes / alignment * alignment)
              + " bytes");
    }
    return mapped;
  }
}
