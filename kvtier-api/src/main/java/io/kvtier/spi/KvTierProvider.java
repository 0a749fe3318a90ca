package io.kvtier.spi;

import io.kvtier.KvCache;

/**
 * The engine behind the API, found with {@link java.util.ServiceLoader}: {@code kvtier-core}
 * provides it. An application needs {@code kvtier-core} on its class or module path; nothing else.
 */
public interface KvTierProvider {

  /**
   * Opens a cache.
   *
   * @param config a validated configuration
   * @return the open cache
   */
  KvCache open(CacheConfig config);

  /**
   * A host DRAM tier.
   *
   * @param name the tier's name
   * @param capacityBytes its size
   * @return the tier
   */
  TierSpec dram(String name, long capacityBytes);

  /**
   * A stock eviction policy by name.
   *
   * @param name one of {@code lru}, {@code s3fifo}, {@code priority-lru}
   * @return the policy
   * @throws IllegalArgumentException for an unknown name, listing the known ones
   */
  EvictionPolicy eviction(String name);

  /**
   * The frequency-sketch admission filter ({@link AdmissionPolicy#frequencySketch(int, int)}).
   *
   * @param fromTier the first tier it filters, at least 1
   * @param minUses the uses a block needs, 1 to 15
   * @return a fresh filter
   */
  AdmissionPolicy frequencySketch(int fromTier, int minUses);

  /**
   * The provider on the class or module path.
   *
   * @return the provider
   * @throws IllegalStateException when {@code kvtier-core} is missing
   */
  static KvTierProvider get() {
    return ProviderHolder.PROVIDER;
  }
}
