package io.kvtier.cabi;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class HandlesTest {

  private static final class Thing extends Handles.Entry {}

  @Test
  void handle_isPositive_andCarriesKind() {
    Handles t = new Handles();
    long h = t.add(Handles.KIND_LEASE, new Thing());
    assertThat(h).isPositive();
    assertThat(Handles.kind(h)).isEqualTo(Handles.KIND_LEASE);
    assertThat(Handles.generation(h)).isEqualTo(1);
  }

  @Test
  void get_rejectsNullForgedAndOtherKinds() {
    Handles t = new Handles();
    Thing e = new Thing();
    long h = t.add(Handles.KIND_CACHE, e);
    assertThat(t.get(h, Handles.KIND_CACHE)).isSameAs(e);
    assertThat(t.get(h, Handles.KIND_LEASE)).isNull();
    assertThat(t.get(0L, Handles.KIND_CACHE)).isNull();
    assertThat(t.get(-1L, Handles.KIND_CACHE)).isNull();
    assertThat(t.get(h + 1, Handles.KIND_CACHE)).isNull();
    assertThat(t.get(Handles.pack(Handles.KIND_CACHE, 1, Handles.MAX_SLOTS - 1), 1)).isNull();
    assertThat(t.get(Handles.pack(Handles.KIND_CACHE, 2, Handles.slot(h)), 1)).isNull();
  }

  @Test
  void remove_twice_failsTheSecondTime() {
    Handles t = new Handles();
    long h = t.add(Handles.KIND_LEASE, new Thing());
    assertThat(t.remove(h, Handles.KIND_LEASE)).isNotNull();
    assertThat(t.remove(h, Handles.KIND_LEASE)).isNull();
    assertThat(t.get(h, Handles.KIND_LEASE)).isNull();
    assertThat(t.live()).isZero();
  }

  @Test
  void freedSlot_isNotReusedBeforeManyOthers_andComesBackWithANewGeneration() {
    Handles t = new Handles();
    long first = t.add(Handles.KIND_LEASE, new Thing());
    t.remove(first, Handles.KIND_LEASE);
    Set<Integer> slots = new HashSet<>();
    long reused = 0;
    for (int i = 0; i < 5000 && reused == 0; i++) {
      long h = t.add(Handles.KIND_LEASE, new Thing());
      if (Handles.slot(h) == Handles.slot(first)) {
        reused = h;
      } else {
        slots.add(Handles.slot(h));
      }
      t.remove(h, Handles.KIND_LEASE);
    }
    assertThat(slots.size()).isGreaterThanOrEqualTo(1000);
    assertThat(reused).isNotZero();
    assertThat(Handles.generation(reused)).isEqualTo(2);
    assertThat(t.get(first, Handles.KIND_LEASE)).isNull();
  }

  @Test
  void concurrentRemovals_ofOneHandle_haveExactlyOneWinner() throws Exception {
    Handles t = new Handles();
    for (int round = 0; round < 200; round++) {
      long h = t.add(Handles.KIND_LEASE, new Thing());
      AtomicInteger wins = new AtomicInteger();
      CountDownLatch go = new CountDownLatch(1);
      List<Thread> threads = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        Thread th =
            new Thread(
                () -> {
                  try {
                    go.await();
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                  if (t.remove(h, Handles.KIND_LEASE) != null) {
                    wins.incrementAndGet();
                  }
                });
        th.start();
        threads.add(th);
      }
      go.countDown();
      for (Thread th : threads) {
        th.join();
      }
      assertThat(wins.get()).isEqualTo(1);
    }
    assertThat(t.live()).isZero();
  }
}
