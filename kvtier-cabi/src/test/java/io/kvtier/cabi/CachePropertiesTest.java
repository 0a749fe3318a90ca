package io.kvtier.cabi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.DType;
import io.kvtier.KvLayout;
import org.junit.jupiter.api.Test;

class CachePropertiesTest {

  @Test
  void parse_readsTheModelShape_andTiers() {
    CacheProperties p =
        CacheProperties.parse(
            """
            # Llama-3-8B
            layout.layers=32
            layout.kv_heads=8
            layout.head_dim=128
            layout.dtype=bf16
            layout.tokens_per_block=16
            layout.arrangement=layer_split
            tiers=hot
            tier.hot.kind=dram
            tier.hot.capacity=8m
            eviction=s3fifo
            admission=after-hits:2
            retention=tool-call-ttl:60000
            branches=cap-per-session:64
            prefetch=on-resume
            event_buffer=1024
            """);
    assertThat(p.layout())
        .isEqualTo(KvLayout.of(32, 8, 128, DType.BF16, 16).with(KvLayout.Arrangement.LAYER_SPLIT));
    assertThat(p.layout().pageBytes()).isEqualTo(2 << 20);
    assertThat(p.tierNames()).containsExactly("hot");
    assertThat(p.builder().config().tiers().get(0).capacityBytes()).isEqualTo(8L << 20);
    assertThat(p.builder().config().eventBuffer()).isEqualTo(1024);
  }

  @Test
  void parse_pageBytes_givesATinyLayout_withDefaults() {
    CacheProperties p = CacheProperties.parse("layout.page_bytes=512\ntier.dram.capacity=1m\n");
    assertThat(p.layout().pageBytes()).isEqualTo(512);
    assertThat(p.layout().tokensPerBlock()).isEqualTo(16);
    assertThat(p.tierNames()).containsExactly("dram");
  }

  @Test
  void parse_rejectsUnknownKeys_namingThem() {
    assertThatThrownBy(
            () -> CacheProperties.parse("layout.page_bytes=512\ntier.dram.capacity=1m\nlayers=3"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'layers'")
        .hasMessageContaining("layout.layers");
  }

  @Test
  void parse_rejectsBadValues_namingTheKey() {
    assertThatThrownBy(() -> CacheProperties.parse("layout.page_bytes=512"))
        .hasMessageContaining("tier.dram.capacity");
    assertThatThrownBy(() -> CacheProperties.parse("tier.dram.capacity=1m"))
        .hasMessageContaining("layout.layers");
    assertThatThrownBy(
            () ->
                CacheProperties.parse(
                    "layout.page_bytes=512\ntier.dram.capacity=1m\nlayout.dtype=fp4"))
        .hasMessageContaining("layout.dtype");
    assertThatThrownBy(
            () ->
                CacheProperties.parse(
                    "layout.page_bytes=512\nlayout.layers=2\ntier.dram.capacity=1m"))
        .hasMessageContaining("exclusive");
    assertThatThrownBy(() -> CacheProperties.parse("layout.page_bytes=512\ntier.dram.capacity=-1"))
        .hasMessageContaining("positive");
    assertThatThrownBy(
            () ->
                CacheProperties.parse(
                    "layout.page_bytes=512\ntier.dram.capacity=1m\ntier.dram.kind=nvme"))
        .hasMessageContaining("not available");
    assertThatThrownBy(
            () -> CacheProperties.parse("layout.page_bytes=512\ntier.dram.capacity=1m\ntiers=a b"))
        .hasMessageContaining("tiers");
    assertThatThrownBy(
            () ->
                CacheProperties.parse(
                    "layout.page_bytes=512\ntier.dram.capacity=1m\nevent_buffer=100"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("eventBuffer");
  }

  @Test
  void bytes_understandsBinarySuffixes() {
    assertThat(CacheProperties.bytes("k", "4096")).isEqualTo(4096);
    assertThat(CacheProperties.bytes("k", "2k")).isEqualTo(2048);
    assertThat(CacheProperties.bytes("k", "3G")).isEqualTo(3L << 30);
    assertThat(CacheProperties.bytes("k", "1t")).isEqualTo(1L << 40);
    assertThatThrownBy(() -> CacheProperties.bytes("k", "9999999999t"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> CacheProperties.bytes("k", "g"))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
