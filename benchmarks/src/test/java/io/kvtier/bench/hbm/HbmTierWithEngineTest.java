package io.kvtier.bench.hbm;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvtier.DramTier;
import io.kvtier.KvCache;
import io.kvtier.KvLayout;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.Request;
import io.kvtier.TierStats;
import io.kvtier.hbm.HbmTier;
import io.kvtier.spi.TierKind;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
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
}
