package io.kvtier.core;

import io.kvtier.spi.EvictionPolicy;
import io.kvtier.spi.Evictor;
import io.kvtier.spi.EvictorContext;
import java.util.List;
import java.util.function.Function;

/**
 * The stock eviction policies by name, as {@link io.kvtier.spi.EvictionPolicy#named(String)} and
 * the replay tool name them: {@code lru} ({@link LruEvictor}), {@code priority-lru} ({@link
 * PriorityLruEvictor}), {@code s3fifo} ({@link S3FifoEvictor}), {@code tinylfu} ({@link
 * TinyLfuEvictor}), {@code arc} ({@link ArcEvictor}) and {@code agent-aware} ({@link
 * AgentAwareEvictor}, the default). The policies are stateless factories, shared; each {@link
 * EvictionPolicy#newEvictor} call makes a fresh evictor whose state has the single writer of the
 * tier it serves.
 */
final class StockPolicies {

  private static final List<EvictionPolicy> ALL =
      List.of(
          LruEvictor.POLICY,
          PriorityLruEvictor.POLICY,
          S3FifoEvictor.POLICY,
          TinyLfuEvictor.POLICY,
          ArcEvictor.POLICY,
          AgentAwareEvictor.POLICY,
          AgentAwareEvictor.TIERED_POLICY);

  private StockPolicies() {}

  /**
   * A stock policy: its name (also its {@code toString}, as the replay prints it) and how it makes
   * a fresh evictor for a tier.
   *
   * @param name the policy's name
   * @param factory a fresh evictor per tier
   */
  record Named(String name, Function<EvictorContext, Evictor> factory) implements EvictionPolicy {
    @Override
    public Evictor newEvictor(EvictorContext context) {
      return factory.apply(context);
    }

    @Override
    public String toString() {
      return name;
    }
  }

  /**
   * A stock policy by name.
   *
   * @throws IllegalArgumentException for an unknown name, listing the known ones
   */
  static EvictionPolicy byName(String name) {
    for (EvictionPolicy p : ALL) {
      if (p.name().equals(name)) {
        return p;
      }
    }
    throw new IllegalArgumentException(
        "unknown eviction policy '" + name + "'; known: " + String.join(", ", names()));
  }

  /** The names of the stock policies, in a fixed order. */
  static List<String> names() {
    return ALL.stream().map(EvictionPolicy::name).toList();
  }
}
