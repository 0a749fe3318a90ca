package io.kvtier.cabi;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * A cache and a namespace opened through the entry points before each test, as the C side opens
 * them, and destroyed after it with a check that no handle leaked; native strings and token arrays
 * in a per-test arena.
 */
abstract class CAbiFixture {
  Arena arena;
  int handlesBefore;
  long cache;
  long ns;

  /** The cache's configuration, as {@code kvtier_cache_create} takes it. */
  abstract String config();

  @BeforeEach
  void open() {
    arena = Arena.ofConfined();
    handlesBefore = CAbi.liveHandles();
    String config = config();
    cache = CAbi.cacheCreate(str(config), len(config));
    assertThat(cache).as(CAbi.lastError()).isPositive();
    ns = CAbi.namespaceOpen(cache, str("m"), 1, 0, 0);
    assertThat(ns).isPositive();
  }

  @AfterEach
  void close() {
    if (cache != 0) {
      assertThat(CAbi.cacheDestroy(cache)).isEqualTo(Status.OK);
    }
    assertThat(CAbi.liveHandles()).as("handles leaked").isEqualTo(handlesBefore);
    arena.close();
  }

  long str(String s) {
    return arena.allocateFrom(s).address();
  }

  static int len(String s) {
    return s.getBytes(StandardCharsets.UTF_8).length;
  }

  MemorySegment tokens(int n, int seed) {
    MemorySegment m = arena.allocate(ValueLayout.JAVA_INT, Math.max(n, 1));
    for (int i = 0; i < n; i++) {
      m.setAtIndex(ValueLayout.JAVA_INT, i, seed * 100_000 + i);
    }
    return m;
  }

  long acquire(MemorySegment tok, int n) {
    long lease = CAbi.acquire(cache, ns, 0, 0, tok.address(), n, 0);
    assertThat(lease).as(CAbi.lastError()).isPositive();
    return lease;
  }
}
