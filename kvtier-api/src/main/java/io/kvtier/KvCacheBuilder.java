package io.kvtier;

import io.kvtier.spi.AdmissionPolicy;
import io.kvtier.spi.BranchPolicy;
import io.kvtier.spi.CacheConfig;
import io.kvtier.spi.EvictionPolicy;
import io.kvtier.spi.HintConfig;
import io.kvtier.spi.KvTierProvider;
import io.kvtier.spi.PrefetchPolicy;
import io.kvtier.spi.RetentionPolicy;
import io.kvtier.spi.TierSpec;
import io.kvtier.spi.WritePolicy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Configures a {@link KvCache}. Every option has a default except the layout and at least one tier;
 * {@link #build()} validates everything once and says what to change.
 *
 * <table>
 *   <caption>Options</caption>
 *   <tr><th>option</th><th>default</th></tr>
 *   <tr><td>{@link #layout(KvLayout)}</td><td>required</td></tr>
 *   <tr><td>{@link #tier(TierSpec)}</td><td>required, top (fastest) tier first</td></tr>
 *   <tr><td>{@link #eviction(EvictionPolicy)}</td><td>{@link EvictionPolicy#agentAware()}</td></tr>
 *   <tr><td>{@link #admission(AdmissionPolicy)}</td><td>{@link AdmissionPolicy#always()}</td></tr>
 *   <tr><td>{@link #retention(RetentionPolicy)}</td><td>{@link RetentionPolicy#toolCallTtl()}</td></tr>
 *   <tr><td>{@link #branches(BranchPolicy)}</td><td>{@link BranchPolicy#defaults()}: at most {@value io.kvtier.spi.BranchPolicy#DEFAULT_CAP_PAGES} discarded-branch pages per session</td></tr>
 *   <tr><td>{@link #prefetch(PrefetchPolicy)}</td><td>{@link PrefetchPolicy#none()}</td></tr>
 *   <tr><td>{@link #writes(WritePolicy)}</td><td>{@link WritePolicy#writeBack()}</td></tr>
 *   <tr><td>{@link #ticker(Ticker)}</td><td>{@link Ticker#system()}</td></tr>
 *   <tr><td>{@link #eventBuffer(int)}</td><td>{@value #DEFAULT_EVENT_BUFFER} events</td></tr>
 *   <tr><td>{@link #warmPrefixes(int, Duration)}</td><td>a quarter of the top tier, 1 hour</td></tr>
 *   <tr><td>{@link #tenantQuota(long, int)}</td><td>no quota</td></tr>
 * </table>
 */
public final class KvCacheBuilder {

  /** Most tiers in one cache. */
  public static final int MAX_TIERS = 4;

  /** Default capacity of the event replay buffer. */
  public static final int DEFAULT_EVENT_BUFFER = 1 << 16;

  private KvLayout layout;
  private final List<TierSpec> tiers = new ArrayList<>();
  private EvictionPolicy eviction;
  private AdmissionPolicy admission = AdmissionPolicy.always();
  private RetentionPolicy retention = RetentionPolicy.toolCallTtl();
  private BranchPolicy branches = BranchPolicy.defaults();
  private PrefetchPolicy prefetch = PrefetchPolicy.none();
  private WritePolicy writes = WritePolicy.writeBack();
  private Ticker ticker = Ticker.system();
  private int eventBuffer = DEFAULT_EVENT_BUFFER;
  private int warmBlocks = HintConfig.DEFAULT_WARM_BLOCKS;
  private Duration warmTtl = HintConfig.DEFAULT_WARM_TTL;
  private final Map<Long, Integer> tenantQuotas = new HashMap<>();

  KvCacheBuilder() {}

  /**
   * The KV layout; it fixes the page size of every tier and the block size of every namespace.
   *
   * @param kvLayout the layout
   * @return this
   */
  public KvCacheBuilder layout(KvLayout kvLayout) {
    this.layout = Objects.requireNonNull(kvLayout, "layout");
    return this;
  }

  /**
   * Adds a tier below the ones already added (add the fastest first).
   *
   * @param tier the tier
   * @return this
   */
  public KvCacheBuilder tier(TierSpec tier) {
    tiers.add(Objects.requireNonNull(tier, "tier"));
    return this;
  }

  /**
   * The eviction policy of every tier.
   *
   * @param policy the policy
   * @return this
   */
  public KvCacheBuilder eviction(EvictionPolicy policy) {
    this.eviction = Objects.requireNonNull(policy, "eviction");
    return this;
  }

  /**
   * The admission policy for lower tiers.
   *
   * @param policy the policy
   * @return this
   */
  public KvCacheBuilder admission(AdmissionPolicy policy) {
    this.admission = Objects.requireNonNull(policy, "admission");
    return this;
  }

  /**
   * The retention policy: how long a paused session stays pinned.
   *
   * @param policy the policy
   * @return this
   */
  public KvCacheBuilder retention(RetentionPolicy policy) {
    this.retention = Objects.requireNonNull(policy, "retention");
    return this;
  }

  /**
   * The branch reclamation policy.
   *
   * @param policy the policy
   * @return this
   */
  public KvCacheBuilder branches(BranchPolicy policy) {
    this.branches = Objects.requireNonNull(policy, "branches");
    return this;
  }

  /**
   * The prefetch policy.
   *
   * @param policy the policy
   * @return this
   */
  public KvCacheBuilder prefetch(PrefetchPolicy policy) {
    this.prefetch = Objects.requireNonNull(policy, "prefetch");
    return this;
  }

  /**
   * When blocks are copied to the tier below the top one.
   *
   * @param policy the write policy
   * @return this
   */
  public KvCacheBuilder writes(WritePolicy policy) {
    this.writes = Objects.requireNonNull(policy, "writes");
    return this;
  }

  /**
   * The clock for TTLs and priority durations.
   *
   * @param clock the ticker
   * @return this
   */
  public KvCacheBuilder ticker(Ticker clock) {
    this.ticker = Objects.requireNonNull(clock, "ticker");
    return this;
  }

  /**
   * How many events the replay buffer keeps.
   *
   * @param events a power of two, at least 16
   * @return this
   */
  public KvCacheBuilder eventBuffer(int events) {
    this.eventBuffer = events;
    return this;
  }

  /**
   * How much of the top tier soft pins may hold for agent hints: the prefix that sibling sub-agents
   * of one type share ({@link Request#agent(String)}) and the prefixes of expected workflow steps
   * ({@link KvCache#expect(String, List)}). A soft pin keeps its prefix in the top tier under any
   * eviction policy, for {@code ttl} after the hint that last refreshed it; the pins together hold
   * at most {@code maxBlocks} blocks (nearest workflow steps first, then sub-agent prefixes, the
   * most recently used first), and they give way, least urgent first, when an allocation finds
   * nothing else to evict, so hints never make a request fail. Pins rather than raised priorities
   * because a priority only matters to a priority-aware eviction policy, and the cap keeps a flood
   * of hints from crowding out the working set.
   *
   * @param maxBlocks the most blocks, counted as the sum of the pinned prefixes' lengths; 0 turns
   *     warm prefixes off
   * @param ttl how long a pin lasts after its last refresh, positive
   * @return this
   * @throws IllegalArgumentException for a negative cap or a non-positive duration
   */
  public KvCacheBuilder warmPrefixes(int maxBlocks, Duration ttl) {
    Objects.requireNonNull(ttl, "ttl");
    if (maxBlocks < 0) {
      throw new IllegalArgumentException("maxBlocks must not be negative, was " + maxBlocks);
    }
    if (ttl.isNegative() || ttl.isZero()) {
      throw new IllegalArgumentException("ttl must be positive, was " + ttl);
    }
    this.warmBlocks = maxBlocks;
    this.warmTtl = ttl;
    return this;
  }

  /**
   * Limits the pages of the top tier charged to one tenant (the requests with this salt, in every
   * namespace). A page is charged to the tenant whose request allocated it and stays charged while
   * it lives, also as a shared cached block. A tenant at its quota that needs a page evicts one of
   * its own evictable blocks first, never another tenant's; when it has none, the request fails
   * with {@link QuotaExceededException} and is unchanged (a hard limit, not a clamp). Prefetches
   * for the tenant stop at its quota. A later call for the same salt replaces the quota.
   *
   * @param salt the tenant's salt, as in {@link Request#salt(long)}
   * @param blocks the most top-tier pages, 0 or more
   * @return this
   * @throws IllegalArgumentException if {@code blocks} is negative
   */
  public KvCacheBuilder tenantQuota(long salt, int blocks) {
    if (blocks < 0) {
      throw new IllegalArgumentException("tenant quota must not be negative, was " + blocks);
    }
    tenantQuotas.put(salt, blocks);
    return this;
  }

  /**
   * Like {@link #tenantQuota(long, int)} for the salt of a string tenant id ({@link
   * Request#salt(String)}).
   *
   * @param tenant the tenant id
   * @param blocks the most top-tier pages, 0 or more
   * @return this
   */
  public KvCacheBuilder tenantQuota(String tenant, int blocks) {
    return tenantQuota(Request.tenantSalt(tenant), blocks);
  }

  /**
   * Validates the options into a configuration without building a cache.
   *
   * @return the validated configuration
   * @throws IllegalStateException naming the option to change
   */
  public CacheConfig config() {
    if (layout == null) {
      throw new IllegalStateException(
          "no layout: call layout(KvLayout.of(layers, kvHeads, headDim, dtype, tokensPerBlock))");
    }
    if (tiers.isEmpty()) {
      throw new IllegalStateException(
          "no tier: add at least one, fastest first, e.g. tier(DramTier.offHeap(8L << 30))");
    }
    if (tiers.size() > MAX_TIERS) {
      throw new IllegalStateException(
          "at most " + MAX_TIERS + " tiers are supported, got " + tiers.size());
    }
    Set<String> names = new HashSet<>();
    int pageBytes = layout.pageBytes();
    for (TierSpec t : tiers) {
      if (!names.add(t.name())) {
        throw new IllegalStateException(
            "two tiers are named '" + t.name() + "': give each tier a distinct name");
      }
      if (t.capacityBytes() < pageBytes) {
        throw new IllegalStateException(
            "tier '"
                + t.name()
                + "' has "
                + t.capacityBytes()
                + " bytes, less than one page of "
                + pageBytes
                + " bytes: give it at least "
                + pageBytes
                + " bytes or use a smaller layout");
      }
    }
    if (eventBuffer < 16 || Integer.bitCount(eventBuffer) != 1) {
      throw new IllegalStateException(
          "eventBuffer must be a power of two of at least 16, was " + eventBuffer);
    }
    EvictionPolicy ev = eviction != null ? eviction : EvictionPolicy.agentAware();
    return new CacheConfig(
        layout,
        tiers,
        ev,
        admission,
        retention,
        branches,
        prefetch,
        writes,
        ticker,
        eventBuffer,
        new HintConfig(warmBlocks, warmTtl, tenantQuotas));
  }

  /**
   * Validates the options and opens the cache (allocating or mapping every tier's memory).
   *
   * @return the cache
   * @throws IllegalStateException naming the option to change
   */
  public KvCache build() {
    return KvTierProvider.get().open(config());
  }
}
