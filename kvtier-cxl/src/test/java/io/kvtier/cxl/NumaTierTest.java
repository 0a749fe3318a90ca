package io.kvtier.cxl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.kvtier.spi.PageStore;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Anonymous memory bound to a NUMA node: node 0 exists on every Linux host; node 7 here does not.
 */
class NumaTierTest {

  private static final int PAGE = 64 * 1024;

  @TempDir Path dir;

  @Test
  void node0_roundTripsBytes_andIsBoundToNode0() throws Exception {
    assumeTrue(NumaMemory.nodes(NumaMemory.NODE_SYSFS).contains(0), "no NUMA node 0");
    try (PageStore store = CxlTier.numaNode("cxl-numa", 0, 32L * PAGE).open(PAGE)) {
      assertThat(store.capacityPages()).isEqualTo(32);
      byte[][] pages = new byte[32][PAGE];
      Random random = new Random(11);
      for (int i = 0; i < 32; i++) {
        random.nextBytes(pages[i]);
        store.write(store.allocate(i), MemorySegment.ofArray(pages[i]));
      }
      for (int i = 0; i < 32; i++) {
        byte[] out = new byte[PAGE];
        store.read(i, MemorySegment.ofArray(out));
        assertThat(out).as("page %d", i).isEqualTo(pages[i]);
      }
      MemorySegment first = store.segment(0).orElseThrow();
      assertThat(NumaMemory.nodeOf(first)).contains(0);
      String line = numaMapsLine(first.address());
      assertThat(line).as("numa_maps of the pool").contains("bind:0");
    }
  }

  @Test
  void aMissingNode_failsNamingTheNodesThatExist() {
    List<Integer> nodes = NumaMemory.nodes(NumaMemory.NODE_SYSFS);
    assumeTrue(!nodes.contains(7), "this host has a node 7");
    assertThatThrownBy(() -> CxlTier.numaNode("cxl-numa", 7, 1L << 20).open(PAGE))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("NUMA node 7 does not exist")
        .hasMessageContaining(nodes.toString());
  }

  @Test
  void aNodeWithoutMemory_isRejected() throws Exception {
    Path sysfs = dir.resolve("node");
    Files.createDirectories(sysfs.resolve("node0"));
    Files.createDirectories(sysfs.resolve("node1"));
    Files.writeString(sysfs.resolve("has_memory"), "0\n");
    assertThat(NumaMemory.nodes(sysfs)).containsExactly(0, 1);
    NumaMemory.checkNode("t", 0, sysfs);
    assertThatThrownBy(() -> NumaMemory.checkNode("t", 1, sysfs))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("node 1 has no memory");
    assertThatThrownBy(() -> NumaMemory.checkNode("t", 2, sysfs)).hasMessageContaining("[0, 1]");
  }

  @Test
  void nodeLists_parseAsTheKernelWritesThem() {
    assertThat(NumaMemory.parseList("0-2,5,7-8\n")).containsExactly(0, 1, 2, 5, 7, 8);
    assertThat(NumaMemory.parseList("0")).containsExactly(0);
    assertThat(NumaMemory.parseList("\n")).isEmpty();
  }

  @Test
  void badArguments_areRejectedUpFront() {
    assertThatThrownBy(() -> CxlTier.numaNode("", 0, PAGE))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> CxlTier.numaNode("n", -1, PAGE))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(">= 0");
    assertThatThrownBy(() -> CxlTier.numaNode("n", 0, 0))
        .isInstanceOf(IllegalArgumentException.class);
  }

  private static String numaMapsLine(long address) throws Exception {
    String hex = Long.toHexString(address);
    for (String line : Files.readAllLines(Path.of("/proc/self/numa_maps"))) {
      String start = line.substring(0, line.indexOf(' '));
      if (start.equals(hex)) {
        return line;
      }
    }
    throw new AssertionError("no numa_maps line for " + hex);
  }
}
