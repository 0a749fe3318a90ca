package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvtier.DramTier;
import io.kvtier.KvCache;
import io.kvtier.KvLayout;
import io.kvtier.KvTierException;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.OutOfPagesException;
import io.kvtier.PageHandle;
import io.kvtier.Request;
import io.kvtier.spi.AdmissionPolicy;
import io.kvtier.spi.TierSpec;
import io.kvtier.spi.WritePolicy;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Several threads drive a 2-tier chain with write-through (DRAM over a verifying "NVMe" store, or
 * over a second DRAM tier), with a small top tier, so that blocks are offloaded, dropped, demoted
 * and onboarded again all the time while transfer threads complete copies under the same lock.
 * Every page a thread computes holds a pattern of its prefix; after every onboarding the thread
 * checks that every page of its block table holds the right pattern (a page exposed before its copy
 * completed, freed under a holder, or copied from the wrong block shows up). A checker thread runs
 * the engine's full invariant check throughout; at the end, with everything closed and every
 * transfer settled, each tier's pages are exactly the index's copies.
 */
class TierChainStressTest {
  static final int T = 4;
  static final KvLayout LAYOUT = KvLayout.ofPageBytes(T, 64);
  static final Namespace NS = Namespace.of("m", LAYOUT);
  static final int TOP_PAGES = 40;
  static final int LOWER_PAGES = 64;
  static final int THREADS = 4;
  static final int OPS_PER_THREAD = 400;
  static final int MAX_OPEN = 3;
  static final long SEED = 0x71E2L;

  @ParameterizedTest
  @ValueSource(strings = {"nvme", "dram"})
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void concurrentRequests_onAWriteThroughChain_keepEveryInvariant(String lowerKind)
      throws Exception {
    TestStore[] nvme = new TestStore[1];
    TierSpec lower =
        lowerKind.equals("nvme")
            ? TestStore.spec("nvme", 64L * LOWER_PAGES, new TestStore.Disk(), nvme)
            : DramTier.offHeap("dram", 64L * LOWER_PAGES);
    try (KvCache cache =
        KvCache.builder()
            .layout(LAYOUT)
            .tier(DramTier.offHeap("hbm", 64L * TOP_PAGES))
            .tier(lower)
            .writes(WritePolicy.writeThrough())
            .admission(AdmissionPolicy.always())
            .build()) {
      KvCacheImpl impl = (KvCacheImpl) cache;
      ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
      AtomicBoolean done = new AtomicBoolean();
      AtomicLong checks = new AtomicLong();
      AtomicLong onboarded = new AtomicLong();
      CountDownLatch start = new CountDownLatch(1);
      Thread checker =
          Thread.ofPlatform()
              .name("invariant-checker")
              .start(
                  () -> {
                    try {
                      start.await();
                      while (!done.get()) {
                        impl.checkInvariants();
                        checks.incrementAndGet();
                        Thread.onSpinWait();
                      }
                    } catch (Throwable t) {
                      failures.add(t);
                    }
                  });
      List<Thread> workers = new ArrayList<>();
      for (int w = 0; w < THREADS; w++) {
        Worker worker = new Worker(w, cache, impl, onboarded);
        workers.add(
            Thread.ofPlatform()
                .name("worker-" + w)
                .start(
                    () -> {
                      try {
                        start.await();
                        worker.run();
                      } catch (Throwable t) {
                        failures.add(new AssertionError("worker " + worker.id + " failed", t));
                      } finally {
                        worker.closeAll();
                      }
                    }));
      }
      start.countDown();
      for (Thread t : workers) {
        t.join(TimeUnit.SECONDS.toMillis(50));
        assertThat(t.isAlive()).as("%s finished", t.getName()).isFalse();
      }
      done.set(true);
      checker.join();
      assertThat(failures).isEmpty();
      assertThat(checks.get()).as("the checker ran during the load").isPositive();
      assertThat(onboarded.get()).as("blocks came back from the lower tier").isPositive();
      assertThat(cache.stats().tiers().get(1).bytesIn()).as("write-through copied").isPositive();

      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (inFlight(impl)) {
        assertThat(System.nanoTime()).as("transfers settle").isLessThan(deadline);
        Thread.sleep(1);
      }
      impl.checkInvariants();
      assertThat(cache.stats().activeLeases()).isZero();
      impl.lock.lock();
      try {
        for (Tier t : impl.tiers) {
          long copies = 0;
          for (int b = 0; b < impl.index.capacity(); b++) {
            if (impl.index.live(b) && impl.index.hasCopy(b, t.ordinal)) {
              copies++;
            }
          }
          assertThat(t.pages.usedPages()).as("tier '%s' pages", t.name).isEqualTo(copies);
        }
      } finally {
        impl.lock.unlock();
      }
      if (nvme[0] != null) {
        assertThat(nvme[0].verifyFailures.get()).as("no copy was ever read back wrong").isZero();
      }
    }
  }

  static boolean inFlight(KvCacheImpl impl) {
    impl.lock.lock();
    try {
      for (Tier t : impl.tiers) {
        for (int s = 0; s < t.store.capacityPages(); s++) {
          if (t.inFlightRefs(s) != 0) {
            return true;
          }
        }
      }
      return false;
    } finally {
      impl.lock.unlock();
    }
  }

  /** One thread's requests; its leases are touched by no other thread. */
  static final class Worker {
    final int id;
    final KvCache cache;
    final KvCacheImpl impl;
    final AtomicLong onboarded;
    final Random rnd;
    final int[][] systemPrompts = new int[5][];
    final List<Held> held = new ArrayList<>();
    int fresh;

    static final class Held {
      final Lease lease;
      int[] seq;
      int computed;

      Held(Lease lease, int[] seq) {
        this.lease = lease;
        this.seq = seq;
        this.computed = lease.cachedTokens();
      }
    }

    Worker(int id, KvCache cache, KvCacheImpl impl, AtomicLong onboarded) {
      this.id = id;
      this.cache = cache;
      this.impl = impl;
      this.onboarded = onboarded;
      this.rnd = new Random(SEED * 31 + id);
      this.fresh = 10_000_000 * (id + 1);
      for (int k = 0; k < systemPrompts.length; k++) {
        systemPrompts[k] = new int[24];
        for (int i = 0; i < 24; i++) {
          systemPrompts[k][i] = 1000 * (k + 1) + i;
        }
      }
    }

    void run() throws Exception {
      for (int step = 0; step < OPS_PER_THREAD; step++) {
        try {
          step();
        } catch (OutOfPagesException expected) {
          // the small top tier is pinned full by the open leases
        }
        for (Held h : held) {
          verify(h);
        }
      }
    }

    void step() throws Exception {
      int op = rnd.nextInt(100);
      if (op < 40) {
        if (held.size() >= MAX_OPEN) {
          close(rnd.nextInt(held.size()));
        }
        acquire();
      } else if (op < 60) {
        Held h = pick();
        if (h != null) {
          extend(h, rnd.nextBoolean() ? null : more());
        }
      } else if (op < 75) {
        Held h = pick();
        if (h != null) {
          h.lease.commit(h.computed);
        }
      } else {
        if (!held.isEmpty()) {
          close(rnd.nextInt(held.size()));
        }
      }
    }

    Held pick() {
      return held.isEmpty() ? null : held.get(rnd.nextInt(held.size()));
    }

    int[] more() {
      int[] m = new int[1 + rnd.nextInt(2 * T)];
      for (int i = 0; i < m.length; i++) {
        m[i] = rnd.nextInt(3) == 0 ? fresh++ : rnd.nextInt(4);
      }
      return m;
    }

    void acquire() throws Exception {
      int[] sys = systemPrompts[rnd.nextInt(systemPrompts.length)];
      int cut = rnd.nextInt(sys.length + 1);
      int suffix = rnd.nextInt(12);
      int[] tok = Arrays.copyOf(sys, cut + suffix);
      boolean shared = rnd.nextBoolean();
      for (int i = 0; i < suffix; i++) {
        tok[cut + i] = shared ? i % 3 : fresh++;
      }
      Lease l = cache.acquire(Request.of(NS, tok));
      Held h = new Held(l, tok);
      try {
        l.onboard().get(10, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        assertThat(e.getCause()).isInstanceOf(KvTierException.class);
        l.close();
        return;
      }
      int[] perTier = l.cachedBlocksPerTier();
      if (perTier.length > 1 && perTier[1] > 0) {
        onboarded.addAndGet(perTier[1]);
      }
      held.add(h);
      verify(h);
      if (rnd.nextBoolean()) {
        extend(h, null);
        l.commit();
      }
    }

    void extend(Held h, int[] more) {
      if (more == null) {
        h.lease.extend();
      } else {
        h.lease.extend(more);
        int[] s = Arrays.copyOf(h.seq, h.seq.length + more.length);
        System.arraycopy(more, 0, s, h.seq.length, more.length);
        h.seq = s;
      }
      long[] table = h.lease.blockTable();
      int[] pat = TierChainPropertiesTest.patterns(0, h.seq, h.seq.length);
      for (int p = h.computed; p < h.seq.length; p++) {
        page(table[p / T]).set(ValueLayout.JAVA_INT_UNALIGNED, 4L * (p % T), pat[p]);
      }
      h.computed = h.seq.length;
    }

    MemorySegment page(long handle) {
      return impl.store.segment(PageHandle.index(handle)).orElseThrow();
    }

    void verify(Held h) {
      Lease l = h.lease;
      assertThat(l.tokenCount()).isEqualTo(h.computed);
      long[] table = l.blockTable();
      assertThat(table).hasSize(LAYOUT.pagesFor(h.computed));
      int[] pat = TierChainPropertiesTest.patterns(0, h.seq, h.computed);
      for (int p = 0; p < h.computed; p++) {
        int got = page(table[p / T]).get(ValueLayout.JAVA_INT_UNALIGNED, 4L * (p % T));
        if (got != pat[p]) {
          throw new AssertionError(
              "worker "
                  + id
                  + ": token "
                  + p
                  + " (of "
                  + l.cachedTokens()
                  + " cached) reads "
                  + got
                  + ", expected "
                  + pat[p]);
        }
      }
    }

    void close(int i) {
      Held h = held.remove(i);
      h.lease.close();
    }

    void closeAll() {
      for (Held h : held) {
        h.lease.close();
      }
      held.clear();
    }
  }
}
