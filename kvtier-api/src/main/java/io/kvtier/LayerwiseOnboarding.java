package io.kvtier;

import java.util.concurrent.CompletableFuture;

/**
 * A lease's onboarding seen layer by layer, so that prefill overlaps the copies (layer-wise
 * pre-loading, as CachedAttention and LMCache's layer-wise mode do it): the engine runs layer
 * {@code l} of the request's prefill once {@link #layer(int) layer(l)} has completed, while the
 * later layers are still on their way.
 *
 * <p>A page's bytes are layer-major: layer {@code l}'s keys and values are the bytes {@code [l · p
 * / L, (l + 1) · p / L)} of a page, for the namespace's page size {@code p} and {@code L} layers.
 * Copies between stores that address their pages as memory and do not verify blocks go layer 0 of
 * every page first, then layer 1, and so on; other copies complete every layer at once, when the
 * whole page has landed.
 *
 * <p>{@link #blockTable()} holds the pages that are still arriving as well: a handle is final from
 * the call on (the lease pins its blocks), but layer {@code l} of such a page may be read only
 * after {@code layer(l)} completed. If the onboarding fails, the layers not yet complete and {@link
 * #all()} fail with the same exception, and the engine must not use what it read from the pages
 * that were still arriving; {@link Lease#onboard()} starts over.
 */
public interface LayerwiseOnboarding {

  /**
   * Layers of the lease's namespace.
   *
   * @return at least 1
   */
  int layers();

  /**
   * Completes when layer {@code layer} of every matched block is in the top tier.
   *
   * @param layer 0 to {@link #layers()} − 1
   * @return a future; completed exceptionally when the onboarding failed before the layer landed
   * @throws IndexOutOfBoundsException for a layer outside that range
   */
  CompletableFuture<Void> layer(int layer);

  /**
   * Completes when the whole onboarding has, as {@link Lease#onboard()}'s future does.
   *
   * @return a future
   */
  CompletableFuture<Void> all();

  /**
   * The lease's block table, the pages still arriving included (see the class comment).
   *
   * @return a new array, one top-tier page handle per block, in token order
   */
  long[] blockTable();
}
