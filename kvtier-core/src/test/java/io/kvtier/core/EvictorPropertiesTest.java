package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvtier.spi.EvictionPolicy;
import io.kvtier.spi.Evictor;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/**
 * Every stock evictor, driven the way the cache drives it over random sequences: {@code victim()}
 * is always an evictable block in the tier, and {@link Evictor#NONE} only when there is none.
 */
class EvictorPropertiesTest {

  private static final int BLOCKS = 24;

  enum Kind {
    INSERT,
    ACCESS,
    SET_EVICTABLE,
    SET_PRIORITY,
    REMOVE,
    EVICT
  }

  record Op(Kind kind, int block, int arg) {}

  /** Drives one evictor and mirrors the tier's membership. */
  private static final class Tier {
    final FakeBlocks view = new FakeBlocks(BLOCKS);
    final boolean[] present = new boolean[BLOCKS];
    final Evictor evictor;
    long clock;

    Tier(EvictionPolicy policy, long capacity) {
      evictor = policy.newEvictor(view.context(capacity));
    }

    void apply(Op op) {
      int b = op.block();
      switch (op.kind()) {
        case INSERT -> {
          if (!present[b]) {
            present[b] = true;
            view.lastAccess[b] = ++clock;
            view.depth[b] = 1 + op.arg() % 5;
            view.priority[b] = op.arg() % 3 * 40;
            view.fingerprint[b] = op.arg() % 7; // few contents, so ghosts are hit
            view.evictable[b] = op.arg() % 2 == 0;
            evictor.onInsert(b);
          }
        }
        case ACCESS -> {
          if (present[b]) {
            view.lastAccess[b] = op.arg() % 4 == 0 ? clock : ++clock;
            view.hits[b]++;
            evictor.onAccess(b);
          }
        }
        case SET_EVICTABLE -> {
          boolean e = op.arg() % 2 == 0;
          if (present[b] && view.evictable[b] != e) {
            view.evictable[b] = e;
            evictor.onEvictable(b, e);
          }
        }
        case SET_PRIORITY -> {
          if (present[b]) {
            view.priority[b] = op.arg() % 101;
            evictor.onPriorityChange(b);
          }
        }
        case REMOVE -> {
          if (present[b]) {
            remove(b);
          }
        }
        case EVICT -> {
          int v = evictor.victim();
          if (v != Evictor.NONE) {
            remove(v);
          }
        }
      }
    }

    void remove(int b) {
      present[b] = false;
      view.evictable[b] = false;
      evictor.onRemove(b);
    }

    int[] evictable() {
      return IntStream.range(0, BLOCKS).filter(i -> present[i] && view.evictable[i]).toArray();
    }

    void checkVictim() {
      int v = evictor.victim();
      if (v == Evictor.NONE) {
        assertThat(evictable()).as("NONE while some block is evictable").isEmpty();
      } else {
        assertThat(v).isBetween(0, BLOCKS - 1);
        assertThat(present[v]).as("victim %d is in the tier", v).isTrue();
        assertThat(view.evictable[v]).as("victim %d is evictable", v).isTrue();
        assertThat(evictor.victim()).as("victim() is stable").isEqualTo(v);
      }
    }
  }

  @Provide
  Arbitrary<List<Op>> ops() {
    return Combinators.combine(
            Arbitraries.of(Kind.class),
            Arbitraries.integers().between(0, BLOCKS - 1),
            Arbitraries.integers().between(0, 1000))
        .as(Op::new)
        .list()
        .ofMaxSize(300);
  }

  @Provide
  Arbitrary<EvictionPolicy> policies() {
    return Arbitraries.of(StockPolicies.names()).map(StockPolicies::byName);
  }

  @Property(tries = 600)
  void victim_isAnEvictableBlockInTheTier_orNoneOnlyWhenThereIsNone(
      @ForAll("policies") EvictionPolicy policy,
      @ForAll @IntRange(min = 1, max = 40) int capacity,
      @ForAll("ops") List<Op> ops) {
    Tier tier = new Tier(policy, capacity);
    for (Op op : ops) {
      tier.apply(op);
      tier.checkVictim();
    }
  }

  @Property(tries = 300)
  void lru_victimIsTheOldestThenDeepestEvictableBlock(@ForAll("ops") List<Op> ops) {
    Tier tier = new Tier(LruEvictor.POLICY, 10);
    Comparator<Integer> order =
        Comparator.<Integer>comparingLong(i -> tier.view.lastAccess[i])
            .thenComparingInt(i -> -tier.view.depth[i]);
    for (Op op : ops) {
      tier.apply(op);
      checkIsMinimum(tier, order);
    }
  }

  @Property(tries = 300)
  void priorityLru_victimIsTheLowestPriorityThenOldestEvictableBlock(@ForAll("ops") List<Op> ops) {
    Tier tier = new Tier(PriorityLruEvictor.POLICY, 10);
    Comparator<Integer> order =
        Comparator.<Integer>comparingInt(i -> tier.view.priority[i])
            .thenComparingLong(i -> tier.view.lastAccess[i]);
    for (Op op : ops) {
      tier.apply(op);
      checkIsMinimum(tier, order);
    }
  }

  private static void checkIsMinimum(Tier tier, Comparator<Integer> order) {
    tier.checkVictim();
    int v = tier.evictor.victim();
    for (int b : tier.evictable()) {
      assertThat(order.compare(v, b)).as("victim %d vs %d", v, b).isLessThanOrEqualTo(0);
    }
  }
}
