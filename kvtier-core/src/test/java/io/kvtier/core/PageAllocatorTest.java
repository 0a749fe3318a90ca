package io.kvtier.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.PageHandle;
import io.kvtier.StaleHandleException;
import java.lang.reflect.Method;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class PageAllocatorTest {

  private static final int PAGE = 256;
  private static final int TIER = 3;

  private final DramPageStore store = new DramPageStore("dram", 16L * PAGE, PAGE);
  private final PageAllocator pages = new PageAllocator(TIER, store);

  @AfterEach
  void closeStore() {
    store.close();
  }

  @Test
  void allocate_issuesHandlesOfThisTierAtGenerationOne() {
    long h = pages.allocate(PageHandle.NONE);
    assertThat(h).isNotEqualTo(PageHandle.NONE);
    assertThat(PageHandle.tier(h)).isEqualTo(TIER);
    assertThat(PageHandle.generation(h)).isEqualTo(1);
    assertThat(pages.refCount(h)).isEqualTo(1);
    assertThat(pages.handleOf((int) PageHandle.index(h))).isEqualTo(h);
    assertThat(pages.usedPages()).isEqualTo(1);
    assertThat(pages.freePages()).isEqualTo(15);
    assertThat(pages.tierOrdinal()).isEqualTo(TIER);
    assertThat(pages.store()).isSameAs(store);
  }

  @Test
  void allocate_withHints_keepsSequencesContiguous() {
    long a = pages.allocate(PageHandle.NONE);
    long b = pages.allocate(PageHandle.NONE);
    assertThat(PageHandle.index(b)).isEqualTo(PageHandle.index(a) + 1);
    release(b);
    // a sequence that starts at a grows into the slots after it
    long previous = a;
    for (int i = 1; i < 8; i++) {
      long next = pages.allocate(previous);
      assertThat(PageHandle.index(next)).isEqualTo(PageHandle.index(a) + i);
      previous = next;
    }
    assertThat(pages.freeRuns()).isEqualTo(1);
    assertThat(pages.largestFreeRun()).isEqualTo(8);
  }

  @Test
  void allocate_afterTheLastSlot_fallsBackToAnyFreeSlot() {
    long last = PageHandle.NONE;
    for (int i = 0; i < 16; i++) {
      last = pages.allocate(last);
    }
    assertThat(PageHandle.index(last)).isEqualTo(15);
    release(pages.handleOf(4));
    assertThat(PageHandle.index(pages.allocate(last))).isEqualTo(4);
  }

  @Test
  void allocate_whenFull_returnsNone() {
    for (int i = 0; i < 16; i++) {
      assertThat(pages.allocate(PageHandle.NONE)).isNotEqualTo(PageHandle.NONE);
    }
    assertThat(pages.allocate(PageHandle.NONE)).isEqualTo(PageHandle.NONE);
    assertThat(pages.freePages()).isZero();
    assertThat(pages.freeRuns()).isZero();
    assertThat(pages.largestFreeRun()).isZero();
  }

  @Test
  void refCounts_freeThePageAtZero() {
    long h = pages.allocate(PageHandle.NONE);
    pages.retain(h);
    pages.retain(h);
    assertThat(pages.refCount(h)).isEqualTo(3);
    assertThat(pages.release(h)).isFalse();
    assertThat(pages.release(h)).isFalse();
    assertThat(pages.usedPages()).isEqualTo(1);
    assertThat(pages.release(h)).isTrue();
    assertThat(pages.usedPages()).isZero();
    assertThat(store.freePages()).isEqualTo(16);
  }

  @Test
  void handle_isStaleAfterFree() {
    long h = pages.allocate(PageHandle.NONE);
    pages.release(h);
    assertThatThrownBy(() -> pages.validate(h))
        .isInstanceOf(StaleHandleException.class)
        .hasMessageContaining(PageHandle.toString(h))
        .hasMessageContaining("not allocated");
    assertThatThrownBy(() -> pages.refCount(h)).isInstanceOf(StaleHandleException.class);
    assertThatThrownBy(() -> pages.retain(h)).isInstanceOf(StaleHandleException.class);
    assertThatThrownBy(() -> pages.allocate(h)).isInstanceOf(StaleHandleException.class);
    assertThat(pages.usedPages()).isZero();
  }

  @Test
  void handle_isStaleAfterItsSlotIsReused() {
    long old = pages.allocate(PageHandle.NONE);
    pages.release(old);
    long reused = pages.allocate(PageHandle.NONE);
    assertThat(PageHandle.index(reused)).isEqualTo(PageHandle.index(old));
    assertThat(PageHandle.generation(reused)).isEqualTo(2);
    assertThatThrownBy(() -> pages.release(old))
        .isInstanceOf(StaleHandleException.class)
        .hasMessageContaining(PageHandle.toString(old))
        .hasMessageContaining("generation mismatch");
    assertThat(pages.refCount(reused)).isEqualTo(1);
    assertThat(pages.handleOf((int) PageHandle.index(reused))).isEqualTo(reused);
  }

  @Test
  void doubleRelease_throwsAndChangesNothing() {
    long h = pages.allocate(PageHandle.NONE);
    long other = pages.allocate(PageHandle.NONE);
    assertThat(pages.release(h)).isTrue();
    assertThatThrownBy(() -> pages.release(h)).isInstanceOf(StaleHandleException.class);
    assertThat(pages.usedPages()).isEqualTo(1);
    assertThat(store.freePages()).isEqualTo(15);
    assertThat(pages.refCount(other)).isEqualTo(1);
  }

  @Test
  void foreignAndForgedHandles_areRejected() {
    long h = pages.allocate(PageHandle.NONE);
    long otherTier = PageHandle.of(TIER + 1, 1, PageHandle.index(h));
    assertThatThrownBy(() -> pages.validate(otherTier))
        .isInstanceOf(StaleHandleException.class)
        .hasMessageContaining("tier " + (TIER + 1));
    long outOfRange = PageHandle.of(TIER, 1, 16);
    assertThatThrownBy(() -> pages.retain(outOfRange))
        .isInstanceOf(StaleHandleException.class)
        .hasMessageContaining("out of range");
    long huge = PageHandle.of(TIER, 1, 0xFFFF_FFFFL);
    assertThatThrownBy(() -> pages.validate(huge)).isInstanceOf(StaleHandleException.class);
    long neverIssued = PageHandle.of(TIER, 1, 9);
    assertThatThrownBy(() -> pages.release(neverIssued))
        .isInstanceOf(StaleHandleException.class)
        .hasMessageContaining("not allocated");
    long wrongGeneration = PageHandle.of(TIER, 2, PageHandle.index(h));
    assertThatThrownBy(() -> pages.validate(wrongGeneration))
        .isInstanceOf(StaleHandleException.class)
        .hasMessageContaining("generation mismatch");
    assertThatThrownBy(() -> pages.validate(PageHandle.NONE))
        .isInstanceOf(StaleHandleException.class);
    assertThat(pages.refCount(h)).isEqualTo(1);
  }

  @Test
  void handleOf_rejectsFreeAndOutOfRangeSlots() {
    assertThatThrownBy(() -> pages.handleOf(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not allocated");
    assertThatThrownBy(() -> pages.handleOf(16))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("out of range");
  }

  @Test
  void constructor_rejectsBadTierOrdinal() {
    assertThatThrownBy(() -> new PageAllocator(16, store))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new PageAllocator(-1, store))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void generations_wrapSkippingZero() {
    var small = new DramPageStore("one", PAGE, PAGE);
    try (small) {
      var one = new PageAllocator(0, small);
      long h = PageHandle.NONE;
      for (int i = 0; i < 5; i++) {
        h = one.allocate(PageHandle.NONE);
        assertThat(PageHandle.generation(h)).isEqualTo(i + 1);
        one.release(h);
      }
      assertThat(PageHandle.nextGeneration(PageHandle.MAX_GENERATION)).isEqualTo(1);
    }
  }

  @Test
  void allocateAndRelease_doNotAllocateOnTheHeap() throws ReflectiveOperationException {
    // by reflection: the test is compiled into the io.kvtier.core module, which does not read
    // java.management; at run time it is on the class path
    Object threads =
        Class.forName("java.lang.management.ManagementFactory")
            .getMethod("getThreadMXBean")
            .invoke(null);
    Method allocatedBytes =
        Class.forName("com.sun.management.ThreadMXBean")
            .getMethod("getCurrentThreadAllocatedBytes");
    long[] live = new long[8];
    for (int round = 0; round < 3; round++) {
      long before = (long) allocatedBytes.invoke(threads);
      for (int i = 0; i < 20_000; i++) {
        long previous = PageHandle.NONE;
        for (int p = 0; p < live.length; p++) {
          live[p] = pages.allocate(previous);
          previous = live[p];
        }
        for (int p = 0; p < live.length; p++) {
          pages.retain(live[p]);
          pages.release(live[p]);
          pages.release(live[p]);
        }
      }
      long allocated = (long) allocatedBytes.invoke(threads) - before;
      if (round == 2) {
        // 160,000 allocations: any per-call allocation would show as megabytes
        assertThat(allocated).isLessThan(16_384);
      }
    }
  }

  private void release(long handle) {
    assertThat(pages.release(handle)).isTrue();
  }
}
