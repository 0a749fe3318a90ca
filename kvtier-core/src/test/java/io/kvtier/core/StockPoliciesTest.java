package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.spi.EvictionPolicy;
import io.kvtier.spi.EvictorContext;
import org.junit.jupiter.api.Test;

class StockPoliciesTest {

  private final FakeBlocks blocks = new FakeBlocks(4);

  @Test
  void byName_returnsThePolicyOfThatName() {
    for (String name :
        new String[] {
          "lru", "priority-lru", "s3fifo", "tinylfu", "arc", "agent-aware", "agent-aware-tiered"
        }) {
      assertThat(StockPolicies.byName(name).name()).isEqualTo(name);
    }
    assertThat(StockPolicies.names())
        .containsExactly(
            "lru", "priority-lru", "s3fifo", "tinylfu", "arc", "agent-aware", "agent-aware-tiered");
  }

  @Test
  void byName_policiesMakeFreshEvictorsOfTheirKind() {
    EvictionPolicy lru = StockPolicies.byName("lru");
    assertThat(lru.newEvictor(blocks.context(8))).isInstanceOf(LruEvictor.class);
    assertThat(lru.newEvictor(blocks.context(8))).isNotSameAs(lru.newEvictor(blocks.context(8)));
    assertThat(StockPolicies.byName("priority-lru").newEvictor(blocks.context(8)))
        .isInstanceOf(PriorityLruEvictor.class);
    assertThat(StockPolicies.byName("s3fifo").newEvictor(blocks.context(8)))
        .isInstanceOf(S3FifoEvictor.class);
    assertThat(StockPolicies.byName("tinylfu").newEvictor(blocks.context(8)))
        .isInstanceOf(TinyLfuEvictor.class);
    assertThat(StockPolicies.byName("arc").newEvictor(blocks.context(8)))
        .isInstanceOf(ArcEvictor.class);
    assertThat(StockPolicies.byName("agent-aware").newEvictor(blocks.context(8)))
        .isInstanceOf(AgentAwareEvictor.class);
  }

  @Test
  void agentAwareTiered_isRecencyAboveTheLastTier_andAgentAwareInIt() {
    EvictionPolicy tiered = StockPolicies.byName("agent-aware-tiered");
    EvictorContext top = new EvictorContext("hbm", 0, 8, blocks, 3);
    EvictorContext middle = new EvictorContext("dram", 1, 8, blocks, 3);
    EvictorContext last = new EvictorContext("nvme", 2, 8, blocks, 3);
    assertThat(top.lastTier()).isFalse();
    assertThat(last.lastTier()).isTrue();
    assertThat(tiered.newEvictor(top)).isInstanceOf(PriorityLruEvictor.class);
    assertThat(tiered.newEvictor(middle)).isInstanceOf(PriorityLruEvictor.class);
    assertThat(tiered.newEvictor(last)).isInstanceOf(AgentAwareEvictor.class);
    assertThat(tiered.newEvictor(blocks.context(8)))
        .as("a single tier is the last")
        .isInstanceOf(AgentAwareEvictor.class);
    assertThatThrownBy(() -> new EvictorContext("x", 3, 8, blocks, 3))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("outside [0, 3)");
  }

  @Test
  void byName_ofUnknownName_listsTheKnownOnes() {
    assertThatThrownBy(() -> StockPolicies.byName("clock"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("clock")
        .hasMessageContaining("arc")
        .hasMessageContaining("tinylfu")
        .hasMessageContaining("lru")
        .hasMessageContaining("priority-lru")
        .hasMessageContaining("s3fifo");
    assertThatThrownBy(() -> StockPolicies.byName("LRU"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> StockPolicies.byName(null))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
