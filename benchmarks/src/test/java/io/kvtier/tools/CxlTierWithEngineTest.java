package io.kvtier.tools;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvtier.CacheStats;
import io.kvtier.KvCache;
import io.kvtier.KvLayout;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.Request;
import io.kvtier.TierStats;
import io.kvtier.cxl.CxlTier;
import io.kvtier.spi.TierKind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The engine over a CXL pool file: the tier plug-in works through the public API alone. */
class CxlTierWithEngineTest {

  @TempDir Path dir;

  @Test
  void cacheOverAPoolFile_reusesACommittedPrefix() throws Exception {
    KvLayout layout = KvLayout.ofPageBytes(16, 4096);
    Namespace ns = Namespace.of("m", layout);
    int[] prompt = new int[200];
    Arrays.setAll(prompt, i -> i);
    Path pool = dir.resolve("pool");
    try (KvCache cache =
        KvCache.builder().layout(layout).tier(CxlTier.file("cxl", pool, 64 * 4096)).build()) {
      try (Lease lease = cache.acquire(Request.of(ns, prompt))) {
        lease.extend();
        lease.commit();
      }
      try (Lease lease = cache.acquire(Request.of(ns, Arrays.copyOf(prompt, 300)))) {
        assertThat(lease.cachedTokens()).isEqualTo(192);
      }
      CacheStats stats = cache.stats();
      TierStats tier = stats.tiers().getFirst();
      assertThat(tier.kind()).isEqualTo(TierKind.CXL);
      assertThat(tier.capacityPages()).isEqualTo(64);
      assertThat(tier.usedPages()).isEqualTo(12);
    }
    assertThat(Files.size(pool)).isEqualTo(64 * 4096);
  }
}
