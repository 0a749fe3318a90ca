package io.kvtier.cxl;

import static io.kvtier.cxl.SharedPoolFixtures.block;
import static io.kvtier.cxl.SharedPoolFixtures.page;
import static io.kvtier.cxl.SharedPoolFixtures.pageSegment;
import static org.assertj.core.api.Assertions.assertThat;

import io.kvtier.spi.PageStore;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two JVMs share one pool on {@code /dev/shm}: a child process ({@link SharedPoolChild}, started
 * with this JVM's java binary, class path and the flags Chronicle Map needs) publishes blocks and
 * holds pages and read leases; this process finds its blocks through the directory and reads
 * verified bytes, and, once the child is killed, reclaims what it held.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class SharedPoolCrossProcessTest {

  private static final int PAGE = 64 * 1024;
  private static final int PAGES = 24;
  private static final long READ_LEASE_MS = 1_500;
  private static final long OWNER_LEASE_MS = 1_500;

  @TempDir(factory = ShmTempDirFactory.class)
  Path dir;

  private Child child;

  @AfterEach
  void stopChild() throws Exception {
    if (child != null) {
      child.process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
    }
  }

  private SharedPool open(boolean hostLocal) {
    SharedPoolOptions options =
        SharedPoolOptions.builder()
            .readLease(Duration.ofMillis(READ_LEASE_MS))
            .ownerLease(Duration.ofMillis(OWNER_LEASE_MS))
            .hostLocal(hostLocal)
            .build();
    return CxlTier.sharedPool("parent", dir.resolve("pool"), (long) PAGE * PAGES, options)
        .open(PAGE);
  }

  @Test
  void blocksPublishedByAnotherProcess_areFoundThroughTheDirectory_andReadVerified()
      throws Exception {
    try (SharedPool pool = open(true)) {
      child = Child.start(dir.resolve("pool"), true);
      long[] slots = child.call("publish 0 8");
      assertThat(slots).hasSize(8).doesNotHaveDuplicates();
      byte[] out = new byte[PAGE];
      for (int i = 0; i < 8; i++) {
        long slot = pool.lookup(block(i));
        assertThat(slot).as("block %d", i).isEqualTo(slots[i]);
        assertThat(pool.ownerPid(slot)).isEqualTo(child.process.pid());
        assertThat(pool.readBlock(slot, block(i), MemorySegment.ofArray(out))).isTrue();
        assertThat(out).as("block %d's bytes", i).isEqualTo(page(i, PAGE));
        pool.release(slot);
      }
      assertThat(pool.verifyFailures()).isZero();
      // and the other way round: the child finds what this process published
      long mine = pool.allocate(-1);
      pool.writeBlock(mine, block(100), pageSegment(100, PAGE));
      assertThat(child.call("lease 100 101")).containsExactly(mine);
      child.call("close");
      assertThat(child.process.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(child.process.exitValue()).isZero();
      // a cleanly closed process's blocks stay findable until the space is needed
      assertThat(pool.lookup(block(3))).isEqualTo(slots[3]);
      pool.release(slots[3]);
    }
  }

  @Test
  void aKilledProcess_losesItsPagesAtOnce_andItsReadLeasesWhenTheyExpire() throws Exception {
    try (SharedPool pool = open(true)) {
      long leasedByChild = pool.allocate(-1);
      pool.writeBlock(leasedByChild, block(50), pageSegment(50, PAGE));
      child = Child.start(dir.resolve("pool"), true);
      long[] published = child.call("publish 0 6");
      long[] owned = child.call("own 4");
      assertThat(child.call("lease 50 51")).containsExactly(leasedByChild);
      pool.free(leasedByChild); // retired: the child still reads it
      List<Long> mine = fill(pool);
      assertThat(mine).hasSize(PAGES - 1 - 6 - 4);
      assertThat(pool.reclaim()).as("the child is alive").isZero();

      child.process.destroyForcibly();
      assertThat(child.process.waitFor(30, TimeUnit.SECONDS)).isTrue();

      long killedAt = System.currentTimeMillis();
      assertThat(pool.reclaim()).as("its published and owned pages").isEqualTo(10);
      assertThat(pool.lookup(block(0))).isEqualTo(SharedPool.NOT_FOUND);
      List<Long> taken = fill(pool);
      assertThat(taken)
          .containsExactlyInAnyOrderElementsOf(concat(published, owned))
          .doesNotContain(leasedByChild);
      // the dead child's read lease still protects the retired page until its deadline
      if (System.currentTimeMillis() - killedAt < READ_LEASE_MS / 2) {
        assertThat(pool.allocate(leasedByChild)).isEqualTo(PageStore.NO_SPACE);
      }
      Thread.sleep(READ_LEASE_MS + 200);
      assertThat(pool.allocate(leasedByChild)).isEqualTo(leasedByChild);
    }
  }

  @Test
  void acrossHosts_aKilledProcessesPages_returnWhenItsOwnerLeaseRunsOut() throws Exception {
    try (SharedPool pool = open(false)) {
      child = Child.start(dir.resolve("pool"), false);
      long[] published = child.call("publish 0 3");
      child.process.destroyForcibly();
      assertThat(child.process.waitFor(30, TimeUnit.SECONDS)).isTrue();
      long deadline = System.currentTimeMillis() + OWNER_LEASE_MS * 4;
      int reclaimed = 0;
      boolean sawItProtected = false;
      while (reclaimed == 0 && System.currentTimeMillis() < deadline) {
        reclaimed = pool.reclaim();
        sawItProtected |= reclaimed == 0;
        Thread.sleep(50);
      }
      assertThat(sawItProtected).as("pages kept until the lease ran out").isTrue();
      assertThat(reclaimed).isEqualTo(published.length);
    }
  }

  private static List<Long> fill(PageStore pool) {
    List<Long> slots = new ArrayList<>();
    long slot;
    while ((slot = pool.allocate(-1)) != PageStore.NO_SPACE) {
      slots.add(slot);
    }
    return slots;
  }

  private static List<Long> concat(long[] a, long[] b) {
    List<Long> all = new ArrayList<>();
    Arrays.stream(a).forEach(all::add);
    Arrays.stream(b).forEach(all::add);
    return all;
  }

  /** A child JVM running {@link SharedPoolChild}, driven line by line. */
  private record Child(Process process, PrintWriter in, BufferedReader out) {

    static Child start(Path pool, boolean hostLocal) throws IOException {
      List<String> cmd = new ArrayList<>();
      cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      String flags = System.getProperty("kvtier.cxl.childJvmArgs", "");
      for (String f : flags.trim().split("\\s+")) {
        if (!f.isEmpty()) {
          cmd.add(f);
        }
      }
      cmd.addAll(
          List.of(
              "-Xshare:auto",
              "-XX:TieredStopAtLevel=1",
              "-cp",
              System.getProperty("java.class.path"),
              SharedPoolChild.class.getName(),
              pool.toString(),
              String.valueOf(PAGE),
              String.valueOf((long) PAGE * PAGES),
              String.valueOf(READ_LEASE_MS),
              String.valueOf(OWNER_LEASE_MS),
              String.valueOf(hostLocal)));
      Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
      Child c =
          new Child(
              p,
              new PrintWriter(p.getOutputStream(), true, StandardCharsets.UTF_8),
              new BufferedReader(
                  new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)));
      c.answer();
      return c;
    }

    long[] call(String command) throws IOException {
      in.println(command);
      return answer();
    }

    private long[] answer() throws IOException {
      String line;
      while ((line = out.readLine()) != null) {
        if (line.startsWith("ok")) {
          String[] parts = line.trim().split("\\s+");
          return parts.length > 1 && parts[1].matches("-?\\d+")
              ? Arrays.stream(parts, 1, parts.length).mapToLong(Long::parseLong).toArray()
              : new long[0];
        }
        if (line.startsWith("error")) {
          throw new AssertionError("child: " + line);
        }
      }
      throw new AssertionError("child ended without answering; alive: " + process.isAlive());
    }
  }
}
