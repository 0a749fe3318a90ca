package io.kvtier.nvme;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvtier.spi.BlockRecord;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A process killed with SIGKILL in the middle of writes: the store reopens, recovery visits only
 * intact pages, and every page it visits reads back verified with exactly the bytes written for its
 * block. Nothing corrupt is ever served.
 */
class CrashRecoveryTest {

  static final int PAGE = 64 * 1024;
  static final int PAGES = 64;

  @TempDir Path dir;

  @ParameterizedTest
  @ValueSource(strings = {"slab", "rocksdb"})
  void sigkillMidWrite_reopens_andServesOnlyIntactPages(String kind) throws Exception {
    Path path = dir.resolve(kind.equals("slab") ? "pages.slab" : "db");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process child =
        new ProcessBuilder(
                java,
                "--enable-native-access=ALL-UNNAMED",
                "-cp",
                System.getProperty("java.class.path"),
                CrashWriter.class.getName(),
                kind,
                path.toString(),
                String.valueOf(PAGE),
                String.valueOf(PAGES))
            .redirectErrorStream(true)
            .start();
    try {
      BufferedReader out =
          new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
      String line = out.readLine();
      assertThat(line).as("child output").isEqualTo("ready");
      Thread.sleep(300 + (long) (Math.random() * 300));
      assertThat(child.isAlive()).isTrue();
    } finally {
      child.destroyForcibly();
      assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
    }
    assertThat(child.exitValue()).as("killed by SIGKILL").isEqualTo(128 + 9);

    NvmeTier.Spec spec =
        kind.equals("slab")
            ? NvmeTier.slab("crash", path, (long) PAGE * PAGES)
            : NvmeTier.rocksdb("crash", path, (long) PAGE * PAGES);
    try (Arena arena = Arena.ofConfined();
        NvmePageStore store = spec.open(PAGE)) {
      Map<Long, BlockRecord> recovered = new HashMap<>();
      store.recover(recovered::put);
      assertThat(recovered).as("pages written before the kill").isNotEmpty();
      MemorySegment dst = arena.allocate(PAGE, 4096);
      for (var e : recovered.entrySet()) {
        long seed = e.getValue().keyHi();
        assertThat(e.getValue()).isEqualTo(TestPages.block(seed));
        assertThat((seed - 1) % PAGES).isEqualTo(e.getKey());
        assertThat(store.readBlock(e.getKey(), e.getValue(), dst)).isTrue();
        assertThat(dst.mismatch(TestPages.page(arena, PAGE, seed))).isEqualTo(-1);
      }
      assertThat(store.misses()).isZero();
      assertThat(store.freePages()).isEqualTo(PAGES - recovered.size());
    }
  }
}
