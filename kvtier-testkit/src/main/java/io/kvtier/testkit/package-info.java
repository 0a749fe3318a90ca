/**
 * Contract suites for kvtier's SPIs, run by every implementation's own tests.
 *
 * <p>{@link io.kvtier.testkit.PageStoreContractTest} is the tier contract: a tier module's test
 * extends it, says how to open its store, and inherits every check (allocate/free, byte round
 * trips, asynchronous variants, capacity limits, close and use-after-close, bad input). A tier is
 * only considered to work when it passes.
 */
package io.kvtier.testkit;
