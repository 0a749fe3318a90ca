package io.kvtier.hbm;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * One device stream and the thread that completes its copies.
 *
 * <p>Copies on a stream finish in submission order, so the completion thread waits on their events
 * in that order: it takes the next {@link Copy} from a FIFO, blocks in {@code
 * kvt_hbm_event_synchronize} (which sleeps, not spins), then hands the copy back to its owner to
 * retire it. The owner records copies with {@link #enqueue(Copy)} in the order it submitted them to
 * the device, under its own lock.
 */
final class HbmStream {

  /** A copy in flight on this stream. */
  static final class Copy {
    /** The event recorded after the copy; 0 once retired. Guarded by the owner's lock. */
    long event;

    /** Completed, inline on the completion thread, once the copy's bytes are in place. */
    final CompletableFuture<Void> done = new CompletableFuture<>();

    /** What to release once the copy has finished (a staging arena), or null. */
    final AutoCloseable release;

    final HbmStream stream;

    Copy(HbmStream stream, long event, AutoCloseable release) {
      this.stream = stream;
      this.event = event;
      this.release = release;
    }

    /**
     * Whether the copy has finished. Guarded by the owner's lock.
     *
     * @return true once retired
     */
    boolean retired() {
      return event == 0;
    }
  }

  /** Called on the completion thread when a copy's event has completed (status 0) or failed. */
  interface Retirer {
    void retire(Copy copy, int status);
  }

  private static final Copy STOP = new Copy(null, 0, null);

  private final HbmNative lib;
  private final long handle;
  private final LinkedBlockingQueue<Copy> inflight = new LinkedBlockingQueue<>();
  private final Thread completer;

  HbmStream(HbmNative lib, int device, String threadName, Retirer retirer) {
    this.lib = lib;
    this.handle = lib.streamCreate(device);
    this.completer =
        Thread.ofPlatform().daemon().name(threadName).unstarted(() -> complete(retirer));
    completer.start();
  }

  long handle() {
    return handle;
  }

  void enqueue(Copy copy) {
    inflight.add(copy);
  }

  void setDelay(long nanos) {
    lib.streamSetDelay(handle, nanos);
  }

  void setCopyMode(HbmCopyMode mode) {
    lib.streamSetCopyMode(handle, mode);
  }

  private void complete(Retirer retirer) {
    for (; ; ) {
      Copy copy;
      try {
        copy = inflight.take();
      } catch (InterruptedException e) {
        continue; // only close() stops this thread, with STOP, after every copy has retired
      }
      if (copy == STOP) {
        return;
      }
      retirer.retire(copy, lib.eventSynchronizeStatus(copy.event));
    }
  }

  /**
   * Waits for every copy on the stream to retire, stops the completion thread and destroys the
   * stream. Called once, after the owner stopped submitting.
   */
  void close() {
    inflight.add(STOP);
    boolean interrupted = false;
    while (completer.isAlive()) {
      try {
        completer.join();
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    lib.streamDestroy(handle);
  }
}
