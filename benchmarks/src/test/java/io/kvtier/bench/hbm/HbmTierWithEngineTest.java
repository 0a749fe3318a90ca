package io.kvtier.bench.hbm;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvtier.DType;
import io.kvtier.DramTier;
import io.kvtier.KvCache;
import io.kvtier.KvLayout;
import io.kvtier.LayerwiseOnboarding;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.PageHandle;
import io.kvtier.Request;
import io.kvtier.TierStats;
import io.kvtier.hbm.HbmTier;
import io.kvtier.spi.PageStore;
import io.kvtier.spi.TierKind;
import io.kvtier.spi.TierSpec;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The engine with the emulated HBM tier on top of DRAM: the tier plugs in through the public API
 * alone, and blocks demoted to DRAM come back up through the HBM store's copies.
 */
class HbmTierWithEngineTest {

  @Test
  void emulatedHbmOverDram_reusesAPrefix_andOnboardsDemotedBlocks() throws Exception {
    KvLayout layout = KvLayout.ofPageBytes(16, 4096);
    Namespace ns = Namespace.of("m", layout);
    int[] prompt = new int[16 * 12];
    Arrays.setAll(prompt, i -> i);
    try (KvCache cache =
        KvCache.builder()
            .layout(layout)
            .tier(HbmTier.emulated(16 * 4096))
            .tier(DramTier.offHeap(64 * 4096))
            .build()) {
      try (Lease lease = cache.acquire(Request.of(ns, prompt))) {
        lease.extend();
        lease.commit(prompt.length);
      }
      int[] other = new int[16 * 12];
      Arrays.setAll(other, i -> 100_000 + i);
      try (Lease lease = cache.acquire(Request.of(ns, other))) {
        lease.extend();
        lease.commit(other.length);
      }
      try (Lease lease = cache.acquire(Request.of(ns, prompt))) {
        assertThat(lease.cachedTokens()).isPositive();
        assertThat(lease.cachedBlocksPerTier()[1]).as("blocks found only in DRAM").isPositive();
        lease.onboard().get(10, TimeUnit.SECONDS);
        assertThat(lease.blockTable()).hasSizeGreaterThan(0);
      }
      TierStats top = cache.stats().tiers().getFirst();
      assertThat(top.kind()).isEqualTo(TierKind.HBM);
      assertThat(top.capacityPages()).isEqualTo(16);
    }
  }

  /** A tier spec that hands the test the store the cache opens, to read and write its pages. */
  static TierSpec capturing(TierSpec spec, AtomicReference<PageStore> into) {
    return new TierSpec() {
      @Override
      public String name() {
        return spec.name();
      }

      @Override
      public TierKind kind() {
        return spec.kind();
      }

      @Override
      public long capacityBytes() {
        return spec.capacityBytes();
      }

      @Override
      public PageStore open(int pageBytes) {
        PageStore store = spec.open(pageBytes);
        into.set(store);
        return store;
      }
    };
  }

  @Test
  void layerSplitHbm_onboardsFromDram_layerByLayer_withTheBytesTheEngineWrote() throws Exception {
    KvLayout layout = KvLayout.of(4, 2, 64, DType.INT8, 16); // 16 KiB pages, 4 KiB a layer
    int page = layout.pageBytes();
    Namespace ns = Namespace.of("m", layout);
    int[] prompt = new int[16 * 6];
    Arrays.setAll(prompt, i -> 7 + i);
    AtomicReference<PageStore> hbm = new AtomicReference<>();
    try (KvCache cache =
            KvCache.builder()
                .layout(layout)
                .tier(capturing(HbmTier.emulated(8L * page).layout(layout), hbm))
                .tier(DramTier.offHeap(64L * page))
                .build();
        Arena arena = Arena.ofConfined()) {
      MemorySegment bytes = arena.allocate(page);
      try (Lease lease = cache.acquire(Request.of(ns, prompt))) {
        lease.extend();
        long[] table = lease.blockTable();
        for (int b = 0; b < table.length; b++) { // what the engine's prefill wrote on the device
          for (int k = 0; k < page; k++) {
            bytes.set(ValueLayout.JAVA_BYTE, k, (byte) (31 * b + k));
          }
          hbm.get().write(PageHandle.index(table[b]), bytes);
        }
        lease.commit(prompt.length);
      }
      int[] other = new int[16 * 8];
      Arrays.setAll(other, i -> 100_000 + i);
      try (Lease lease = cache.acquire(Request.of(ns, other))) {
        lease.extend(); // fills the device: the prompt's blocks go down to DRAM
        lease.commit(other.length);
      }
      try (Lease lease = cache.acquire(Request.of(ns, prompt))) {
        assertThat(lease.cachedBlocksPerTier()).containsExactly(0, 6);
        LayerwiseOnboarding layers = lease.onboardLayers();
        assertThat(layers.layers()).isEqualTo(4);
        long[] early = layers.blockTable();
        for (int l = 0; l < 4; l++) {
          layers.layer(l).get(10, TimeUnit.SECONDS);
        }
        layers.all().get(10, TimeUnit.SECONDS);
        assertThat(lease.blockTable()).containsExactly(early);
        for (int b = 0; b < early.length; b++) {
          hbm.get().read(PageHandle.index(early[b]), bytes);
          for (int k = 0; k < page; k++) {
            assertThat(bytes.get(ValueLayout.JAVA_BYTE, k))
                .as("block %d byte %d", b, k)
                .isEqualTo((byte) (31 * b + k));
          }
        }
      }
      assertThat(cache.stats().tiers().getFirst().kind()).isEqualTo(TierKind.HBM);
    }
  }
}
