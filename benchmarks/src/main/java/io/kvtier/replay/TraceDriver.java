package io.kvtier.replay;

import io.kvtier.KvCache;
import io.kvtier.KvLayout;
import io.kvtier.Namespace;
import io.kvtier.PauseKind;
import io.kvtier.Request;
import io.kvtier.Session;
import java.util.Arrays;

/**
 * What both replay modes tell the cache around each trace request, in one place: the virtual clock,
 * the namespace and tenant salt, and the session's hints (resume with the observed pause fed to the
 * {@link PauseEstimator}, compaction, and after the request a pause with the <em>estimated</em>
 * duration — never the true gap, and no session is ended because the trace has no next request).
 *
 * <p>One driver per replay run; not thread-safe.
 */
final class TraceDriver {

  private final Trace trace;
  private final KvCache cache;
  private final VirtualTicker clock;
  private final Namespace[] namespaces;
  private final long[] salts;
  private final int[] lastOfSession;
  private final Session[] sessions;
  private final PauseEstimator estimator = new PauseEstimator();
  private long clockMs = -1;
  private boolean first;

  TraceDriver(Trace trace, KvLayout layout, KvCache cache, VirtualTicker clock) {
    this.trace = trace;
    this.cache = cache;
    this.clock = clock;
    namespaces = new Namespace[trace.models().size()];
    for (int m = 0; m < namespaces.length; m++) {
      namespaces[m] = Namespace.of(trace.models().get(m), layout);
    }
    salts = new long[trace.tenants().size()];
    for (int t = 0; t < salts.length; t++) {
      String tenant = trace.tenants().get(t);
      salts[t] = tenant.isEmpty() ? 0 : Request.tenantSalt(tenant);
    }
    lastOfSession = new int[trace.sessions().size()];
    Arrays.fill(lastOfSession, -1);
    sessions = new Session[trace.sessions().size()];
  }

  /** Sessions in the trace. */
  int sessionCount() {
    return sessions.length;
  }

  /** The session with index {@code si}, or null before its first request. */
  Session session(int si) {
    return sessions[si];
  }

  Namespace namespace(int i) {
    return namespaces[trace.model(i)];
  }

  long salt(int i) {
    return salts[trace.tenant(i)];
  }

  /**
   * Moves the clock to request {@code i} (never to a millisecond an earlier request had: the index
   * keeps last access in milliseconds and recency must follow arrival order), waits for the
   * prefetches that fell due by then to land, and runs its session's hints. Returns its session, or
   * null when the trace has none.
   */
  Session begin(int i) {
    // Prefetches that fell due since the last request ran in the virtual time between land
    // before this request, so that every run sees the same cache.
    advanceTo(trace.timeMs(i));
    int si = trace.session(i);
    first = false;
    if (si < 0) {
      return null;
    }
    Session s = sessions[si];
    if (s == null) {
      s = cache.session(trace.sessions().get(si));
      sessions[si] = s;
    }
    int prev = lastOfSession[si];
    first = prev < 0;
    if (prev >= 0 && trace.pauseKind(prev) != null) {
      estimator.observe(trace.pauseKind(prev), trace.timeMs(i) - trace.timeMs(prev));
      s.resume();
    }
    lastOfSession[si] = i;
    if (trace.compacted(i)) {
      s.compacted();
    }
    return s;
  }

  /**
   * Moves the clock to {@code ms}, or one millisecond past the last time it was moved to if that is
   * later, and waits for the prefetches that fell due by then to land.
   */
  void advanceTo(long ms) {
    clockMs = Math.max(ms, clockMs + 1);
    clock.advanceTo(clockMs * 1_000_000L);
    cache.prefetchesLanded().join();
  }

  /** Whether the request of the last {@link #begin} was its session's first. */
  boolean firstOfSession() {
    return first;
  }

  /**
   * After request {@code i}: its session pauses, with the estimated duration, if the trace says.
   */
  void end(int i, Session s) {
    if (s != null) {
      PauseKind kind = trace.pauseKind(i);
      if (kind != null) {
        s.pause(kind, estimator.estimate(kind));
      }
    }
  }
}
