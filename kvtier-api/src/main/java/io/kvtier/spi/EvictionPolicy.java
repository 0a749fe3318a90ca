package io.kvtier.spi;

/**
 * Which unpinned leaf leaves a tier: a factory of one {@link Evictor} per tier.
 *
 * <p>Stock policies: {@link #lru()} (vLLM's and SGLang's: leaf-only, least recently used), {@link
 * #s3fifo()} (Yang et al., SOSP'23: a small probationary FIFO, a main FIFO with reinsertion, and a
 * ghost queue) and {@link #priorityLru()} (TensorRT-LLM's retention model: lowest priority first,
 * then least recently used, priorities reverting after their duration).
 */
public interface EvictionPolicy {

  /**
   * The policy's name, as the replay tool prints it.
   *
   * @return the name
   */
  String name();

  /**
   * A fresh evictor for one tier.
   *
   * @param context the tier and the block view
   * @return the evictor
   */
  Evictor newEvictor(EvictorContext context);

  /**
   * Least recently used leaf first.
   *
   * @return the policy
   */
  static EvictionPolicy lru() {
    return KvTierProvider.get().eviction("lru");
  }

  /**
   * S3-FIFO over blocks, restricted to evictable leaves.
   *
   * @return the policy
   */
  static EvictionPolicy s3fifo() {
    return KvTierProvider.get().eviction("s3fifo");
  }

  /**
   * Lowest retention priority first, least recently used among equals.
   *
   * @return the policy
   */
  static EvictionPolicy priorityLru() {
    return KvTierProvider.get().eviction("priority-lru");
  }

  /**
   * A stock policy by name.
   *
   * @param name {@code lru}, {@code s3fifo} or {@code priority-lru}
   * @return the policy
   */
  static EvictionPolicy named(String name) {
    return KvTierProvider.get().eviction(name);
  }
}
