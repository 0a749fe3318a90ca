package io.kvtier.replay;

import io.kvtier.PauseKind;
import java.util.Objects;

/**
 * One request of a trace, as a reader produced it, before block ids are made dense.
 *
 * @param timeMs arrival, milliseconds from the start of the trace
 * @param session the agent session it continues, or null when the trace has none
 * @param agent {@code main} or {@code sub:<type>}, for reports
 * @param model the model, which names the cache namespace
 * @param tenant the tenant, {@code ""} for none (enters the request's salt)
 * @param scope the scope of hash ids: requests share a block exactly when they have the same scope,
 *     model, tenant and hash id (Mooncake and kvtier traces have one scope; WEKA ids are local to a
 *     file, so each file is a scope)
 * @param inputLength prompt tokens
 * @param outputLength generated tokens
 * @param blockTokens tokens per trace block
 * @param hashIds the prompt's prefix-chained block ids, {@code ceil(inputLength / blockTokens)} of
 *     them or fewer
 * @param pauseMs the true gap before this session's next request, -1 when there is none; the replay
 *     never shows it to the cache, only an estimate
 * @param pauseKind why the session stops after this request, or null when it does not
 * @param branches speculative branches forked after the prompt, 0 for none
 * @param branchTokens tokens each branch generates
 * @param compacted whether this request starts from a compacted context: the session's earlier
 *     prefix is dead
 */
public record TraceRequest(
    long timeMs,
    String session,
    String agent,
    String model,
    String tenant,
    String scope,
    int inputLength,
    int outputLength,
    int blockTokens,
    long[] hashIds,
    long pauseMs,
    PauseKind pauseKind,
    int branches,
    int branchTokens,
    boolean compacted) {

  /** Checks the components. */
  public TraceRequest {
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(tenant, "tenant");
    Objects.requireNonNull(scope, "scope");
    Objects.requireNonNull(hashIds, "hashIds");
    if (agent == null) {
      agent = "main";
    }
  }

  /**
   * A plain request with no session, as in the Mooncake traces.
   *
   * @param timeMs arrival in ms
   * @param inputLength prompt tokens
   * @param outputLength generated tokens
   * @param blockTokens tokens per block
   * @param hashIds block ids
   * @return the request
   */
  public static TraceRequest plain(
      long timeMs, int inputLength, int outputLength, int blockTokens, long[] hashIds) {
    return new TraceRequest(
        timeMs,
        null,
        "main",
        "model",
        "",
        "",
        inputLength,
        outputLength,
        blockTokens,
        hashIds,
        -1,
        null,
        0,
        0,
        false);
  }

  /**
   * The same request at another time.
   *
   * @param t arrival in ms
   * @return a copy
   */
  public TraceRequest at(long t) {
    return new TraceRequest(
        t,
        session,
        agent,
        model,
        tenant,
        scope,
        inputLength,
        outputLength,
        blockTokens,
        hashIds,
        pauseMs,
        pauseKind,
        branches,
        branchTokens,
        compacted);
  }

  /**
   * The same request with a pause after it.
   *
   * @param ms the true gap, -1 for none
   * @param kind why, null for none
   * @return a copy
   */
  public TraceRequest withPause(long ms, PauseKind kind) {
    return new TraceRequest(
        timeMs,
        session,
        agent,
        model,
        tenant,
        scope,
        inputLength,
        outputLength,
        blockTokens,
        hashIds,
        ms,
        kind,
        branches,
        branchTokens,
        compacted);
  }
}
