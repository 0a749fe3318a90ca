package io.kvtier;

import io.kvtier.event.EventBatch;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A paged, prefix-indexed KV cache over one or more memory tiers.
 *
 * <p>Thread-safe: engines call it from many threads. Each method documents what it pins and what it
 * allocates; bad input throws {@link KvTierException} (or {@link IllegalArgumentException} for
 * malformed arguments) and leaves the cache as it was.
 *
 * <pre>{@code
 * try (KvCache cache = KvCache.builder()
 *         .layout(KvLayout.of(32, 8, 128, DType.BF16, 16))
 *         .tier(DramTier.offHeap(8L << 30))
 *         .build();
 *     Lease lease = cache.acquire(Request.of(ns, tokens).session("s-42"))) {
 *   int reused = lease.cachedTokens();
 *   lease.extend();                  // pages for the rest of the prompt
 *   // ... the engine computes KV into lease.blockTable() ...
 *   lease.commit();                  // full blocks become shareable
 * }
 * }</pre>
 */
public interface KvCache extends AutoCloseable {

  /**
   * A builder for a cache; the engine implementation is found on the class or module path.
   *
   * @return a new builder
   */
  static KvCacheBuilder builder() {
    return new KvCacheBuilder();
  }

  /**
   * Matches the longest cached prefix of the request's tokens, pins it, and returns a lease over
   * it. No pages are allocated for the uncached rest until {@link Lease#extend()}.
   *
   * @param request the request
   * @return an open lease; close it when the request finishes
   * @throws KvTierException if the cache is closed or the namespace's layout does not fit the cache
   */
  Lease acquire(Request request);

  /**
   * How much of a prompt is cached, per tier, without pinning anything.
   *
   * @param namespace the namespace
   * @param tokens the prompt
   * @param salt the tenant salt, 0 for none
   * @return the warmth
   */
  Warmth probe(Namespace namespace, int[] tokens, long salt);

  /**
   * Like {@link #probe(Namespace, int[], long)} with no salt.
   *
   * @param namespace the namespace
   * @param tokens the prompt
   * @return the warmth
   */
  default Warmth probe(Namespace namespace, int[] tokens) {
    return probe(namespace, tokens, 0L);
  }

  /**
   * The number of leading tokens cached, without allocating: the router's hot path.
   *
   * @param namespace the namespace
   * @param tokens the prompt
   * @param salt the tenant salt, 0 for none
   * @return matched tokens (a multiple of the block size)
   */
  int probeTokens(Namespace namespace, int[] tokens, long salt);

  /**
   * The session with this id, created on first use.
   *
   * @param sessionId the id
   * @return the session
   */
  Session session(String sessionId);

  /**
   * The orchestrator's forecast for one workflow: the steps that will run next, each with its
   * namespace, prompt prefix and distance in steps (KVFlow's agent step graph). A hint: the cache
   * may ignore it, and a forecast that turns out wrong costs only some cache space.
   *
   * <p>Each call replaces the workflow's previous forecast; an empty list withdraws it. The cache
   * keeps each step's cached prefix with a soft pin, nearest steps first, within the cap set by
   * {@link KvCacheBuilder#warmPrefixes(int, java.time.Duration)} and for at most its duration after
   * this call; and it offers each step to the {@link io.kvtier.spi.PrefetchPolicy} (such as {@link
   * io.kvtier.spi.PrefetchPolicy#nextSteps(int)}), which may copy a prefix that only lower tiers
   * hold into the top tier before the step runs. Only the part of a prefix that is cached when the
   * call is made is kept: send the forecast again when it changes, typically after each step.
   *
   * @param workflowId the workflow, non-empty
   * @param steps its next steps, in any order
   * @throws KvTierException if the cache is closed or a step's namespace does not fit the cache
   */
  default void expect(String workflowId, List<NextStep> steps) {}

  /**
   * Like {@link #expect(String, List)}.
   *
   * @param workflowId the workflow, non-empty
   * @param steps its next steps
   */
  default void expect(String workflowId, NextStep... steps) {
    expect(workflowId, List.of(steps));
  }

  /**
   * Events from sequence number {@code fromSeq} on, at most {@code max} of them. The cache keeps a
   * bounded buffer: a caller that fell behind gets {@link EventBatch#missed()} &gt; 0 and should
   * resynchronise (for example with a full {@link #probe}).
   *
   * @param fromSeq the first sequence number wanted; 0 for the oldest available
   * @param max the most events to return, at least 1
   * @return the batch
   */
  EventBatch events(long fromSeq, int max);

  /**
   * The engine queued this request: start copying the part of its cached prefix that only lower
   * tiers hold into the top tier now, so that the copies overlap the time the request waits for the
   * engine instead of delaying it once it is scheduled (CachedAttention's scheduler-aware
   * prefetch). Call it when the request enters the engine's waiting queue, then {@link
   * #acquire(Request)} it when it is scheduled, as usual; its onboarding then waits only for what
   * has not landed yet. The same call fits a request the engine knows is coming before it exists:
   * when a parent agent's last sub-agent finishes, the parent runs next, and a request for its last
   * prompt names the prefix its next one will reuse (KVFlow's step-graph prefetch).
   *
   * <p>A hint, asynchronous and best effort. The prefix's blocks count as used now (the request
   * will use them shortly), without counting a hit. The copies go behind onboarding for scheduled
   * requests, root first, and take only free pages, dead blocks and blocks last used before this
   * call that are not themselves unused prefetched pages: requests queued earlier keep theirs, so
   * call it in queue order, and again for the requests nearest the head as the queue moves (a call
   * for a prefix that is up already costs a lookup). What finds no room stays below for the
   * request's own onboarding. Quotas apply as to the request. The copies count in {@link
   * #prefetchStats()} and land by {@link #prefetchesLanded()}. Nothing is pinned: a request that
   * never comes leaves pages that the eviction policy takes back like any others.
   *
   * @param request the queued request, as it will be acquired
   * @return the blocks whose copies were started: 0 when every cached block of the prefix is in the
   *     top tier already, nothing is cached, or the cache has one tier
   * @throws KvTierException if the cache is closed or the request's namespace does not fit it
   */
  default int prefetch(Request request) {
    return 0;
  }

  /**
   * Tells the cache which requests wait in the engine's queue, in the order it will schedule them,
   * so that the cache keeps what they are about to use (CachedAttention's scheduler-aware eviction:
   * the KV of the jobs in the look-ahead window stays in the fast tier). Call it whenever the queue
   * changes, before {@link #prefetch(Request)} for the requests nearest the head.
   *
   * <p>The cache holds the cached prefixes of the leading requests, head first and shared blocks
   * once, up to a quarter of the top tier's pages. A held block is evicted from no tier; a prefetch
   * of a request whose cached prefix is held does not yield to recent traffic: it takes the pages
   * the eviction policy offers, as the request's own onboarding would a moment later. Each call
   * replaces the previous hold, and an empty list releases it. The hold gives way, from its last
   * block, when a lease's allocation in the top tier finds nothing else to evict (after pause and
   * warm-prefix pins): it never makes a request fail for pages. A request that is acquired while
   * held simply finds its prefix; the next call drops it from the hold.
   *
   * @param waiting the waiting requests, head first, as they will be acquired
   * @return the blocks now held: 0 for a cache with one tier, or when nothing waiting is cached
   * @throws KvTierException if the cache is closed or a request's namespace does not fit it; the
   *     previous hold is then unchanged
   * @throws NullPointerException if the list or a request in it is null
   */
  default int holdQueue(List<Request> waiting) {
    return 0;
  }

  /**
   * What the prefetch policy's copies did so far: pages copied up, used, wasted (evicted unused)
   * and skipped.
   *
   * @return a snapshot; {@link PrefetchStats#NONE} for a cache that never prefetches
   */
  default PrefetchStats prefetchStats() {
    return PrefetchStats.NONE;
  }

  /**
   * Starts what is due on the cache's ticker (scheduled promotions among it), then completes when
   * every prefetch copy started so far has landed in the top tier or failed. For replays and tests
   * whose virtual clock jumps past the time the copies would have taken: waiting here makes the
   * next request see them landed on every run. An engine never needs it.
   *
   * @return a future that never completes exceptionally
   */
  default CompletableFuture<Void> prefetchesLanded() {
    return CompletableFuture.completedFuture(null);
  }

  /**
   * Counters and occupancy.
   *
   * @return a snapshot
   */
  CacheStats stats();

  /**
   * Closes the cache: every lease and session becomes unusable and every tier's memory is released.
   * Idempotent.
   */
  @Override
  void close();
}
