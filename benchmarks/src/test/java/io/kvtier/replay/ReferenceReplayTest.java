package io.kvtier.replay;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The reference mode on hand-made traces with known answers, and against a naive LRU. */
class ReferenceReplayTest {

  /** Requests of one-token blocks: hit tokens are hit blocks. */
  private static Trace trace(long[]... requests) {
    List<TraceRequest> rs = new ArrayList<>();
    for (int i = 0; i < requests.length; i++) {
      rs.add(TraceRequest.plain(i * 1000L, requests[i].length, 1, 1, requests[i]));
    }
    return Trace.of("hand-made", rs);
  }

  private static long hits(Trace t, String policy, long capacity) {
    ReferenceReplay.Result r =
        new ReferenceReplay(t).run(policy, capacity, 0, ReferenceReplay.Progress.NONE);
    assertThat(r.hitTokens()).isEqualTo(r.hitBlocks());
    return r.hitBlocks();
  }

  @Test
  void cyclicAccess_lruHitsNothing_beladyKeepsWhatComesBackFirst() {
    // A B C A B C in two slots: LRU always evicts what comes next; Belady hits A, then C.
    Trace t =
        trace(
            new long[] {1},
            new long[] {2},
            new long[] {3},
            new long[] {1},
            new long[] {2},
            new long[] {3});
    assertThat(hits(t, "lru", 2)).isZero();
    assertThat(hits(t, "default", 2)).isZero();
    assertThat(hits(t, "belady", 2)).isEqualTo(2);
  }

  @Test
  void prefixTree_evictionIsLeafFirst_andBeladyLooksAhead() {
    // [1,2] [3,4] [5,6] [1,2] [3,4] with 4 blocks of room.
    // LRU evicts 2 then 1 for [5,6], 4 then 3 for [1,2], 6 then 5 for [3,4]: no hit at all.
    // Belady evicts the chain used last (4, then its parent 3), so [1,2] hits both blocks.
    Trace t =
        trace(
            new long[] {1, 2},
            new long[] {3, 4},
            new long[] {5, 6},
            new long[] {1, 2},
            new long[] {3, 4});
    assertThat(hits(t, "lru", 4)).isZero();
    assertThat(hits(t, "belady", 4)).isEqualTo(2);
    // with room for everything every policy hits the two repeats fully
    for (String p : List.of("lru", "s3fifo", "tinylfu", "arc", "priority-lru", "belady")) {
      assertThat(hits(t, p, 6)).as(p).isEqualTo(4);
    }
  }

  @Test
  void sharedPrefix_survivesAsAnInteriorBlock() {
    // every request shares block 0; leaf-only eviction never takes it while it has children
    Trace t =
        trace(
            new long[] {0, 1},
            new long[] {0, 2},
            new long[] {0, 3},
            new long[] {0, 4},
            new long[] {0, 5});
    assertThat(hits(t, "lru", 2)).isEqualTo(4);
    assertThat(hits(t, "s3fifo", 2)).isEqualTo(4);
  }

  @Test
  void tokenHitRate_capsAtInputLength_forAPartialLastBlock() {
    List<TraceRequest> rs =
        List.of(
            TraceRequest.plain(0, 1000, 1, 512, new long[] {7, 8}),
            TraceRequest.plain(1, 1000, 1, 512, new long[] {7, 8}));
    ReferenceReplay.Result r =
        new ReferenceReplay(Trace.of("partial", rs)).run("lru", 1.0, ReferenceReplay.Progress.NONE);
    assertThat(r.hitBlocks()).isEqualTo(2);
    assertThat(r.hitTokens()).isEqualTo(1000);
    assertThat(r.tokenHitRate()).isEqualTo(0.5);
  }

  @Test
  void requestLargerThanTheTier_cachesWhatFits() {
    Trace t = trace(new long[] {1, 2, 3, 4, 5}, new long[] {1, 2, 3, 4, 5});
    ReferenceReplay.Result r =
        new ReferenceReplay(t).run("lru", 3, 0, ReferenceReplay.Progress.NONE);
    assertThat(r.overflowRequests()).isEqualTo(2);
    assertThat(r.hitBlocks()).isEqualTo(3);
  }

  static Trace mooncakeSample(int requests) {
    Path p = Path.of("..", "traces", "mooncake-fast25", "conversation_trace_sample.jsonl");
    return TraceFormat.MOONCAKE.read(List.of(p), new TraceFormat.Options(0, 1, 0, requests));
  }

  @Test
  void lru_matchesANaiveLeafOnlyLruSimulator_onRealTraffic() {
    Trace t = mooncakeSample(1500);
    for (double f : new double[] {0.02, 0.1}) {
      ReferenceReplay replay = new ReferenceReplay(t);
      long cap = replay.capacityBlocks(f);
      ReferenceReplay.Result r = replay.run("lru", cap, f, ReferenceReplay.Progress.NONE);
      assertThat(r.hitBlocks()).as("F = %s", f).isEqualTo(naiveLru(t, cap));
    }
  }

  @Test
  void belady_isAtLeastAsGoodAsEveryPolicy_onRealTraffic() {
    Trace t = mooncakeSample(1500);
    ReferenceReplay replay = new ReferenceReplay(t);
    for (double f : new double[] {0.01, 0.05}) {
      double belady = replay.run("belady", f, ReferenceReplay.Progress.NONE).tokenHitRate();
      for (String p : List.of("lru", "s3fifo", "tinylfu", "arc", "priority-lru", "default")) {
        assertThat(replay.run(p, f, ReferenceReplay.Progress.NONE).tokenHitRate())
            .as("%s at %s", p, f)
            .isLessThanOrEqualTo(belady);
      }
    }
  }

  @Test
  void sameTraceSamePolicy_sameNumbers() {
    Trace t = mooncakeSample(800);
    for (String p : List.of("s3fifo", "tinylfu", "arc", "belady")) {
      ReferenceReplay.Result a = new ReferenceReplay(t).run(p, 0.05, ReferenceReplay.Progress.NONE);
      ReferenceReplay.Result b = new ReferenceReplay(t).run(p, 0.05, ReferenceReplay.Progress.NONE);
      assertThat(b.hitTokens()).as(p).isEqualTo(a.hitTokens());
      assertThat(b.evictedBlocks()).as(p).isEqualTo(a.evictedBlocks());
    }
  }

  /**
   * Leaf-only LRU from first principles, O(capacity) per eviction: a block's recency is the request
   * that last touched it (ties, within one request's chain, to the deeper block); a block is
   * evictable when no cached block has it as parent and it is not on the current request's matched
   * path; the request's new blocks are all allocated before any is inserted.
   */
  static long naiveLru(Trace t, long capacity) {
    Map<Integer, long[]> cached = new HashMap<>(); // id -> {lastRequest, depth}
    Map<Integer, Integer> parent = new HashMap<>();
    Map<Integer, Integer> children = new HashMap<>();
    long hits = 0;
    for (int i = 0; i < t.size(); i++) {
      int[] b = t.blocks(i);
      int m = 0;
      while (m < b.length && cached.containsKey(b[m])) {
        m++;
      }
      hits += m;
      for (int k = 0; k < m; k++) {
        cached.get(b[k])[0] = i;
      }
      int need = b.length - m;
      while (need > 0 && cached.size() + need > capacity) {
        int victim = -1;
        long[] best = null;
        for (Map.Entry<Integer, long[]> e : cached.entrySet()) {
          int id = e.getKey();
          if (children.getOrDefault(id, 0) > 0 || (m > 0 && id == b[m - 1])) {
            continue;
          }
          long[] v = e.getValue();
          if (best == null || v[0] < best[0] || (v[0] == best[0] && v[1] > best[1])) {
            best = v;
            victim = id;
          }
        }
        if (victim < 0) {
          need = (int) Math.max(0, capacity - cached.size());
          break;
        }
        cached.remove(victim);
        Integer p = parent.remove(victim);
        if (p != null) {
          children.merge(p, -1, Integer::sum);
        }
      }
      for (int k = m; k < m + need; k++) {
        cached.put(b[k], new long[] {i, k + 1});
        if (k > 0) {
          parent.put(b[k], b[k - 1]);
          children.merge(b[k - 1], 1, Integer::sum);
        }
      }
    }
    return hits;
  }
}
