package io.kvtier.hbm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class HbmTierTest {

  @Test
  void withoutShim_isUnavailableWithCause() {
    assertThat(HbmTier.isAvailable()).isFalse();
    assertThat(HbmTier.unavailabilityCause())
        .contains("not built")
        .contains(HbmTier.nativeResource());
  }

  @Test
  void ensureAvailability_throwsWithTheCause() {
    assertThatThrownBy(HbmTier::ensureAvailability)
        .isInstanceOf(UnsatisfiedLinkError.class)
        .hasMessageContaining(HbmTier.unavailabilityCause());
  }

  @Test
  void nativeResource_namesPlatformAndLibrary() {
    assertThat(HbmTier.nativeResource())
        .startsWith("native/")
        .endsWith(System.mapLibraryName(HbmTier.LIBRARY_NAME));
  }
}
