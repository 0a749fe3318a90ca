/**
 * The kvtier engine, one flat package of package-private classes behind the API.
 *
 * <p>{@code KvCacheImpl} is the cache: a {@code PrefixIndex} (radix tree of blocks in primitive
 * arrays) maps token prefixes to blocks, a {@code PageAllocator} per tier hands out
 * generation-tagged page handles over a {@link io.kvtier.spi.PageStore}, and stock {@link
 * io.kvtier.spi.Evictor}s choose which unpinned leaf leaves a tier. {@code CoreProvider} is how the
 * API finds the engine.
 */
package io.kvtier.core;
