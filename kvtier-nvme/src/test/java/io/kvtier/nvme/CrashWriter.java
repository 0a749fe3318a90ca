package io.kvtier.nvme;

import java.lang.foreign.Arena;
import java.nio.file.Path;

/**
 * The child process of {@link CrashRecoveryTest}: writes blocks round after round over every slot
 * of a store until it is killed. Block and page of each write follow from one seed ({@link
 * TestPages}), so the parent can check whatever it recovers. Prints {@code ready} after the first
 * full round. Arguments: {@code slab|rocksdb path pageBytes pages}.
 */
public final class CrashWriter {
  private CrashWriter() {}

  /**
   * Writes until killed.
   *
   * @param args store kind, path, page bytes, pages
   */
  public static void main(String[] args) {
    Path path = Path.of(args[1]);
    int pageBytes = Integer.parseInt(args[2]);
    int pages = Integer.parseInt(args[3]);
    long capacity = (long) pageBytes * pages;
    NvmeOptions options = NvmeOptions.builder().writeBufferBytes(1 << 20).build();
    NvmeTier.Spec spec =
        args[0].equals("slab")
            ? NvmeTier.slab("crash", path, capacity, options)
            : NvmeTier.rocksdb("crash", path, capacity, options);
    NvmePageStore store = spec.open(pageBytes);
    try (Arena arena = Arena.ofConfined()) {
      for (long round = 0; ; round++) {
        for (int slot = 0; slot < pages; slot++) {
          long seed = round * pages + slot + 1;
          store.writeBlock(slot, TestPages.block(seed), TestPages.page(arena, pageBytes, seed));
        }
        if (round == 0) {
          System.out.println("ready");
          System.out.flush();
        }
      }
    }
  }
}
