package io.kvtier.replay;

import io.kvtier.CacheStats;
import io.kvtier.DType;
import io.kvtier.KvCache;
import io.kvtier.KvCacheBuilder;
import io.kvtier.KvLayout;
import io.kvtier.LayerwiseOnboarding;
import io.kvtier.Lease;
import io.kvtier.LinkStats;
import io.kvtier.Namespace;
import io.kvtier.PageHandle;
import io.kvtier.PrefetchStats;
import io.kvtier.Request;
import io.kvtier.Session;
import io.kvtier.TierStats;
import io.kvtier.cxl.CxlTier;
import io.kvtier.hbm.HbmTier;
import io.kvtier.hbm.HbmVariant;
import io.kvtier.nvme.NvmeTier;
import io.kvtier.spi.AdmissionPolicy;
import io.kvtier.spi.EvictionPolicy;
import io.kvtier.spi.PageStore;
import io.kvtier.spi.PrefetchPolicy;
import io.kvtier.spi.TierKind;
import io.kvtier.spi.TierSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.stream.Stream;

/**
 * The tiered mode of {@code kvtier replay}: the trace drives a cache built from real tiers (GPU HBM
 * or its emulation, off-heap DRAM, a CXL pool file, an NVMe store), so real page bytes move through
 * the chain, and the replay reports where each hit was served, what moved over each link and how
 * long it took, and the prefill time saved under a stated cost model.
 *
 * <p><b>Encoding.</b> As in {@link ReferenceReplay}, each trace block is one token whose id is the
 * block's dense id, so the radix tree is the trace's prefix tree; here each block's page has a real
 * size ({@link Tiers#pageBytes()}, 32 KiB by default: a 16-token block of a small model, 4 layers ×
 * 2 KV heads × head dim 64 in BF16), so a tier of {@code S} bytes holds {@code S / pageBytes}
 * blocks.
 *
 * <p><b>Per request</b>, in arrival order, with the virtual clock and the session pauses exactly as
 * in the reference mode: {@code acquire} the cached prefix; if part of it is only in lower tiers,
 * {@code onboard().join()} copies it up into the top tier (timed: the onboarding wait); {@code
 * extend} by the rest, writing real bytes into each new page (a template page with the block's id
 * in its first 8 bytes, one copy per page: cheap, but every byte is written); {@code commit};
 * {@code close}. The cache writes back (the default): a tier's evicted last copy is demoted into
 * the next tier synchronously, so the chain fills top-down.
 *
 * <p><b>Hits per tier</b> are counted by the tier that held each matched block when it was matched
 * (its fastest copy, {@link Lease#cachedBlocksPerTier()}). Token hit rate per tier = Σ hit tokens
 * served by the tier / Σ input length, with the overall rate's clamp (a request's last block may be
 * partial) taken from the deepest matched block's tier.
 *
 * <p><b>Determinism.</b> Demotion is synchronous and each request waits for its onboarding, whose
 * batches land in tier order; write-through is not used. So a trace and a policy give the same hit
 * numbers on every run; times and bandwidths are measured and vary.
 *
 * <p>Not thread-safe: one replay per thread. Each run makes its own temporary directory for the CXL
 * pool file and the NVMe store, and deletes it.
 */
public final class TieredReplay {

  /** The default page size in KiB. */
  public static final int DEFAULT_PAGE_KIB = 32;

  /** Tier names, fastest first, as the options name them. */
  public static final List<String> TIER_NAMES = List.of("hbm", "dram", "cxl", "nvme");

  /**
   * The tier chain to build: a size per tier, 0 for a tier that is left out.
   *
   * @param hbmBytes HBM tier bytes (a GPU when one is usable, else the emulated device)
   * @param dramBytes off-heap DRAM tier bytes
   * @param cxlBytes CXL tier bytes: a pool file in the run's temporary directory
   * @param nvmeBytes NVMe tier bytes: the default store in the run's temporary directory
   * @param pageBytes bytes per page (= per trace block)
   * @param workDir where the temporary directories go; null for the system's temporary directory
   */
  public record Tiers(
      long hbmBytes, long dramBytes, long cxlBytes, long nvmeBytes, int pageBytes, Path workDir) {

    /**
     * Checks the sizes.
     *
     * @throws IllegalArgumentException for a negative size, no tier at all, a page size that is not
     *     a positive multiple of 4 KiB, or a tier too small for one page
     */
    public Tiers {
      if (pageBytes <= 0 || pageBytes % 4096 != 0) {
        throw new IllegalArgumentException(
            "the page size must be a positive multiple of 4 KiB, was " + pageBytes + " bytes");
      }
      long[] sizes = {hbmBytes, dramBytes, cxlBytes, nvmeBytes};
      boolean any = false;
      for (int t = 0; t < sizes.length; t++) {
        if (sizes[t] < 0) {
          throw new IllegalArgumentException(
              "--" + TIER_NAMES.get(t) + " must not be negative, was " + sizes[t]);
        }
        if (sizes[t] > 0 && sizes[t] < pageBytes) {
          throw new IllegalArgumentException(
              String.format(
                  Locale.ROOT,
                  "--%s %s holds no page of %s; give at least %s",
                  TIER_NAMES.get(t),
                  human(sizes[t]),
                  human(pageBytes),
                  human(pageBytes)));
        }
        any |= sizes[t] > 0;
      }
      if (!any) {
        throw new IllegalArgumentException("tiered mode needs at least one tier size");
      }
    }

    /**
     * The size of a tier by its position in {@link #TIER_NAMES}.
     *
     * @param tier 0 (hbm) to 3 (nvme)
     * @return bytes, 0 when left out
     */
    public long bytes(int tier) {
      return switch (tier) {
        case 0 -> hbmBytes;
        case 1 -> dramBytes;
        case 2 -> cxlBytes;
        case 3 -> nvmeBytes;
        default -> throw new IllegalArgumentException("tier " + tier);
      };
    }

    /**
     * The tiers that are built, fastest first.
     *
     * @return their names
     */
    public List<String> names() {
      List<String> n = new ArrayList<>();
      for (int t = 0; t < TIER_NAMES.size(); t++) {
        if (bytes(t) > 0) {
          n.add(TIER_NAMES.get(t));
        }
      }
      return n;
    }

    /**
     * Pages a tier holds.
     *
     * @param name the tier's name
     * @return its size / page bytes
     */
    public long pages(String name) {
      return bytes(TIER_NAMES.indexOf(name)) / pageBytes;
    }

    /**
     * Pages of all tiers together.
     *
     * @return the sum
     */
    public long totalPages() {
      long p = 0;
      for (String n : names()) {
        p += pages(n);
      }
      return p;
    }
  }

  /**
   * What a hit is worth: prefill saved = hit tokens / {@code prefillTokensPerSecond} − Σ over lower
   * tiers t of (hit tokens served by t × {@code kvBytesPerToken} / the bandwidth of the link from t
   * to the top tier measured in the run).
   *
   * @param prefillTokensPerSecond the engine's prefill throughput
   * @param kvBytesPerToken the model's KV bytes per token, which a lower-tier hit must bring up
   */
  public record CostModel(double prefillTokensPerSecond, long kvBytesPerToken) {

    /**
     * An 8B model on one H100: about 10,000 prefill tokens per second with long prompts (order of
     * magnitude, assumed, not measured here) and 128 KiB of KV per token (Llama-3-8B: 32 layers × 8
     * KV heads × head dim 128 × K and V × 2 bytes).
     */
    public static final CostModel DEFAULT = new CostModel(10_000, 131_072);

    /**
     * Checks the values.
     *
     * @throws IllegalArgumentException when either is not positive
     */
    public CostModel {
      if (!(prefillTokensPerSecond > 0) || Double.isInfinite(prefillTokensPerSecond)) {
        throw new IllegalArgumentException(
            "--prefill-tps must be positive, was " + prefillTokensPerSecond);
      }
      if (kvBytesPerToken <= 0) {
        throw new IllegalArgumentException(
            "--kv-bytes-per-token must be positive, was " + kvBytesPerToken);
      }
    }

    /**
     * The model in words, for every output.
     *
     * @return one sentence
     */
    public String describe() {
      return String.format(
          Locale.ROOT,
          "prefill saved = hit tokens / %,.0f prefill tokens/s - sum over lower tiers of (hit"
              + " tokens there x %,d KV bytes/token / that tier's bandwidth into the top tier,"
              + " measured in this run); a lower-tier hit pays off when its link moves more than"
              + " %.2f GB/s",
          prefillTokensPerSecond,
          kvBytesPerToken,
          breakEvenBytesPerSecond() / 1e9);
    }

    /**
     * The bandwidth at which bringing a hit up takes as long as recomputing it.
     *
     * @return prefill tokens per second × KV bytes per token, in bytes per second
     */
    public double breakEvenBytesPerSecond() {
      return prefillTokensPerSecond * kvBytesPerToken;
    }
  }

  /**
   * The engine the queue mode models around the cache, so that onboarding can be timed against what
   * a request would wait for anyway. One prefill stream serves requests first come, first served at
   * {@link CostModel#prefillTokensPerSecond()} (decoding is taken to run batched beside it and is
   * not modelled); a scheduled request first waits for its lower-tier pages, holding the engine,
   * then prefills its misses. Each lower tier's link into the top tier runs copies one at a time at
   * an assumed bandwidth, as {@link LinkModel} describes, and a block moves {@code block tokens ×}
   * {@link CostModel#kvBytesPerToken()} bytes over it. The page copies themselves are real and
   * happen in the cache as always; only their timing is modelled, so the figures repeat run to run.
   *
   * <p>On demand (the default), a request's copies start when it is scheduled. With {@code
   * prefetchQueued} the replay calls {@link KvCache#prefetch(Request)} when a request that has to
   * wait arrives (one the engine takes at once is onboarded), so its copies start then and overlap
   * its wait in the queue (CachedAttention's scheduler-aware prefetch); at scheduling it waits for
   * what has not landed, including its session's copies still in flight.
   *
   * <p>With {@code prefetchSteps} the engine also acts on the one step of an agent workflow it
   * knows for certain: when the last running sub-agent of a parent session finishes (its request
   * with no pause after it has been prefilled), the parent runs next, so the replay calls {@link
   * KvCache#prefetch(Request)} with the parent's last prompt then (KVFlow's step-graph prefetch). A
   * sub-agent session is one whose name is its parent's followed by {@code /}, as both the WEKA
   * reader and the generator name them; the replay counts a parent's sub-agents from their first
   * request to their last, so it learns nothing from the trace's times.
   *
   * @param cost the prefill rate and the model's KV bytes per token
   * @param linkBytesPerSecond by lower tier name ({@code dram}, {@code cxl}, {@code nvme}): its
   *     link's bandwidth into the top tier, in bytes per second
   * @param prefetchQueued whether queued requests are prefetched
   *     <p>With {@code layers} above 1 the engine prefills layer by layer as the library's {@link
   *     io.kvtier.Lease#onboardLayers()} lets it (layer-wise pre-loading): a batch of copies moves
   *     layer 0 of every page first, and layer {@code l} of the request's prefill runs once layer
   *     {@code l} of every page it waits for has landed, its own copies and its prefetch's alike.
   *     With prefill time {@code P} split evenly over the {@code L} layers, the prefill ends at the
   *     latest of {@code start + P} and, for every layer, its landing plus the prefill of it and
   *     the layers after it; what exceeds {@code P} is exposed.
   * @param prefetchSteps whether a parent session's prefix is prefetched when its last running
   *     sub-agent finishes (the workflow's next step is the parent)
   * @param layers the model's layers over which prefill overlaps onboarding; 1 waits for whole
   *     pages
   * @param foresightSeconds {@link #NO_FORESIGHT}, or a bound on what prefetch could hide with a
   *     perfect forecast: every request's cached prefix is prefetched this many seconds before its
   *     true arrival. It reads the trace's future, as {@code belady} does, and is never a policy:
   *     it measures how much of the exposure a forecast of arrivals (of pause ends) would be worth
   */
  public record Engine(
      CostModel cost,
      java.util.Map<String, Double> linkBytesPerSecond,
      boolean prefetchQueued,
      boolean prefetchSteps,
      int layers,
      double foresightSeconds) {

    /** The most layers the engine model takes. */
    public static final int MAX_LAYERS = 256;

    /** No foresight: the engine knows nothing of arrivals before they happen. */
    public static final double NO_FORESIGHT = Double.NaN;

    /**
     * An engine without foresight.
     *
     * @param cost the cost model
     * @param linkBytesPerSecond link bandwidths by lower tier
     * @param prefetchQueued whether queued requests are prefetched
     * @param prefetchSteps whether parents are prefetched when their sub-agents finish
     * @param layers the model's layers; 1 waits for whole pages
     */
    public Engine(
        CostModel cost,
        java.util.Map<String, Double> linkBytesPerSecond,
        boolean prefetchQueued,
        boolean prefetchSteps,
        int layers) {
      this(cost, linkBytesPerSecond, prefetchQueued, prefetchSteps, layers, NO_FORESIGHT);
    }

    /**
     * Whether the engine prefetches on foresight of arrivals (a bound, not a policy).
     *
     * @return whether {@link #foresightSeconds()} is set
     */
    public boolean foresight() {
      return !Double.isNaN(foresightSeconds);
    }

    /**
     * An engine that waits for whole pages.
     *
     * @param cost the cost model
     * @param linkBytesPerSecond link bandwidths by lower tier
     * @param prefetchQueued whether queued requests are prefetched
     * @param prefetchSteps whether parents are prefetched when their sub-agents finish
     */
    public Engine(
        CostModel cost,
        java.util.Map<String, Double> linkBytesPerSecond,
        boolean prefetchQueued,
        boolean prefetchSteps) {
      this(cost, linkBytesPerSecond, prefetchQueued, prefetchSteps, 1);
    }

    /**
     * An engine without the parent-resume forecast.
     *
     * @param cost the cost model
     * @param linkBytesPerSecond link bandwidths by lower tier
     * @param prefetchQueued whether queued requests are prefetched
     */
    public Engine(
        CostModel cost, java.util.Map<String, Double> linkBytesPerSecond, boolean prefetchQueued) {
      this(cost, linkBytesPerSecond, prefetchQueued, false);
    }

    /**
     * Assumed link bandwidths into the top tier (GPU memory), in bytes per second: host DRAM over
     * PCIe 5.0 x16 50 GB/s; a CXL memory expander 25 GB/s; one PCIe 4.0 NVMe drive 6 GB/s. Orders
     * of magnitude, not measurements (the run's own measured bandwidths are reported beside).
     */
    public static final java.util.Map<String, Double> DEFAULT_LINKS =
        java.util.Map.of("dram", 50e9, "cxl", 25e9, "nvme", 6e9);

    /**
     * Checks the values.
     *
     * @throws IllegalArgumentException for a link that is not a lower tier's name or a bandwidth
     *     that is not positive
     */
    public Engine {
      Objects.requireNonNull(cost, "cost");
      if (layers < 1 || layers > MAX_LAYERS) {
        throw new IllegalArgumentException(
            "the engine's layers must be in [1, " + MAX_LAYERS + "], was " + layers);
      }
      if (foresightSeconds < 0 || Double.isInfinite(foresightSeconds)) {
        throw new IllegalArgumentException(
            "the foresight lead must be a finite number of seconds, 0 or more, was "
                + foresightSeconds);
      }
      linkBytesPerSecond = java.util.Map.copyOf(linkBytesPerSecond);
      for (var e : linkBytesPerSecond.entrySet()) {
        if (!TIER_NAMES.subList(1, TIER_NAMES.size()).contains(e.getKey())) {
          throw new IllegalArgumentException(
              "a link is named by its lower tier (dram, cxl or nvme), not '" + e.getKey() + "'");
        }
        if (!(e.getValue() > 0) || e.getValue().isInfinite()) {
          throw new IllegalArgumentException(
              "the bandwidth of link " + e.getKey() + " must be positive, was " + e.getValue());
        }
      }
    }

    /**
     * The bandwidth of a lower tier's link into the top tier.
     *
     * @param tier the lower tier's name
     * @return bytes per second: the given one, else the default
     */
    public double linkBytesPerSecond(String tier) {
      Double v = linkBytesPerSecond.get(tier);
      return v != null ? v : DEFAULT_LINKS.getOrDefault(tier, 50e9);
    }

    /**
     * The model in words, for every output.
     *
     * @param lower the lower tiers of the run, fastest first
     * @return one sentence
     */
    public String describe(List<String> lower) {
      StringBuilder links = new StringBuilder();
      for (String t : lower) {
        links.append(links.isEmpty() ? "" : ", ");
        links.append(String.format(Locale.ROOT, "%s %.0f GB/s", t, linkBytesPerSecond(t) / 1e9));
      }
      return String.format(
          Locale.ROOT,
          "engine model: one prefill stream at %,.0f tokens/s, first come first served; a request"
              + " waits for its lower-tier pages (%s) %s; onboarding"
              + " %s%s",
          cost.prefillTokensPerSecond(),
          links,
          layers > 1
              ? "layer by layer as it prefills its misses (" + layers + " layers)"
              : "before it prefills its misses",
          prefetchQueued
              ? "starts when the request arrives (queued prefetch)"
              : "starts when the request is scheduled (on demand)",
          foresight()
              ? String.format(
                  Locale.ROOT,
                  "; foresight: every request's cached prefix is prefetched %.1f s before its true"
                      + " arrival (a bound that reads the trace's future, as belady does)",
                  foresightSeconds)
              : "");
    }
  }

  /**
   * What the engine model measured (all zero without it): modelled seconds of the trace's clock.
   *
   * @param queuedRequests requests that waited for the engine
   * @param queueSeconds Σ time from arrival to scheduling
   * @param queueMaxSeconds the longest such wait
   * @param exposedRequests requests that, once scheduled, waited for copies
   * @param exposedSeconds Σ time scheduled requests waited for copies: the onboarding exposed
   * @param exposedMaxSeconds the longest such wait
   * @param exposedIdleSeconds the part of {@code exposedSeconds} on requests that found the engine
   *     idle: no queue to hide copies behind, so only a forecast could have started them earlier
   * @param prefillSeconds Σ prefill time of the misses
   * @param spanSeconds from the first arrival to the last finish
   * @param prefetchCalls requests offered to {@link KvCache#prefetch(Request)} (queued ones, and
   *     parents whose sub-agents finished)
   * @param prefetchBlocks blocks whose copies those calls started
   * @param stepPrefetches of those calls, the ones for parents whose last sub-agent finished
   * @param foresightPrefetches of those calls, the ones made on foresight of an arrival (a bound,
   *     see {@link Engine#foresightSeconds()})
   */
  public record EngineStats(
      long queuedRequests,
      double queueSeconds,
      double queueMaxSeconds,
      long exposedRequests,
      double exposedSeconds,
      double exposedMaxSeconds,
      double exposedIdleSeconds,
      double prefillSeconds,
      double spanSeconds,
      long prefetchCalls,
      long prefetchBlocks,
      long stepPrefetches,
      long foresightPrefetches) {

    /** No engine model. */
    public static final EngineStats NONE = new EngineStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

    /**
     * The engine's load: prefill time over the span.
     *
     * @return a share, 0 without a span
     */
    public double load() {
      return spanSeconds > 0 ? prefillSeconds / spanSeconds : 0;
    }
  }

  /**
   * One tiered replay's outcome.
   *
   * @param policy the eviction policy
   * @param tierNames the tiers, fastest first
   * @param tierKinds how each tier was realised ({@code hbm (emulated)}, {@code cxl (file)}, ...)
   * @param requests requests replayed
   * @param inputTokens Σ input length
   * @param hitTokens Σ min(matched blocks × block tokens, input length)
   * @param hitTokensPerTier hit tokens by the tier that served them
   * @param blockRefs Σ blocks per request
   * @param hitBlocksPerTier matched blocks by the tier that served them
   * @param onboardRequests requests that waited for lower-tier hits to be copied up
   * @param onboardNanos total time those requests waited
   * @param onboardMaxNanos the longest wait
   * @param onboardFailures requests whose onboarding failed (the top tier had no free page: its
   *     lower-tier hits count as misses and its blocks are not cached)
   * @param overflowRequests requests whose new blocks did not all fit in the top tier
   * @param evictedBlocks blocks that left the cache (evicted from its last tier)
   * @param tiers each tier's statistics at the end
   * @param links pages, bytes and time per link at the end
   * @param wallMillis wall-clock time of the replay
   * @param prefetch what the prefetch policy's copies did (all zero without one)
   * @param onboardPages lower-tier blocks that served requests' onboardings waited for: the
   *     deterministic measure of the onboarding exposed to requests ({@code onboardNanos} is its
   *     wall time and varies with the machine's load)
   * @param engine what the engine model measured; {@link EngineStats#NONE} without it
   */
  public record Result(
      String policy,
      List<String> tierNames,
      List<String> tierKinds,
      int requests,
      long inputTokens,
      long hitTokens,
      List<Long> hitTokensPerTier,
      long blockRefs,
      List<Long> hitBlocksPerTier,
      long onboardRequests,
      long onboardNanos,
      long onboardMaxNanos,
      long onboardFailures,
      long overflowRequests,
      long evictedBlocks,
      List<TierStats> tiers,
      List<LinkStats> links,
      long wallMillis,
      PrefetchStats prefetch,
      long onboardPages,
      EngineStats engine) {

    /** Copies the lists. */
    public Result {
      Objects.requireNonNull(prefetch, "prefetch");
      Objects.requireNonNull(engine, "engine");
      tierNames = List.copyOf(tierNames);
      tierKinds = List.copyOf(tierKinds);
      hitTokensPerTier = List.copyOf(hitTokensPerTier);
      hitBlocksPerTier = List.copyOf(hitBlocksPerTier);
      tiers = List.copyOf(tiers);
      links = List.copyOf(links);
    }

    /**
     * The token hit rate over all tiers.
     *
     * @return hitTokens / inputTokens
     */
    public double tokenHitRate() {
      return inputTokens == 0 ? 0 : (double) hitTokens / inputTokens;
    }

    /**
     * The share of input tokens served by one tier.
     *
     * @param tier the tier's position
     * @return its hit tokens / inputTokens
     */
    public double tierHitRate(int tier) {
      return inputTokens == 0 ? 0 : (double) hitTokensPerTier.get(tier) / inputTokens;
    }

    /**
     * The copies over one link.
     *
     * @param from source tier name
     * @param to destination tier name
     * @return its statistics, zero when nothing moved
     */
    public LinkStats link(String from, String to) {
      for (LinkStats l : links) {
        if (l.from().equals(from) && l.to().equals(to)) {
          return l;
        }
      }
      return new LinkStats(from, to, 0, 0, 0);
    }

    /**
     * Seconds to bring one lower tier's hits up under a cost model.
     *
     * @param tier the tier's position, 1 or more
     * @param cost the cost model
     * @return hit tokens there × KV bytes per token / the measured bandwidth of its link to the top
     *     tier; 0 without hits; NaN when it had hits but its link moved nothing
     */
    public double bringUpSeconds(int tier, CostModel cost) {
      long tokens = hitTokensPerTier.get(tier);
      if (tier == 0 || tokens == 0) {
        return 0;
      }
      double bw = link(tierNames.get(tier), tierNames.get(0)).bytesPerSecond();
      return bw > 0 ? tokens * (double) cost.kvBytesPerToken() / bw : Double.NaN;
    }

    /**
     * Prefill seconds one tier's hits saved: their prefill time less the time to bring them up.
     *
     * @param tier the tier's position
     * @param cost the cost model
     * @return seconds, negative when recomputing would have been faster
     */
    public double prefillSavedSeconds(int tier, CostModel cost) {
      return hitTokensPerTier.get(tier) / cost.prefillTokensPerSecond()
          - bringUpSeconds(tier, cost);
    }

    /**
     * Prefill seconds all hits saved under a cost model.
     *
     * @param cost the cost model
     * @return the sum over tiers of {@link #prefillSavedSeconds(int, CostModel)}
     */
    public double prefillSavedSeconds(CostModel cost) {
      double s = 0;
      for (int t = 0; t < tierNames.size(); t++) {
        s += prefillSavedSeconds(t, cost);
      }
      return s;
    }

    /**
     * The saving as a share of prefilling every input token.
     *
     * @param cost the cost model
     * @return saved seconds / (inputTokens / prefill tokens per second)
     */
    public double prefillSavedFraction(CostModel cost) {
      double all = inputTokens / cost.prefillTokensPerSecond();
      return all == 0 ? 0 : prefillSavedSeconds(cost) / all;
    }
  }

  private final Trace trace;
  private final Tiers tiers;
  private final boolean verify;
  private PrefetchPolicy prefetch = PrefetchPolicy.none();
  private int sketchUses = 1;
  private Engine engine;

  /** How long before a pause's estimated end {@code --prefetch resume} brings the session back. */
  public static final Duration PREFETCH_LEAD = Duration.ofSeconds(1);

  /**
   * A tiered replay of a trace.
   *
   * @param trace the trace
   * @param tiers the chain
   */
  public TieredReplay(Trace trace, Tiers tiers) {
    this(trace, tiers, false);
  }

  /**
   * Sets the cache's prefetch policy (default {@link PrefetchPolicy#none()}).
   *
   * @param policy the policy
   * @return this replay
   */
  public TieredReplay prefetch(PrefetchPolicy policy) {
    this.prefetch = Objects.requireNonNull(policy, "policy");
    return this;
  }

  /**
   * Serves the trace through the engine model instead of at each request's arrival (default: no
   * model; every request is served the moment it arrives and nothing is timed but the copies).
   *
   * @param model the engine, or null for none
   * @return this replay
   */
  public TieredReplay engine(Engine model) {
    this.engine = model;
    return this;
  }

  /**
   * Keeps blocks used fewer than {@code minUses} times out of the last tier with {@link
   * AdmissionPolicy#frequencySketch(int, int)} (a fresh filter per replay); 1 (the default) admits
   * everything.
   *
   * @param minUses 1 to 15
   * @return this replay
   */
  public TieredReplay lastTierMinUses(int minUses) {
    if (minUses < 1 || minUses > 15) {
      throw new IllegalArgumentException("minUses must be in [1, 15], was " + minUses);
    }
    this.sketchUses = minUses;
    return this;
  }

  /**
   * A tiered replay that, with {@code verify}, also reads back the first bytes of every matched
   * page after onboarding and checks they name the block (slower; for tests).
   *
   * @param trace the trace
   * @param tiers the chain
   * @param verify whether to check hit pages' bytes
   */
  TieredReplay(Trace trace, Tiers tiers, boolean verify) {
    this.trace = Objects.requireNonNull(trace, "trace");
    this.tiers = Objects.requireNonNull(tiers, "tiers");
    this.verify = verify;
  }

  /**
   * The tier chain.
   *
   * @return the sizes
   */
  public Tiers tiers() {
    return tiers;
  }

  /**
   * How the HBM tier is realised here.
   *
   * @return {@code cuda} with a usable GPU, else {@code emulated}
   * @throws IllegalStateException when neither build of the HBM tier's native library loads
   */
  public static String hbmVariant() {
    if (HbmTier.isAvailable()) {
      return "cuda";
    }
    if (HbmVariant.EMULATED.isAvailable()) {
      return "emulated";
    }
    throw new IllegalStateException(
        "--hbm needs the HBM tier's native library, which does not load here: "
            + HbmVariant.EMULATED.unavailabilityCause());
  }

  /**
   * Replays the trace through the tier chain with one eviction policy for every tier.
   *
   * @param policy a stock policy name, or {@code default}
   * @param progress told about progress
   * @return the result
   */
  public Result run(String policy, ReferenceReplay.Progress progress) {
    if (policy.equals("belady")) {
      throw new IllegalArgumentException(
          "belady reads the future and is a bound for one tier: tiered mode reports it from the"
              + " reference mode at the same total capacity");
    }
    long t0 = System.nanoTime();
    Path dir = null;
    try {
      if (tiers.cxlBytes() > 0 || tiers.nvmeBytes() > 0) {
        Path base =
            tiers.workDir() != null
                ? tiers.workDir()
                : Path.of(System.getProperty("java.io.tmpdir"));
        Files.createDirectories(base);
        dir = Files.createTempDirectory(base, "kvtier-tiered-");
      }
      return run(policy, progress, dir, t0);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot make a temporary directory: " + e.getMessage(), e);
    } finally {
      if (dir != null) {
        deleteTree(dir);
      }
    }
  }

  private Result run(String policy, ReferenceReplay.Progress progress, Path dir, long t0) {
    int pageBytes = tiers.pageBytes();
    int layers = engine == null ? 1 : engine.layers();
    // With a layered engine the pages are layered too, so their copies really go layer by layer.
    KvLayout layout =
        layers > 1 && pageBytes % (2 * layers) == 0
            ? KvLayout.of(layers, 1, pageBytes / (2 * layers), DType.INT8, 1)
            : KvLayout.ofPageBytes(1, pageBytes);
    VirtualTicker clock = new VirtualTicker();
    KvCacheBuilder b =
        KvCache.builder().layout(layout).ticker(clock).eventBuffer(16).prefetch(prefetch);
    List<String> names = tiers.names();
    if (sketchUses > 1 && names.size() > 1) {
      b.admission(AdmissionPolicy.frequencySketch(names.size() - 1, sketchUses));
    }
    List<String> kinds = new ArrayList<>();
    Capture top = null;
    for (String name : names) {
      long size = tiers.bytes(TIER_NAMES.indexOf(name));
      TierSpec spec =
          switch (name) {
            case "hbm" -> {
              String variant = hbmVariant();
              kinds.add("hbm (" + variant + ")");
              yield (variant.equals("cuda") ? HbmTier.cuda(0, size) : HbmTier.emulated(size))
                  .named("hbm");
            }
            case "dram" -> {
              kinds.add("dram (off-heap)");
              yield io.kvtier.DramTier.offHeap("dram", size);
            }
            case "cxl" -> {
              kinds.add("cxl (pool file)");
              yield CxlTier.file("cxl", dir.resolve("cxl.pool"), size);
            }
            case "nvme" -> {
              kinds.add("nvme (default store)");
              yield NvmeTier.defaultStore("nvme", dir.resolve("nvme"), size);
            }
            default -> throw new IllegalStateException(name);
          };
      if (top == null) {
        top = new Capture(spec);
        spec = top;
      }
      b.tier(spec);
    }
    EvictionPolicy p = policy.equals("default") ? null : EvictionPolicy.named(policy);
    if (p != null) {
      b.eviction(p);
    }
    int nt = names.size();
    int n = trace.size();
    Serving run;
    CacheStats stats;
    PrefetchStats prefetched;
    try (Arena arena = Arena.ofConfined();
        KvCache cache = b.build()) {
      run = new Serving(cache, top.store, arena, layout, clock, names);
      if (engine == null) {
        for (int i = 0; i < n; i++) {
          Session s = run.driver.begin(i);
          run.serve(i, s, Double.NaN);
          run.driver.end(i, s);
          if ((i + 1) % ReferenceReplay.Progress.EVERY == 0) {
            progress.at(i + 1, n);
          }
        }
      } else {
        run.engineLoop(progress);
      }
      stats = cache.stats();
      prefetched = cache.prefetchStats();
    }
    progress.at(n, n);
    List<Long> tokensPerTier = new ArrayList<>();
    List<Long> blocksPerTier = new ArrayList<>();
    for (int t = 0; t < nt; t++) {
      tokensPerTier.add(run.tierTokens[t]);
      blocksPerTier.add(run.tierBlocks[t]);
    }
    List<LinkStats> links = new ArrayList<>(stats.links());
    links.sort(
        Comparator.comparingInt((LinkStats l) -> names.indexOf(l.from()))
            .thenComparingInt(l -> names.indexOf(l.to())));
    return new Result(
        policy,
        names,
        kinds,
        n,
        trace.inputTokens(),
        run.hitTokens,
        tokensPerTier,
        trace.blockRefs(),
        blocksPerTier,
        run.onboardRequests,
        run.onboardNanos,
        run.onboardMax,
        run.onboardFailures,
        run.overflow,
        stats.evictedBlocks(),
        stats.tiers(),
        links,
        (System.nanoTime() - t0) / 1_000_000,
        prefetched,
        run.onboardPages,
        run.engineStats());
  }

  /** How many queued requests, from the head, the queued prefetch offers to the cache. */
  static final int LOOK_AHEAD = 8;

  /**
   * One lower tier's link into the top tier in the engine model, run as the library's transfer
   * engine runs it: copies one at a time; onboarding for a scheduled request goes before prefetch
   * batches not yet started, behind the batch under way and earlier onboarding, and the request's
   * own prefetch batches not yet started go with it, first (a lease that waits on a queued prefetch
   * raises it to onboarding priority); prefetch batches go first in, first out after everything
   * booked.
   */
  static final class LinkModel {
    private double free;
    private double demandFree;
    private final java.util.ArrayDeque<double[]> waiting = new java.util.ArrayDeque<>();

    /**
     * Books a prefetch batch.
     *
     * @return {begin, end, key}; a later onboarding may move it
     */
    double[] prefetch(double at, double seconds, int key) {
      double begin = Math.max(at, free);
      double[] batch = {begin, begin + seconds, key};
      free = batch[1];
      waiting.addLast(batch);
      return batch;
    }

    /** As {@link #demand(double, double, int, java.util.function.Consumer)} for no slot. */
    double[] demand(double at, double seconds, java.util.function.Consumer<double[]> moved) {
      return demand(at, seconds, -1, moved);
    }

    /**
     * Books a scheduled request's copies; the prefetch batches of its readiness slot {@code key}
     * not yet started move ahead of it, the other batches it overtakes move back, and {@code moved}
     * hears of each batch that moved.
     *
     * @return {begin, end} of its own copies
     */
    double[] demand(
        double at, double seconds, int key, java.util.function.Consumer<double[]> moved) {
      while (!waiting.isEmpty() && waiting.peekFirst()[1] <= at) {
        waiting.pollFirst();
      }
      double cursor = Math.max(at, demandFree);
      List<double[]> order = new ArrayList<>(waiting.size());
      for (double[] batch : waiting) {
        if (batch[0] < at) { // under way: it finishes first
          cursor = Math.max(cursor, batch[1]);
          order.add(batch);
        }
      }
      for (double[] batch : waiting) {
        if (batch[0] >= at && (int) batch[2] == key) {
          cursor = relay(batch, cursor, true, moved); // booked before now: it may start sooner
          order.add(batch);
        }
      }
      double begin = cursor;
      double end = begin + seconds;
      demandFree = end;
      cursor = end;
      for (double[] batch : waiting) {
        if (batch[0] >= at && (int) batch[2] != key) {
          cursor = relay(batch, cursor, false, moved);
          order.add(batch);
        }
      }
      waiting.clear();
      waiting.addAll(order);
      free = cursor;
      return new double[] {begin, end};
    }

    /** Whether slot {@code key} has a batch not yet started at {@code at}. */
    boolean waits(double at, int key) {
      for (double[] batch : waiting) {
        if (batch[0] >= at && (int) batch[2] == key) {
          return true;
        }
      }
      return false;
    }

    /**
     * Starts {@code batch} at {@code cursor} if that is later (or, with {@code sooner}, earlier)
     * than it was; returns its end.
     */
    private static double relay(
        double[] batch,
        double cursor,
        boolean sooner,
        java.util.function.Consumer<double[]> moved) {
      if (batch[0] < cursor || (sooner && batch[0] > cursor)) {
        double length = batch[1] - batch[0];
        batch[0] = cursor;
        batch[1] = cursor + length;
        moved.accept(batch);
      }
      return batch[1];
    }
  }

  /**
   * One replay run's cache-side state and counters; serves requests instantly or through the engine
   * model.
   */
  private final class Serving {
    final KvCache cache;
    final PageStore store;
    final MemorySegment page;
    final MemorySegment readBack;
    final TraceDriver driver;
    final List<String> names;
    final int nt;
    int branchToken = -1;
    long hitTokens;
    final long[] tierTokens;
    final long[] tierBlocks;
    long onboardRequests;
    long onboardNanos;
    long onboardMax;
    long onboardFailures;
    long onboardPages;
    long overflow;

    // The engine model (queue mode): times in seconds of the trace's clock.
    final double[] linkRate;
    // Per readiness slot and lower tier, the latest prefetch batch: {begin, end, slot}.
    final double[][][] prefetchBatch;
    final LinkModel[] links;
    long queued;
    double queueSeconds;
    double queueMax;
    long exposedRequests;
    double exposedSeconds;
    double exposedMax;
    double exposedIdle;
    double prefillSeconds;
    double lastFinish;
    long prefetchCalls;
    long prefetchStarted;

    Serving(
        KvCache cache,
        PageStore store,
        Arena arena,
        KvLayout layout,
        VirtualTicker clock,
        List<String> names) {
      this.cache = cache;
      this.store = store;
      this.names = names;
      this.nt = names.size();
      int pageBytes = tiers.pageBytes();
      page = arena.allocate(pageBytes, 4096);
      for (int i = 0; i < pageBytes; i++) {
        page.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 31 + 7));
      }
      readBack = verify ? arena.allocate(pageBytes, 4096) : null;
      driver = new TraceDriver(trace, layout, cache, clock);
      tierTokens = new long[nt];
      tierBlocks = new long[nt];
      linkRate = new double[nt];
      if (engine != null) {
        for (int t = 1; t < nt; t++) {
          linkRate[t] = engine.linkBytesPerSecond(names.get(t));
        }
      }
      // One readiness slot per session, then a shared one.
      prefetchBatch = new double[driver.sessionCount() + 1][nt][];
      links = new LinkModel[nt];
      Arrays.setAll(links, t -> new LinkModel());
      List<String> sessionNames = trace.sessions();
      parentOf = new int[sessionNames.size()];
      java.util.Map<String, Integer> byName = new java.util.HashMap<>();
      for (int si = 0; si < sessionNames.size(); si++) {
        byName.put(sessionNames.get(si), si);
      }
      for (int si = 0; si < sessionNames.size(); si++) {
        String name = sessionNames.get(si);
        int slash = name.indexOf('/');
        parentOf[si] = slash <= 0 ? -1 : byName.getOrDefault(name.substring(0, slash), -1);
      }
      runningSubs = new int[sessionNames.size()];
      lastArrived = new int[sessionNames.size()];
      Arrays.fill(lastArrived, -1);
    }

    // The parent-resume forecast (prefetchSteps).
    final int[] parentOf;
    final int[] runningSubs;
    final int[] lastArrived;
    final java.util.PriorityQueue<double[]> steps =
        new java.util.PriorityQueue<>((a, b) -> Double.compare(a[0], b[0]));
    long stepPrefetches;
    long foresightPrefetches;

    /** A request arrives: counts a sub-agent's start and notes the session's latest request. */
    void arrived(int i) {
      int si = trace.session(i);
      if (si < 0) {
        return;
      }
      if (lastArrived[si] < 0 && parentOf[si] >= 0) {
        runningSubs[parentOf[si]]++;
      }
      lastArrived[si] = i;
    }

    /**
     * Request i was served and its prefill ends at {@code finish}: when it was a sub-agent's last
     * and no sibling still runs, the parent's prefix is due for prefetch then.
     */
    void served(int i, double finish, Session[] sessionOf) {
      int si = trace.session(i);
      if (si < 0 || parentOf[si] < 0 || trace.pauseKind(i) != null) {
        return;
      }
      int parent = parentOf[si];
      int last = lastArrived[parent];
      // A parent whose latest request still waits will prefetch it itself when queued.
      if (--runningSubs[parent] == 0 && last >= 0 && sessionOf[last] == null) {
        steps.add(new double[] {finish, parent, last});
      }
    }

    // With foresight (a bound): the next request to prefetch before its arrival. Arrivals are in
    // trace order and the lead is one constant, so the foreseen prefetches are due in that order.
    int foreseen;

    /** When the next foreseen prefetch is due, or +∞. */
    double nextForesight() {
      return engine.foresight() && foreseen < trace.size()
          ? arrival(foreseen) - engine.foresightSeconds()
          : Double.POSITIVE_INFINITY;
    }

    /** The time of the next parent-resume or foreseen prefetch, or +∞. */
    double nextStep() {
      double[] d = steps.peek();
      return Math.min(d == null ? Double.POSITIVE_INFINITY : d[0], nextForesight());
    }

    /**
     * Runs the next prefetch that is due: a foreseen one (the request's cached prefix as its
     * session left it), or a parent-resume one unless the parent's next request came first (the
     * parent's last prompt is its cached prefix).
     */
    void runStep() {
      double at = nextForesight();
      double[] d = steps.peek();
      if (d == null || at <= d[0]) {
        int i = foreseen++;
        int si = trace.session(i);
        if (prefetchAt(i, si < 0 ? null : driver.session(si), at)) {
          foresightPrefetches++;
        }
        return;
      }
      steps.poll();
      int parent = (int) d[1];
      int last = (int) d[2];
      if (lastArrived[parent] != last) {
        return;
      }
      stepPrefetches++;
      prefetchAt(last, driver.session(parent), d[0]);
    }

    /**
     * The queue mode: arrivals and schedulings in time order. One prefill stream serves requests
     * first come, first served; a request starts when the engine is free and it has arrived, then
     * waits for its lower-tier pages (on demand: copied from then on; queued prefetch: copied from
     * its arrival on), then prefills its misses.
     */
    void engineLoop(ReferenceReplay.Progress progress) {
      int n = trace.size();
      java.util.ArrayDeque<Integer> queue = new java.util.ArrayDeque<>();
      Session[] sessionOf = new Session[n];
      double engineFree = Double.NEGATIVE_INFINITY;
      int next = 0;
      int served = 0;
      while (next < n || !queue.isEmpty()) {
        double head =
            queue.isEmpty()
                ? Double.POSITIVE_INFINITY
                : Math.max(arrival(queue.peekFirst()), engineFree);
        double step = nextStep();
        if (step < head && (next >= n || step < arrival(next))) {
          driver.advanceTo((long) Math.ceil(step * 1000));
          runStep();
          continue;
        }
        if (next < n && arrival(next) <= head) {
          int i = next++;
          sessionOf[i] = driver.begin(i);
          arrived(i);
          queue.addLast(i);
          // A request the engine takes at once is onboarded, not prefetched: prefetch is for
          // requests that wait.
          if (engine.prefetchQueued() && (queue.size() > 1 || engineFree > arrival(i))) {
            prefetchQueue(queue, sessionOf, arrival(i));
          }
          continue;
        }
        int i = queue.pollFirst();
        if (engine.prefetchQueued()) {
          // The engine takes the head: the hold and the look-ahead window move past it.
          prefetchQueue(queue, sessionOf, head);
        }
        double start = head;
        double wait = start - arrival(i);
        if (wait > 0) {
          queued++;
          queueSeconds += wait;
          queueMax = Math.max(queueMax, wait);
        }
        driver.advanceTo((long) Math.ceil(start * 1000));
        double exposedBefore = exposedSeconds;
        double finish = serve(i, sessionOf[i], start);
        if (wait <= 0) {
          exposedIdle += exposedSeconds - exposedBefore;
        }
        driver.end(i, sessionOf[i]);
        sessionOf[i] = null;
        if (engine.prefetchSteps()) {
          served(i, finish, sessionOf);
        }
        engineFree = finish;
        lastFinish = Math.max(lastFinish, finish);
        if (engine.prefetchQueued() && !queue.isEmpty()) {
          // The queue moved on and the served request's pages are no longer unused prefetches:
          // room under the cap for the requests now nearest the head.
          prefetchQueue(queue, sessionOf, start);
        }
        if (++served % ReferenceReplay.Progress.EVERY == 0) {
          progress.at(served, n);
        }
      }
    }

    double arrival(int i) {
      return trace.timeMs(i) / 1000.0;
    }

    /** Where a request's prefetch readiness is kept: per session, else one shared slot. */
    int readyKey(int i) {
      int si = trace.session(i);
      return si < 0 ? prefetchBatch.length - 1 : si;
    }

    double blockSeconds(int i, int tier) {
      return trace.blockTokens(i) * (double) engine.cost().kvBytesPerToken() / linkRate[tier];
    }

    /**
     * Books a prefetch batch of {@code pages} blocks of request i on the link from {@code tier} as
     * the latest batch of readiness slot {@code key}.
     */
    void bookPrefetch(int i, int tier, long pages, double at, int key) {
      prefetchBatch[key][tier] = links[tier].prefetch(at, pages * blockSeconds(i, tier), key);
    }

    /**
     * When slot {@code key}'s prefetches have all landed: its latest batch on each link ends last
     * there (a link runs a slot's batches in order, and they move together).
     */
    double prefetchReady(int key) {
      double ready = 0;
      for (double[] batch : prefetchBatch[key]) {
        if (batch != null) {
          ready = Math.max(ready, batch[1]);
        }
      }
      return ready;
    }

    /**
     * Books a scheduled request's own copies of {@code pages} blocks on the link from {@code tier}
     * (none: only its slot's prefetches there move ahead); returns their {begin, end}, or null for
     * none.
     */
    double[] bookDemand(int i, int tier, long pages, double at, int key) {
      if (pages == 0 && !links[tier].waits(at, key)) {
        return null;
      }
      double[] own = links[tier].demand(at, pages * blockSeconds(i, tier), key, batch -> {});
      return pages == 0 ? null : own;
    }

    /**
     * Tells the cache the first {@link #LOOK_AHEAD} queued requests ({@link KvCache#holdQueue}),
     * then offers them, head first, to {@link KvCache#prefetch(Request)} at time {@code now}: what
     * is up already costs nothing, and the head gets the room first (CachedAttention's look-ahead
     * window).
     */
    void prefetchQueue(java.util.ArrayDeque<Integer> queue, Session[] sessionOf, double now) {
      List<Request> waiting = new ArrayList<>(LOOK_AHEAD);
      for (int i : queue) {
        if (waiting.size() == LOOK_AHEAD) {
          break;
        }
        waiting.add(
            ReferenceReplay.request(
                trace,
                i,
                driver.namespace(i),
                driver.salt(i),
                trace.blocks(i).length,
                sessionOf[i]));
      }
      cache.holdQueue(waiting);
      int k = 0;
      for (int i : queue) {
        if (k++ == LOOK_AHEAD) {
          break;
        }
        prefetchAt(i, sessionOf[i], now);
      }
    }

    /** Offers request i's cached prefix to the cache's prefetch; whether any was cached. */
    boolean prefetchAt(int i, Session s, double now) {
      int[] tokens = trace.blocks(i);
      Namespace space = driver.namespace(i);
      long salt = driver.salt(i);
      int cached = cache.probeTokens(space, tokens, salt);
      if (cached == 0) {
        return false;
      }
      long[] before = linkPages();
      int started = cache.prefetch(ReferenceReplay.request(trace, i, space, salt, cached, s));
      prefetchCalls++;
      if (started == 0) {
        return true;
      }
      prefetchStarted += started;
      // The copies are real; the model books them on the links from now on.
      cache.prefetchesLanded().join();
      long[] after = linkPages();
      int key = readyKey(i);
      for (int t = 1; t < nt; t++) {
        long moved = after[t] - before[t];
        if (moved > 0) {
          bookPrefetch(i, t, moved, now, key);
        }
      }
      return true;
    }

    /** Pages copied so far into the top tier, by source tier. */
    long[] linkPages() {
      long[] pages = new long[nt];
      for (LinkStats l : cache.stats().links()) {
        int from = names.indexOf(l.from());
        if (from > 0 && l.to().equals(names.get(0))) {
          pages[from] += l.pages();
        }
      }
      return pages;
    }

    /**
     * Serves request i: acquire, onboard, fill, commit, fork. With the engine model ({@code start}
     * not NaN), also books the onboarding on the links and returns when its prefill finishes.
     */
    double serve(int i, Session s, double start) {
      int[] tokens = trace.blocks(i);
      Namespace space = driver.namespace(i);
      long salt = driver.salt(i);
      int cached = cache.probeTokens(space, tokens, salt);
      Request req = ReferenceReplay.request(trace, i, space, salt, cached, s);
      double ready = start;
      long reqHit;
      // With the engine model: the request's own copies per link, {begin, end}.
      double[][] own = new double[nt][];
      try (Lease lease = cache.acquire(req)) {
        int matched = lease.cachedTokens();
        int[] per = lease.cachedBlocksPerTier();
        boolean served = true;
        if (matched > per[0]) {
          onboardRequests++;
          long w0 = System.nanoTime();
          try {
            if (engine != null && engine.layers() > 1) {
              LayerwiseOnboarding layered = lease.onboardLayers();
              layered.layer(layered.layers() - 1).join();
              layered.all().join();
            } else {
              lease.onboard().join();
            }
          } catch (RuntimeException e) {
            onboardFailures++;
            served = false;
          }
          long w = System.nanoTime() - w0;
          onboardNanos += w;
          onboardMax = Math.max(onboardMax, w);
        }
        if (served) {
          onboardPages += matched - per[0];
        } else {
          // Only the top tier's hits (a prefix of the match) are usable; nothing is cached.
          matched = per[0];
          Arrays.fill(per, 1, per.length, 0);
        }
        if (engine != null) {
          // Its own prefetch (or its session's) must have landed, raised ahead of other
          // prefetches where it has not started; what is still below is copied from now on.
          int key = readyKey(i);
          for (int t = 1; t < nt; t++) {
            own[t] = bookDemand(i, t, per[t], start, key);
            if (own[t] != null) {
              ready = Math.max(ready, own[t][1]);
            }
          }
          ready = Math.max(ready, prefetchReady(key));
        }
        int bt = trace.blockTokens(i);
        reqHit = Math.min((long) matched * bt, trace.inputLength(i));
        hitTokens += reqHit;
        long excess = (long) matched * bt - reqHit;
        for (int t = nt - 1; t >= 0; t--) {
          tierBlocks[t] += per[t];
          long tok = (long) per[t] * bt;
          if (excess > 0 && per[t] > 0) {
            // The deepest matched block is served by the slowest tier that served any.
            tok -= excess;
            excess = 0;
          }
          tierTokens[t] += tok;
        }
        if (served) {
          if (verify && matched > 0) {
            check(store, lease.blockTable(), tokens, matched, readBack);
          }
          if (!ReferenceReplay.fill(lease, tokens, matched)) {
            overflow++;
          }
          long[] table = lease.blockTable();
          for (int k = matched; k < table.length; k++) {
            page.set(ValueLayout.JAVA_LONG, 0, tokens[k]);
            store.write(PageHandle.index(table[k]), page);
          }
          lease.commit();
          int k = trace.branches(i);
          if (k >= 2) {
            branchToken =
                ReferenceReplay.fork(
                    lease, k, trace.branchTokens(i), trace.blockTokens(i), branchToken);
          }
        }
      }
      if (engine == null) {
        return Double.NaN;
      }
      double prefill = (trace.inputLength(i) - reqHit) / engine.cost().prefillTokensPerSecond();
      if (engine.layers() > 1) {
        double over =
            layeredFinish(start, prefill, own, prefetchBatch[readyKey(i)]) - start - prefill;
        ready = start + (over > 1e-9 ? over : 0); // below a nanosecond is rounding
      }
      double exposed = ready - start;
      if (exposed > 0) {
        exposedRequests++;
        exposedSeconds += exposed;
        exposedMax = Math.max(exposedMax, exposed);
      }
      prefillSeconds += prefill;
      return ready + prefill;
    }

    /**
     * When a layer-by-layer prefill that starts at {@code start} and takes {@code prefill} ends: a
     * batch [b, e) on a link, the request's own ({@code own}) or its slot's latest prefetch ({@code
     * prefetched}; first in, first out, so it lands after the slot's earlier ones), lands its layer
     * l at b + (l + 1)(e − b)/L, and layer l prefills once it and every earlier layer are done.
     */
    double layeredFinish(double start, double prefill, double[][] own, double[][] prefetched) {
      int layers = engine.layers();
      double perLayer = prefill / layers;
      double finish = start + prefill;
      for (int l = 0; l < layers; l++) {
        double landed = start;
        double share = (l + 1) / (double) layers;
        for (int t = 1; t < nt; t++) {
          landed = Math.max(landed, landedShare(own[t], start, share));
          landed = Math.max(landed, landedShare(prefetched[t], start, share));
        }
        finish = Math.max(finish, landed + (layers - l) * perLayer);
      }
      return finish;
    }

    /** When {@code share} of a batch has landed; {@code start} for none or one done before it. */
    static double landedShare(double[] batch, double start, double share) {
      return batch != null && batch[1] > start ? batch[0] + share * (batch[1] - batch[0]) : start;
    }

    EngineStats engineStats() {
      if (engine == null) {
        return EngineStats.NONE;
      }
      double span = trace.size() == 0 ? 0 : lastFinish - arrival(0);
      return new EngineStats(
          queued,
          queueSeconds,
          queueMax,
          exposedRequests,
          exposedSeconds,
          exposedMax,
          exposedIdle,
          prefillSeconds,
          span,
          prefetchCalls,
          prefetchStarted,
          stepPrefetches,
          foresightPrefetches);
    }
  }

  /** Checks that each matched page starts with its block's id, as written when it was filled. */
  private static void check(
      PageStore store, long[] table, int[] tokens, int matched, MemorySegment readBack) {
    for (int k = 0; k < matched; k++) {
      long slot = PageHandle.index(table[k]);
      MemorySegment seg = store.segment(slot).orElse(null);
      if (seg == null) {
        store.read(slot, readBack);
        seg = readBack;
      }
      long stamp = seg.get(ValueLayout.JAVA_LONG, 0);
      if (stamp != tokens[k]) {
        throw new IllegalStateException(
            "the page of block " + tokens[k] + " (position " + k + ") holds block " + stamp);
      }
    }
  }

  private static void deleteTree(Path dir) {
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      // best effort: a temporary directory left behind is not an error of the replay
    }
  }

  /** Byte counts in binary units, for messages: {@code 512 KiB}, {@code 1.5 GiB}. */
  static String human(long n) {
    String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = n;
    int u = 0;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return v == Math.rint(v)
        ? String.format(Locale.ROOT, "%d %s", (long) v, units[u])
        : String.format(Locale.ROOT, "%.1f %s", v, units[u]);
  }

  /**
   * Parses a size: a whole number of bytes, or a number with a binary unit ({@code k}, {@code m},
   * {@code g}, {@code t}, optionally followed by {@code i}/{@code ib}/{@code b}), case-insensitive:
   * {@code 512m}, {@code 4GiB}, {@code 1.5g}.
   *
   * @param option the option's name, for the message
   * @param text the value
   * @return bytes
   * @throws IllegalArgumentException naming the option when the text is not a positive size
   */
  public static long parseSize(String option, String text) {
    String t = text.trim().toLowerCase(Locale.ROOT);
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("([0-9]+(?:\\.[0-9]+)?)\\s*([kmgt]?)(?:i?b)?").matcher(t);
    if (!m.matches() || (m.group(2).isEmpty() && m.group(1).contains("."))) {
      throw new IllegalArgumentException(
          option + " wants a size such as 512m, 4g or 1.5GiB, got '" + text + "'");
    }
    int shift =
        switch (m.group(2)) {
          case "k" -> 10;
          case "m" -> 20;
          case "g" -> 30;
          case "t" -> 40;
          default -> 0;
        };
    double v = Double.parseDouble(m.group(1)) * Math.pow(2, shift);
    if (!(v >= 1) || v > Long.MAX_VALUE / 2.0) {
      throw new IllegalArgumentException(
          option + " must be at least 1 byte and at most 4 EiB, got '" + text + "'");
    }
    return (long) v;
  }

  /** A tier spec that remembers the store it opened: the replay writes into the top tier. */
  private static final class Capture implements TierSpec {
    private final TierSpec spec;
    PageStore store;

    Capture(TierSpec spec) {
      this.spec = spec;
    }

    @Override
    public String name() {
      return spec.name();
    }

    @Override
    public TierKind kind() {
      return spec.kind();
    }

    @Override
    public long capacityBytes() {
      return spec.capacityBytes();
    }

    @Override
    public PageStore open(int pageBytes) {
      store = spec.open(pageBytes);
      return store;
    }
  }
}
