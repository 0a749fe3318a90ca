package io.kvtier.core;

import io.kvtier.PageHandle;
import io.kvtier.bench.VllmStylePrefixCache;
import io.kvtier.spi.SlotAllocator;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One page allocated and freed, on a DRAM tier of 64K pages of 64 bytes, through {@link
 * PageAllocator} (generation-tagged, reference-counted handles over {@link DramPageStore}'s slot
 * allocator), with and without a contiguity hint; beside it the vLLM-style free queue (a doubly
 * linked list of block objects with reference counts) and a bare {@code int} stack, the floor of
 * any free list.
 *
 * <p>{@code usedPercent}% of the pages, chosen at random, stay allocated throughout, so the free
 * slots form many runs.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
    value = 1,
    jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xms1g", "-Xmx1g"})
@State(Scope.Benchmark)
public class PageAllocatorBench {
  static final int PAGES = 64 * 1024;
  static final int PAGE_BYTES = 64;
  static final int RUN = 64;

  @Param({"0", "50"})
  public int usedPercent;

  DramPageStore store;
  PageAllocator pages;
  DramPageStore bareStore;
  SlotAllocator slots;
  long previous;
  long[] run = new long[RUN];

  VllmStylePrefixCache vllm;
  int[] stack;
  int top;

  @Setup(Level.Trial)
  public void setup() {
    store = new DramPageStore("bench", (long) PAGES * PAGE_BYTES, PAGE_BYTES);
    pages = new PageAllocator(0, store);
    vllm = new VllmStylePrefixCache(PAGES, 16, new MurmurBlockHash(16));
    bareStore = new DramPageStore("bare", (long) PAGES * PAGE_BYTES, PAGE_BYTES);
    slots = new SlotAllocator(PAGES);
    stack = new int[PAGES];
    for (int i = 0; i < PAGES; i++) {
      stack[top++] = PAGES - 1 - i;
    }
    // Take every slot in order, then give back a random (100 - usedPercent)% of them: the kept
    // pages are holes between free runs, at the same slots in every allocator.
    long[] all = new long[PAGES];
    for (int i = 0; i < PAGES; i++) {
      all[i] = pages.allocate(PageHandle.NONE);
      bareStore.allocate(i);
      slots.allocate(i);
    }
    SplittableRandom r = new SplittableRandom(42);
    for (int i = 0; i < PAGES; i++) {
      if (r.nextInt(100) >= usedPercent) {
        pages.release(all[i]);
        bareStore.free(i);
        slots.free(i);
      }
    }
    int used = (int) pages.usedPages();
    for (int i = 0; i < used; i++) {
      vllm.allocateOne();
      top--;
    }
    previous = pages.allocate(PageHandle.NONE);
  }

  @TearDown(Level.Trial)
  public void close() {
    store.close();
    bareStore.close();
  }

  /** No hint: the head of a run of the largest size class. */
  @Benchmark
  public long kvtierAllocateFree() {
    long h = pages.allocate(PageHandle.NONE);
    pages.release(h);
    return h;
  }

  /** Hint = a live handle: the slot after it, as a growing sequence asks. */
  @Benchmark
  public long kvtierAllocateFreeHinted() {
    long h = pages.allocate(previous);
    pages.release(h);
    return h;
  }

  /** A sequence of 64 pages, each hinted by the one before, then freed; per page. */
  @Benchmark
  @OperationsPerInvocation(RUN)
  public long kvtierRunOf64() {
    long prev = PageHandle.NONE;
    for (int i = 0; i < RUN; i++) {
      prev = pages.allocate(prev);
      run[i] = prev;
    }
    for (int i = RUN - 1; i >= 0; i--) {
      pages.release(run[i]);
    }
    return prev;
  }

  /** Breakdown: the store alone (slot allocator, open and double-free checks), no handles. */
  @Benchmark
  public long storeAllocateFree() {
    long s = bareStore.allocate(-1);
    bareStore.free(s);
    return s;
  }

  /** Breakdown: the slot allocator alone (boundary tags, size-class lists). */
  @Benchmark
  public int slotAllocatorAllocateFree() {
    int s = slots.allocate(-1);
    slots.free(s);
    return s;
  }

  /** Baseline: vLLM's free queue, pop the head (reference count 1) and append it back. */
  @Benchmark
  public Object vllmFreeQueue() {
    VllmStylePrefixCache.Block b = vllm.allocateOne();
    vllm.freeOne(b);
    return b;
  }

  /** Floor: pop and push an {@code int} stack, no handles, no checks. */
  @Benchmark
  public int intStack() {
    int s = stack[--top];
    stack[top++] = s;
    return s;
  }
}
