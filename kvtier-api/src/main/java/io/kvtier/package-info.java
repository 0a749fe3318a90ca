/**
 * The engine-facing API of kvtier: a paged, prefix-indexed KV cache spread over memory tiers.
 *
 * <p>An engine builds one {@link io.kvtier.KvCache} per process with {@link
 * io.kvtier.KvCache#builder()}, describing the model's {@link io.kvtier.KvLayout} and the tiers it
 * owns. Each request is served through a {@link io.kvtier.Lease}: {@link
 * io.kvtier.KvCache#acquire(Request)} matches the longest cached prefix of the request's tokens and
 * pins it, {@link io.kvtier.Lease#extend()} allocates pages for the rest, {@link
 * io.kvtier.Lease#commit(int)} publishes the computed blocks so later requests can reuse them, and
 * closing the lease releases everything it held.
 *
 * <p>{@link io.kvtier.Session} carries what spans requests of one agent conversation (pins with a
 * time to live, priority, compaction), and {@link io.kvtier.Branches} the speculative continuations
 * forked from a lease. Sizes, handles and errors are documented on each type; misuse always fails
 * with a {@link io.kvtier.KvTierException} and leaves the cache consistent.
 */
package io.kvtier;
