package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvtier.Branches;
import io.kvtier.DramTier;
import io.kvtier.KvCache;
import io.kvtier.KvLayout;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.OutOfPagesException;
import io.kvtier.PageHandle;
import io.kvtier.PauseKind;
import io.kvtier.Request;
import io.kvtier.Session;
import io.kvtier.spi.BranchPolicy;
import io.kvtier.spi.EvictionPolicy;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Many threads drive one cache with shared prefixes and more demand than capacity, a fixed number
 * of operations each (seeded, so a failure names its seed). Each thread checks its own leases after
 * every step: block table shape, whole-block counts, every handle live, and every token it computed
 * still readable from its pages (a page shared by mistake, or freed under a holder, shows up as a
 * wrong token). A checker thread runs the engine's full invariant check throughout. Only {@link
 * OutOfPagesException} may escape an operation.
 */
class KvCacheStressTest {
  static final int T = 4;
  static final int PAGES = 96;
  static final int THREADS = 6;
  static final int OPS_PER_THREAD = 2500;
  static final int MAX_OPEN = 4;
  static final KvLayout LAYOUT = KvLayout.ofPageBytes(T, 64);
  static final Namespace NS = Namespace.of("m", LAYOUT);
  static final long SEED = 0x5EEDL;

  @ParameterizedTest
  @ValueSource(strings = {"lru", "s3fifo", "priority-lru"})
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void concurrentRequests_keepEveryInvariant(String eviction) throws Exception {
    AtomicLong clock = new AtomicLong(1_000_000_000L);
    try (KvCache cache =
        KvCache.builder()
            .layout(LAYOUT)
            .tier(DramTier.offHeap(64L * PAGES))
            .eviction(EvictionPolicy.named(eviction))
            .branches(BranchPolicy.capPerSession(6))
            .ticker(clock::get)
            .build()) {
      KvCacheImpl impl = (KvCacheImpl) cache;
      ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
      AtomicLong outOfPages = new AtomicLong();
      AtomicBoolean done = new AtomicBoolean();
      AtomicLong checks = new AtomicLong();
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
                        assertThat(impl.pages.usedPages()).isLessThanOrEqualTo(PAGES);
                        checks.incrementAndGet();
                        Thread.onSpinWait();
                      }
                    } catch (Throwable t) {
                      failures.add(t);
                    }
                  });
      List<Thread> workers = new ArrayList<>();
      for (int w = 0; w < THREADS; w++) {
        Worker worker = new Worker(w, cache, impl, clock, outOfPages);
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
      assertThat(cache.stats().evictedBlocks()).as("there was pressure").isPositive();
      assertThat(cache.stats().hitTokens()).as("prefixes were shared").isPositive();

      // the end state: nothing open, nothing pinned, the index holds the only references
      for (int w = 0; w < THREADS; w++) {
        for (String id : Worker.sessionIds(w)) {
          cache.session(id).end();
        }
      }
      cache.session("shared").end();
      impl.checkInvariants();
      assertThat(cache.stats().activeLeases()).isZero();
      assertThat(impl.pages.usedPages()).isEqualTo(impl.index.liveBlocks());
      int[] all = new int[PAGES * T];
      Arrays.setAll(all, i -> -1 - i);
      try (Lease l = cache.acquire(Request.of(NS, all))) {
        l.extend();
        assertThat(l.blockCount()).isEqualTo(PAGES);
      }
      impl.checkInvariants();
      assertThat(impl.pages.usedPages()).isZero();
    }
  }

  /** One thread's requests; its leases are touched by no other thread. */
  static final class Worker {
    final int id;
    final KvCache cache;
    final KvCacheImpl impl;
    final AtomicLong clock;
    final AtomicLong outOfPages;
    final Random rnd;
    final int[][] systemPrompts = new int[4][];
    final List<Held> held = new ArrayList<>();
    int fresh;

    /** A lease and the tokens this thread knows it covers. */
    static final class Held {
      final Lease lease;
      int[] seq;
      int computed;
      Branches group;

      Held(Lease lease, int[] seq) {
        this.lease = lease;
        this.seq = seq;
        this.computed = lease.cachedTokens();
      }
    }

    Worker(int id, KvCache cache, KvCacheImpl impl, AtomicLong clock, AtomicLong outOfPages) {
      this.id = id;
      this.cache = cache;
      this.impl = impl;
      this.clock = clock;
      this.outOfPages = outOfPages;
      this.rnd = new Random(SEED * 31 + id);
      this.fresh = 10_000_000 * (id + 1);
      for (int k = 0; k < systemPrompts.length; k++) {
        systemPrompts[k] = new int[32];
        for (int i = 0; i < 32; i++) {
          systemPrompts[k][i] = 1000 * (k + 1) + i;
        }
      }
    }

    static String[] sessionIds(int worker) {
      return new String[] {"w" + worker + "-a", "w" + worker + "-b"};
    }

    void run() {
      for (int step = 0; step < OPS_PER_THREAD; step++) {
        try {
          step();
        } catch (OutOfPagesException expected) {
          outOfPages.incrementAndGet();
        }
        for (Held h : held) {
          check(h);
        }
      }
    }

    void step() {
      int op = rnd.nextInt(100);
      if (op < 25) {
        if (held.size() >= MAX_OPEN) {
          close(rnd.nextInt(held.size()));
        } else {
          acquire();
        }
      } else if (op < 45) {
        Held h = pick();
        if (h != null) {
          extend(h, rnd.nextBoolean() ? null : more());
        }
      } else if (op < 60) {
        Held h = pick();
        if (h != null) {
          h.lease.commit(rnd.nextInt(4) == 0 ? rnd.nextInt(h.computed + 1) : h.computed);
        }
      } else if (op < 66) {
        Held h = pick();
        if (h != null && held.size() + 2 <= MAX_OPEN + 3) {
          Branches br = h.lease.fork(2 + rnd.nextInt(2));
          for (int i = 0; i < br.size(); i++) {
            Held b = new Held(br.branch(i), h.seq.clone());
            b.computed = h.computed;
            b.group = br;
            held.add(b);
          }
        }
      } else if (op < 72) {
        Held h = pick();
        if (h != null && h.group != null) {
          Branches br = h.group;
          List<Held> members = held.stream().filter(x -> x.group == br).toList();
          if (rnd.nextInt(5) == 0) {
            br.discardAll();
          } else {
            br.keep(rnd.nextInt(br.size()));
          }
          for (Held m : members) {
            m.group = null;
            if (!m.lease.isOpen()) {
              held.remove(m);
            }
          }
        }
      } else if (op < 80) {
        Session s = cache.session(sessionId());
        switch (rnd.nextInt(5)) {
          case 0 -> s.pause(PauseKind.TOOL, Duration.ofMillis(1 + rnd.nextInt(50)));
          case 1 -> s.pause(PauseKind.HUMAN, Duration.ofMinutes(1));
          case 2 -> s.resume();
          case 3 -> s.pin(Duration.ofMillis(1 + rnd.nextInt(50)));
          default -> s.unpin();
        }
      } else if (op < 82) {
        cache.session(sessionId()).compacted();
      } else if (op < 85) {
        clock.addAndGet(TimeUnit.MILLISECONDS.toNanos(rnd.nextInt(20)));
      } else {
        if (!held.isEmpty()) {
          close(rnd.nextInt(held.size()));
        }
      }
    }

    String sessionId() {
      int k = rnd.nextInt(3);
      return k == 2 ? "shared" : sessionIds(id)[k];
    }

    Held pick() {
      return held.isEmpty() ? null : held.get(rnd.nextInt(held.size()));
    }

    int[] more() {
      int[] m = new int[rnd.nextInt(3 * T)];
      for (int i = 0; i < m.length; i++) {
        m[i] = rnd.nextInt(3) == 0 ? fresh++ : rnd.nextInt(4);
      }
      return m;
    }

    void acquire() {
      int[] sys = systemPrompts[rnd.nextInt(systemPrompts.length)];
      int cut = rnd.nextInt(sys.length + 1);
      int suffix = rnd.nextInt(40);
      int[] tok = Arrays.copyOf(sys, cut + suffix);
      boolean shared = rnd.nextBoolean();
      for (int i = 0; i < suffix; i++) {
        tok[cut + i] = shared ? i % 5 : fresh++;
      }
      Request r = Request.of(NS, tok);
      if (rnd.nextInt(3) != 0) {
        r = r.session(sessionId());
      }
      if (rnd.nextInt(4) == 0) {
        r = r.priority(rnd.nextInt(101), Duration.ofMillis(rnd.nextInt(100)));
      }
      Held h = new Held(cache.acquire(r), tok);
      held.add(h);
      assertThat(h.lease.cachedTokens() % T).isZero();
      assertThat(h.lease.cachedTokens()).isLessThanOrEqualTo(tok.length);
      if (rnd.nextBoolean()) {
        extend(h, null);
        h.lease.commit();
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
      // play the engine: compute the new positions' "KV" (the token ids) into the pages
      long[] table = h.lease.blockTable();
      for (int p = h.computed; p < h.seq.length; p++) {
        page(table[p / T]).set(ValueLayout.JAVA_INT_UNALIGNED, 4L * (p % T), h.seq[p]);
      }
      h.computed = h.seq.length;
    }

    MemorySegment page(long handle) {
      return impl.store.segment(PageHandle.index(handle)).orElseThrow();
    }

    void check(Held h) {
      Lease l = h.lease;
      assertThat(l.isOpen()).isTrue();
      int tokens = l.tokenCount();
      assertThat(tokens).isEqualTo(h.computed);
      assertThat(l.cachedTokens() % T).isZero();
      assertThat(l.committedTokens() % T).isZero();
      assertThat(l.committedTokens()).isLessThanOrEqualTo(tokens);
      long[] table = l.blockTable();
      assertThat(table).hasSize(l.blockCount()).hasSize(LAYOUT.pagesFor(tokens));
      impl.lock.lock();
      try {
        for (long handle : table) {
          impl.pages.validate(handle);
        }
      } finally {
        impl.lock.unlock();
      }
      for (int p = 0; p < tokens; p++) {
        int got = page(table[p / T]).get(ValueLayout.JAVA_INT_UNALIGNED, 4L * (p % T));
        if (got != h.seq[p]) {
          throw new AssertionError(
              "worker " + id + ": token " + p + " reads " + got + ", expected " + h.seq[p]);
        }
      }
    }

    void close(int i) {
      Held h = held.remove(i);
      h.lease.close();
      assertThat(h.lease.isOpen()).isFalse();
    }

    void closeAll() {
      for (Held h : held) {
        h.lease.close();
      }
      held.clear();
    }
  }
}
