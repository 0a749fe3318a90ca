package io.kvtier.event;

import io.kvtier.Namespace;

/** Something that happened to the cache's contents. */
public sealed interface CacheEvent
    permits CacheEvent.Stored, CacheEvent.Removed, CacheEvent.Moved, CacheEvent.Cleared {

  /**
   * The event's sequence number.
   *
   * @return the sequence number, from 1
   */
  long seq();

  /**
   * A block was stored in a tier.
   *
   * @param seq sequence number
   * @param namespace the namespace
   * @param key the block's key
   * @param parent its parent's key; for a first block, the key of its tree's root (the namespace,
   *     adapter and tenant salt), which is never {@link BlockKey#ROOT}
   * @param tier the tier's name
   * @param tokens tokens in the block
   */
  record Stored(
      long seq, Namespace namespace, BlockKey key, BlockKey parent, String tier, int tokens)
      implements CacheEvent {}

  /**
   * A block left a tier.
   *
   * @param seq sequence number
   * @param namespace the namespace
   * @param key the block's key
   * @param tier the tier's name
   */
  record Removed(long seq, Namespace namespace, BlockKey key, String tier) implements CacheEvent {}

  /**
   * A block's copy moved from one tier to another.
   *
   * @param seq sequence number
   * @param namespace the namespace
   * @param key the block's key
   * @param from the source tier's name
   * @param to the destination tier's name
   */
  record Moved(long seq, Namespace namespace, BlockKey key, String from, String to)
      implements CacheEvent {}

  /**
   * Every block left a tier (the cache closed, or the tier was reset).
   *
   * @param seq sequence number
   * @param tier the tier's name
   */
  record Cleared(long seq, String tier) implements CacheEvent {}
}
