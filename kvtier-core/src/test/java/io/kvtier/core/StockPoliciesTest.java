package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.spi.EvictionPolicy;
import org.junit.jupiter.api.Test;

class StockPoliciesTest {

  private final FakeBlocks blocks = new FakeBlocks(4);

  @Test
  void byName_returnsThePolicyOfThatName() {
    for (String name :
        new String[] {"lru", "priority-lru", "s3fifo", "tinylfu", "arc", "agent-aware"}) {
      assertThat(StockPolicies.byName(name).name()).isEqualTo(name);
    }
    assertThat(StockPolicies.names())
        .containsExactly("lru", "priority-lru", "s3fifo", "tinylfu", "arc", "agent-aware");
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
