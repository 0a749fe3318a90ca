package io.kvtier.cabi;

/**
 * What one calling thread keeps between calls: its last error message, a pool of token arrays and a
 * block-table scratch array, so that moving tokens and block tables across the boundary allocates
 * nothing in the steady state.
 *
 * <h2>Token arrays</h2>
 *
 * The API takes token arrays whole ({@code Request.of(ns, int[])} uses the array's length as the
 * prompt's length), so a pooled array must have exactly the length of the prompt. The pool keeps up
 * to {@value #POOLED} arrays of any lengths and hands one out by exact length; a miss allocates. An
 * engine whose prompts have many lengths therefore allocates one array per acquire, as the Java API
 * would.
 *
 * <p>Ownership: a {@link io.kvtier.Request} keeps a reference to its array for the life of the
 * lease, so an array taken for an acquire belongs to the lease until it is released and only then
 * returns to a pool (the releasing thread's). Arrays taken for an append, a probe, a prefetch or a
 * queue hold go back at the end of the call, since the lease copies appended tokens and the others
 * keep nothing of the request.
 *
 * <h2>Concurrency</h2>
 *
 * Confined to its thread (held in a {@link ThreadLocal}); a native thread that detaches drops it
 * with its {@link Thread} object.
 */
final class ThreadState {
  private static final int POOLED = 8;
  private static final int MAX_POOLED_LENGTH = 1 << 18;

  private static final ThreadLocal<ThreadState> STATE = ThreadLocal.withInitial(ThreadState::new);

  private final int[][] pool = new int[POOLED][];
  private int victim;
  private long[] table = new long[256];

  /** The message of the last failed call on this thread, or null. */
  String lastError;

  static ThreadState get() {
    return STATE.get();
  }

  /**
   * An array of exactly {@code n} ints, from the pool when one fits.
   *
   * @param n the length
   * @return an array the caller owns
   */
  int[] takeTokens(int n) {
    int[][] p = pool;
    for (int i = 0; i < POOLED; i++) {
      int[] a = p[i];
      if (a != null && a.length == n) {
        p[i] = null;
        return a;
      }
    }
    return new int[n];
  }

  /**
   * Gives an array back to the pool; the caller must not use it afterwards.
   *
   * @param a the array
   */
  void giveTokens(int[] a) {
    if (a == null || a.length > MAX_POOLED_LENGTH) {
      return;
    }
    int[][] p = pool;
    for (int i = 0; i < POOLED; i++) {
      if (p[i] == null) {
        p[i] = a;
        return;
      }
    }
    p[victim] = a;
    victim = (victim + 1) % POOLED;
  }

  /**
   * A scratch array of at least {@code n} longs, valid until the next call on this thread.
   *
   * @param n the least length
   * @return the scratch array
   */
  long[] table(int n) {
    if (table.length < n) {
      table = new long[Math.max(n, table.length * 2)];
    }
    return table;
  }
}
