package io.kvtier;

import java.util.Arrays;
import java.util.Objects;

/**
 * One upcoming step of an agent workflow, as the engine's orchestrator sees it: which agent runs,
 * on which model, from which prompt prefix, and how many steps from now. Passed to {@link
 * KvCache#expect(String, java.util.List)}; the idea is KVFlow's agent step graph (Pan et al.,
 * 2025): the prefix of a step that runs sooner is kept over one that runs later, and the next
 * step's prefix is brought up from slower tiers before it runs.
 *
 * <p>The prefix names the KV the step will reuse: usually its agent's system prompt and tools, or
 * the conversation it continues. It may be empty when {@code agent} is set: the step then names the
 * prefix that agent type's requests share (see {@link Request#agent(String)}).
 *
 * <p>The token array is not copied; the caller must not modify it during the {@code expect} call.
 *
 * @param agent the agent type that runs the step, or null
 * @param namespace the model namespace it runs on
 * @param prefix the prompt prefix it will reuse (only whole blocks count)
 * @param salt the tenant salt, 0 for none
 * @param stepsAway 0 for the step that runs next, 1 for the one after it, and so on
 */
public record NextStep(String agent, Namespace namespace, int[] prefix, long salt, int stepsAway) {

  /**
   * Validates the components.
   *
   * @throws IllegalArgumentException when {@code stepsAway} is negative, the agent type is empty,
   *     or the step names neither a prefix nor an agent type
   * @throws NullPointerException when the namespace or the prefix is null
   */
  public NextStep {
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(prefix, "prefix (use an empty array with an agent type)");
    if (stepsAway < 0) {
      throw new IllegalArgumentException("stepsAway must not be negative, was " + stepsAway);
    }
    if (agent != null && agent.isEmpty()) {
      throw new IllegalArgumentException("agent type must be non-empty (or null for none)");
    }
    if (prefix.length == 0 && agent == null) {
      throw new IllegalArgumentException(
          "a step needs a prefix or an agent type whose shared prefix it reuses");
    }
  }

  /**
   * A step that reuses {@code prefix} in {@code namespace}, with no agent type and no salt.
   *
   * @param namespace the model namespace
   * @param prefix the prompt prefix, non-empty
   * @param stepsAway 0 for the next step
   * @return the step
   */
  public static NextStep of(Namespace namespace, int[] prefix, int stepsAway) {
    return new NextStep(null, namespace, prefix, 0L, stepsAway);
  }

  /**
   * A step run by a sub-agent of type {@code agentType}, reusing the prefix the cache learned that
   * type's requests share in {@code namespace}.
   *
   * @param namespace the model namespace
   * @param agentType the sub-agent type, as in {@link Request#agent(String)}
   * @param stepsAway 0 for the next step
   * @return the step
   */
  public static NextStep ofAgent(Namespace namespace, String agentType, int stepsAway) {
    return new NextStep(
        Objects.requireNonNull(agentType, "agentType"), namespace, new int[0], 0L, stepsAway);
  }

  /**
   * The same step for a tenant.
   *
   * @param tenantSalt the salt its requests use (see {@link Request#salt(long)})
   * @return a copy
   */
  public NextStep salt(long tenantSalt) {
    return new NextStep(agent, namespace, prefix, tenantSalt, stepsAway);
  }

  /**
   * The same step, run by a sub-agent of the given type.
   *
   * @param type the sub-agent type, non-empty
   * @return a copy
   */
  public NextStep agent(String type) {
    if (type == null) {
      throw new IllegalArgumentException("agent type must be non-empty");
    }
    return new NextStep(type, namespace, prefix, salt, stepsAway);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof NextStep s
        && Objects.equals(s.agent, agent)
        && s.namespace.equals(namespace)
        && Arrays.equals(s.prefix, prefix)
        && s.salt == salt
        && s.stepsAway == stepsAway;
  }

  @Override
  public int hashCode() {
    return Objects.hash(agent, namespace, Arrays.hashCode(prefix), salt, stepsAway);
  }

  @Override
  public String toString() {
    return "NextStep["
        + (agent == null ? "" : agent + " on ")
        + namespace.model()
        + ", "
        + prefix.length
        + " tokens, "
        + stepsAway
        + " steps away]";
  }
}
