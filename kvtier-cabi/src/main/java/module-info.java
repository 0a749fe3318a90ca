/**
 * The Java entry points of kvtier's C ABI. The native bridge loads them from the class path; the
 * module declaration serves applications that put kvtier on the module path and start the bridge
 * from a running JVM.
 */
module io.kvtier.cabi {
  requires io.kvtier.api;

  exports io.kvtier.cabi;
}
