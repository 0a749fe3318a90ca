package io.kvtier.hbm;

import static io.kvtier.hbm.HbmTests.filled;
import static io.kvtier.hbm.HbmTests.random;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.kvtier.KvLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Batched, gather/scatter and host-memory paths of the HBM store, beyond the tier contract. */
class HbmPageStoreTest {

  private static final int LAYERS = 4;
  private static final int SEGMENTS = 2 * LAYERS;
  private static final int SEGMENT = 4096;
  private static final int PAGE = SEGMENTS * SEGMENT;
  private static final int PAGES = 32;

  private HbmVariant variant;
  private Arena arena;
  private long[] liveBefore;

  @BeforeEach
  void setUp() {
    variant = HbmTests.variant();
    liveBefore = HbmTests.live(variant);
    arena = Arena.ofShared();
  }

  @AfterEach
  void tearDown() {
    arena.close();
    assertThat(HbmTests.live(variant)).as("native objects leaked").isEqualTo(liveBefore);
  }

  private HbmPageStore layerSplit() {
    return HbmTier.of(variant, 0, (long) PAGES * PAGE).layerSplit(SEGMENTS).open(PAGE);
  }

  @Test
  void gatherThenScatter_ofManyLayerSplitPages_roundTrips() throws Exception {
    try (HbmPageStore store = layerSplit()) {
      long[] slots = new long[PAGES];
      MemorySegment[] pages = new MemorySegment[PAGES];
      for (int i = 0; i < PAGES; i++) {
        slots[i] = store.allocate(i == 0 ? -1 : slots[i - 1] + 1);
        pages[i] = random(arena, PAGE, i);
      }
      store.writeAsync(slots, pages).get(10, TimeUnit.SECONDS);
      MemorySegment packed = filled(arena, (long) PAGES * PAGE, 0);
      long[] reversed = new long[PAGES];
      for (int i = 0; i < PAGES; i++) {
        reversed[i] = slots[PAGES - 1 - i];
      }
      store.readAsync(reversed, packed).get(10, TimeUnit.SECONDS);
      for (int i = 0; i < PAGES; i++) {
        assertThat(packed.asSlice((long) i * PAGE, PAGE).mismatch(pages[PAGES - 1 - i]))
            .as("page %d", i)
            .isEqualTo(-1L);
      }
    }
  }

  @Test
  void layerSplitPages_landInTheirSegmentSlabs() throws Exception {
    assumeTrue(variant == HbmVariant.EMULATED, "emulated device memory is readable by the host");
    try (HbmPageStore store = layerSplit()) {
      long slot = 5;
      assertThat(store.allocate(slot)).isEqualTo(slot);
      MemorySegment page = random(arena, PAGE, 11);
      store.write(slot, page);
      long base = store.deviceAddress(0, 0);
      for (int s = 0; s < SEGMENTS; s++) {
        long expected = base + (long) s * PAGES * SEGMENT + slot * SEGMENT;
        assertThat(store.deviceAddress(slot, s)).isEqualTo(expected);
        assertThat(
                deviceBytes(expected, SEGMENT).mismatch(page.asSlice((long) s * SEGMENT, SEGMENT)))
            .as("segment %d", s)
            .isEqualTo(-1L);
      }
    }
  }

  @SuppressWarnings("restricted") // reads emulated "device" memory, which is host memory
  private static MemorySegment deviceBytes(long address, long bytes) {
    return MemorySegment.ofAddress(address).reinterpret(bytes);
  }

  @Test
  void registeredRegion_stridedLayout_managesBlockIdsInsideEngineMemory() throws Exception {
    HbmNative lib = HbmNative.get(variant);
    int blocks = 16;
    // [blocks][layers][2][...]: the whole block is contiguous, segments interleaved.
    long engine = lib.deviceAlloc(0, (long) blocks * PAGE);
    try {
      HbmRegion region =
          HbmRegion.strided(0, engine, blocks, LAYERS, 2L * SEGMENT, SEGMENT, PAGE, SEGMENT);
      try (HbmPageStore store = HbmTier.registered(variant, region).open(PAGE)) {
        assertThat(store.isRegistered()).isTrue();
        assertThat(store.capacityPages()).isEqualTo(blocks);
        long[] slots = {store.allocate(-1), store.allocate(-1)};
        MemorySegment[] pages = {random(arena, PAGE, 1), random(arena, PAGE, 2)};
        store.writeAsync(slots, pages).get(10, TimeUnit.SECONDS);
        long[] copies = {store.allocate(-1), store.allocate(-1)};
        store.copyAsync(slots, copies).get(10, TimeUnit.SECONDS);
        for (int i = 0; i < 2; i++) {
          MemorySegment back = filled(arena, PAGE, 0);
          store.read(copies[i], back);
          assertThat(back.mismatch(pages[i])).isEqualTo(-1L);
          assertThat(store.deviceAddress(slots[i], 0)).isEqualTo(engine + slots[i] * PAGE);
        }
      }
      assertThat(HbmTests.live(variant)[0])
          .as("the engine's memory is still allocated after the store closed")
          .isEqualTo(liveBefore[0] + 1);
    } finally {
      lib.deviceFree(0, engine);
    }
  }

  @Test
  void registeredRegion_outsideDeviceMemory_isRefused() {
    assumeTrue(variant == HbmVariant.EMULATED, "the emulated device knows its allocations");
    try (Arena host = Arena.ofConfined()) {
      MemorySegment notDevice = host.allocate(PAGE * 4L, 4096);
      HbmRegion region = HbmRegion.contiguous(0, notDevice.address(), 4, PAGE);
      assertThatThrownBy(() -> HbmTier.registered(variant, region).open(PAGE))
          .isInstanceOf(HbmException.class)
          .hasMessageContaining("not inside device memory")
          .satisfies(e -> assertThat(((HbmException) e).status()).isEqualTo(HbmNative.E_RANGE));
    }
  }

  @Test
  void registeredRegion_ofAnotherPageSize_isRefusedAtOpen() {
    HbmRegion region = HbmRegion.contiguous(0, 1L << 20, 4, PAGE);
    assertThatThrownBy(() -> HbmTier.registered(variant, region).open(PAGE / 2))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("describe the region with the layout's segment size");
  }

  @Test
  void layoutOption_splitsPagesPerLayer() {
    KvLayout layout =
        KvLayout.of(4, 1, 64, io.kvtier.DType.BF16, 16).with(KvLayout.Arrangement.LAYER_SPLIT);
    try (HbmPageStore store =
        HbmTier.of(variant, 0, 8L * layout.pageBytes()).layout(layout).open(layout.pageBytes())) {
      assertThat(store.segments()).isEqualTo(8);
      assertThat(layout.layerSegmentBytes() * store.segments()).isEqualTo(store.pageBytes());
    }
  }

  @Test
  void pinnedAndRegisteredHostMemory_areDmaTargets_andAreReleasedWithTheStore() throws Exception {
    HbmPageStore store = layerSplit();
    try {
      PinnedBuffer pinned = store.allocatePinned(2L * PAGE);
      MemorySegment dram = arena.allocate(4L * PAGE, 4096);
      HostRegistration registration = store.registerHost(dram);
      MemorySegment page = random(arena, PAGE, 8);
      MemorySegment.copy(page, 0, pinned.segment(), 0, PAGE);
      long slot = store.allocate(-1);
      store.writeAsync(slot, pinned.segment().asSlice(0, PAGE)).get(5, TimeUnit.SECONDS);
      store.readAsync(slot, dram.asSlice(PAGE, PAGE)).get(5, TimeUnit.SECONDS);
      assertThat(dram.asSlice(PAGE, PAGE).mismatch(page)).isEqualTo(-1L);
      registration.close();
      registration.close();
      assertThat(pinned.byteSize()).isEqualTo(2L * PAGE);
    } finally {
      store.close();
    }
    // the pinned buffer was closed with the store: its segment is no longer accessible
  }

  @Test
  void pinnedBuffer_afterClose_failsCleanly() {
    try (HbmPageStore store = layerSplit()) {
      PinnedBuffer pinned = store.allocatePinned(PAGE);
      pinned.close();
      pinned.close();
      assertThatThrownBy(() -> pinned.segment().get(ValueLayout.JAVA_BYTE, 0))
          .isInstanceOf(IllegalStateException.class);
    }
  }

  @Test
  void heapSegments_areStaged() throws Exception {
    try (HbmPageStore store = layerSplit()) {
      long slot = store.allocate(-1);
      byte[] bytes = new byte[PAGE];
      new java.util.Random(3).nextBytes(bytes);
      store.write(slot, MemorySegment.ofArray(bytes));
      byte[] back = new byte[PAGE];
      store.read(slot, MemorySegment.ofArray(back));
      assertThat(back).isEqualTo(bytes);
      byte[] async = new byte[PAGE];
      store
          .readAsync(new long[] {slot}, new MemorySegment[] {MemorySegment.ofArray(async)})
          .get(5, TimeUnit.SECONDS);
      assertThat(async).isEqualTo(bytes);
    }
  }

  @Test
  void badBatches_areRejected_andChangeNothing() {
    try (HbmPageStore store = layerSplit()) {
      long a = store.allocate(-1);
      long b = store.allocate(-1);
      MemorySegment page = random(arena, PAGE, 1);
      assertThatThrownBy(
              () -> store.writeAsync(new long[] {a, a}, new MemorySegment[] {page, page}))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("twice");
      assertThatThrownBy(() -> store.writeAsync(new long[] {a, b}, new MemorySegment[] {page}))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(
              () ->
                  store.writeAsync(
                      new long[] {a, b}, new MemorySegment[] {page, page.asSlice(0, 16)}))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("equally long");
      assertThatThrownBy(() -> store.copyAsync(new long[] {a}, new long[] {a}))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> store.readAsync(new long[] {a}, arena.allocate(PAGE + 1)))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> store.deviceAddress(a, SEGMENTS))
          .isInstanceOf(IndexOutOfBoundsException.class);
      assertThat(store.segment(a)).isEmpty();
      assertThat(store.freePages()).isEqualTo(PAGES - 2);
    }
  }

  @Test
  void outOfDeviceMemory_failsAtOpen_withTheShimsMessage() {
    assumeTrue(variant == HbmVariant.EMULATED, "the emulated device's size is configurable");
    long tooMuch = HbmNative.get(variant).deviceMemory(0)[0] + PAGE;
    assertThatThrownBy(() -> HbmTier.emulated(tooMuch).open(PAGE))
        .isInstanceOf(HbmException.class)
        .hasMessageContaining("device_alloc");
  }

  /** Pages of {@code fill} with bytes {@code [offset, offset + length)} taken from {@code over}. */
  private static MemorySegment patched(
      Arena arena, MemorySegment base, MemorySegment over, long offset, long length) {
    MemorySegment p = arena.allocate(PAGE, 64);
    MemorySegment.copy(base, 0, p, 0, PAGE);
    MemorySegment.copy(over, offset, p, offset, length);
    return p;
  }

  @Test
  void rangeWrites_changeOnlyTheirBytes_whereverTheSegmentsSplit() throws Exception {
    long layer = PAGE / LAYERS;
    long[][] ranges = {
      {0, layer}, // layer 0: the K and V segments of one layer
      {layer * 2, layer}, // a later layer
      {SEGMENT / 2, SEGMENT * 2}, // across three segments, starting and ending inside them
      {PAGE - 1, 1}, // the last byte
      {0, PAGE} // the whole page
    };
    for (HbmPageStore store :
        new HbmPageStore[] {layerSplit(), HbmTier.of(variant, 0, (long) PAGES * PAGE).open(PAGE)}) {
      try (store) {
        assertThat(store.transfersBatches()).isTrue();
        long[] slots = {store.allocate(-1), store.allocate(-1), store.allocate(-1)};
        for (long[] r : ranges) {
          MemorySegment[] before = new MemorySegment[3];
          MemorySegment[] over = new MemorySegment[3];
          for (int i = 0; i < 3; i++) {
            before[i] = random(arena, PAGE, 100 + i);
            over[i] = random(arena, PAGE, 200 + i);
          }
          store.writeAsync(slots, before).get(10, TimeUnit.SECONDS);
          store.writePagesAsync(slots, over, r[0], r[1]).get(10, TimeUnit.SECONDS);
          for (int i = 0; i < 3; i++) {
            MemorySegment back = filled(arena, PAGE, 0);
            store.read(slots[i], back);
            assertThat(back.mismatch(patched(arena, before[i], over[i], r[0], r[1])))
                .as("segments %d, range %d+%d, page %d", store.segments(), r[0], r[1], i)
                .isEqualTo(-1L);
          }
          // and back out: only the range reaches the host page
          MemorySegment[] out = {filled(arena, PAGE, 0x5a), filled(arena, PAGE, 0x5a)};
          store
              .readPagesAsync(new long[] {slots[0], slots[2]}, out, r[0], r[1])
              .get(10, TimeUnit.SECONDS);
          MemorySegment blank = filled(arena, PAGE, 0x5a);
          assertThat(out[0].mismatch(patched(arena, blank, over[0], r[0], r[1]))).isEqualTo(-1L);
          assertThat(out[1].mismatch(patched(arena, blank, over[2], r[0], r[1]))).isEqualTo(-1L);
        }
      }
    }
  }

  @Test
  void rangeTransfers_ofHeapPages_areStagedOnlyForTheirRange() throws Exception {
    try (HbmPageStore store = layerSplit()) {
      long slot = store.allocate(-1);
      MemorySegment before = random(arena, PAGE, 7);
      store.write(slot, before);
      byte[] heap = new byte[PAGE];
      java.util.Arrays.fill(heap, (byte) 9);
      long offset = PAGE / LAYERS;
      store
          .writePagesAsync(
              new long[] {slot}, new MemorySegment[] {MemorySegment.ofArray(heap)}, offset, 100)
          .get(10, TimeUnit.SECONDS);
      MemorySegment back = filled(arena, PAGE, 0);
      store.read(slot, back);
      MemorySegment nines = filled(arena, PAGE, 9);
      assertThat(back.mismatch(patched(arena, before, nines, offset, 100))).isEqualTo(-1L);
      byte[] into = new byte[PAGE];
      store
          .readPagesAsync(
              new long[] {slot}, new MemorySegment[] {MemorySegment.ofArray(into)}, 0, offset + 1)
          .get(10, TimeUnit.SECONDS);
      MemorySegment expected = patched(arena, filled(arena, PAGE, 0), back, 0, offset + 1);
      assertThat(MemorySegment.ofArray(into).mismatch(expected)).isEqualTo(-1L);
    }
  }

  @Test
  void badRanges_areRejected_andChangeNothing() throws Exception {
    try (HbmPageStore store = layerSplit()) {
      long slot = store.allocate(-1);
      MemorySegment page = random(arena, PAGE, 3);
      store.write(slot, page);
      long[] one = {slot};
      MemorySegment[] host = {filled(arena, PAGE, 1)};
      assertThatThrownBy(() -> store.writePagesAsync(one, host, PAGE - 8, 16))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("not inside a page");
      assertThatThrownBy(() -> store.writePagesAsync(one, host, -1, 16))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(
              () ->
                  store.writePagesAsync(
                      one, new MemorySegment[] {filled(arena, 64, 1)}, PAGE / 2, 128))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("does not hold bytes");
      assertThatThrownBy(() -> store.writePagesAsync(new long[] {slot, slot + 1}, host, 0, 16))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("2 slots but 1 host pages");
      assertThatThrownBy(() -> store.readPagesAsync(new long[] {PAGES}, host, 0, 16))
          .isInstanceOf(IllegalArgumentException.class);
      MemorySegment back = filled(arena, PAGE, 0);
      store.read(slot, back);
      assertThat(back.mismatch(page)).isEqualTo(-1L);
    }
  }
}
