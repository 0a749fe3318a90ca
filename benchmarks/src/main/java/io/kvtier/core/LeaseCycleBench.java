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
 * One request's whole life in the cache: its 4K-token prefix is cached, 512 new tokens follow.
 * kvtier: {@code acquire} (match, references, pin), {@code extend} (32 pages), {@code commit} (32
 * blocks into the index), {@code close}. The vLLM-style baseline: hash the request's 288 blocks,
 * probe until the first miss, reference the hits, pop 32 free blocks, publish them, free all 288.
 *
 * <p>The cache holds 1M other blocks and is full after the first few thousand calls, so from then
 * on every call also evicts 32 least recently used blocks, in both designs. Each call's new tokens
 * are fresh: the first of them is a counter beyond the vocabulary.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
    value = 1,
    jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xms4g", "-Xmx4g"})
public class LeaseCycleBench {
  static final int PREFIX_TOKENS = 4096;
  static final int NEW_TOKENS = 512;
  static final int PREFIX_BLOCKS = PREFIX_TOKENS / Fixtures.TPB;
  static final int BLOCKS = (PREFIX_TOKENS + NEW_TOKENS) / Fixtures.TPB;

  static int[] request() {
    int[] t = Prompts.random(0xBEEFL, PREFIX_TOKENS + NEW_TOKENS);
    t[PREFIX_TOKENS] = Prompts.VOCAB;
    return t;
  }

  @State(Scope.Benchmark)
  public static class Kvtier {
    KvCache cache;
    int[] tokens;

    @Setup(Level.Trial)
    public void setup() {
      cache = Fixtures.kvtier(Fixtures.PAGES);
      Fixtures.fill(cache, 8192);
      tokens = request();
      Fixtures.commit(cache, java.util.Arrays.copyOf(tokens, PREFIX_TOKENS));
      tokens[PREFIX_TOKENS]++;
      if (Fixtures.commit(cache, tokens) != PREFIX_TOKENS) {
        throw new IllegalStateException("prefix not cached");
      }
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
      if (cycle(this) != PREFIX_BLOCKS) {
        throw new IllegalStateException("prefix not cached");
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
  public int kvtier(Kvtier s) {
    s.tokens[PREFIX_TOKENS]++;
    try (Lease l = s.cache.acquire(Request.of(Fixtures.NS, s.tokens))) {
      l.extend();
      l.commit();
      return l.cachedTokens();
    }
  }

  @Benchmark
  public int vllmSha256(Sha256 s) {
    return cycle(s);
  }

  @Benchmark
  public int vllmMurmur128(Murmur s) {
    return cycle(s);
  }

  /** Hash the request, look up, reference, allocate, publish, free; returns the hit blocks. */
  static int cycle(Baseline s) {
    s.tokens[PREFIX_TOKENS]++;
    VllmStylePrefixCache c = s.cache;
    c.blockHashes(s.tokens, BLOCKS, s.hashes);
    int hit = c.findLongestCacheHit(s.hashes, BLOCKS, s.blocks);
    c.touch(s.blocks, hit);
    if (!c.allocate(BLOCKS - hit, s.blocks, hit)) {
      throw new IllegalStateException("baseline pool is full");
    }
    c.cacheFullBlocks(s.blocks, hit, BLOCKS, s.hashes);
    c.free(s.blocks, BLOCKS);
    return hit;
  }
}
