package io.kvtier.core;

import io.kvtier.DramTier;
import io.kvtier.KvCache;
import io.kvtier.KvLayout;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.Request;
import io.kvtier.bench.Prompts;
import io.kvtier.bench.VllmStylePrefixCache;
import java.util.Arrays;

/** Caches filled the same way for kvtier and for the vLLM-style baseline. */
final class Fixtures {
  static final int TPB = 16;
  static final int PAGE_BYTES = 64;
  static final KvLayout LAYOUT = KvLayout.ofPageBytes(TPB, PAGE_BYTES);
  static final Namespace NS = Namespace.of("bench-model", LAYOUT);

  /** 128K tokens: 8,192 blocks. */
  static final int PROMPT_TOKENS = 128 * 1024;

  /** 128 prompts of 8,192 blocks: 1,048,576 cached blocks. */
  static final int PROMPTS = 128;

  /** Tier capacity of the 1M-block caches: about 1.1M pages of 64 bytes (70 MB). */
  static final int PAGES = 1_150_000;

  private Fixtures() {}

  static int[] prompt(int i) {
    return Prompts.random(0x5EED_0000L + i, PROMPT_TOKENS);
  }

  static KvCache kvtier(int pages) {
    return KvCache.builder()
        .layout(LAYOUT)
        .tier(DramTier.offHeap((long) pages * PAGE_BYTES))
        .build();
  }

  /** Runs one request: acquire, allocate pages for the uncached rest, commit, close. */
  static int commit(KvCache cache, int[] tokens) {
    try (Lease l = cache.acquire(Request.of(NS, tokens))) {
      int cached = l.cachedTokens();
      l.extend();
      l.commit();
      return cached;
    }
  }

  /**
   * Commits {@code PROMPTS} random 128K-token prompts (prompt {@code i} from {@link #prompt(int)}),
   * each in turns of {@code segmentBlocks} blocks taken round-robin across the prompts, as
   * interleaved multi-turn conversations grow. One turn per prompt ({@code segmentBlocks} = 8,192)
   * puts each prompt on one edge of the radix tree; shorter turns split it into {@code 8192 /
   * segmentBlocks} edges whose block ids are not contiguous.
   */
  static void fill(KvCache cache, int segmentBlocks) {
    int segTokens = segmentBlocks * TPB;
    int turns = PROMPT_TOKENS / segTokens;
    if (turns == 1) {
      for (int p = 0; p < PROMPTS; p++) {
        commit(cache, prompt(p));
      }
      return;
    }
    int[][] prompts = new int[PROMPTS][];
    for (int p = 0; p < PROMPTS; p++) {
      prompts[p] = prompt(p);
    }
    for (int t = 1; t <= turns; t++) {
      for (int p = 0; p < PROMPTS; p++) {
        commit(cache, Arrays.copyOf(prompts[p], t * segTokens));
      }
    }
  }

  /** The same prompts in a vLLM-style cache: allocate, hash, publish, free, per prompt. */
  static VllmStylePrefixCache vllm(VllmStylePrefixCache.BlockHashFunction hasher) {
    VllmStylePrefixCache c = new VllmStylePrefixCache(PAGES, TPB, hasher);
    int n = PROMPT_TOKENS / TPB;
    VllmStylePrefixCache.Block[] blocks = new VllmStylePrefixCache.Block[n];
    Object[] hashes = new Object[n];
    for (int p = 0; p < PROMPTS; p++) {
      int[] tok = prompt(p);
      if (!c.allocate(n, blocks, 0)) {
        throw new IllegalStateException("baseline pool is full");
      }
      c.hashBlocks(tok, 0, n, hashes);
      c.cacheFullBlocks(blocks, 0, n, hashes);
      c.free(blocks, n);
    }
    return c;
  }

  static KvCacheImpl impl(KvCache cache) {
    return (KvCacheImpl) cache;
  }
}
