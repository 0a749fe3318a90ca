package io.kvtier.core;

import io.kvtier.spi.PageStore;
import io.kvtier.spi.TierKind;
import io.kvtier.spi.TierSpec;
import java.util.Objects;

/**
 * An off-heap host-memory tier: opens a {@link DramPageStore}.
 *
 * @param name the tier's name
 * @param capacityBytes bytes of page memory, positive
 */
record DramTierSpec(String name, long capacityBytes) implements TierSpec {

  DramTierSpec {
    Objects.requireNonNull(name, "name");
    if (name.isBlank()) {
      throw new IllegalArgumentException("a DRAM tier needs a non-blank name");
    }
    if (capacityBytes <= 0) {
      throw new IllegalArgumentException(
          "tier '" + name + "': capacityBytes must be positive, was " + capacityBytes);
    }
  }

  @Override
  public TierKind kind() {
    return TierKind.DRAM;
  }

  @Override
  public PageStore open(int pageBytes) {
    return new DramPageStore(name, capacityBytes, pageBytes);
  }
}
