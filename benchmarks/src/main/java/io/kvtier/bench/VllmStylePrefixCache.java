package io.kvtier.bench;

import java.util.HashMap;
import java.util.Objects;

/**
 * The baseline of the prefix-cache benchmarks: a Java port of the design of vLLM's prefix cache,
 * written from its description (vLLM docs, "Automatic Prefix Caching" and the v1 {@code BlockPool}
 * / {@code FreeKVCacheBlockQueue} design notes), not from its code.
 *
 * <h2>How it works</h2>
 *
 * Every physical block is a {@link Block} object with a reference count and an optional block hash.
 * A block's hash is a chained hash of (parent block's hash, the block's token ids), so equal hashes
 * mean equal prefixes (up to collisions, which this design does not guard against). A {@link
 * HashMap} from block hash to block ({@code cached_block_hash_to_block}) holds every block whose
 * content is reusable. A lookup computes the request's block hashes ({@code request.block_hashes})
 * and probes the map block by block until the first miss ({@code find_longest_cache_hit}). Blocks
 * whose reference count is 0 sit in a doubly linked free queue ({@code FreeKVCacheBlockQueue}) in
 * LRU order: allocation pops the head and, if that block still has a hash, drops it from the map
 * (eviction is lazy: a free block stays reusable until it is handed out again); freeing appends to
 * the tail, a request's blocks in reverse order so that its last blocks are evicted first. Touching
 * a cached block with reference count 0 takes it out of the free queue.
 *
 * <p>The hash is pluggable ({@link BlockHashFunction}): vLLM's default is SHA-256 over a
 * serialization of (parent hash, token ids, extra keys); the benchmarks also run it with kvtier's
 * 128-bit block key, to separate the cost of the data structure from the cost of the hash.
 *
 * <p>Not thread-safe (vLLM's scheduler is single-threaded).
 */
public final class VllmStylePrefixCache {

  /** A chained block hash; hash objects must implement {@code equals} and {@code hashCode}. */
  public interface BlockHashFunction {
    /** The parent hash of a prompt's first block ({@code NONE_HASH}). */
    Object root();

    /**
     * The hash of the block {@code tokens[off .. off + len)} whose parent block hashes to {@code
     * parent}.
     */
    Object hash(Object parent, int[] tokens, int off, int len);
  }

  /** A physical KV block ({@code KVCacheBlock}). */
  public static final class Block {
    final int blockId;
    int refCnt;
    Object blockHash;
    Block prevFree;
    Block nextFree;

    Block(int blockId) {
      this.blockId = blockId;
    }

    public int blockId() {
      return blockId;
    }
  }

  private final BlockHashFunction hasher;
  private final int blockSize;
  private final Block[] blocks;
  private final HashMap<Object, Block> cachedBlockHashToBlock;
  private final Block freeHead = new Block(-1);
  private final Block freeTail = new Block(-1);
  private int numFree;
  private Object[] scratch = new Object[0];

  /**
   * A pool of {@code numBlocks} free blocks.
   *
   * @param numBlocks physical blocks
   * @param blockSize tokens per block
   * @param hasher the block hash
   */
  public VllmStylePrefixCache(int numBlocks, int blockSize, BlockHashFunction hasher) {
    this.hasher = Objects.requireNonNull(hasher, "hasher");
    this.blockSize = blockSize;
    this.blocks = new Block[numBlocks];
    this.cachedBlockHashToBlock = HashMap.newHashMap(numBlocks);
    freeHead.nextFree = freeTail;
    freeTail.prevFree = freeHead;
    for (int i = 0; i < numBlocks; i++) {
      blocks[i] = new Block(i);
      appendFree(blocks[i]);
    }
  }

  public int blockSize() {
    return blockSize;
  }

  public int cachedBlocks() {
    return cachedBlockHashToBlock.size();
  }

  public int freeBlocks() {
    return numFree;
  }

  public BlockHashFunction hasher() {
    return hasher;
  }

  // ------------------------------------------------------------------ hashing and lookup

  /**
   * Hashes the first {@code nBlocks} full blocks of {@code tokens} into {@code out} (the request's
   * {@code block_hashes}, computed once per request).
   */
  public void blockHashes(int[] tokens, int nBlocks, Object[] out) {
    Object parent = hasher.root();
    for (int i = 0; i < nBlocks; i++) {
      parent = hasher.hash(parent, tokens, i * blockSize, blockSize);
      out[i] = parent;
    }
  }

  /**
   * Longest cached prefix of {@code tokens[0 .. nTokens)}, as vLLM finds it: the request's block
   * hashes are computed first, for every full block, then the map is probed block by block until
   * the first miss. Writes the hit blocks to {@code out} (if not null); returns their count.
   */
  public int findLongestCacheHit(int[] tokens, int nTokens, Block[] out) {
    int maxBlocks = nTokens / blockSize;
    if (scratch.length < maxBlocks) {
      scratch = new Object[maxBlocks];
    }
    blockHashes(tokens, maxBlocks, scratch);
    return findLongestCacheHit(scratch, maxBlocks, out);
  }

  /**
   * The same answer with hashing and probing fused in one loop (hash a block, probe it, stop at the
   * first miss). Slower on a large map although it does no more work: each probe is a cache miss
   * that depends on a hash chain, so the processor cannot overlap the misses as it does when the
   * probes run back to back.
   */
  public int findLongestCacheHitFused(int[] tokens, int nTokens, Block[] out) {
    int maxBlocks = nTokens / blockSize;
    Object parent = hasher.root();
    for (int i = 0; i < maxBlocks; i++) {
      parent = hasher.hash(parent, tokens, i * blockSize, blockSize);
      Block b = cachedBlockHashToBlock.get(parent);
      if (b == null) {
        return i;
      }
      if (out != null) {
        out[i] = b;
      }
    }
    return maxBlocks;
  }

  /** Longest cached prefix given the request's precomputed block hashes. */
  public int findLongestCacheHit(Object[] hashes, int nBlocks, Block[] out) {
    for (int i = 0; i < nBlocks; i++) {
      Block b = cachedBlockHashToBlock.get(hashes[i]);
      if (b == null) {
        return i;
      }
      if (out != null) {
        out[i] = b;
      }
    }
    return nBlocks;
  }

  // ------------------------------------------------------------------ reference counting

  /** Takes a reference on each hit block, removing free ones from the free queue. */
  public void touch(Block[] hit, int n) {
    for (int i = 0; i < n; i++) {
      Block b = hit[i];
      if (b.refCnt == 0) {
        removeFree(b);
      }
      b.refCnt++;
    }
  }

  /**
   * Pops {@code n} blocks from the head of the free queue into {@code out[off ..]}, evicting their
   * cached hashes. Returns false (allocating nothing) if fewer than {@code n} are free.
   */
  public boolean allocate(int n, Block[] out, int off) {
    if (n > numFree) {
      return false;
    }
    for (int i = 0; i < n; i++) {
      out[off + i] = allocateOne();
    }
    return true;
  }

  /** Pops one block from the head of the free queue, or returns null if none is free. */
  public Block allocateOne() {
    Block b = freeHead.nextFree;
    if (b == freeTail) {
      return null;
    }
    removeFree(b);
    if (b.blockHash != null) {
      cachedBlockHashToBlock.remove(b.blockHash, b);
      b.blockHash = null;
    }
    b.refCnt = 1;
    return b;
  }

  /** Drops one reference; a block whose count reaches 0 goes to the tail of the free queue. */
  public void freeOne(Block b) {
    if (--b.refCnt == 0) {
      appendFree(b);
    }
  }

  /** Frees a request's blocks, last block first, so its tail is evicted before its head. */
  public void free(Block[] req, int n) {
    for (int i = n - 1; i >= 0; i--) {
      freeOne(req[i]);
    }
  }

  /**
   * Publishes full blocks {@code [from, to)} of a request whose block hashes are {@code hashes}
   * ({@code cache_full_blocks}).
   */
  public void cacheFullBlocks(Block[] req, int from, int to, Object[] hashes) {
    for (int i = from; i < to; i++) {
      Block b = req[i];
      if (b.blockHash != null) {
        continue;
      }
      b.blockHash = hashes[i];
      cachedBlockHashToBlock.putIfAbsent(hashes[i], b);
    }
  }

  /** Hashes blocks {@code [from, to)} of {@code tokens} from the hash of block {@code from - 1}. */
  public void hashBlocks(int[] tokens, int from, int to, Object[] hashes) {
    Object parent = from == 0 ? hasher.root() : hashes[from - 1];
    for (int i = from; i < to; i++) {
      parent = hasher.hash(parent, tokens, i * blockSize, blockSize);
      hashes[i] = parent;
    }
  }

  private void appendFree(Block b) {
    Block last = freeTail.prevFree;
    last.nextFree = b;
    b.prevFree = last;
    b.nextFree = freeTail;
    freeTail.prevFree = b;
    numFree++;
  }

  private void removeFree(Block b) {
    b.prevFree.nextFree = b.nextFree;
    b.nextFree.prevFree = b.prevFree;
    b.prevFree = null;
    b.nextFree = null;
    numFree--;
  }
}
