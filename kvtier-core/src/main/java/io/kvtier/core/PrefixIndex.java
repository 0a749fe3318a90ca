package io.kvtier.core;

import io.kvtier.Namespace;
import io.kvtier.PauseKind;
import io.kvtier.Request;
import io.kvtier.spi.BlockView;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The radix tree of cached blocks, for every namespace, in primitive arrays.
 *
 * <h2>Structure</h2>
 *
 * A block is an {@code int} id; its attributes live in parallel arrays indexed by id (struct of
 * arrays: no object per block). Blocks form a tree per root, a root being one (namespace, tenant
 * salt) pair; roots are named by negative codes ({@code -2 - r}) wherever a parent id is expected.
 * Chains of blocks are compressed into <em>edges</em>: an edge is a run of consecutive ids {@code
 * [head, head + edgeLen)}, each block the parent of the next, and the token ids of block {@code b}
 * sit at {@code tokens[b * T .. (b + 1) * T)}. So a prefix inserted as one run is one edge, its
 * tokens are contiguous, and matching it is one vectorised {@link Arrays#mismatch(int[], int, int,
 * int[], int, int)} over the request's tokens: no hashing and no random access per block. Ids are
 * taken from an {@link IdAllocator} with the previous id + 1 as hint, which keeps runs contiguous.
 *
 * <pre>
 *   root ──child table──▶ edge [h .. h+n)  ──child table──▶ edge [h2 .. h2+m)
 *                          link[h] = parent           link[b] = h for the other blocks of the edge
 *                          edgeLen[h] = n             children[tail] = edges hanging off the tail
 * </pre>
 *
 * Children hang only off an edge's last block; inserting a path that diverges inside an edge splits
 * it. The {@link ChildTable} maps (parent, 64-bit hash of the child's first block of tokens) to the
 * child edge, so a branching point costs one hash of {@code T} tokens, and a hash collision can
 * only cause a miss (the tokens are always compared), never a wrong match.
 *
 * <h2>Eviction</h2>
 *
 * Leaf-first: a block is evictable when it is the last block of its edge, has no children and no
 * pins. A lease or session pins only the deepest block of its path: every ancestor has a descendant
 * and so is not a leaf. Changes of evictability are reported to a {@link Listener} exactly once per
 * change, which feeds the tier's evictor.
 *
 * <h2>Memory</h2>
 *
 * Per block: keys 16 B, link/edgeLen/children/pins/depth/slot 24 B, last access 8 B, hits 4 B,
 * flags and priority 2 B, plus this block's share of the child table (20 B per edge at load &le;
 * 0.5, so about 40 B per edge, not per block) and of the allocator (12 B). {@link
 * #metadataBytesPerBlock()} reports it from the arrays' sizes.
 *
 * <h2>Concurrency</h2>
 *
 * Not thread-safe: the cache calls it under its metadata lock. {@link #match} does not allocate.
 */
final class PrefixIndex implements BlockView {

  /** Evictability and liveness changes, reported to the cache. */
  interface Listener {
    void evictableChanged(int block, int tier, boolean evictable);

    void blockCreated(int block, int position);

    void deadChanged(int block);
  }

  static final int NONE = -1;

  private static final byte F_HEAD = 1;
  private static final byte F_DEAD = 2;
  private static final byte F_LIVE = 4;

  /** Has had {@link #HUB_CHILDREN} children at once: many conversations branch from it. */
  private static final byte F_HUB = (byte) 0x80; // bits 3-6 are the copy bits

  private static final int HUB_CHILDREN = 3;

  /** Copy bits: bit {@code COPY_SHIFT + t} of {@code flags} is set when tier t holds a copy. */
  private static final int COPY_SHIFT = 3;

  /** Maximum tiers the index tracks (copy bits in flags, evictable and busy bits in state). */
  static final int MAX_TIERS = 4;

  private final int tpb;
  private final int capacity;
  private final int[] tokens;
  private final long[] keyHi;
  private final long[] keyLo;
  private final int[] link;
  private final int[] edgeLen;
  private final int[] children;
  private final char[] pins;
  private final char[] hits;
  private final int tiers;
  private final int[][] slots;
  private final int[][] tierKids;

  /** Last access in milliseconds since {@link #epochNanos}: 4 bytes instead of 8 per block. */
  private final int[] lastAccess;

  private long epochNanos;
  private final byte[] flags;
  private final byte[] state;
  private final byte[] priority;

  /**
   * Agent hints per block: bits 0-3 the conversation turn of the request that last used it (1 to
   * 15), bits 4-5 the pause kind of its session (0 none, else {@code PauseKind.ordinal() + 1}).
   */
  private final byte[] hint;

  /** The expected pause in milliseconds while {@link #hint} says paused. */
  private final int[] pauseMillis;

  /**
   * The turn that {@link #touch}, {@link #insert} and reuse record: the cache sets it first; an
   * insert raises it when it re-creates a block it remembers.
   */
  int currentTurn = 1;

  /**
   * The turns of blocks that left the index, so that a conversation whose blocks were evicted is
   * still known for how long it has gone on when it comes back: direct-mapped by fingerprint, each
   * entry the fingerprint's high 26 bits and the block's hint byte (turn and pause kind) in the low
   * 6 (0: empty). Two entries per block of capacity at most; a collision overwrites, and a false
   * match only changes a policy's credit.
   */
  private final int[] turnMemory;

  /** Per block: the turn it had when it last left the index, if remembered at creation; else 0. */
  private final byte[] returned;

  private final TierView[] views;
  private final IdAllocator ids;
  private final ChildTable childTable;
  private final io.kvtier.Ticker ticker;
  private Listener listener;

  private final Map<RootKey, Integer> roots = new HashMap<>();
  private final List<Namespace> rootNs = new ArrayList<>();
  private long[] rootKeyHi = new long[8];
  private long[] rootKeyLo = new long[8];
  private int[] rootChildren = new int[8];
  private int liveBlocks;

  private final long[] key2 = new long[2];

  private record RootKey(Namespace ns, long salt) {}

  PrefixIndex(int tokensPerBlock, int capacityBlocks, int tiers, io.kvtier.Ticker ticker) {
    if (tiers < 1 || tiers > MAX_TIERS) {
      throw new IllegalArgumentException(
          "1 to " + MAX_TIERS + " tiers are supported, got " + tiers);
    }
    if ((long) tokensPerBlock * capacityBlocks > Integer.MAX_VALUE - 16) {
      throw new IllegalArgumentException(
          "index of "
              + capacityBlocks
              + " blocks of "
              + tokensPerBlock
              + " tokens exceeds 2^31 token ids: use fewer, larger pages");
    }
    this.tpb = tokensPerBlock;
    this.capacity = capacityBlocks;
    this.tokens = new int[tokensPerBlock * capacityBlocks];
    this.keyHi = new long[capacityBlocks];
    this.keyLo = new long[capacityBlocks];
    this.link = new int[capacityBlocks];
    this.edgeLen = new int[capacityBlocks];
    this.children = new int[capacityBlocks];
    this.pins = new char[capacityBlocks];
    this.hits = new char[capacityBlocks];
    this.tiers = tiers;
    this.slots = new int[tiers][capacityBlocks];
    this.tierKids = tiers == 1 ? null : new int[tiers][capacityBlocks];
    this.lastAccess = new int[capacityBlocks];
    this.hint = new byte[capacityBlocks];
    this.returned = new byte[capacityBlocks];
    this.turnMemory = new int[Integer.highestOneBit(Math.max(2, capacityBlocks)) << 1];
    this.pauseMillis = new int[capacityBlocks];
    this.epochNanos = ticker.read();
    this.flags = new byte[capacityBlocks];
    this.state = new byte[capacityBlocks];
    this.priority = new byte[capacityBlocks];
    this.views = new TierView[tiers];
    for (int t = 0; t < tiers; t++) {
      views[t] = new TierView(t);
    }
    this.ids = new IdAllocator(capacityBlocks);
    this.childTable = new ChildTable(Math.min(capacityBlocks, 1 << 16));
    this.ticker = ticker;
  }

  void listener(Listener l) {
    this.listener = l;
  }

  int tokensPerBlock() {
    return tpb;
  }

  int capacity() {
    return capacity;
  }

  int liveBlocks() {
    return liveBlocks;
  }

  // ---------------------------------------------------------------- roots

  /** The root code of (namespace, salt), created on first use. */
  int root(Namespace ns, long salt) {
    Integer r = roots.get(new RootKey(ns, salt));
    if (r != null) {
      return r;
    }
    int idx = rootNs.size();
    if (idx == rootKeyHi.length) {
      rootKeyHi = Arrays.copyOf(rootKeyHi, idx * 2);
      rootKeyLo = Arrays.copyOf(rootKeyLo, idx * 2);
      rootChildren = Arrays.copyOf(rootChildren, idx * 2);
    }
    BlockHasher.rootKey(ns.model(), ns.adapter(), tpb, salt, key2);
    rootKeyHi[idx] = key2[0];
    rootKeyLo[idx] = key2[1];
    rootNs.add(ns);
    int code = -2 - idx;
    roots.put(new RootKey(ns, salt), code);
    return code;
  }

  /** The root code of (namespace, salt), or {@link #NONE} when it has never been used. */
  int existingRoot(Namespace ns, long salt) {
    Integer r = roots.get(new RootKey(ns, salt));
    return r == null ? NONE : r;
  }

  static boolean isRoot(int node) {
    return node <= -2;
  }

  private static int rootIndex(int code) {
    return -2 - code;
  }

  // ---------------------------------------------------------------- lookup

  /**
   * Longest match of {@code tok[0 .. nTokens)} below {@code root}, in whole blocks. Writes the
   * matched block ids to {@code out} when it is not null (it must hold {@code nTokens / T}).
   * Allocation-free.
   */
  int match(int root, int[] tok, int nTokens, int[] out) {
    int maxBlocks = nTokens / tpb;
    int parent = root;
    int nb = 0;
    while (nb < maxBlocks) {
      int pos = nb * tpb;
      int child = childTable.get(parent, BlockHasher.tokenHash64(tok, pos, tpb));
      if (child == ChildTable.EMPTY) {
        break;
      }
      int len = edgeLen[child];
      int avail = Math.min(len, maxBlocks - nb);
      int base = child * tpb;
      int mm = Arrays.mismatch(tokens, base, base + avail * tpb, tok, pos, pos + avail * tpb);
      int full = mm < 0 ? avail : mm / tpb;
      if (out != null) {
        for (int i = 0; i < full; i++) {
          out[nb + i] = child + i;
        }
      }
      nb += full;
      if (full < len) {
        break;
      }
      parent = child + len - 1;
    }
    return nb;
  }

  /**
   * Marks the blocks used now without counting a hit (a queued request's prefix, see {@link
   * io.kvtier.KvCache#prefetch}): only their last access changes.
   */
  void refresh(int[] blocks, int n, long now) {
    for (int i = 0; i < n; i++) {
      lastAccess[blocks[i]] = millis(now);
    }
  }

  /** Records a hit on each of the blocks (last access, hit count, resurrects dead blocks). */
  void touch(int[] blocks, int n, long now) {
    for (int i = 0; i < n; i++) {
      int b = blocks[i];
      lastAccess[b] = millis(now);
      hint[b] = (byte) currentTurn;
      if (hits[b] != Character.MAX_VALUE) {
        hits[b]++;
      }
      if ((flags[b] & F_DEAD) != 0) {
        flags[b] &= ~F_DEAD;
        listener.deadChanged(b);
      }
    }
  }

  // ---------------------------------------------------------------- insert

  /**
   * Publishes blocks {@code [fromBlock, fromBlock + nBlocks)} of {@code tok} below {@code parent}
   * (the block holding position {@code fromBlock - 1}, or a root when {@code fromBlock} is 0).
   * Existing blocks with the same tokens are reused; the listener hears {@code blockCreated(id,
   * position)} for each new one and must set its page slot. Fills {@code outBlocks[position]} with
   * the index block of each position and returns how many positions were published (fewer than
   * asked only on a 64-bit hash collision among siblings, when the rest stays unpublished).
   */
  int insert(
      int parent,
      int[] tok,
      int fromBlock,
      int nBlocks,
      long keyParentHi,
      long keyParentLo,
      int prio,
      boolean dead,
      int[] outBlocks) {
    long now = ticker.read();
    int i = 0;
    int p = parent;
    long pHi = keyParentHi;
    long pLo = keyParentLo;
    while (i < nBlocks) {
      int position = fromBlock + i;
      int off = position * tpb;
      if (!isRoot(p)) {
        if (!isTail(p)) {
          int h = head(p);
          int rem = h + edgeLen[h] - 1 - p;
          int avail = Math.min(rem, nBlocks - i);
          int base = (p + 1) * tpb;
          int mm = Arrays.mismatch(tokens, base, base + avail * tpb, tok, off, off + avail * tpb);
          int m = mm < 0 ? avail : mm / tpb;
          for (int k = 0; k < m; k++) {
            reuse(p + 1 + k, position + k, now, dead, outBlocks);
          }
          i += m;
          p += m;
          pHi = keyHi[p];
          pLo = keyLo[p];
          if (m < avail) {
            splitAfter(p);
          }
          continue;
        }
        if (children[p] == 0) {
          int id = createBlock(p, tok, off, pHi, pLo, now, prio, dead, position, true);
          if (id == NONE) {
            return i;
          }
          outBlocks[position] = id;
          p = id;
          pHi = keyHi[id];
          pLo = keyLo[id];
          i++;
          continue;
        }
      }
      int c = childTable.get(p, BlockHasher.tokenHash64(tok, off, tpb));
      if (c == ChildTable.EMPTY) {
        int id = createBlock(p, tok, off, pHi, pLo, now, prio, dead, position, false);
        if (id == NONE) {
          return i;
        }
        outBlocks[position] = id;
        p = id;
        pHi = keyHi[id];
        pLo = keyLo[id];
        i++;
        continue;
      }
      int base = c * tpb;
      if (Arrays.mismatch(tokens, base, base + tpb, tok, off, off + tpb) >= 0) {
        return i; // a different first block with the same 64-bit hash: leave the rest uncached
      }
      reuse(c, position, now, dead, outBlocks);
      i++;
      p = c;
      pHi = keyHi[c];
      pLo = keyLo[c];
    }
    return nBlocks;
  }

  private void reuse(int b, int position, long now, boolean dead, int[] outBlocks) {
    outBlocks[position] = b;
    lastAccess[b] = millis(now);
    hint[b] = (byte) currentTurn;
    if ((flags[b] & F_DEAD) != 0 && !dead) {
      flags[b] &= ~F_DEAD;
      listener.deadChanged(b);
    }
  }

  private int createBlock(
      int p,
      int[] tok,
      int off,
      long pHi,
      long pLo,
      long now,
      int prio,
      boolean dead,
      int position,
      boolean appendable) {
    int id = ids.allocate(isRoot(p) ? -1 : p + 1);
    if (id == IdAllocator.NONE) {
      return NONE;
    }
    System.arraycopy(tok, off, tokens, id * tpb, tpb);
    BlockHasher.key(pHi, pLo, tok, off, tpb, key2);
    keyHi[id] = key2[0];
    keyLo[id] = key2[1];
    children[id] = 0;
    pins[id] = 0;
    hits[id] = 0;
    state[id] = 0;
    if (tierKids != null) {
      for (int t = 0; t < tiers; t++) {
        tierKids[t][id] = 0;
      }
    }
    lastAccess[id] = millis(now);
    int remembered = remembered(key2[1]);
    returned[id] = (byte) remembered;
    if ((remembered & 0x0f) >= currentTurn) {
      // The block was cached before and left: its conversation is coming back for another turn.
      currentTurn = Math.min(15, (remembered & 0x0f) + 1);
    }
    hint[id] = (byte) currentTurn;
    priority[id] = (byte) prio;
    flags[id] = (byte) (F_LIVE | (dead ? F_DEAD : 0));
    if (appendable && id == p + 1) {
      int head = (flags[p] & F_HEAD) != 0 ? p : link[p];
      link[id] = head;
      edgeLen[head]++;
      edgeLen[id] = 0;
    } else {
      flags[id] |= F_HEAD;
      link[id] = p;
      edgeLen[id] = 1;
      childTable.put(p, BlockHasher.tokenHash64(tok, off, tpb), id);
      if (isRoot(p)) {
        rootChildren[rootIndex(p)]++;
      } else {
        if (++children[p] >= HUB_CHILDREN) {
          flags[p] |= F_HUB;
        }
      }
    }
    liveBlocks++;
    listener.blockCreated(id, position);
    if (!isRoot(p)) {
      refresh(p);
    }
    refresh(id);
    return id;
  }

  /** Splits the edge holding {@code b} (not its tail) after {@code b}. */
  private void splitAfter(int b) {
    int head = head(b);
    int len = edgeLen[head];
    int keep = b - head + 1;
    int h2 = b + 1;
    edgeLen[head] = keep;
    flags[h2] |= F_HEAD;
    link[h2] = b;
    edgeLen[h2] = len - keep;
    for (int x = h2 + 1; x < head + len; x++) {
      link[x] = h2;
    }
    children[b] = 1;
    childTable.put(b, BlockHasher.tokenHash64(tokens, h2 * tpb, tpb), h2);
  }

  // ---------------------------------------------------------------- structure

  int head(int b) {
    return (flags[b] & F_HEAD) != 0 ? b : link[b];
  }

  boolean isTail(int b) {
    int h = head(b);
    return b == h + edgeLen[h] - 1;
  }

  boolean isLeaf(int b) {
    return children[b] == 0 && isTail(b);
  }

  /** The parent block, or the root code for a first block. */
  int parent(int b) {
    return (flags[b] & F_HEAD) != 0 ? link[b] : b - 1;
  }

  int rootOf(int b) {
    int x = b;
    while (!isRoot(x)) {
      x = link[head(x)];
    }
    return x;
  }

  Namespace namespaceOf(int b) {
    return rootNs.get(rootIndex(rootOf(b)));
  }

  long parentKeyHi(int b) {
    int p = parent(b);
    return isRoot(p) ? rootKeyHi[rootIndex(p)] : keyHi[p];
  }

  long parentKeyLo(int b) {
    int p = parent(b);
    return isRoot(p) ? rootKeyLo[rootIndex(p)] : keyLo[p];
  }

  long rootKeyHi(int root) {
    return rootKeyHi[rootIndex(root)];
  }

  long rootKeyLo(int root) {
    return rootKeyLo[rootIndex(root)];
  }

  long keyHi(int b) {
    return keyHi[b];
  }

  long keyLo(int b) {
    return keyLo[b];
  }

  boolean live(int b) {
    return b >= 0 && b < capacity && (flags[b] & F_LIVE) != 0;
  }

  /** Whether {@code b} still is the block with this key (ids are reused after eviction). */
  boolean sameBlock(int b, long fingerprint) {
    return live(b) && keyLo[b] == fingerprint;
  }

  int tiers() {
    return tiers;
  }

  /** The slot of block {@code b}'s copy in the top tier. */
  int slot(int b) {
    return slots[0][b];
  }

  /** The slot of block {@code b}'s copy in tier {@code t} (valid when it has one). */
  int slot(int b, int t) {
    return slots[t][b];
  }

  boolean hasCopy(int b, int t) {
    return (flags[b] & (1 << (COPY_SHIFT + t))) != 0;
  }

  int copyMask(int b) {
    return (flags[b] >>> COPY_SHIFT) & ((1 << MAX_TIERS) - 1);
  }

  /** Records that tier {@code t} now holds a copy of {@code b} in {@code slot}. */
  void addCopy(int b, int t, int slot) {
    if (hasCopy(b, t)) {
      throw new IllegalStateException("block " + b + " already has a copy in tier " + t);
    }
    slots[t][b] = slot;
    if (t == 0) {
      ownTopSlot(b, slot);
    }
    flags[b] |= (byte) (1 << (COPY_SHIFT + t));
    int p = parent(b);
    if (tierKids != null && !isRoot(p)) {
      tierKids[t][p]++;
      refresh(p);
    }
    refresh(b);
  }

  /** Records that tier {@code t}'s copy of {@code b} now lives in {@code slot} (it was moved). */
  void moveCopy(int b, int t, int slot) {
    if (!hasCopy(b, t)) {
      throw new IllegalStateException("block " + b + " has no copy in tier " + t);
    }
    slots[t][b] = slot;
    if (t == 0) {
      ownTopSlot(b, slot);
    }
  }

  /**
   * Per top-tier slot, 1 + the block last given a copy there ({@link #addCopy}, {@link #moveCopy});
   * 0 for none. Entries are never cleared: {@link #topOwner} checks that the block still holds that
   * slot, which it does exactly when it was the last one given it.
   */
  private int[] topSlotOwner = new int[0];

  private void ownTopSlot(int b, int slot) {
    if (slot >= topSlotOwner.length) {
      topSlotOwner = Arrays.copyOf(topSlotOwner, Math.max(slot + 1, 2 * topSlotOwner.length));
    }
    topSlotOwner[slot] = b + 1;
  }

  /** The block whose top-tier copy lives in {@code slot}, or -1 if none: O(1). */
  int topOwner(int slot) {
    if (slot < 0 || slot >= topSlotOwner.length) {
      return -1;
    }
    int b = topSlotOwner[slot] - 1;
    return b >= 0 && live(b) && hasCopy(b, 0) && slots[0][b] == slot ? b : -1;
  }

  /** Forgets tier {@code t}'s copy of {@code b} (the caller releases the page). */
  void dropCopy(int b, int t) {
    if (!hasCopy(b, t)) {
      throw new IllegalStateException("block " + b + " has no copy in tier " + t);
    }
    flags[b] &= (byte) ~(1 << (COPY_SHIFT + t));
    setBusy(b, t, false);
    int p = parent(b);
    if (tierKids != null && !isRoot(p)) {
      tierKids[t][p]--;
      refresh(p);
    }
    refresh(b);
  }

  /** Marks tier {@code t}'s copy of {@code b} as being read by a transfer: not evictable. */
  void setBusy(int b, int t, boolean busy) {
    int bit = 1 << (4 + t);
    boolean was = (state[b] & bit) != 0;
    if (was != busy) {
      state[b] ^= (byte) bit;
      refresh(b);
    }
  }

  boolean busy(int b, int t) {
    return (state[b] & (1 << (4 + t))) != 0;
  }

  /** Whether no child of {@code b} has a copy in tier {@code t}. */
  boolean leafIn(int b, int t) {
    return tierKids == null ? isLeaf(b) : tierKids[t][b] == 0;
  }

  int pins(int b) {
    return pins[b];
  }

  void pin(int b) {
    if (pins[b] == Character.MAX_VALUE) {
      throw new io.kvtier.KvTierException(
          "more than " + (int) Character.MAX_VALUE + " leases and sessions pin one block");
    }
    pins[b]++;
    if (pins[b] == 1) {
      refresh(b);
    }
  }

  void unpin(int b) {
    if (pins[b] <= 0) {
      throw new IllegalStateException("unbalanced unpin of block " + b);
    }
    pins[b]--;
    if (pins[b] == 0) {
      refresh(b);
    }
  }

  void priority(int b, int p) {
    priority[b] = (byte) p;
  }

  int[] tokenArena() {
    return tokens;
  }

  /**
   * Whether tier {@code t} may give up its copy of {@code b} now: it holds one, no transfer reads
   * it, no child has a copy there (leaf-first per tier), the top tier's copy is unpinned, and
   * giving it up would not lose a block that is still needed: another tier keeps a copy, or a tier
   * below can take it (demotion), or the block is an unpinned leaf of the whole tree.
   */
  private boolean computeEvictable(int b, int t) {
    if (!hasCopy(b, t) || busy(b, t) || !leafIn(b, t)) {
      return false;
    }
    if (t == 0 && pins[b] != 0) {
      return false;
    }
    boolean otherCopy = (copyMask(b) & ~(1 << t)) != 0;
    boolean demotable = t + 1 < tiers; // the cache moves it down rather than losing it
    return otherCopy || demotable || (pins[b] == 0 && isLeaf(b));
  }

  private void refresh(int b) {
    if ((flags[b] & F_LIVE) == 0) {
      return;
    }
    for (int t = 0; t < tiers; t++) {
      boolean now = computeEvictable(b, t);
      boolean was = (state[b] & (1 << t)) != 0;
      if (now != was) {
        state[b] ^= (byte) (1 << t);
        listener.evictableChanged(b, t, now);
      }
    }
  }

  boolean evictableIn(int b, int t) {
    return live(b) && (state[b] & (1 << t)) != 0;
  }

  /** Removes a block that no tier holds any more; it must be an unpinned leaf. */
  void remove(int b) {
    if (!live(b) || copyMask(b) != 0 || pins[b] != 0 || !isLeaf(b)) {
      throw new IllegalStateException(
          "block " + b + " still has copies, pins or children and cannot leave the index");
    }
    int p;
    if ((flags[b] & F_HEAD) != 0) {
      p = link[b];
      childTable.remove(p, BlockHasher.tokenHash64(tokens, b * tpb, tpb));
      if (isRoot(p)) {
        rootChildren[rootIndex(p)]--;
      } else {
        children[p]--;
      }
    } else {
      p = b - 1;
      edgeLen[link[b]]--;
    }
    remember(keyLo[b], hint[b]);
    flags[b] = 0;
    state[b] = 0;
    edgeLen[b] = 0;
    liveBlocks--;
    ids.free(b);
    if (!isRoot(p)) {
      refresh(p);
    }
  }

  /**
   * Walks from {@code tail} towards the root over the blocks only this path uses (stopping at a
   * branching point or a block someone else pins) and applies {@code op} to each.
   */
  void forPrivateChain(int tail, java.util.function.IntConsumer op) {
    int b = tail;
    while (true) {
      op.accept(b);
      int p = parent(b);
      if (isRoot(p) || pins[p] > 0) {
        return;
      }
      if ((flags[b] & F_HEAD) != 0 && children[p] > 1) {
        return;
      }
      b = p;
    }
  }

  void markDead(int b) {
    if ((flags[b] & F_DEAD) == 0) {
      flags[b] |= F_DEAD;
      listener.deadChanged(b);
    }
  }

  /** Bytes of index metadata per block of capacity, excluding token ids, from the arrays' sizes. */
  int metadataBytesPerBlock() {
    // keys 16, link/edgeLen/children 12, pins and hits 4, lastAccess 4, flags/state/priority 3,
    // hints 6, turn memory 4 to 8, then per tier a slot (4) and, with more than one tier, a
    // per-tier child count (4).
    long perBlock = 16 + 12 + 4 + 4 + 3 + 6 + 8 + 4L * tiers + (tiers > 1 ? 4L * tiers : 0);
    long shared = ids.footprintBytes() + childTable.footprintBytes();
    return (int) Math.round(perBlock + (double) shared / Math.max(1, capacity));
  }

  /**
   * Verifies the tree's structure against its arrays; {@code expectedPins[b]} is what the caller
   * counted from leases and sessions. Throws {@link IllegalStateException} on the first violation.
   * For tests: O(capacity).
   */
  void checkStructure(int[] expectedPins, DeadCheck deadEvictableContains) {
    int live = 0;
    int[] childCount = new int[capacity];
    int[][] kidsInTier = new int[tiers][capacity];
    for (int b = 0; b < capacity; b++) {
      if ((flags[b] & F_LIVE) == 0) {
        if (!ids.isFree(b)) {
          fail("block " + b + " is not live but its id is allocated");
        }
        continue;
      }
      live++;
      if (ids.isFree(b)) {
        fail("live block " + b + " has a free id");
      }
      if (pins[b] != expectedPins[b]) {
        fail(
            "block "
                + b
                + " has "
                + pins[b]
                + " pins, leases and sessions hold "
                + expectedPins[b]);
      }
      int p = parent(b);
      if ((flags[b] & F_HEAD) != 0) {
        if (edgeLen[b] < 1) {
          fail("edge head " + b + " has length " + edgeLen[b]);
        }
        for (int x = b + 1; x < b + edgeLen[b]; x++) {
          if ((flags[x] & F_LIVE) == 0 || (flags[x] & F_HEAD) != 0 || link[x] != b) {
            fail("block " + x + " should be inside the edge headed by " + b);
          }
        }
        if (childTable.get(p, BlockHasher.tokenHash64(tokens, b * tpb, tpb)) != b) {
          fail("edge head " + b + " is not reachable from its parent " + p);
        }
        if (!isRoot(p)) {
          if ((flags[p] & F_LIVE) == 0 || !isTail(p)) {
            fail("edge " + b + " hangs off " + p + ", which is not a live edge tail");
          }
          childCount[p]++;
          for (int t = 0; t < tiers; t++) {
            if (hasCopy(b, t)) {
              kidsInTier[t][p]++;
            }
          }
        }
      }
      int d = isRoot(p) ? 1 : depth(p) + 1;
      if (depth(b) != d) {
        fail("block " + b + " has depth " + depth(b) + ", expected " + d);
      }
      if (copyMask(b) == 0) {
        fail("block " + b + " is in the index but no tier holds a copy");
      }
      for (int t = 0; t < tiers; t++) {
        boolean evictable = computeEvictable(b, t);
        if (evictable != ((state[b] & (1 << t)) != 0)) {
          fail("block " + b + " evictable flag for tier " + t + " is stale");
        }
        if (deadEvictableContains.test(b, t) != (evictable && (flags[b] & F_DEAD) != 0)) {
          fail("block " + b + " dead-evictable membership in tier " + t + " is stale");
        }
        if (tierKids != null) {
          int kids = 0;
          if (!isTail(b) && hasCopy(b + 1, t)) {
            kids++;
          }
          kidsInTier[t][b] += kids;
        }
      }
    }
    for (int b = 0; b < capacity; b++) {
      if ((flags[b] & F_LIVE) != 0 && childCount[b] != children[b]) {
        fail("block " + b + " counts " + children[b] + " children, has " + childCount[b]);
      }
      if (tierKids != null && (flags[b] & F_LIVE) != 0) {
        for (int t = 0; t < tiers; t++) {
          if (tierKids[t][b] != kidsInTier[t][b]) {
            fail(
                "block "
                    + b
                    + " counts "
                    + tierKids[t][b]
                    + " children in tier "
                    + t
                    + ", has "
                    + kidsInTier[t][b]);
          }
        }
      }
    }
    if (live != liveBlocks) {
      fail("liveBlocks is " + liveBlocks + " but " + live + " blocks are live");
    }
  }

  /** Membership test of the cache's dead-evictable heaps, for {@link #checkStructure}. */
  interface DeadCheck {
    boolean test(int block, int tier);
  }

  private static void fail(String message) {
    throw new IllegalStateException("prefix index corrupt: " + message);
  }

  // ---------------------------------------------------------------- BlockView

  @Override
  public long now() {
    return ticker.read();
  }

  @Override
  public long fingerprint(int block) {
    return keyLo[block];
  }

  @Override
  public int token(int block, int i) {
    if (i < 0 || i >= tpb) {
      throw new IndexOutOfBoundsException("token index " + i + " outside [0, " + tpb + ")");
    }
    return tokens[block * tpb + i];
  }

  @Override
  public long lastAccess(int block) {
    return nanosOf(lastAccess[block]);
  }

  @Override
  public int hits(int block) {
    return hits[block];
  }

  @Override
  public int turns(int block) {
    return Math.max(1, hint[block] & 0x0f);
  }

  @Override
  public int returningTurns(int block) {
    return returned[block] & 0x0f;
  }

  @Override
  public PauseKind returningPauseKind(int block) {
    int k = (returned[block] >> 4) & 3;
    return k == 0 ? null : PAUSE_KINDS[k - 1];
  }

  @Override
  public PauseKind pauseKind(int block) {
    int k = (hint[block] >> 4) & 3;
    return k == 0 ? null : PAUSE_KINDS[k - 1];
  }

  @Override
  public long expectedPause(int block) {
    return (hint[block] & 0x30) == 0 ? 0 : pauseMillis[block] * 1_000_000L;
  }

  private static final PauseKind[] PAUSE_KINDS = PauseKind.values();

  /**
   * Records that the session that last used {@code block} paused ({@code kind} non-null, for about
   * {@code expectedNanos}) or resumed ({@code kind} null). Returns whether anything changed.
   */
  boolean setPause(int block, PauseKind kind, long expectedNanos) {
    int turn = hint[block] & 0x0f;
    byte h = (byte) (kind == null ? turn : turn | ((kind.ordinal() + 1) << 4));
    int ms =
        kind == null
            ? 0
            : (int) Math.min(Integer.MAX_VALUE, Math.max(0, expectedNanos / 1_000_000L));
    if (hint[block] == h && pauseMillis[block] == ms) {
      return false;
    }
    hint[block] = h;
    pauseMillis[block] = ms;
    return true;
  }

  /** Remembers a block that leaves: its turn and pause kind (its hint byte) under its tag. */
  private void remember(long fingerprint, int hintByte) {
    int h = hintByte & 0x3f;
    turnMemory[(int) fingerprint & (turnMemory.length - 1)] =
        (int) (fingerprint >>> 38) << 6 | (h == 0 ? 1 : h);
  }

  /** The hint byte a block had when it left, if remembered; else 0. */
  private int remembered(long fingerprint) {
    int e = turnMemory[(int) fingerprint & (turnMemory.length - 1)];
    return e != 0 && e >>> 6 == (int) (fingerprint >>> 38) ? e & 0x3f : 0;
  }

  /** The conversation turn of a request that matched up to {@code deepest} (NONE: nothing). */
  int turnAfter(int deepest) {
    if (deepest == NONE || isRoot(deepest)) {
      return 1;
    }
    // A block many conversations branch from (a shared system prompt) starts a new conversation.
    if ((flags[deepest] & F_HUB) != 0) {
      return 1;
    }
    return Math.min(15, turns(deepest) + 1);
  }

  @Override
  public int priority(int block) {
    return priority[block];
  }

  /**
   * Blocks from the root to {@code block}, counting it: derived from the edges on its path (one
   * step per edge), so no per-block array is needed.
   */
  @Override
  public int depth(int block) {
    int d = 0;
    int x = block;
    while (!isRoot(x)) {
      int h = head(x);
      d += x - h + 1;
      x = link[h];
    }
    return d;
  }

  /** Milliseconds since the epoch of {@code nanos}, rebasing the epoch before an int overflows. */
  private int millis(long nanos) {
    long ms = Math.max(0, (nanos - epochNanos) / 1_000_000L);
    if (ms >= REBASE_MILLIS) {
      rebase();
      ms = Math.max(0, (nanos - epochNanos) / 1_000_000L);
    }
    return (int) ms;
  }

  private long nanosOf(int millis) {
    return epochNanos + millis * 1_000_000L;
  }

  /** Past this many milliseconds (about 12 days) the epoch moves forward by half of it. */
  private static final long REBASE_MILLIS = 1L << 30;

  private void rebase() {
    int shift = (int) (REBASE_MILLIS / 2);
    for (int b = 0; b < capacity; b++) {
      if ((flags[b] & F_LIVE) != 0) {
        lastAccess[b] = Math.max(0, lastAccess[b] - shift);
      }
    }
    epochNanos += shift * 1_000_000L;
  }

  @Override
  public boolean dead(int block) {
    return (flags[block] & F_DEAD) != 0;
  }

  @Override
  public boolean evictable(int block) {
    return evictableIn(block, 0);
  }

  /** The view of tier {@code t}'s evictor: {@link #evictable} answers for that tier. */
  BlockView view(int t) {
    return views[t];
  }

  /** A {@link BlockView} whose evictability is one tier's. */
  private final class TierView implements BlockView {
    private final int tier;

    TierView(int tier) {
      this.tier = tier;
    }

    @Override
    public long now() {
      return PrefixIndex.this.now();
    }

    @Override
    public long fingerprint(int block) {
      return PrefixIndex.this.fingerprint(block);
    }

    @Override
    public int token(int block, int index) {
      return PrefixIndex.this.token(block, index);
    }

    @Override
    public long lastAccess(int block) {
      return PrefixIndex.this.lastAccess(block);
    }

    @Override
    public int hits(int block) {
      return PrefixIndex.this.hits(block);
    }

    @Override
    public int turns(int block) {
      return PrefixIndex.this.turns(block);
    }

    @Override
    public int returningTurns(int block) {
      return PrefixIndex.this.returningTurns(block);
    }

    @Override
    public PauseKind returningPauseKind(int block) {
      return PrefixIndex.this.returningPauseKind(block);
    }

    @Override
    public PauseKind pauseKind(int block) {
      return PrefixIndex.this.pauseKind(block);
    }

    @Override
    public long expectedPause(int block) {
      return PrefixIndex.this.expectedPause(block);
    }

    @Override
    public int priority(int block) {
      return PrefixIndex.this.priority(block);
    }

    @Override
    public int depth(int block) {
      return PrefixIndex.this.depth(block);
    }

    @Override
    public boolean dead(int block) {
      return PrefixIndex.this.dead(block);
    }

    @Override
    public boolean evictable(int block) {
      return evictableIn(block, tier);
    }
  }

  static int defaultPriority() {
    return Request.DEFAULT_PRIORITY;
  }
}
