package io.kvtier.replay;

import io.kvtier.PauseKind;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A trace ready to replay: requests in arrival order, their block ids renumbered densely from 0.
 *
 * <p><b>Block ids.</b> A reader's hash ids are meaningful only within a scope (a model, a tenant,
 * and for WEKA a file). {@link Builder#add(TraceRequest)} maps each (scope, model, tenant, hash id)
 * to a dense {@code int} in order of first appearance, so that a block id names exactly one block
 * of one prefix tree, and the replay can give each block a one-token page whose token <em>is</em>
 * its id. {@link #distinctBlocks()} is the number of ids, the base of the reference mode's
 * capacities.
 *
 * <p><b>Future uses.</b> {@link #uses()} lists, per block id, the indices of the requests that
 * carry it, ascending: what the Belady bound needs to know the next use of a block.
 *
 * <p>Immutable once built; safe to replay from several threads at once.
 */
public final class Trace {

  private final String name;
  private final int n;
  private final long[] timeMs;
  private final int[][] blocks;
  private final int[] inputLength;
  private final int[] outputLength;
  private final int[] blockTokens;
  private final int[] session;
  private final int[] model;
  private final int[] tenant;
  private final int[] agent;
  private final long[] pauseMs;
  private final byte[] pauseKind;
  private final int[] branches;
  private final int[] branchTokens;
  private final boolean[] compacted;
  private final List<String> sessions;
  private final List<String> models;
  private final List<String> tenants;
  private final List<String> agents;
  private final int distinctBlocks;
  private final long inputTokens;
  private final long blockRefs;
  private volatile Uses uses;

  private Trace(String name, List<Builder.Entry> entries, Builder b) {
    this.name = name;
    this.n = entries.size();
    timeMs = new long[n];
    blocks = new int[n][];
    inputLength = new int[n];
    outputLength = new int[n];
    blockTokens = new int[n];
    session = new int[n];
    model = new int[n];
    tenant = new int[n];
    agent = new int[n];
    pauseMs = new long[n];
    pauseKind = new byte[n];
    branches = new int[n];
    branchTokens = new int[n];
    compacted = new boolean[n];
    long in = 0;
    long refs = 0;
    for (int i = 0; i < n; i++) {
      Builder.Entry e = entries.get(i);
      timeMs[i] = e.timeMs;
      blocks[i] = e.blocks;
      inputLength[i] = e.inputLength;
      outputLength[i] = e.outputLength;
      blockTokens[i] = e.blockTokens;
      session[i] = e.session;
      model[i] = e.model;
      tenant[i] = e.tenant;
      agent[i] = e.agent;
      pauseMs[i] = e.pauseMs;
      pauseKind[i] = e.pauseKind;
      branches[i] = e.branches;
      branchTokens[i] = e.branchTokens;
      compacted[i] = e.compacted;
      in += e.inputLength;
      refs += e.blocks.length;
    }
    this.sessions = List.copyOf(b.sessions.names);
    this.models = List.copyOf(b.models.names);
    this.tenants = List.copyOf(b.tenants.names);
    this.agents = List.copyOf(b.agents.names);
    this.distinctBlocks = b.nextId;
    this.inputTokens = in;
    this.blockRefs = refs;
  }

  /**
   * A builder for a trace named {@code name}.
   *
   * @param name what reports call the trace
   * @return the builder
   */
  public static Builder builder(String name) {
    return new Builder(name);
  }

  /**
   * A trace of the given requests.
   *
   * @param name the trace's name
   * @param requests the requests, in any order
   * @return the trace
   */
  public static Trace of(String name, List<TraceRequest> requests) {
    Builder b = builder(name);
    requests.forEach(b::add);
    return b.build();
  }

  /**
   * The trace's name.
   *
   * @return the name
   */
  public String name() {
    return name;
  }

  /**
   * Requests.
   *
   * @return the number of requests
   */
  public int size() {
    return n;
  }

  /**
   * Distinct blocks over the whole trace.
   *
   * @return the number of dense block ids
   */
  public int distinctBlocks() {
    return distinctBlocks;
  }

  /**
   * Σ input length.
   *
   * @return prompt tokens over all requests
   */
  public long inputTokens() {
    return inputTokens;
  }

  /**
   * Σ blocks per request.
   *
   * @return block references
   */
  public long blockRefs() {
    return blockRefs;
  }

  long timeMs(int i) {
    return timeMs[i];
  }

  /** The request's dense block ids (not copied: do not modify). */
  int[] blocks(int i) {
    return blocks[i];
  }

  int inputLength(int i) {
    return inputLength[i];
  }

  int outputLength(int i) {
    return outputLength[i];
  }

  int blockTokens(int i) {
    return blockTokens[i];
  }

  /** The session index, -1 for none. */
  int session(int i) {
    return session[i];
  }

  int model(int i) {
    return model[i];
  }

  int tenant(int i) {
    return tenant[i];
  }

  int agent(int i) {
    return agent[i];
  }

  long pauseMs(int i) {
    return pauseMs[i];
  }

  /** Why the session pauses after request {@code i}, or null. */
  PauseKind pauseKind(int i) {
    byte k = pauseKind[i];
    return k < 0 ? null : PauseKind.values()[k];
  }

  int branches(int i) {
    return branches[i];
  }

  int branchTokens(int i) {
    return branchTokens[i];
  }

  boolean compacted(int i) {
    return compacted[i];
  }

  /**
   * Session names, by index.
   *
   * @return the names
   */
  public List<String> sessions() {
    return sessions;
  }

  /**
   * Model names, by index.
   *
   * @return the names
   */
  public List<String> models() {
    return models;
  }

  /**
   * Tenant names, by index ({@code ""} is no tenant).
   *
   * @return the names
   */
  public List<String> tenants() {
    return tenants;
  }

  /**
   * Agent kinds, by index.
   *
   * @return the names
   */
  public List<String> agents() {
    return agents;
  }

  /**
   * Per block id, the ascending indices of the requests that carry it; computed on first use.
   *
   * @return the uses
   */
  Uses uses() {
    Uses u = uses;
    if (u == null) {
      synchronized (this) {
        u = uses;
        if (u == null) {
          u = Uses.of(this);
          uses = u;
        }
      }
    }
    return u;
  }

  /**
   * Request indices per block id in compressed-row form: the uses of block {@code b} are {@code
   * requests[offsets[b] .. offsets[b + 1])}, ascending.
   */
  static final class Uses {
    final int[] offsets;
    final int[] requests;

    private Uses(int[] offsets, int[] requests) {
      this.offsets = offsets;
      this.requests = requests;
    }

    static Uses of(Trace t) {
      int[] offsets = new int[t.distinctBlocks + 1];
      for (int i = 0; i < t.n; i++) {
        for (int b : t.blocks[i]) {
          offsets[b + 1]++;
        }
      }
      for (int b = 0; b < t.distinctBlocks; b++) {
        offsets[b + 1] += offsets[b];
      }
      if (t.blockRefs > Integer.MAX_VALUE - 8) {
        throw new IllegalStateException("more than 2^31 block references: replay fewer requests");
      }
      int[] fill = Arrays.copyOf(offsets, t.distinctBlocks);
      int[] requests = new int[(int) t.blockRefs];
      for (int i = 0; i < t.n; i++) {
        for (int b : t.blocks[i]) {
          requests[fill[b]++] = i;
        }
      }
      return new Uses(offsets, requests);
    }
  }

  /** Collects requests, numbering their block ids densely; sorts them by time on build. */
  public static final class Builder {
    private final String name;
    private final List<Entry> entries = new ArrayList<>();
    private final Map<String, LongIntMap> scopes = new HashMap<>();
    private final Names sessions = new Names();
    private final Names models = new Names();
    private final Names tenants = new Names();
    private final Names agents = new Names();
    private int nextId;

    private Builder(String name) {
      this.name = name;
    }

    private static final class Names {
      final List<String> names = new ArrayList<>();
      final Map<String, Integer> index = new HashMap<>();

      int of(String s) {
        return index.computeIfAbsent(
            s,
            k -> {
              names.add(k);
              return names.size() - 1;
            });
      }
    }

    private record Entry(
        long timeMs,
        int seq,
        int[] blocks,
        int inputLength,
        int outputLength,
        int blockTokens,
        int session,
        int model,
        int tenant,
        int agent,
        long pauseMs,
        byte pauseKind,
        int branches,
        int branchTokens,
        boolean compacted) {}

    /**
     * Adds a request.
     *
     * @param r the request
     * @return this
     */
    public Builder add(TraceRequest r) {
      String scopeKey = r.scope() + '\u0000' + r.model() + '\u0000' + r.tenant();
      LongIntMap ids = scopes.computeIfAbsent(scopeKey, k -> new LongIntMap());
      long[] h = r.hashIds();
      int[] dense = new int[h.length];
      for (int i = 0; i < h.length; i++) {
        int id = ids.putIfAbsent(h[i], nextId);
        if (id == nextId) {
          if (nextId == Integer.MAX_VALUE) {
            throw new IllegalStateException("more than 2^31 distinct blocks");
          }
          nextId++;
        }
        dense[i] = id;
      }
      entries.add(
          new Entry(
              r.timeMs(),
              entries.size(),
              dense,
              r.inputLength(),
              r.outputLength(),
              r.blockTokens(),
              r.session() == null ? -1 : sessions.of(r.session()),
              models.of(r.model()),
              tenants.of(r.tenant()),
              agents.of(r.agent()),
              r.pauseMs(),
              r.pauseKind() == null ? (byte) -1 : (byte) r.pauseKind().ordinal(),
              r.branches(),
              r.branchTokens(),
              r.compacted()));
      return this;
    }

    /**
     * Requests added so far.
     *
     * @return the count
     */
    public int size() {
      return entries.size();
    }

    /**
     * The trace, requests sorted by arrival (ties in the order they were added).
     *
     * @return the trace
     */
    public Trace build() {
      List<Entry> sorted = new ArrayList<>(entries);
      sorted.sort(Comparator.comparingLong(Entry::timeMs).thenComparingInt(Entry::seq));
      return new Trace(name, sorted, this);
    }
  }
}
