package io.kvtier.hbm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;

/**
 * Page-locked host memory that the device reads and writes by DMA ({@code cudaHostAlloc}, portable
 * and mapped; ordinary aligned memory on the emulated build). Made by {@link
 * HbmPageStore#allocatePinned(long)}.
 *
 * <p>{@link #segment()} is valid until {@link #close()}; after that any access to it throws {@link
 * IllegalStateException} (its scope is a shared arena closed before the memory is freed), never a
 * crash. Close is idempotent and thread-safe.
 */
public final class PinnedBuffer implements AutoCloseable {

  private final HbmNative lib;
  private final long address;
  private final Arena scope;
  private final MemorySegment segment;
  private final Consumer<AutoCloseable> onClose;
  private boolean closed;

  @SuppressWarnings("restricted") // the address and size come from the shim's allocation
  PinnedBuffer(HbmNative lib, long bytes, Consumer<AutoCloseable> onClose) {
    this.lib = lib;
    this.address = lib.hostAlloc(bytes);
    this.scope = Arena.ofShared();
    this.segment = MemorySegment.ofAddress(address).reinterpret(bytes, scope, null);
    this.onClose = onClose;
  }

  /**
   * The memory.
   *
   * @return a native segment, valid until {@link #close()}
   */
  public MemorySegment segment() {
    return segment;
  }

  /**
   * Size in bytes.
   *
   * @return the size
   */
  public long byteSize() {
    return segment.byteSize();
  }

  /** Frees the memory. The caller must not close it while a copy to or from it is in flight. */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    scope.close();
    lib.hostFree(address);
    onClose.accept(this);
  }
}
