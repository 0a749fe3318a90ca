/**
 * The GPU HBM tier. {@link io.kvtier.hbm.HbmTier} reports whether the native shim could be loaded,
 * following the load-state pattern of RocksDB's {@code RocksDB.loadLibrary} and Netty's {@code
 * Epoll}: {@code isAvailable()} and {@code unavailabilityCause()} answer without throwing, so an
 * engine can fall back to a DRAM-only configuration and say why.
 *
 * <p>What arrives later: the JNI shim itself (in {@code native/}, one C ABI with a CUDA build and
 * an emulated build), a {@code PageStore} over device memory that the tier allocates itself, and
 * one over <em>registered regions</em> — KV tensors the engine allocated, described by base
 * pointer, block count and per-layer strides — whose block ids the tier then manages. All natives
 * will live in one class, as {@code private static native} methods that return status codes, with
 * Java wrappers that turn codes into exceptions.
 */
package io.kvtier.hbm;
