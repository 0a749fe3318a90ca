package io.kvtier.replay;

import io.kvtier.KvCache;
import io.kvtier.Namespace;
import io.kvtier.TierStats;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What a reference replay's speculative branches leave behind, measured from outside the cache
 * through the public API, right after each reclamation (a {@code keep} that discards the other
 * branches), the only moments these figures can grow.
 *
 * <p><b>Branch pages held</b>: the pages of discarded branches still in the cache (kept as dead
 * cache by the branch policy). Each discarded branch is probed ({@code probeTokens}, which touches
 * nothing) with its full path, the request's committed prompt and the tokens the branch generated:
 * eviction is leaf-only, so the cached tokens past the fork point are exactly its blocks still
 * held. Branch tokens are unique (negative ids), so a branch that lost all its blocks never gets
 * them back and is dropped from the probes. Summed per session and over all sessions; the peaks are
 * checked against the policy's per-session cap.
 *
 * <p><b>Whole runs</b>: the pages a reclamation freed from each discarded branch (its pages past
 * those still held), and how many of them lie in the branch's longest run of consecutive slots: the
 * share is 1 when every discarded branch came back as one run.
 *
 * <p><b>Free-run ratio</b>: the tier's largest free run / its free pages, over the moments right
 * after a reclamation when at least {@value #FREE_FLOOR} pages are free (with fewer, a tier that is
 * full makes the ratio meaningless: one free page is a run of 1/1, two scattered ones 1/2). The
 * minimum over those moments is reported, with how many there were.
 */
final class BranchMeter {

  /** Free pages below which a moment does not count towards the free-run ratio. */
  static final int FREE_FLOOR = 64;

  private record Discarded(int session, Namespace ns, long salt, int[] path, int forkTokens) {}

  /** Branches discarded since the last reclamation, with the slots of their generated pages. */
  private final List<Discarded> fresh = new ArrayList<>();

  private final List<int[]> freshSlots = new ArrayList<>();
  private long freedPages;
  private long freedInWholeRuns;

  private final KvCache cache;
  private final int cap;
  private final List<Discarded> live = new ArrayList<>();
  private final long[] perSession;
  private int forks;
  private long discarded;
  private long peakSession;
  private long peakTotal;
  private long moments;
  private double minRatio = Double.NaN;

  /**
   * A meter for one replay.
   *
   * @param cache the replay's cache
   * @param cap the branch policy's per-session cap
   * @param sessions sessions in the trace
   */
  BranchMeter(KvCache cache, int cap, int sessions) {
    this.cache = cache;
    this.cap = cap;
    this.perSession = new long[sessions + 1]; // the last: leases without a session, one allowance
  }

  /** A fork of {@code k} branches happened. */
  void forked() {
    forks++;
  }

  /**
   * A branch that committed its tokens was discarded.
   *
   * @param session the session's index, -1 for none
   * @param ns the namespace
   * @param salt the tenant salt
   * @param path the committed prompt followed by the branch's tokens
   * @param forkTokens the prompt's committed tokens (where the branch starts)
   * @param slots the slots of the pages holding the branch's tokens, in token order
   */
  void discarded(int session, Namespace ns, long salt, int[] path, int forkTokens, int[] slots) {
    discarded++;
    Discarded d = new Discarded(session, ns, salt, path, forkTokens);
    live.add(d);
    fresh.add(d);
    freshSlots.add(slots);
  }

  private int held(Discarded d) {
    return Math.max(0, cache.probeTokens(d.ns(), d.path(), d.salt()) - d.forkTokens());
  }

  /** The longest run of consecutive values in {@code slots}. */
  static int longestRun(int[] slots) {
    if (slots.length == 0) {
      return 0;
    }
    int[] s = slots.clone();
    Arrays.sort(s);
    int best = 1;
    int run = 1;
    for (int i = 1; i < s.length; i++) {
      run = s[i] == s[i - 1] + 1 ? run + 1 : 1;
      best = Math.max(best, run);
    }
    return best;
  }

  /** Measures, right after a reclamation. */
  void reclaimed() {
    for (int i = 0; i < fresh.size(); i++) {
      int[] slots = freshSlots.get(i);
      int[] freed =
          Arrays.copyOfRange(slots, Math.min(slots.length, held(fresh.get(i))), slots.length);
      freedPages += freed.length;
      freedInWholeRuns += longestRun(freed);
    }
    fresh.clear();
    freshSlots.clear();
    Arrays.fill(perSession, 0);
    long total = 0;
    int w = 0;
    for (Discarded d : live) {
      int held = held(d);
      if (held == 0) {
        continue;
      }
      live.set(w++, d);
      total += held;
      perSession[d.session() >= 0 ? d.session() : perSession.length - 1] += held;
    }
    live.subList(w, live.size()).clear();
    for (long h : perSession) {
      peakSession = Math.max(peakSession, h);
    }
    peakTotal = Math.max(peakTotal, total);
    TierStats t = cache.stats().tiers().get(0);
    long free = t.capacityPages() - t.usedPages();
    if (free >= FREE_FLOOR) {
      moments++;
      double r = (double) t.largestFreeRun() / free;
      minRatio = Double.isNaN(minRatio) ? r : Math.min(minRatio, r);
    }
  }

  private long movedPages;

  /**
   * The replay ended, the cache still open.
   *
   * @param moved the pages the cache moved within its tier to make runs
   */
  void ended(long moved) {
    movedPages = moved;
  }

  /**
   * The figures.
   *
   * @return the replay's branch statistics
   */
  ReferenceReplay.BranchStats stats() {
    return new ReferenceReplay.BranchStats(
        forks,
        discarded,
        cap,
        peakSession,
        peakTotal,
        FREE_FLOOR,
        moments,
        minRatio,
        freedPages,
        freedPages == 0 ? Double.NaN : (double) freedInWholeRuns / freedPages,
        movedPages);
  }
}
