package io.kvtier;

import io.kvtier.event.EventBatch;

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
