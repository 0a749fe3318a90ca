package io.kvtier.spi;

import java.util.ServiceLoader;

/** Lazy, thread-safe lookup of the engine. */
final class ProviderHolder {
  private ProviderHolder() {}

  static final KvTierProvider PROVIDER =
      ServiceLoader.load(KvTierProvider.class, KvTierProvider.class.getClassLoader())
          .findFirst()
          .orElseThrow(
              () ->
                  new IllegalStateException(
                      "no kvtier engine found: add io.kvtier:kvtier-core to the class path"));
}
