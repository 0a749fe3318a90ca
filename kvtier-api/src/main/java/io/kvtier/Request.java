package io.kvtier;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * One request's view of the cache: its tokens in a namespace, and who it belongs to.
 *
 * <p>Immutable; the {@code with}-style methods return copies. The token array is not copied: the
 * caller must not modify it while a lease made from this request is open.
 *
 * <p>Priority follows TensorRT-LLM's retention model: 0 (evict first) to 100 (evict last), {@link
 * #DEFAULT_PRIORITY} when unset, reverting to the default after {@link #priorityDuration()}.
 */
public final class Request {

  /** Priority of blocks whose request did not set one. */
  public static final int DEFAULT_PRIORITY = 35;

  private final Namespace namespace;
  private final int[] tokens;
  private final String session;
  private final long salt;
  private final int priority;
  private final Duration priorityDuration;
  private List<PriorityRange> ranges = List.of();

  /**
   * A retention priority for the blocks that start in a token range (TensorRT-LLM's token-range
   * retention): for example the system prompt kept longer, or a block the engine knows is partial,
   * or about to be rewritten, evicted first.
   *
   * @param fromToken first token of the range, inclusive
   * @param toToken end of the range, exclusive
   * @param value 0 (evict first) to 100 (evict last)
   * @param duration how long it holds before reverting to the default; null for the block's life
   */
  public record PriorityRange(int fromToken, int toToken, int value, Duration duration) {

    /**
     * Checks the range.
     *
     * @throws IllegalArgumentException for an empty or negative range, a value outside [0, 100] or
     *     a negative duration
     */
    public PriorityRange {
      if (fromToken < 0 || toToken <= fromToken) {
        throw new IllegalArgumentException(
            "token range must satisfy 0 <= from < to, was [" + fromToken + ", " + toToken + ")");
      }
      if (value < 0 || value > 100) {
        throw new IllegalArgumentException("priority must be in [0, 100], was " + value);
      }
      if (duration != null && duration.isNegative()) {
        throw new IllegalArgumentException("priority duration must not be negative");
      }
    }
  }

  private final String agent;

  private Request(
      Namespace namespace,
      int[] tokens,
      String session,
      long salt,
      int priority,
      Duration priorityDuration,
      String agent) {
    this.namespace = namespace;
    this.tokens = tokens;
    this.session = session;
    this.salt = salt;
    this.priority = priority;
    this.priorityDuration = priorityDuration;
    this.agent = agent;
  }

  /**
   * A request for {@code tokens} in {@code namespace}, with no session, no salt and the default
   * priority.
   *
   * @param namespace the model namespace
   * @param tokens the prompt's token ids
   * @return the request
   */
  public static Request of(Namespace namespace, int[] tokens) {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(tokens, "tokens");
    return new Request(namespace, tokens, null, 0L, DEFAULT_PRIORITY, null, null);
  }

  /**
   * The same request as part of an agent session.
   *
   * @param sessionId the session id, non-empty
   * @return a copy
   */
  public Request session(String sessionId) {
    if (sessionId == null || sessionId.isEmpty()) {
      throw new IllegalArgumentException("session id must be non-empty");
    }
    return carryRanges(
        new Request(namespace, tokens, sessionId, salt, priority, priorityDuration, agent));
  }

  /**
   * The same request with a tenant salt. The salt enters the first block's key, so requests with
   * different salts never share a prefix.
   *
   * @param tenantSalt any value; 0 means no salt
   * @return a copy
   */
  public Request salt(long tenantSalt) {
    return carryRanges(
        new Request(namespace, tokens, session, tenantSalt, priority, priorityDuration, agent));
  }

  /**
   * The same request with a string tenant salt, hashed to 64 bits the same way in every process.
   *
   * @param tenant the tenant id
   * @return a copy
   */
  public Request salt(String tenant) {
    return salt(tenantSalt(tenant));
  }

  /**
   * The salt {@link #salt(String)} uses for a tenant id: 64 bits of FNV-1a over its characters,
   * never 0, the same in every process. For APIs that name a tenant by its salt, such as {@link
   * KvCacheBuilder#tenantQuota(long, int)}.
   *
   * @param tenant the tenant id
   * @return its salt
   */
  public static long tenantSalt(String tenant) {
    Objects.requireNonNull(tenant, "tenant");
    long h = 0xcbf29ce484222325L;
    for (int i = 0; i < tenant.length(); i++) {
      h ^= tenant.charAt(i);
      h *= 0x100000001b3L;
    }
    return h == 0 ? 1 : h;
  }

  /**
   * The same request, made by a sub-agent of type {@code type} (for example {@code "explore"} or
   * {@code "code-review"}): a hint, which the cache may ignore. Sibling sub-agents of one type
   * start from the same prompt (the type's system prompt and tools) and differ in their task, so
   * the cache learns, per namespace, tenant salt and type, the prefix that the type's requests
   * share (the longest common prefix of their prompts, in whole blocks) and keeps it warm with a
   * capped soft pin (see {@link KvCacheBuilder#warmPrefixes(int, Duration)}), so that the next
   * sibling's first request finds it even after other traffic filled the cache. The main agent
   * leaves the type unset.
   *
   * @param type the sub-agent type, non-empty
   * @return a copy
   */
  public Request agent(String type) {
    if (type == null || type.isEmpty()) {
      throw new IllegalArgumentException("agent type must be non-empty");
    }
    return carryRanges(
        new Request(namespace, tokens, session, salt, priority, priorityDuration, type));
  }

  /**
   * The same request with a retention priority for the blocks it commits.
   *
   * @param value 0 (evict first) to 100 (evict last)
   * @param duration how long the priority holds before reverting to the default; null for as long
   *     as the block lives
   * @return a copy
   */
  public Request priority(int value, Duration duration) {
    if (value < 0 || value > 100) {
      throw new IllegalArgumentException("priority must be in [0, 100], was " + value);
    }
    if (duration != null && duration.isNegative()) {
      throw new IllegalArgumentException("priority duration must not be negative");
    }
    return carryRanges(new Request(namespace, tokens, session, salt, value, duration, agent));
  }

  /**
   * The same request with a retention priority for the blocks whose first token lies in {@code
   * [fromToken, toToken)}; it overrides {@link #priority(int, Duration)} for them, and a later
   * range overrides an earlier one where they overlap.
   *
   * @param fromToken first token, inclusive
   * @param toToken end, exclusive
   * @param value 0 (evict first) to 100 (evict last)
   * @param duration how long it holds before reverting to the default; null for the block's life
   * @return a copy
   */
  public Request priority(int fromToken, int toToken, int value, Duration duration) {
    PriorityRange r = new PriorityRange(fromToken, toToken, value, duration);
    Request copy = new Request(namespace, tokens, session, salt, priority, priorityDuration, agent);
    copy.ranges =
        java.util.stream.Stream.concat(ranges.stream(), java.util.stream.Stream.of(r)).toList();
    return copy;
  }

  private Request carryRanges(Request copy) {
    copy.ranges = ranges;
    return copy;
  }

  /**
   * The token-range priorities, in the order they were given.
   *
   * @return the ranges, unmodifiable
   */
  public List<PriorityRange> priorityRanges() {
    return ranges;
  }

  /**
   * The namespace.
   *
   * @return the namespace
   */
  public Namespace namespace() {
    return namespace;
  }

  /**
   * The token ids (not copied).
   *
   * @return the tokens
   */
  public int[] tokens() {
    return tokens;
  }

  /**
   * The session id, or null.
   *
   * @return the session id
   */
  public String sessionId() {
    return session;
  }

  /**
   * The tenant salt, 0 for none.
   *
   * @return the salt
   */
  public long salt() {
    return salt;
  }

  /**
   * The retention priority.
   *
   * @return 0 to 100
   */
  public int priority() {
    return priority;
  }

  /**
   * How long the priority holds, or null for the life of the block.
   *
   * @return the duration
   */
  public Duration priorityDuration() {
    return priorityDuration;
  }

  /**
   * The sub-agent type, or null for a request that is not a sub-agent's.
   *
   * @return the type
   */
  public String agentType() {
    return agent;
  }

  @Override
  public String toString() {
    return "Request["
        + namespace.model()
        + ", "
        + tokens.length
        + " tokens, session="
        + session
        + "]";
  }
}
