/**
 * The Java half of kvtier's C ABI ({@code native/cabi/include/kvtier.h}): static entry points that
 * {@code libkvtier.so} calls over JNI after it has started or attached to a JVM.
 *
 * <p>{@link io.kvtier.cabi.CAbi} holds one static method per C function. Arguments are primitives
 * only: {@code long} handles into a generation-checked table, and native addresses that the methods
 * read and write through the foreign-memory API. Results are status codes (negative on failure)
 * with a per-thread message; no exception crosses the boundary. The module uses only kvtier's
 * public API; the engine ({@code kvtier-core}) must be on the class path at run time.
 */
package io.kvtier.cabi;
