package io.kvtier.cabi;

import io.kvtier.CacheClosedException;
import io.kvtier.OutOfPagesException;
import io.kvtier.StaleHandleException;

/**
 * The status codes of the C ABI, mirrored by {@code kvtier_status} in {@code kvtier.h}, and the
 * mapping from Java exceptions to them. Every code but {@link #OK} is negative, so an entry point
 * can return a handle, a count or a status in one value.
 */
final class Status {
  private Status() {}

  /** Success. */
  static final int OK = 0;

  /** An argument was malformed: a null pointer, a negative length, a bad configuration. */
  static final int INVALID_ARGUMENT = -1;

  /** A handle is stale, of the wrong kind, never issued, or already released. */
  static final int BAD_HANDLE = -2;

  /** The cache (or the lease or session the call went to) is closed. */
  static final int CLOSED = -3;

  /** The top tier has no free page and nothing it holds can be evicted. */
  static final int NO_SPACE = -4;

  /** The caller's buffer is too small; the size needed was written where the call says. */
  static final int BUFFER_TOO_SMALL = -5;

  /** The JVM could not be started or attached (set by the C side only). */
  static final int JVM = -6;

  /** Anything else: a bug, or the JVM is out of memory. */
  static final int INTERNAL = -7;

  /** What the call waits for (an onboarding, a layer of one) has not landed within its timeout. */
  static final int TIMEOUT = -8;

  /**
   * The code for an exception thrown by the API.
   *
   * @param t the exception
   * @return a negative status
   */
  static int of(Throwable t) {
    return switch (t) {
      case OutOfPagesException e -> NO_SPACE;
      case CacheClosedException e -> CLOSED;
      case StaleHandleException e -> BAD_HANDLE;
      case IllegalArgumentException e -> INVALID_ARGUMENT;
      case IllegalStateException e -> INVALID_ARGUMENT;
      case io.kvtier.KvTierException e -> INVALID_ARGUMENT;
      default -> INTERNAL;
    };
  }
}
