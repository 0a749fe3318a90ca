/**
 * The GPU HBM tier: KV pages in device memory, reached through a small native shim with two builds
 * of one C ABI ({@code native/hbm/kvtier_hbm.h}): CUDA, and an emulated device over host memory for
 * machines without a GPU.
 *
 * <p>Entry points: {@link io.kvtier.hbm.HbmTier} makes tiers for the cache builder ({@code
 * cuda(device, bytes)}, {@code emulated(bytes)}, {@code registered(region)}) and reports whether
 * the shim is usable ({@code isAvailable()} / {@code unavailabilityCause()}, per {@link
 * io.kvtier.hbm.HbmVariant}); {@link io.kvtier.hbm.HbmRegion} describes KV tensors an engine
 * allocated itself (base pointers, block count, per-layer strides), inside which kvtier then
 * manages block ids; {@link io.kvtier.hbm.HbmPageStore} is the tier's page store, with
 * asynchronous, batched and gather/scatter copies between host memory and the device beyond the
 * {@link io.kvtier.spi.PageStore} SPI, for the transfer engine.
 *
 * <p>All natives live in one package-private class, {@code HbmNative}, as {@code private static
 * native} methods that take handles and return status codes; Java wrappers turn codes into {@link
 * io.kvtier.hbm.HbmException}s. The only runtime flag needed is {@code
 * --enable-native-access=ALL-UNNAMED} (or the module's name on the module path).
 */
package io.kvtier.hbm;
