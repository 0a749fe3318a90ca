package io.kvtier.cabi;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** The entry points as the C side calls them: primitive handles and native addresses. */
class CAbiTest extends CAbiFixture {
  private static final String CONFIG =
      "layout.page_bytes=512\nlayout.tokens_per_block=16\ntier.dram.capacity=256k\n";

  @Override
  String config() {
    return CONFIG;
  }

  @Test
  void acquireExtendCommit_thenASecondRequestReusesThePrefix() {
    MemorySegment tok = tokens(100, 1);
    long a = acquire(tok, 100);
    assertThat(CAbi.leaseExtend(a)).isEqualTo(Status.OK);
    assertThat(CAbi.leaseCommit(a, -1)).isEqualTo(Status.OK);
    assertThat(CAbi.leaseCommittedTokens(a)).isEqualTo(96);
    MemorySegment table = arena.allocate(ValueLayout.JAVA_LONG, 8);
    assertThat(CAbi.leaseBlockTable(a, table.address(), 8)).isEqualTo(7);
    assertThat(CAbi.leaseBlockTable(a, table.address(), 6)).isEqualTo(Status.BUFFER_TOO_SMALL);
    assertThat(CAbi.lastError()).contains("7 entries");
    assertThat(CAbi.leaseRelease(a)).isEqualTo(Status.OK);

    MemorySegment cached = arena.allocate(ValueLayout.JAVA_INT);
    long b = CAbi.acquire(cache, ns, 0, 0, tok.address(), 100, cached.address());
    assertThat(cached.get(ValueLayout.JAVA_INT, 0)).isEqualTo(96);
    assertThat(CAbi.leaseCachedTokens(b)).isEqualTo(96);
    assertThat(CAbi.leaseRelease(b)).isEqualTo(Status.OK);
  }

  @Test
  void anOpenLeaseKeepsItsTokens_whileAnotherLeaseOfTheSameLengthIsAcquired() {
    MemorySegment x = tokens(64, 1);
    MemorySegment y = tokens(64, 2);
    long a = acquire(x, 64);
    long warm = acquire(y, 64);
    CAbi.leaseRelease(warm);
    long b = acquire(y, 64);
    assertThat(CAbi.leaseExtend(a)).isEqualTo(Status.OK);
    assertThat(CAbi.leaseCommit(a, -1)).isEqualTo(Status.OK);
    assertThat(CAbi.probe(cache, ns, 0, x.address(), 64, 0, 0)).isEqualTo(64);
    assertThat(CAbi.probe(cache, ns, 0, y.address(), 64, 0, 0)).isZero();
    CAbi.leaseRelease(a);
    CAbi.leaseRelease(b);
  }

  @Test
  void badHandles_comeBackAsCodes_withAMessage() {
    long a = acquire(tokens(16, 1), 16);
    assertThat(CAbi.leaseRelease(a)).isEqualTo(Status.OK);
    assertThat(CAbi.leaseRelease(a)).isEqualTo(Status.BAD_HANDLE);
    assertThat(CAbi.lastError()).contains("stale");
    assertThat(CAbi.leaseExtend(ns)).isEqualTo(Status.BAD_HANDLE);
    assertThat(CAbi.lastError()).contains("not a lease");
    assertThat(CAbi.leaseExtend(0)).isEqualTo(Status.BAD_HANDLE);
    assertThat(CAbi.lastError()).contains("NULL");
    assertThat(CAbi.acquire(cache, ns, 0, 0, 0, 5, 0)).isEqualTo(Status.INVALID_ARGUMENT);
    assertThat(CAbi.acquire(cache, ns, 0, 0, 0, -1, 0)).isEqualTo(Status.INVALID_ARGUMENT);
    assertThat(CAbi.sessionPause(ns, 0, 1)).isEqualTo(Status.BAD_HANDLE);
  }

  @Test
  void outOfPages_isNoSpace_andTheLeaseIsUnchanged() {
    MemorySegment tok = tokens(16 * 600, 3);
    long a = acquire(tok, 16 * 600);
    assertThat(CAbi.leaseExtend(a)).isEqualTo(Status.NO_SPACE);
    assertThat(CAbi.leaseTokenCount(a)).isZero();
    assertThat(CAbi.leaseRelease(a)).isEqualTo(Status.OK);
  }

  @Test
  void destroyedCache_leasesReportClosed_andCanStillBeReleased() {
    MemorySegment tok = tokens(32, 4);
    long a = acquire(tok, 32);
    long s = CAbi.sessionOpen(cache, str("s"), 1);
    assertThat(s).isPositive();
    assertThat(CAbi.cacheDestroy(cache)).isEqualTo(Status.OK);
    assertThat(CAbi.cacheDestroy(cache)).isEqualTo(Status.BAD_HANDLE);
    assertThat(CAbi.leaseExtend(a)).isEqualTo(Status.CLOSED);
    assertThat(CAbi.leaseRelease(a)).isEqualTo(Status.OK);
    assertThat(CAbi.sessionResume(s)).isEqualTo(Status.BAD_HANDLE);
    assertThat(CAbi.namespaceOpen(cache, str("m"), 1, 0, 0)).isEqualTo(Status.BAD_HANDLE);
    cache = 0;
  }

  @Test
  void stats_andEvents_areWrittenInTheDocumentedLayout() {
    MemorySegment tok = tokens(48, 5);
    long a = acquire(tok, 48);
    CAbi.leaseExtend(a);
    CAbi.leaseCommit(a, -1);
    CAbi.leaseRelease(a);

    MemorySegment st = arena.allocate(StructLayout.STATS_SIZE);
    assertThat(CAbi.stats(cache, st.address())).isEqualTo(Status.OK);
    assertThat(st.get(ValueLayout.JAVA_LONG, StructLayout.STATS_LOOKUPS)).isEqualTo(1);
    assertThat(st.get(ValueLayout.JAVA_LONG, StructLayout.STATS_CACHED_BLOCKS)).isEqualTo(3);
    assertThat(st.get(ValueLayout.JAVA_INT, StructLayout.STATS_N_TIERS)).isEqualTo(1);
    assertThat(st.getString(StructLayout.STATS_TIERS + StructLayout.TIER_NAME)).isEqualTo("dram");
    assertThat(
            st.get(
                ValueLayout.JAVA_LONG, StructLayout.STATS_TIERS + StructLayout.TIER_CAPACITY_PAGES))
        .isEqualTo(512);

    MemorySegment ev = arena.allocate(StructLayout.EVENT_SIZE * 2);
    MemorySegment next = arena.allocate(ValueLayout.JAVA_LONG);
    assertThat(CAbi.events(cache, 0, ev.address(), 2, next.address(), 0)).isEqualTo(2);
    assertThat(ev.get(ValueLayout.JAVA_INT, StructLayout.EVENT_TYPE))
        .isEqualTo(StructLayout.EVENT_STORED);
    assertThat(ev.get(ValueLayout.JAVA_LONG, StructLayout.EVENT_NS)).isEqualTo(ns);
    assertThat(ev.get(ValueLayout.JAVA_INT, StructLayout.EVENT_TO_TIER)).isEqualTo(-1);
    long seq0 = ev.get(ValueLayout.JAVA_LONG, StructLayout.EVENT_SEQ);
    assertThat(next.get(ValueLayout.JAVA_LONG, 0)).isEqualTo(seq0 + 2);
    assertThat(CAbi.events(cache, seq0 + 2, ev.address(), 2, next.address(), 0)).isEqualTo(1);
  }

  @Test
  void javaBench_timesTheSameCalls() {
    MemorySegment tok = tokens(64, 6);
    long a = acquire(tok, 64);
    CAbi.leaseExtend(a);
    CAbi.leaseCommit(a, -1);
    CAbi.leaseRelease(a);
    assertThat(CAbi.benchJavaAcquireRelease(cache, ns, tok.address(), 64, 100)).isPositive();
  }
}
