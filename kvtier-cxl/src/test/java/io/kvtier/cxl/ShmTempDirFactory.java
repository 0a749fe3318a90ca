package io.kvtier.cxl;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.AnnotatedElementContext;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.io.TempDirFactory;

/**
 * Puts {@code @TempDir} folders on {@code /dev/shm} (tmpfs, as a memory pool would be) when it
 * exists and is writable, else in the default temporary directory.
 */
final class ShmTempDirFactory implements TempDirFactory {

  static final Path SHM = Path.of("/dev/shm");

  @Override
  public Path createTempDirectory(
      AnnotatedElementContext elementContext, ExtensionContext extensionContext)
      throws IOException {
    if (Files.isDirectory(SHM) && Files.isWritable(SHM)) {
      try {
        return Files.createTempDirectory(SHM, "kvtier-cxl-test");
      } catch (IOException e) {
        // fall through to the default location
      }
    }
    return Files.createTempDirectory("kvtier-cxl-test");
  }
}
