package io.kvtier.core;

import io.kvtier.KvCache;
import io.kvtier.bench.Sha256BlockHash;
import io.kvtier.bench.VllmStylePrefixCache;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Longest-prefix match of a fully cached 128K-token prompt (8,192 blocks of 16 tokens) among 1M
 * cached blocks (128 such prompts), in kvtier and in the vLLM-style baseline with SHA-256 block
 * hashes (vLLM's default) and with kvtier's 128-bit block key.
 *
 * <p>kvtier is filled through the public API; {@code segmentBlocks} says how the prompts were
 * committed: in one turn (each prompt is one radix edge) or in turns of 256 blocks interleaved
 * across the prompts (32 edges per prompt, ids not contiguous). The baseline's map is flat, so its
 * shape does not depend on that.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
    value = 1,
    jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xms4g", "-Xmx4g"})
public class PrefixMatchBench {

  /**
   * Which prompt each call looks up: always the same one ({@code false}; its data stays in the CPU
   * caches), or the next of the 128 in turn ({@code true}; each call finds its path colder).
   */
  @State(Scope.Benchmark)
  public static class Target {
    @Param({"false", "true"})
    public boolean rotate;

    int[][] prompts;
    int[][] copies;
    int next;

    @Setup(Level.Trial)
    public void setup() {
      prompts = new int[rotate ? Fixtures.PROMPTS : 1][];
      copies = new int[prompts.length][];
      for (int i = 0; i < prompts.length; i++) {
        prompts[i] = Fixtures.prompt(i);
        copies[i] = prompts[i].clone();
      }
    }

    int index() {
      int i = next;
      next = i + 1 == prompts.length ? 0 : i + 1;
      return i;
    }
  }

  @State(Scope.Benchmark)
  public static class Kvtier {
    @Param({"8192", "256"})
    public int segmentBlocks;

    KvCache cache;
    KvCacheImpl impl;
    int root;
    int[] out;

    @Setup(Level.Trial)
    public void setup(Target t) {
      cache = Fixtures.kvtier(Fixtures.PAGES);
      Fixtures.fill(cache, segmentBlocks);
      impl = Fixtures.impl(cache);
      root = impl.index.existingRoot(Fixtures.NS, 0);
      out = new int[Fixtures.PROMPT_TOKENS / Fixtures.TPB];
      for (int[] prompt : t.prompts) {
        int hit = cache.probeTokens(Fixtures.NS, prompt, 0);
        if (hit != prompt.length || impl.index.liveBlocks() != Fixtures.PROMPTS * out.length) {
          throw new IllegalStateException(
              "expected a full hit among 1M blocks, got " + hit + " / " + impl.index.liveBlocks());
        }
      }
    }

    @TearDown(Level.Trial)
    public void close() {
      cache.close();
    }
  }

  /** The baseline's state; the hash is chosen by the subclass. */
  public abstract static class Baseline {
    VllmStylePrefixCache cache;
    Object[][] hashes;
    VllmStylePrefixCache.Block[] out;

    abstract VllmStylePrefixCache.BlockHashFunction hasher();

    void build(Target t) {
      cache = Fixtures.vllm(hasher());
      int n = Fixtures.PROMPT_TOKENS / Fixtures.TPB;
      out = new VllmStylePrefixCache.Block[n];
      hashes = new Object[t.prompts.length][];
      for (int i = 0; i < t.prompts.length; i++) {
        hashes[i] = new Object[n];
        cache.blockHashes(t.prompts[i], n, hashes[i]);
        if (cache.findLongestCacheHit(t.prompts[i], t.prompts[i].length, out) != n
            || cache.cachedBlocks() != Fixtures.PROMPTS * n) {
          throw new IllegalStateException("expected a full hit among 1M blocks");
        }
      }
    }
  }

  @State(Scope.Benchmark)
  public static class Sha256 extends Baseline {
    @Override
    VllmStylePrefixCache.BlockHashFunction hasher() {
      return new Sha256BlockHash();
    }

    @Setup(Level.Trial)
    public void setup(Target t) {
      build(t);
    }
  }

  @State(Scope.Benchmark)
  public static class Murmur extends Baseline {
    @Override
    VllmStylePrefixCache.BlockHashFunction hasher() {
      return new MurmurBlockHash(Fixtures.TPB);
    }

    @Setup(Level.Trial)
    public void setup(Target t) {
      build(t);
    }
  }

  /**
   * The physical floor of kvtier's match: one {@link java.util.Arrays#mismatch(int[], int[])} of
   * the prompt against an equal copy (512 KB each), read from wherever the CPU caches left them.
   */
  @Benchmark
  public int floorMismatch(Target t) {
    int i = t.index();
    return java.util.Arrays.mismatch(t.prompts[i], t.copies[i]);
  }

  /** Through the public API: lock, namespace check, root lookup, match. */
  @Benchmark
  public int kvtierProbeTokens(Target t, Kvtier s) {
    int[] prompt = t.prompts[t.index()];
    return s.cache.probeTokens(Fixtures.NS, prompt, 0);
  }

  /** The index alone, writing matched block ids as {@code acquire} does. */
  @Benchmark
  public int kvtierIndexMatch(Target t, Kvtier s) {
    int[] prompt = t.prompts[t.index()];
    return s.impl.index.match(s.root, prompt, prompt.length, s.out);
  }

  /** vLLM's default: SHA-256 of every block, then probes of the map until the first miss. */
  @Benchmark
  public int vllmSha256(Target t, Sha256 s) {
    int[] prompt = t.prompts[t.index()];
    return s.cache.findLongestCacheHit(prompt, prompt.length, s.out);
  }

  /** The same map with kvtier's 128-bit block key as the hash. */
  @Benchmark
  public int vllmMurmur128(Target t, Murmur s) {
    int[] prompt = t.prompts[t.index()];
    return s.cache.findLongestCacheHit(prompt, prompt.length, s.out);
  }

  /** As {@link #vllmMurmur128} with hashing and probing fused in one loop. */
  @Benchmark
  public int vllmMurmur128Fused(Target t, Murmur s) {
    int[] prompt = t.prompts[t.index()];
    return s.cache.findLongestCacheHitFused(prompt, prompt.length, s.out);
  }

  /**
   * The map probes alone, with the request's block hashes computed beforehand (vLLM computes them
   * once per request as tokens arrive, so a scheduler's lookup may find them ready).
   */
  @Benchmark
  public int vllmMurmur128ProbeOnly(Target t, Murmur s) {
    Object[] h = s.hashes[t.index()];
    return s.cache.findLongestCacheHit(h, h.length, s.out);
  }
}
