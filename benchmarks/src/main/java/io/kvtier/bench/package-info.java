/**
 * Baselines and inputs shared by the JMH suites.
 *
 * <p>{@link io.kvtier.bench.VllmStylePrefixCache} is a Java port of the design of vLLM's prefix
 * cache (block-hash map and LRU free queue), the reference point of every prefix-cache benchmark;
 * its block hash is pluggable ({@link io.kvtier.bench.Sha256BlockHash}, vLLM's default, or kvtier's
 * block key). {@link io.kvtier.bench.Prompts} makes deterministic random prompts. The suites that
 * need kvtier-core's package-private engine live in package {@code io.kvtier.core} of this module.
 */
package io.kvtier.bench;
