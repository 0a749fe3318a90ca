/**
 * Sequence-numbered cache events, for routers and external indexes (as vLLM's and Dynamo's KV
 * events): a block was stored in a tier, removed from it, moved between tiers, or a tier was
 * cleared.
 *
 * <p>Every event carries a sequence number that grows by one per event. {@link
 * io.kvtier.KvCache#events(long, int)} replays from any sequence number still in the cache's
 * bounded buffer; a consumer that fell further behind is told how many it missed in {@link
 * io.kvtier.event.EventBatch#missed()}.
 */
package io.kvtier.event;
