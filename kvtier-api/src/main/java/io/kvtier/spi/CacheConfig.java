package io.kvtier.spi;

import io.kvtier.KvLayout;
import io.kvtier.Ticker;
import java.util.List;
import java.util.Objects;

/**
 * A validated cache configuration, as {@link io.kvtier.KvCacheBuilder#config()} produces it and a
 * {@link KvTierProvider} consumes it.
 *
 * @param layout the KV layout
 * @param tiers tiers, fastest first
 * @param eviction eviction policy of every tier
 * @param admission admission policy for lower tiers
 * @param retention retention policy for paused sessions
 * @param branches branch reclamation policy
 * @param prefetch prefetch policy
 * @param writes when blocks are copied below the top tier
 * @param ticker the clock
 * @param eventBuffer capacity of the event replay buffer, a power of two
 * @param hints warm prefixes and quotas
 */
public record CacheConfig(
    KvLayout layout,
    List<TierSpec> tiers,
    EvictionPolicy eviction,
    AdmissionPolicy admission,
    RetentionPolicy retention,
    BranchPolicy branches,
    PrefetchPolicy prefetch,
    WritePolicy writes,
    Ticker ticker,
    int eventBuffer,
    HintConfig hints) {

  /**
   * Copies the tier list.
   *
   * @throws NullPointerException when {@code tiers} or {@code hints} is null
   */
  public CacheConfig {
    tiers = List.copyOf(tiers);
    Objects.requireNonNull(hints, "hints");
  }

  /**
   * A configuration with {@link HintConfig#defaults()}.
   *
   * @param layout the KV layout
   * @param tiers tiers, fastest first
   * @param eviction eviction policy of every tier
   * @param admission admission policy for lower tiers
   * @param retention retention policy for paused sessions
   * @param branches branch reclamation policy
   * @param prefetch prefetch policy
   * @param writes when blocks are copied below the top tier
   * @param ticker the clock
   * @param eventBuffer capacity of the event replay buffer, a power of two
   */
  public CacheConfig(
      KvLayout layout,
      List<TierSpec> tiers,
      EvictionPolicy eviction,
      AdmissionPolicy admission,
      RetentionPolicy retention,
      BranchPolicy branches,
      PrefetchPolicy prefetch,
      WritePolicy writes,
      Ticker ticker,
      int eventBuffer) {
    this(
        layout,
        tiers,
        eviction,
        admission,
        retention,
        branches,
        prefetch,
        writes,
        ticker,
        eventBuffer,
        HintConfig.defaults());
  }
}
