package io.kvtier.spi;

/**
 * Which unpinned leaf leaves a tier: a factory of one {@link Evictor} per tier.
 *
 * <p>Stock policies: {@link #lru()} (vLLM's and SGLang's: leaf-only, least recently used), {@link
 * #s3fifo()} (Yang et al., SOSP'23: a small probationary FIFO, a main FIFO with reinsertion, and a
 * ghost queue), {@link #priorityLru()} (TensorRT-LLM's retention model: lowest priority first, then
 * least recently used, priorities reverting after their duration), {@link #tinyLfu()} (W-TinyLFU: a
 * window, a segmented main region and admission by a frequency sketch) and {@link #arc()} (ARC:
 * recency and frequency lists with ghosts and an adaptive split), and {@link #agentAware()}, the
 * default: least recently used, stretched by what the engine's hints and the prefix tree say about
 * whether a block's conversation will come back.
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
   * W-TinyLFU over blocks, restricted to evictable leaves: a newcomer displaces an older block only
   * when a frequency sketch says it is used more often.
   *
   * @return the policy
   */
  static EvictionPolicy tinyLfu() {
    return KvTierProvider.get().eviction("tinylfu");
  }

  /**
   * ARC (Megiddo and Modha) over blocks, restricted to evictable leaves.
   *
   * @return the policy
   */
  static EvictionPolicy arc() {
    return KvTierProvider.get().eviction("arc");
  }

  /**
   * The default policy: lowest retention priority first, then the block whose <em>retention
   * time</em> is earliest. A block's retention time is its last access, moved later for blocks of
   * conversations that have gone on for more turns (they are likelier to come back), later by the
   * expected pause for a session paused for a tool call (it is coming back soon), earlier for a
   * session paused for a human, whose return is later and less sure. Without hints it ranks like
   * LRU with a preference for long conversations over one-shot requests.
   *
   * @return the policy
   */
  static EvictionPolicy agentAware() {
    return KvTierProvider.get().eviction("agent-aware");
  }

  /**
   * A stock policy by name.
   *
   * @param name {@code lru}, {@code s3fifo}, {@code priority-lru}, {@code tinylfu}, {@code arc},
   *     {@code agent-aware} or {@code agent-aware-tiered} (recency in every tier but the last,
   *     agent-aware in the last)
   * @return the policy
   */
  static EvictionPolicy named(String name) {
    return KvTierProvider.get().eviction(name);
  }
}
