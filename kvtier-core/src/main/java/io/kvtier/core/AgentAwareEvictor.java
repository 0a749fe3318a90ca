package io.kvtier.core;

import io.kvtier.PauseKind;
import io.kvtier.spi.BlockView;
import io.kvtier.spi.EvictionPolicy;
import io.kvtier.spi.Evictor;
import java.util.Objects;

/**
 * The default eviction policy: lowest retention priority first, then the evictable leaf whose
 * <em>retention time</em> is earliest, the deeper block first on a tie.
 *
 * <p><b>Retention time.</b> LRU keeps a block until its last access is the oldest. This policy
 * keeps it until its last access plus a <em>credit</em> for its class, where the classes are what
 * an agent engine knows about a block's future:
 *
 * <ul>
 *   <li>{@link #FIRST_TURN}: last used by the first request of a conversation (or of a session);
 *   <li>{@link #LATER_TURN} and {@link #LONG_CONVERSATION}: last used by the second or third turn,
 *       or by a later one ({@link BlockView#turns(int)}). On the Mooncake conversation trace the
 *       chance that a request's blocks are used again grows from 0.42 on a conversation's first
 *       turn to 0.75 after its sixth; on the synthetic one from 0.21 to 0.73: a conversation that
 *       has gone on is likelier to go on;
 *   <li>{@link #TOOL_PAUSE}: its session is paused for a tool call (it comes back within seconds,
 *       almost surely);
 *   <li>{@link #HUMAN_PAUSE}: its session is paused for a person (minutes to hours, less sure).
 * </ul>
 *
 * <p><b>The credits are learned</b>, not tuned: the first class's is 0 and each other class's moves
 * like ARC's target size. The cache remembers blocks that left (a bounded memory of their
 * fingerprints, see {@link BlockView#returningTurns(int)}); when one comes back, the class it was
 * evicted from should have been kept longer: its credit rises by a step scaled by how rarely that
 * class is evicted (its share of recent evictions), and when a first-turn block comes back every
 * other credit falls the same way ({@link #BIAS} times as much). The credits settle where victims
 * of every class come back equally often per eviction: where the space they take is worth the same.
 * On a cache too small to keep conversations across their gaps that means large credits for long
 * conversations; on a large one, small ones; with no hints and no returns every credit stays at its
 * start and the order is LRU's with a head start for later turns.
 *
 * <p>Dead blocks (compacted prefixes, discarded branches) never reach the policy: the cache evicts
 * them first.
 *
 * <p><b>How it works.</b> Exactly the evictable blocks sit in an {@link IndexedHeap} keyed by
 * {@code (priority, retention time × 4096 − depth)}, computed when a block enters the heap and on
 * every access or hint change, so {@link #victim()} is a peek and the rest is O(log n) with no
 * allocation. A change of credit applies to blocks as they are next keyed (a block keyed earlier
 * keeps its older credit until its next access): the learning is slow, so the difference is small.
 *
 * <p><b>Concurrency.</b> Single writer: the cache calls it under its metadata lock.
 *
 * <p>References: TensorRT-LLM's retention priorities (the first key); ARC (Megiddo and Modha, FAST
 * '03: ghost hits steer the split between recency and frequency); LHD (Beckmann et al., NSDI'18:
 * rank by the hits a class of blocks returns for the space it takes); Continuum (tool-call pauses
 * are worth bridging).
 */
final class AgentAwareEvictor implements Evictor {

  /** Class of blocks last used by a conversation's first turn: the reference, credit 0. */
  static final int FIRST_TURN = 0;

  /** Class of blocks last used by a later turn of a conversation. */
  static final int LATER_TURN = 1;

  /** Class of blocks last used by the fourth or a later turn of a conversation. */
  static final int LONG_CONVERSATION = 2;

  /** Class of blocks whose session is paused for a tool call. */
  static final int TOOL_PAUSE = 3;

  /** Class of blocks whose session is paused for a person (or for an unknown reason). */
  static final int HUMAN_PAUSE = 4;

  private static final int CLASSES = 5;

  /** Starting credits per class, in milliseconds. */
  private static final long[] START_CREDIT_MS = {0, 120_000, 120_000, 60_000, 0};

  /** Credits stay within ± this many milliseconds. */
  static final long MAX_CREDIT_MS = 3_600_000;

  /** The credit step per normalized return, in milliseconds. */
  static final double STEP_MS = 50;

  /** Recent-eviction counts decay by this factor per eviction (a window of about 65K evictions). */
  private static final double DECAY = 1 - 1.0 / 65_536;

  /** The policy: one evictor per tier. */
  static final EvictionPolicy POLICY =
      new StockPolicies.Named("agent-aware", context -> new AgentAwareEvictor(context.blocks()));

  /**
   * The policy split by role over a tier chain: recency (priority-LRU, which keeps the retention
   * priorities and tool-call pins) in every tier but the last, and this policy in the last. The top
   * tier then holds what was used most recently, which is what the next requests onboard, and the
   * last tier, whose evictions drop blocks, decides which sessions stay cached at all. With one
   * tier it is this policy.
   */
  static final EvictionPolicy TIERED_POLICY =
      new StockPolicies.Named(
          "agent-aware-tiered",
          context ->
              context.lastTier()
                  ? new AgentAwareEvictor(context.blocks())
                  : new PriorityLruEvictor(context.blocks()));

  private final BlockView view;
  private final IndexedHeap heap = new IndexedHeap();
  private final double[] credit = new double[CLASSES];
  private final double[] evictions = new double[CLASSES];
  private final double step;

  AgentAwareEvictor(BlockView view) {
    this(view, STEP_MS);
  }

  AgentAwareEvictor(BlockView view, double stepMs) {
    this.view = Objects.requireNonNull(view, "view");
    this.step = stepMs;
    for (int c = 0; c < CLASSES; c++) {
      credit[c] = START_CREDIT_MS[c];
      evictions[c] = 1;
    }
  }

  /** The class of a block now. */
  int classOf(int block) {
    return classOf(view.pauseKind(block), view.turns(block));
  }

  private static int classOf(PauseKind kind, int turns) {
    if (kind == PauseKind.TOOL) {
      return TOOL_PAUSE;
    }
    if (kind != null) {
      return HUMAN_PAUSE;
    }
    return turns >= 4 ? LONG_CONVERSATION : turns >= 2 ? LATER_TURN : FIRST_TURN;
  }

  /** The learned credit of a class, in milliseconds. */
  long creditMillis(int cls) {
    return (long) credit[cls];
  }

  /** The retention time of a block in milliseconds of the cache's clock. */
  long retentionMillis(int block) {
    return Math.floorDiv(view.lastAccess(block), 1_000_000L) + creditMillis(classOf(block));
  }

  private long key2(int block) {
    return retentionMillis(block) * 4096 - Math.min(4095, view.depth(block));
  }

  private void learnFromReturn(int block) {
    int turns = view.returningTurns(block);
    if (turns == 0) {
      return;
    }
    int c = classOf(view.returningPauseKind(block), turns);
    double all = 0;
    for (double e : evictions) {
      all += e;
    }
    double delta = step * all / evictions[c];
    if (c == FIRST_TURN) {
      for (int k = 1; k < CLASSES; k++) {
        credit[k] = clamp(credit[k] - delta * BIAS);
      }
    } else {
      credit[c] = clamp(credit[c] + delta);
    }
  }

  /**
   * A first-turn block that comes back lowers the other credits 1.3 times as much as another
   * class's return raises its own: a credited block comes back after a longer stay, so the same
   * return rate per eviction is worth a little less for it. (1.3 was chosen among 1, 1.3 and 1.6 on
   * the Mooncake traces.)
   */
  static final double BIAS = 1.3;

  private static double clamp(double ms) {
    return Math.max(-MAX_CREDIT_MS, Math.min(MAX_CREDIT_MS, ms));
  }

  @Override
  public void onInsert(int block) {
    learnFromReturn(block);
    if (view.evictable(block)) {
      enter(block);
    }
  }

  @Override
  public void onAccess(int block) {
    rekey(block);
  }

  @Override
  public void onPriorityChange(int block) {
    rekey(block);
  }

  @Override
  public void onHintChange(int block) {
    rekey(block);
  }

  @Override
  public void onEvictable(int block, boolean evictable) {
    if (evictable) {
      enter(block);
    } else {
      heap.remove(block);
    }
  }

  @Override
  public void onRemove(int block) {
    for (int c = 0; c < CLASSES; c++) {
      evictions[c] *= DECAY;
    }
    evictions[classOf(block)]++;
    heap.remove(block);
  }

  @Override
  public int victim() {
    return heap.isEmpty() ? NONE : heap.peek();
  }

  private void rekey(int block) {
    if (heap.contains(block)) {
      heap.update(block, view.priority(block), key2(block));
    }
  }

  private void enter(int block) {
    long p = view.priority(block);
    long k = key2(block);
    if (!heap.update(block, p, k)) {
      heap.add(block, p, k);
    }
  }
}
