package io.kvtier.core;

import io.kvtier.KvCache;
import io.kvtier.spi.AdmissionPolicy;
import io.kvtier.spi.CacheConfig;
import io.kvtier.spi.EvictionPolicy;
import io.kvtier.spi.KvTierProvider;
import io.kvtier.spi.TierSpec;

/** The engine as the API's {@link java.util.ServiceLoader} finds it. */
public final class CoreProvider implements KvTierProvider {

  /** Creates the provider (called by the service loader). */
  public CoreProvider() {}

  @Override
  public KvCache open(CacheConfig config) {
    return new KvCacheImpl(config);
  }

  @Override
  public TierSpec dram(String name, long capacityBytes) {
    return new DramTierSpec(name, capacityBytes);
  }

  @Override
  public EvictionPolicy eviction(String name) {
    return StockPolicies.byName(name);
  }

  @Override
  public AdmissionPolicy frequencySketch(int fromTier, int minUses) {
    return new SketchAdmission(fromTier, minUses, SketchAdmission.DEFAULT_KEYS);
  }
}
