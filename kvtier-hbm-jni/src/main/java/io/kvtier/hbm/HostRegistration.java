package io.kvtier.hbm;

import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;

/**
 * Existing host memory pinned for DMA ({@code cudaHostRegister}), so that copies between it and the
 * device need no staging: register a DRAM tier's page pool once, then onboarding and offloading
 * copy straight between its pages and HBM. Made by {@link
 * HbmPageStore#registerHost(MemorySegment)}; {@link #close()} unpins it (idempotent).
 */
public final class HostRegistration implements AutoCloseable {

  private final HbmNative lib;
  private final MemorySegment memory;
  private final Consumer<AutoCloseable> onClose;
  private boolean closed;

  HostRegistration(HbmNative lib, MemorySegment memory, Consumer<AutoCloseable> onClose) {
    this.lib = lib;
    this.memory = memory;
    this.onClose = onClose;
    lib.hostRegister(memory.address(), memory.byteSize());
  }

  /**
   * The pinned memory.
   *
   * @return the segment that was registered
   */
  public MemorySegment memory() {
    return memory;
  }

  /** Unpins the memory. The caller must not close it while a copy to or from it is in flight. */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    lib.hostUnregister(memory.address());
    onClose.accept(this);
  }
}
