package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.DramTier;
import io.kvtier.KvCache;
import io.kvtier.KvLayout;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.Request;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Token-range retention priorities: which blocks get which priority, and bad ranges. */
class PriorityRangeTest {

  private static final int T = 4;
  private static final KvLayout LAYOUT = KvLayout.ofPageBytes(T, 64);
  private static final Namespace NS = Namespace.of("m", LAYOUT);

  @Test
  void aBlockTakesTheLastRangeHoldingItsFirstToken_othersTheRequestsPriority() {
    try (KvCache c =
        KvCache.builder().layout(LAYOUT).tier(DramTier.offHeap("d", 64 * 16)).build()) {
      KvCacheImpl impl = (KvCacheImpl) c;
      int[] tokens = new int[4 * T];
      for (int i = 0; i < tokens.length; i++) {
        tokens[i] = 100 + i;
      }
      Request r =
          Request.of(NS, tokens)
              .priority(60, null)
              .priority(0, 2 * T, 80, null) // blocks 0 and 1
              .priority(T, T + 1, 10, null) // block 1's first token: overrides 80
              .priority(3 * T + 2, 4 * T, 0, null); // inside block 3, not its first token
      int[] blocks = new int[4];
      try (Lease l = c.acquire(r)) {
        l.extend(tokens);
        l.commit();
        impl.lock.lock();
        try {
          impl.index.match(impl.index.existingRoot(NS, 0), tokens, tokens.length, blocks);
          assertThat(
                  new int[] {
                    impl.index.priority(blocks[0]),
                    impl.index.priority(blocks[1]),
                    impl.index.priority(blocks[2]),
                    impl.index.priority(blocks[3])
                  })
              .containsExactly(80, 10, 60, 60);
        } finally {
          impl.lock.unlock();
        }
      }
      impl.checkInvariants();
    }
  }

  @Test
  void badRanges_areRejected() {
    Request r = Request.of(NS, new int[T]);
    assertThatThrownBy(() -> r.priority(-1, 2, 50, null))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> r.priority(3, 3, 50, null))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> r.priority(0, 2, 101, null))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> r.priority(0, 2, 50, Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(r.priorityRanges()).isEmpty();
    assertThat(r.priority(0, 2, 50, null).session("s").priorityRanges()).hasSize(1);
  }
}
