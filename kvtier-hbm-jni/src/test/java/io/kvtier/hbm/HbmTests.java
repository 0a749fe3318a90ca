package io.kvtier.hbm;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

/** Shared helpers: which build the tests run on, and test bytes. */
final class HbmTests {
  private HbmTests() {}

  /**
   * The build under test: {@code -Dkvtier.hbm.variant=cuda} (native/gpu-check.sh) or the emulated
   * device (CI). The chosen build must load: a GPU run that silently fell back would prove nothing.
   */
  static HbmVariant variant() {
    HbmVariant v = HbmVariant.configured(HbmVariant.EMULATED);
    assertThat(v.unavailabilityCause()).as("cause").isNull();
    return v;
  }

  static MemorySegment random(Arena arena, long bytes, long seed) {
    byte[] b = new byte[(int) bytes];
    new Random(seed).nextBytes(b);
    MemorySegment seg = arena.allocate(bytes, 64);
    MemorySegment.copy(b, 0, seg, ValueLayout.JAVA_BYTE, 0, b.length);
    return seg;
  }

  static MemorySegment filled(Arena arena, long bytes, int value) {
    MemorySegment seg = arena.allocate(bytes, 64);
    seg.fill((byte) value);
    return seg;
  }

  static long[] live(HbmVariant variant) {
    return HbmNative.get(variant).liveObjects();
  }
}
