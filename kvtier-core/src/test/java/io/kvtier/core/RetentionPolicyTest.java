package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.DramTier;
import io.kvtier.KvCache;
import io.kvtier.KvLayout;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.PauseKind;
import io.kvtier.Request;
import io.kvtier.spi.RetentionPolicy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The stock retention policies' pause pins, and what the cache tells them about a pause. */
class RetentionPolicyTest {
  static final Duration NINE = Duration.ofSeconds(9);

  @Test
  void costAware_pinsLongerTheMoreARecomputeWouldCost_andOnlyTheEstimateWhenALowerTierKeepsIt() {
    RetentionPolicy p = RetentionPolicy.costAware(Duration.ofMinutes(10));
    assertThat(p.pauseTtl(PauseKind.TOOL, NINE, 0, false)).isEqualTo(Duration.ofSeconds(18));
    assertThat(p.pauseTtl(PauseKind.TOOL, NINE, 32_768, false)).isEqualTo(Duration.ofSeconds(36));
    assertThat(p.pauseTtl(PauseKind.TOOL, NINE, 98_304, false)).isEqualTo(Duration.ofSeconds(72));
    assertThat(p.pauseTtl(PauseKind.TOOL, NINE, 98_304, true)).isEqualTo(NINE);
    assertThat(p.pauseTtl(PauseKind.TOOL, Duration.ofMinutes(4), 98_304, false))
        .isEqualTo(Duration.ofMinutes(10));
    assertThat(p.pauseTtl(PauseKind.HUMAN, NINE, 98_304, false)).isZero();
    assertThat(p.pauseTtl(PauseKind.TOOL, null, 98_304, false)).isZero();
    assertThat(p.pauseTtl(PauseKind.TOOL, NINE)).isEqualTo(Duration.ofSeconds(18));
    assertThatThrownBy(() -> RetentionPolicy.costAware(Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void toolCallTtl_ignoresTheCost() {
    RetentionPolicy p = RetentionPolicy.toolCallTtl();
    assertThat(p.pauseTtl(PauseKind.TOOL, NINE, 98_304, false)).isEqualTo(Duration.ofSeconds(18));
    assertThat(p.pauseTtl(PauseKind.TOOL, NINE, 98_304, true)).isEqualTo(Duration.ofSeconds(18));
  }

  /** What a policy was told at each pause: (context tokens, lower tier). */
  record Told(long contextTokens, boolean lowerTier) {}

  static final class Recording implements RetentionPolicy {
    final List<Told> told = new ArrayList<>();

    @Override
    public Duration pauseTtl(PauseKind kind, Duration expected) {
      throw new AssertionError("the cache must ask with the cost");
    }

    @Override
    public Duration pauseTtl(
        PauseKind kind, Duration expected, long contextTokens, boolean lowerTier) {
      told.add(new Told(contextTokens, lowerTier));
      return expected;
    }
  }

  @Test
  void theCacheTellsThePolicyThePathsTokens_andWhetherALowerTierCouldKeepIt() {
    KvLayout layout = KvLayout.ofPageBytes(4, 64);
    Namespace ns = Namespace.of("m", layout);
    for (boolean twoTiers : new boolean[] {false, true}) {
      Recording policy = new Recording();
      var b =
          KvCache.builder()
              .layout(layout)
              .tier(DramTier.offHeap("top", 64L * 16))
              .retention(policy)
              .ticker(new ManualTicker());
      if (twoTiers) {
        b.tier(DramTier.offHeap("lower", 64L * 16));
      }
      try (KvCache cache = b.build()) {
        int[] prompt = new int[22]; // 5 full blocks and a partial one
        for (int i = 0; i < prompt.length; i++) {
          prompt[i] = 100 + i;
        }
        try (Lease l = cache.acquire(Request.of(ns, prompt).session("s"))) {
          l.extend();
          l.commit();
        }
        cache.session("s").pause(PauseKind.TOOL, NINE);
        assertThat(policy.told).containsExactly(new Told(20, twoTiers));
        assertThat(cache.session("s").pinnedBlocks()).isEqualTo(5);
      }
    }
  }
}
