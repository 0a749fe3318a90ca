package io.kvtier.core;

import io.kvtier.KvCache;
import io.kvtier.Lease;
import io.kvtier.Request;
import io.kvtier.bench.Prompts;
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
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Publishing a fresh 8K-token sequence (512 blocks) below a cached 4K-token prefix, in a cache that
 * holds 1M other blocks: kvtier's {@link Lease#commit()} (radix insert, block keys, page
 * references, evictor and events) against the vLLM-style baseline's hash-and-put of the same blocks
 * ({@code cache_full_blocks}).
 *
 * <p>Only the publication is timed. Each call's request is prepared per invocation: kvtier acquires
 * the prefix and allocates the 512 pages ({@code extend}); the baseline looks up and references the
 * prefix and pops 512 free blocks. Both free everything afterwards, so the cache stays full and
 * each preparation evicts the least recently used blocks, in both designs. A call lasts tens of
 * microseconds, so the per-invocation fixtures cost little beside it.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
    value = 1,
    jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xms4g", "-Xmx4g"})
public class InsertBench {
  static final int PREFIX_TOKENS = 4096;
  static final int NEW_TOKENS = 8192;
  static final int PREFIX_BLOCKS = PREFIX_TOKENS / Fixtures.TPB;
  static final int BLOCKS = (PREFIX_TOKENS + NEW_TOKENS) / Fixtures.TPB;

  /**
   * The request's tokens: the prefix, then a suffix made fresh for each call by its first token, a
   * counter beyond the vocabulary (every later block's chain differs from then on).
   */
  static int[] request() {
    int[] t = Prompts.random(0xCAFEL, PREFIX_TOKENS + NEW_TOKENS);
    t[PREFIX_TOKENS] = Prompts.VOCAB;
    return t;
  }

  @State(Scope.Benchmark)
  public static class Kvtier {
    KvCache cache;
    int[] tokens;
    Lease lease;

    @Setup(Level.Trial)
    public void setup() {
      cache = Fixtures.kvtier(Fixtures.PAGES);
      Fixtures.fill(cache, 8192);
      tokens = request();
      Fixtures.commit(cache, java.util.Arrays.copyOf(tokens, PREFIX_TOKENS));
    }

    @Setup(Level.Invocation)
    public void prepare() {
      tokens[PREFIX_TOKENS]++;
      lease = cache.acquire(Request.of(Fixtures.NS, tokens));
      if (lease.cachedTokens() != PREFIX_TOKENS) {
        throw new IllegalStateException("prefix not cached: " + lease.cachedTokens());
      }
      lease.extend();
    }

    @TearDown(Level.Invocation)
    public void release() {
      lease.close();
    }

    @TearDown(Level.Trial)
    public void close() {
      cache.close();
    }
  }

  public abstract static class Baseline {
    VllmStylePrefixCache cache;
    int[] tokens;
    Object[] hashes = new Object[BLOCKS];
    VllmStylePrefixCache.Block[] blocks = new VllmStylePrefixCache.Block[BLOCKS];

    abstract VllmStylePrefixCache.BlockHashFunction hasher();

    void build() {
      cache = Fixtures.vllm(hasher());
      tokens = request();
      cache.hashBlocks(tokens, 0, PREFIX_BLOCKS, hashes);
      cache.allocate(PREFIX_BLOCKS, blocks, 0);
      cache.cacheFullBlocks(blocks, 0, PREFIX_BLOCKS, hashes);
      cache.free(blocks, PREFIX_BLOCKS);
    }

    @Setup(Level.Invocation)
    public void prepare() {
      tokens[PREFIX_TOKENS]++;
      int hit = cache.findLongestCacheHit(hashes, PREFIX_BLOCKS, blocks);
      if (hit != PREFIX_BLOCKS) {
        throw new IllegalStateException("prefix not cached: " + hit);
      }
      cache.touch(blocks, hit);
      if (!cache.allocate(BLOCKS - hit, blocks, hit)) {
        throw new IllegalStateException("baseline pool is full");
      }
    }

    @TearDown(Level.Invocation)
    public void release() {
      cache.free(blocks, BLOCKS);
    }
  }

  @State(Scope.Benchmark)
  public static class Sha256 extends Baseline {
    @Override
    VllmStylePrefixCache.BlockHashFunction hasher() {
      return new Sha256BlockHash();
    }

    @Setup(Level.Trial)
    public void setup() {
      build();
    }
  }

  @State(Scope.Benchmark)
  public static class Murmur extends Baseline {
    @Override
    VllmStylePrefixCache.BlockHashFunction hasher() {
      return new MurmurBlockHash(Fixtures.TPB);
    }

    @Setup(Level.Trial)
    public void setup() {
      build();
    }
  }

  @Benchmark
  public void kvtierCommit(Kvtier s) {
    s.lease.commit();
  }

  @Benchmark
  public Object vllmSha256(Sha256 s) {
    return publish(s);
  }

  @Benchmark
  public Object vllmMurmur128(Murmur s) {
    return publish(s);
  }

  private static Object publish(Baseline s) {
    s.cache.hashBlocks(s.tokens, PREFIX_BLOCKS, BLOCKS, s.hashes);
    s.cache.cacheFullBlocks(s.blocks, PREFIX_BLOCKS, BLOCKS, s.hashes);
    return s.hashes[BLOCKS - 1];
  }
}
