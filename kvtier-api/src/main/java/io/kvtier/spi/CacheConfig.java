package io.kvtier.spi;

import io.kvtier.KvLayout;
import io.kvtier.Ticker;
import java.util.List;

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
    int eventBuffer) {

  /**
   * Copies the tier list.
   *
   * @throws NullPointerException when {@code tiers} is null
   */
  public CacheConfig {
    tiers = List.copyOf(tiers);
  }
}
