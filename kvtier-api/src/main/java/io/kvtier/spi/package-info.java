/**
 * Plug-in points of kvtier: tiers and policies.
 *
 * <p>A tier is a {@link io.kvtier.spi.TierSpec} that opens a {@link io.kvtier.spi.PageStore}: a
 * fixed number of fixed-size page slots with read, write and (for memory tiers) direct addressing.
 * Tier modules (HBM, CXL, NVMe) implement it and depend on this API only. {@link
 * io.kvtier.spi.SlotAllocator} is the O(1) contiguous-run slot allocator any store may use.
 *
 * <p>Policies are small interfaces with static factories for the stock implementations: {@link
 * io.kvtier.spi.EvictionPolicy} (which evictable block leaves a tier), {@link
 * io.kvtier.spi.AdmissionPolicy} (whether a block enters a lower tier), {@link
 * io.kvtier.spi.RetentionPolicy} (how long a paused session stays pinned), {@link
 * io.kvtier.spi.BranchPolicy} (what happens to discarded speculative branches) and {@link
 * io.kvtier.spi.PrefetchPolicy} (what to copy up before it is asked for). Policies see blocks as
 * {@code int} ids through a read-only {@link io.kvtier.spi.BlockView}; their state has a single
 * writer, the cache, so they need no locking of their own.
 */
package io.kvtier.spi;
