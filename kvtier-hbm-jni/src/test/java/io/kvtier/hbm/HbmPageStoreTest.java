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
}
