package io.kvtier.hbm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kvtier.spi.TierKind;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Load state of the native shim, and the tier factories. */
class HbmTierTest {

  @Test
  void emulatedBuild_isAlwaysAvailable() {
    assertThat(HbmVariant.EMULATED.isAvailable()).isTrue();
    assertThat(HbmVariant.EMULATED.unavailabilityCause()).isNull();
    HbmNative lib = HbmNative.get(HbmVariant.EMULATED);
    assertThat(lib.buildName()).isEqualTo("emulated");
    assertThat(lib.deviceCount()).isGreaterThanOrEqualTo(1);
  }

  @Test
  void cudaBuild_isAvailableOnlyWithAGpu_elseSaysWhy() {
    if (HbmTier.isAvailable()) {
      assertThat(HbmTier.unavailabilityCause()).isNull();
      assertThat(HbmNative.get(HbmVariant.CUDA).deviceCount()).isPositive();
      return;
    }
    String cause = HbmTier.unavailabilityCause();
    assertThat(cause).isNotBlank();
    boolean packed =
        HbmTierTest.class.getClassLoader().getResource(HbmTier.nativeResource(HbmVariant.CUDA))
            != null;
    if (packed) {
      // built with nvcc, run without a driver: the CUDA runtime's error is passed through
      assertThat(cause).contains("no usable cuda device").contains("cuda error");
    } else {
      assertThat(cause).contains("not in this jar").contains("nvcc");
    }
    assertThatThrownBy(HbmTier::ensureAvailability)
        .isInstanceOf(UnsatisfiedLinkError.class)
        .hasMessageContaining(cause);
    assertThatThrownBy(() -> HbmTier.cuda(0, 1 << 20).open(4096))
        .isInstanceOf(UnsatisfiedLinkError.class)
        .hasMessageContaining(cause);
  }

  @Test
  void libraries_arePackedUnderThePlatformFolder() {
    for (String lib : new String[] {"kvtier_hbm_jni", "kvtier_hbm_emulated"}) {
      String resource = HbmNative.resource(System.mapLibraryName(lib));
      assertThat(resource).startsWith("META-INF/native/" + HbmNative.platform() + "/");
      assertThat(getClass().getClassLoader().getResource(resource)).as(resource).isNotNull();
    }
    assertThat(HbmTier.nativeResource(HbmVariant.CUDA)).endsWith("libkvtier_hbm_cuda.so");
  }

  @Test
  void extractedLibraries_doNotStayInTheTempFolder() throws Exception {
    HbmNative.get(HbmVariant.EMULATED);
    try (var files = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
      assertThat(files.map(p -> p.getFileName().toString()))
          .noneMatch(n -> n.startsWith(HbmNative.tempPrefix()));
    }
  }

  @Test
  void factories_describeTheTier() {
    HbmTierSpec spec = HbmTier.emulated(1 << 20).named("gpu0").layerSplit(64);
    assertThat(spec.name()).isEqualTo("gpu0");
    assertThat(spec.kind()).isEqualTo(TierKind.HBM);
    assertThat(spec.capacityBytes()).isEqualTo(1 << 20);
    assertThat(spec.segments()).isEqualTo(64);
    assertThat(spec.variant()).isEqualTo(HbmVariant.EMULATED);
    assertThat(spec.region()).isNull();
    assertThat(HbmTier.cuda(1, 4096).device()).isEqualTo(1);
    HbmRegion region = HbmRegion.perLayerTensors(0, new long[] {1 << 20, 2 << 20}, 8, 512);
    HbmTierSpec registered = HbmTier.registered(region);
    assertThat(registered.capacityBytes()).isEqualTo(8L * 4 * 512);
    assertThat(registered.segments()).isEqualTo(4);
    assertThat(registered.variant()).isEqualTo(HbmVariant.CUDA);
  }

  @Test
  void factories_rejectBadArguments() {
    assertThatThrownBy(() -> HbmTier.emulated(0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> HbmTier.cuda(-1, 4096)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> HbmTier.emulated(4096).named(" "))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> HbmTier.emulated(4096).layerSplit(0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> HbmRegion.contiguous(0, 0, 4, 4096))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("null base");
    assertThatThrownBy(() -> HbmRegion.of(0, 4, 4096, new long[] {4096}, new long[] {1024}))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("overlap");
    assertThatThrownBy(() -> HbmTier.emulated(3000).layerSplit(7).open(4096))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> HbmTier.emulated(4096).layerSplit(3).open(4096))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("equal segments");
  }

  @Test
  void configuredVariant_readsTheSystemProperty() {
    String old = System.getProperty(HbmVariant.VARIANT_PROPERTY);
    try {
      System.setProperty(HbmVariant.VARIANT_PROPERTY, "CUDA");
      assertThat(HbmVariant.configured(HbmVariant.EMULATED)).isEqualTo(HbmVariant.CUDA);
      System.setProperty(HbmVariant.VARIANT_PROPERTY, "tpu");
      assertThatThrownBy(() -> HbmVariant.configured(HbmVariant.EMULATED))
          .isInstanceOf(IllegalArgumentException.class);
    } finally {
      if (old == null) {
        System.clearProperty(HbmVariant.VARIANT_PROPERTY);
      } else {
        System.setProperty(HbmVariant.VARIANT_PROPERTY, old);
      }
    }
  }

  @Test
  void shimErrors_becomeExceptions_withStatusAndMessage() {
    HbmNative lib = HbmNative.get(HbmVariant.EMULATED);
    assertThatThrownBy(() -> lib.deviceAlloc(99, 4096))
        .isInstanceOf(HbmException.class)
        .hasMessageContaining("emulated device 99 does not exist")
        .satisfies(e -> assertThat(((HbmException) e).status()).isEqualTo(HbmNative.E_NO_DEVICE));
    assertThatThrownBy(() -> lib.deviceFree(0, 12345))
        .isInstanceOf(HbmException.class)
        .hasMessageContaining("not an allocation");
    assertThat(lib.describe(HbmNative.E_RANGE)).isEqualTo("out of range");
  }
}
