package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.CacheClosedException;
import io.kvtier.DType;
import io.kvtier.DramTier;
import io.kvtier.KvCache;
import io.kvtier.KvLayout;
import io.kvtier.LayerwiseOnboarding;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.OutOfPagesException;
import io.kvtier.PageHandle;
import io.kvtier.Request;
import io.kvtier.spi.RetentionPolicy;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Lease#onboardLayers()}: an onboarding's progress layer by layer, with the pages still
 * arriving already in the block table, so that an engine prefills layer l while later layers copy.
 */
class LayerwiseOnboardingTest {
  static final int T = 4;
  static final KvLayout LAYOUT = KvLayout.of(4, 1, 4, DType.INT8, T); // 128-byte pages, 32 a layer
  static final int PAGE = LAYOUT.pageBytes();
  static final Namespace NS = Namespace.of("model", LAYOUT);

  final ManualTicker ticker = new ManualTicker();
  final List<KvCacheImpl> opened = new ArrayList<>();

  @AfterEach
  void closeAll() {
    for (KvCacheImpl c : opened) {
      if (!c.isClosed()) {
        c.checkInvariants();
        c.close();
      }
    }
  }

  KvCacheImpl twoTiers(int topPages) {
    KvCacheImpl c =
        (KvCacheImpl)
            KvCache.builder()
                .layout(LAYOUT)
                .tier(DramTier.offHeap("hbm", (long) PAGE * topPages))
                .tier(DramTier.offHeap("dram", (long) PAGE * 64))
                .retention(RetentionPolicy.none())
                .ticker(ticker)
                .build();
    opened.add(c);
    return c;
  }

  static int[] seq(int from, int n) {
    return IntStream.range(from, from + n).toArray();
  }

  /** Caches {@code prompt} with page i filled with bytes {@code 10 · (i + 1) + k}. */
  void cacheWithData(KvCacheImpl cache, int[] prompt) {
    ticker.advance(Duration.ofMillis(10));
    try (Lease l = cache.acquire(Request.of(NS, prompt));
        Arena arena = Arena.ofConfined()) {
      l.extend();
      MemorySegment page = arena.allocate(PAGE);
      long[] table = l.blockTable();
      for (int i = 0; i < table.length; i++) {
        for (int k = 0; k < PAGE; k++) {
          page.set(ValueLayout.JAVA_BYTE, k, (byte) (10 * (i + 1) + k));
        }
        cache.store.write(PageHandle.index(table[i]), page);
      }
      l.commit();
    }
  }

  /** Fills the whole top tier with a request that leaves without committing: the top ends empty. */
  void pushBelow(KvCacheImpl cache, int topPages) {
    ticker.advance(Duration.ofMillis(10));
    try (Lease l = cache.acquire(Request.of(NS, seq(900_000, topPages * T)))) {
      l.extend();
    }
  }

  /** Caches {@code blocks} blocks from {@code base} with data, then pushes them below the top. */
  int[] cachedBelow(KvCacheImpl cache, int base, int blocks, int topPages) {
    int[] prompt = seq(base, blocks * T);
    cacheWithData(cache, prompt);
    pushBelow(cache, topPages);
    ticker.advance(Duration.ofMillis(10));
    return prompt;
  }

  static void assertData(KvCacheImpl cache, long[] table) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment page = arena.allocate(PAGE);
      for (int i = 0; i < table.length; i++) {
        cache.store.read(PageHandle.index(table[i]), page);
        for (int k = 0; k < PAGE; k++) {
          assertThat(page.get(ValueLayout.JAVA_BYTE, k))
              .as("page %d byte %d", i, k)
              .isEqualTo((byte) (10 * (i + 1) + k));
        }
      }
    }
  }

  @Test
  void pagesBelow_arriveLayerByLayer_intoTheHandlesTheTableAlreadyHolds() throws Exception {
    KvCacheImpl cache = twoTiers(8);
    int[] prompt = cachedBelow(cache, 1_000, 3, 8);
    try (Lease l = cache.acquire(Request.of(NS, prompt))) {
      assertThat(l.cachedBlocksPerTier()).containsExactly(0, 3);
      LayerwiseOnboarding lw = l.onboardLayers();
      assertThat(lw.layers()).isEqualTo(4);
      long[] early = lw.blockTable();
      assertThat(early).hasSize(3).doesNotContain(PageHandle.NONE);
      for (int layer = 0; layer < 4; layer++) {
        lw.layer(layer).get(10, TimeUnit.SECONDS);
      }
      lw.all().get(10, TimeUnit.SECONDS);
      assertThat(l.onboard()).isCompleted();
      assertThat(l.blockTable()).as("the handles given early are final").containsExactly(early);
      assertData(cache, early);
      assertThatThrownBy(() -> lw.layer(4)).isInstanceOf(IndexOutOfBoundsException.class);
      assertThatThrownBy(() -> lw.layer(-1)).isInstanceOf(IndexOutOfBoundsException.class);
    }
  }

  @Test
  void aPrefixOnTop_hasEveryLayerAtOnce() throws Exception {
    KvCacheImpl cache = twoTiers(8);
    int[] prompt = seq(2_000, 2 * T);
    cacheWithData(cache, prompt);
    ticker.advance(Duration.ofMillis(10));
    try (Lease l = cache.acquire(Request.of(NS, prompt))) {
      LayerwiseOnboarding lw = l.onboardLayers();
      for (int layer = 0; layer < 4; layer++) {
        assertThat(lw.layer(layer)).isCompleted();
      }
      assertThat(lw.blockTable()).containsExactly(l.blockTable());
      assertData(cache, lw.blockTable());
    }
  }

  @Test
  void blocksAPrefetchIsStillCopying_areWaitedForLayerByLayer() throws Exception {
    KvCacheImpl cache = twoTiers(8);
    int[] prompt = cachedBelow(cache, 3_000, 3, 8);
    assertThat(cache.prefetch(Request.of(NS, prompt))).isEqualTo(3);
    try (Lease l = cache.acquire(Request.of(NS, prompt))) {
      LayerwiseOnboarding lw = l.onboardLayers();
      long[] early = lw.blockTable();
      assertThat(early).doesNotContain(PageHandle.NONE);
      lw.layer(3).get(10, TimeUnit.SECONDS);
      lw.all().get(10, TimeUnit.SECONDS);
      assertThat(l.blockTable()).containsExactly(early);
      assertData(cache, early);
    }
    cache.prefetchesLanded().get(10, TimeUnit.SECONDS);
  }

  @Test
  void noRoomOnTop_failsEveryLayer_andALaterCallStartsOver() throws Exception {
    KvCacheImpl cache = twoTiers(4);
    int[] prompt = cachedBelow(cache, 4_000, 2, 4);
    Lease holder = cache.acquire(Request.of(NS, seq(800_000, 4 * T)));
    holder.extend(); // every top page pinned
    try (Lease l = cache.acquire(Request.of(NS, prompt))) {
      LayerwiseOnboarding failed = l.onboardLayers();
      for (int layer = 0; layer < 4; layer++) {
        int x = layer;
        assertThatThrownBy(() -> failed.layer(x).get(10, TimeUnit.SECONDS))
            .isInstanceOf(ExecutionException.class)
            .hasCauseInstanceOf(OutOfPagesException.class);
      }
      assertThatThrownBy(l::blockTable).isInstanceOf(IllegalStateException.class);
      holder.close();
      LayerwiseOnboarding again = l.onboardLayers();
      assertThat(again).isNotSameAs(failed);
      again.all().get(10, TimeUnit.SECONDS);
      assertData(cache, l.blockTable());
    }
  }

  @Test
  void aClosedLease_refusesIt() {
    KvCacheImpl cache = twoTiers(4);
    Lease l = cache.acquire(Request.of(NS, seq(5_000, T)));
    l.close();
    assertThatThrownBy(l::onboardLayers).isInstanceOf(CacheClosedException.class);
  }
}
