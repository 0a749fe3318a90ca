package io.kvtier.cxl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Anonymous memory bound to one NUMA node: how Linux presents CXL Type 3 memory (a memory-only
 * node) and how a pool is kept on a chosen socket.
 *
 * <p>The region is {@code mmap(MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)}, then {@code
 * mbind(MPOL_BIND)} to the node before any page is touched, so every page faults in on that node
 * (and only there: when the node is full the kernel does not fall back elsewhere). Transparent huge
 * pages are requested with {@code madvise(MADV_HUGEPAGE)} where the kernel allows it. {@code mbind}
 * is a system call that glibc does not wrap, so it goes through {@code syscall(2)} with the
 * architecture's number (x86_64, aarch64), or through libnuma's {@code mbind} on other
 * architectures when libnuma is installed; kvtier never requires libnuma.
 *
 * <p>Nodes are checked first against {@code /sys/devices/system/node}: a node that does not exist,
 * or has no memory, is an {@link IllegalArgumentException} naming the nodes that do.
 */
final class NumaMemory {
  private NumaMemory() {}

  /** Where Linux lists NUMA nodes. */
  static final Path NODE_SYSFS = Path.of("/sys/devices/system/node");

  /**
   * The nodes {@code sysfs} lists, ascending.
   *
   * @param sysfs {@link #NODE_SYSFS} or a stand-in
   * @return node ids; empty where there is no NUMA information
   */
  static List<Integer> nodes(Path sysfs) {
    if (!Files.isDirectory(sysfs)) {
      return List.of();
    }
    try (Stream<Path> entries = Files.list(sysfs)) {
      List<Integer> nodes = new ArrayList<>();
      entries
          .map(p -> String.valueOf(p.getFileName()))
          .filter(n -> n.matches("node\\d+"))
          .forEach(n -> nodes.add(Integer.parseInt(n.substring(4))));
      nodes.sort(null);
      return nodes;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list NUMA nodes in " + sysfs, e);
    }
  }

  /**
   * Checks that {@code node} exists and has memory.
   *
   * @param tier the tier's name, for messages
   * @param node the node
   * @param sysfs {@link #NODE_SYSFS} or a stand-in
   * @throws IllegalArgumentException naming the nodes that exist when it does not
   */
  static void checkNode(String tier, int node, Path sysfs) {
    List<Integer> nodes = nodes(sysfs);
    if (node < 0 || !nodes.contains(node)) {
      throw new IllegalArgumentException(
          "tier '"
              + tier
              + "': NUMA node "
              + node
              + " does not exist on this host; its nodes are "
              + (nodes.isEmpty() ? "none (no " + sysfs + ")" : nodes.toString())
              + ". A CXL memory expander shows up as a memory-only node: see numactl --hardware");
    }
    Path hasMemory = sysfs.resolve("has_memory");
    if (Files.isReadable(hasMemory)) {
      try {
        List<Integer> withMemory = parseList(Files.readString(hasMemory));
        if (!withMemory.contains(node)) {
          throw new IllegalArgumentException(
              "tier '"
                  + tier
                  + "': NUMA node "
                  + node
                  + " has no memory; nodes with memory are "
                  + withMemory);
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read " + hasMemory, e);
      }
    }
  }

  /**
   * Parses a kernel node list such as {@code 0-2,5}.
   *
   * @param text the list
   * @return the nodes
   */
  static List<Integer> parseList(String text) {
    List<Integer> nodes = new ArrayList<>();
    for (String part : text.strip().split(",")) {
      if (part.isEmpty()) {
        continue;
      }
      int dash = part.indexOf('-');
      int from = Integer.parseInt(dash < 0 ? part : part.substring(0, dash));
      int to = dash < 0 ? from : Integer.parseInt(part.substring(dash + 1));
      for (int n = from; n <= to; n++) {
        nodes.add(n);
      }
    }
    return nodes;
  }

  /**
   * Maps {@code bytes} of anonymous memory bound to {@code node}.
   *
   * @param tier the tier's name, for messages
   * @param node an existing node (see {@link #checkNode})
   * @param bytes length
   * @return the mapping; its release unmaps it
   */
  static Mapping map(String tier, int node, long bytes) {
    if (!Libc.isLinux()) {
      throw new UnsupportedOperationException("tier '" + tier + "': NUMA binding needs Linux");
    }
    checkNode(tier, node, NODE_SYSFS);
    MemorySegment region;
    try {
      region =
          Libc.mmap(
              bytes,
              Libc.PROT_READ | Libc.PROT_WRITE,
              Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE,
              -1,
              0);
    } catch (Libc.NativeException e) {
      throw new IllegalStateException(
          "tier '" + tier + "': cannot reserve " + bytes + " bytes: " + e.getMessage(), e);
    }
    try {
      bind(region, bytes, node);
      try {
        Libc.madvise(region, bytes, Libc.MADV_HUGEPAGE);
      } catch (Libc.NativeException e) {
        // transparent huge pages disabled or unsupported: 4 KiB pages work, only slower
      }
    } catch (RuntimeException e) {
      try {
        Libc.munmap(region, bytes);
      } catch (Libc.NativeException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
    return new Mapping(region, "NUMA node " + node, () -> Libc.munmap(region, bytes));
  }

  private static void bind(MemorySegment region, long bytes, int node) {
    int words = node / 64 + 1;
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment mask = arena.allocate(JAVA_LONG, words);
      mask.setAtIndex(JAVA_LONG, node / 64, 1L << (node % 64));
      // the kernel reads maxnode - 1 bits, hence the + 1 (as libnuma passes it)
      long maxNode = words * 64L + 1;
      Libc.Syscalls nr = Libc.Syscalls.forArch(System.getProperty("os.arch", ""));
      if (nr != null) {
        Libc.syscall(
            "mbind", nr.mbind, region.address(), bytes, Libc.MPOL_BIND, mask.address(), maxNode, 0);
      } else {
        LibNuma.mbind(region, bytes, mask, maxNode);
      }
    } catch (Libc.NativeException e) {
      throw new IllegalStateException(
          "cannot bind " + bytes + " bytes to NUMA node " + node + ": " + e.getMessage(), e);
    }
  }

  /**
   * The node that holds the (touched) page at {@code address}, from {@code
   * get_mempolicy(MPOL_F_NODE | MPOL_F_ADDR)}.
   *
   * @param address an address in a touched page
   * @return the node, or empty where the architecture's system call is unknown
   */
  static Optional<Integer> nodeOf(MemorySegment address) {
    Libc.Syscalls nr = Libc.Syscalls.forArch(System.getProperty("os.arch", ""));
    if (nr == null) {
      return Optional.empty();
    }
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment mode = arena.allocate(JAVA_INT);
      Libc.syscall(
          "get_mempolicy",
          nr.getMempolicy,
          mode.address(),
          0,
          0,
          address.address(),
          Libc.MPOL_F_NODE | Libc.MPOL_F_ADDR,
          0);
      return Optional.of(mode.get(JAVA_INT, 0));
    } catch (Libc.NativeException e) {
      throw new IllegalStateException("get_mempolicy: " + e.getMessage(), e);
    }
  }

  /** libnuma's {@code mbind}, looked up only where the system call number is unknown. */
  private static final class LibNuma {
    private static final MethodHandle MBIND = lookup();

    @SuppressWarnings("restricted") // a libc-style downcall, as in Libc
    private static MethodHandle lookup() {
      Linker linker = Linker.nativeLinker();
      for (String lib : new String[] {"libnuma.so.1", "libnuma.so"}) {
        try {
          SymbolLookup numa = SymbolLookup.libraryLookup(lib, Arena.global());
          Optional<MemorySegment> fn = numa.find("mbind");
          if (fn.isPresent()) {
            return linker.downcallHandle(
                fn.get(),
                FunctionDescriptor.of(
                    JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
          }
        } catch (IllegalArgumentException e) {
          // not installed under this name
        }
      }
      return null;
    }

    static void mbind(MemorySegment region, long bytes, MemorySegment mask, long maxNode)
        throws Libc.NativeException {
      if (MBIND == null) {
        throw new UnsupportedOperationException(
            "NUMA binding on "
                + System.getProperty("os.arch")
                + " needs libnuma (libnuma.so.1), which is not installed");
      }
      long rc;
      try {
        rc = (long) MBIND.invokeExact(region, bytes, Libc.MPOL_BIND, mask, maxNode, 0);
      } catch (Throwable t) {
        throw new IllegalStateException("libnuma mbind downcall", t);
      }
      if (rc != 0) {
        throw new Libc.NativeException("mbind (libnuma)", -1);
      }
    }
  }
}
