package io.kvtier.cxl;

import java.time.Duration;
import java.util.Objects;

/**
 * Settings of a {@link SharedPool}, validated once by {@link Builder#build()}.
 *
 * <table>
 *   <caption>Options</caption>
 *   <tr><th>option</th><th>default</th><th>meaning</th></tr>
 *   <tr><td>{@code readLease}</td><td>5 s</td><td>how long a {@link SharedPool#lookup} lease
 *       protects a page from reclamation; release it sooner. After it, a crashed reader no longer
 *       holds the page.</td></tr>
 *   <tr><td>{@code ownerLease}</td><td>10 s</td><td>for pools shared across hosts ({@code
 *       hostLocal(false)}): how long a process's pages stay its own after its last heartbeat (sent
 *       every third of this).</td></tr>
 *   <tr><td>{@code hostLocal}</td><td>true</td><td>all processes run on this host: a crashed
 *       owner is recognised at once from {@code /proc/<pid>}; otherwise only its lease expiry
 *       tells.</td></tr>
 *   <tr><td>{@code maxBlockTokens}</td><td>512</td><td>tokens a block header holds (the layout's
 *       tokens per block must not exceed it).</td></tr>
 *   <tr><td>{@code maxProcesses}</td><td>64</td><td>processes that may have the pool open at once
 *       (at most 256).</td></tr>
 * </table>
 *
 * <p>Every process opening one pool must use the same {@code maxBlockTokens} and {@code
 * maxProcesses} (they shape the file); leases may differ per process.
 */
public final class SharedPoolOptions {

  private static final SharedPoolOptions DEFAULTS = builder().build();

  private final Duration readLease;
  private final Duration ownerLease;
  private final boolean hostLocal;
  private final int maxBlockTokens;
  private final int maxProcesses;

  private SharedPoolOptions(Builder b) {
    this.readLease = b.readLease;
    this.ownerLease = b.ownerLease;
    this.hostLocal = b.hostLocal;
    this.maxBlockTokens = b.maxBlockTokens;
    this.maxProcesses = b.maxProcesses;
  }

  /**
   * The defaults in the table above.
   *
   * @return default options
   */
  public static SharedPoolOptions defaults() {
    return DEFAULTS;
  }

  /**
   * A builder starting from the defaults.
   *
   * @return a builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Read lease length.
   *
   * @return the read lease
   */
  public Duration readLease() {
    return readLease;
  }

  /**
   * Owner lease length (pools across hosts).
   *
   * @return the owner lease
   */
  public Duration ownerLease() {
    return ownerLease;
  }

  /**
   * Whether all processes share this host.
   *
   * @return true for a host-local pool
   */
  public boolean hostLocal() {
    return hostLocal;
  }

  /**
   * Tokens per block header.
   *
   * @return the maximum tokens per block
   */
  public int maxBlockTokens() {
    return maxBlockTokens;
  }

  /**
   * Processes at once.
   *
   * @return the maximum number of processes
   */
  public int maxProcesses() {
    return maxProcesses;
  }

  @Override
  public String toString() {
    return "SharedPoolOptions[readLease="
        + readLease
        + ", ownerLease="
        + ownerLease
        + ", hostLocal="
        + hostLocal
        + ", maxBlockTokens="
        + maxBlockTokens
        + ", maxProcesses="
        + maxProcesses
        + "]";
  }

  /** Builds {@link SharedPoolOptions}. Not thread-safe. */
  public static final class Builder {
    private Duration readLease = Duration.ofSeconds(5);
    private Duration ownerLease = Duration.ofSeconds(10);
    private boolean hostLocal = true;
    private int maxBlockTokens = 512;
    private int maxProcesses = 64;

    private Builder() {}

    /**
     * Sets the read lease.
     *
     * @param lease at least 1 ms
     * @return this
     */
    public Builder readLease(Duration lease) {
      this.readLease = Objects.requireNonNull(lease, "readLease");
      return this;
    }

    /**
     * Sets the owner lease.
     *
     * @param lease at least 3 ms
     * @return this
     */
    public Builder ownerLease(Duration lease) {
      this.ownerLease = Objects.requireNonNull(lease, "ownerLease");
      return this;
    }

    /**
     * Whether every process sharing the pool runs on this host.
     *
     * @param hostLocal true to recognise crashed processes by pid
     * @return this
     */
    public Builder hostLocal(boolean hostLocal) {
      this.hostLocal = hostLocal;
      return this;
    }

    /**
     * Sets the tokens a block header holds.
     *
     * @param tokens 1 to 65536
     * @return this
     */
    public Builder maxBlockTokens(int tokens) {
      this.maxBlockTokens = tokens;
      return this;
    }

    /**
     * Sets how many processes may have the pool open at once.
     *
     * @param processes 1 to 256
     * @return this
     */
    public Builder maxProcesses(int processes) {
      this.maxProcesses = processes;
      return this;
    }

    /**
     * Validates and builds.
     *
     * @return the options
     * @throws IllegalArgumentException naming the option to change
     */
    public SharedPoolOptions build() {
      if (readLease.toMillis() < 1) {
        throw new IllegalArgumentException("readLease must be at least 1 ms, was " + readLease);
      }
      if (ownerLease.toMillis() < 3) {
        throw new IllegalArgumentException("ownerLease must be at least 3 ms, was " + ownerLease);
      }
      if (maxBlockTokens < 1 || maxBlockTokens > 65536) {
        throw new IllegalArgumentException(
            "maxBlockTokens must be in [1, 65536], was " + maxBlockTokens);
      }
      if (maxProcesses < 1 || maxProcesses > SharedPoolLayout.MAX_MEMBERS) {
        throw new IllegalArgumentException(
            "maxProcesses must be in [1, "
                + SharedPoolLayout.MAX_MEMBERS
                + "], was "
                + maxProcesses);
      }
      return new SharedPoolOptions(this);
    }
  }
}
