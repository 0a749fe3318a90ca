package io.kvtier;

import java.util.concurrent.CompletableFuture;

/**
 * What one request holds while it runs: pins on its matched blocks, the pages it allocated, and its
 * block table. Not thread-safe: one request is driven by one thread at a time.
 *
 * <p>Token positions: the lease covers the first {@link #tokenCount()} tokens of its sequence (the
 * request's prompt, then whatever {@link #extend(int[])} appended). Tokens before {@link
 * #cachedTokens()} came from the cache; tokens before {@link #committedTokens()} are published.
 */
public interface Lease extends AutoCloseable {

  /**
   * The namespace.
   *
   * @return the namespace
   */
  Namespace namespace();

  /**
   * Leading tokens found cached at acquire (a multiple of the block size).
   *
   * @return matched tokens
   */
  int cachedTokens();

  /**
   * For each tier (builder order), how many of the matched blocks had their copy there.
   *
   * @return blocks per tier
   */
  int[] cachedBlocksPerTier();

  /**
   * Tokens the lease has pages for.
   *
   * @return token count
   */
  int tokenCount();

  /**
   * Tokens whose full blocks are published in the index.
   *
   * @return committed tokens
   */
  int committedTokens();

  /**
   * Pages in the block table.
   *
   * @return page count
   */
  int blockCount();

  /**
   * The top tier's page handles, one per block, in token order; decode with {@link
   * PageHandle#index(long)}.
   *
   * @return a new array
   */
  long[] blockTable();

  /**
   * Copies the block table into {@code dst} without allocating.
   *
   * @param dst destination, at least {@link #blockCount()} long
   * @return the number of handles written
   */
  int blockTable(long[] dst);

  /**
   * Copies matched blocks that are only in lower tiers up into the top tier. Completes at once when
   * every matched block already is in the top tier. A block's page is never exposed before its copy
   * has completed.
   *
   * @return completes when the block table is ready for the attention kernel
   */
  CompletableFuture<Void> onboard();

  /**
   * Starts the onboarding as {@link #onboard()} does (or joins the one under way) and returns its
   * progress layer by layer, with the pages still arriving already in the block table, so that the
   * engine can prefill layer {@code l} while later layers copy.
   *
   * @return the onboarding's layers; each completes at once when every matched block already is in
   *     the top tier
   */
  LayerwiseOnboarding onboardLayers();

  /**
   * Allocates pages for the rest of the request's prompt (the tokens after {@link #tokenCount()}).
   *
   * @throws OutOfPagesException if the top tier cannot make room
   */
  void extend();

  /**
   * Appends tokens (for example generated ones) and allocates pages to hold them.
   *
   * @param tokens the new tokens
   * @throws OutOfPagesException if the top tier cannot make room; the lease is unchanged
   */
  void extend(int[] tokens);

  /**
   * Publishes the full blocks among the first {@code computedTokens} tokens: their KV has been
   * written and later requests may reuse it.
   *
   * @param computedTokens tokens whose KV is in the pages, at most {@link #tokenCount()}
   */
  void commit(int computedTokens);

  /** Publishes every full block the lease holds. */
  default void commit() {
    commit(tokenCount());
  }

  /**
   * Forks {@code k} speculative continuations that share this lease's pages copy-on-write.
   *
   * @param k branches, 2 to 64
   * @return the branches
   */
  Branches fork(int k);

  /**
   * Whether the lease is still open.
   *
   * @return false after {@link #close()}
   */
  boolean isOpen();

  /** Releases pins and pages. Idempotent. */
  @Override
  void close();
}
