package io.kvtier.cxl;

import io.kvtier.spi.BlockRecord;
import io.kvtier.spi.PageStore;

/**
 * A CXL pool several processes map at once, finding each other's blocks through a shared directory.
 *
 * <p>As a {@link PageStore} it is this process's view: {@link #allocate(long)} claims a free page
 * of the shared pool for this process, {@link #write}/{@link #read} move bytes of pages this
 * process owns (or holds a read lease on), {@link #free(long)} gives a page back. {@link
 * #writeBlock} also stores a header beside the page (the {@link BlockRecord} and a CRC32C of the
 * bytes) and publishes the block in the directory; {@link #readBlock} verifies header and checksum,
 * so a page another process wrote, or one overwritten under a reader whose lease ran out, is a
 * miss, never wrong KV.
 *
 * <p>Sharing: {@link #lookup(BlockRecord)} finds a block any process published and takes a read
 * lease on its page; {@link #release(long)} drops it. While a lease is held the page is not
 * reclaimed by anyone, even if its owner frees it (the owner's free takes effect when the last
 * lease ends). Leases end by deadline: a reader that crashes stops protecting the page after {@link
 * SharedPoolOptions#readLease()}.
 *
 * <p>Crashes: a page belongs to the process that allocated it. When that process ends (crash or
 * close), its published blocks stay findable until another process needs the space; its unpublished
 * pages return to the pool. A process is recognised as gone from {@code /proc/<pid>} on one host,
 * or by its owner lease running out when processes on several hosts share a CXL device. {@link
 * #recover} adopts the blocks of processes that are gone, for a warm restart.
 *
 * <p>Runtime flags: the directory is a Chronicle Map, which needs {@code --add-opens
 * java.base/java.lang=ALL-UNNAMED --add-opens java.base/java.lang.reflect=ALL-UNNAMED --add-exports
 * jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED --add-exports java.base/sun.nio.ch=ALL-UNNAMED
 * --add-modules jdk.compiler -Dchronicle.analytics.disable=true} and fails under {@code
 * --sun-misc-unsafe-memory-access=deny}.
 *
 * <p>Thread safety: as {@link PageStore}; {@link #lookup} and {@link #release} may be called from
 * any thread.
 */
public interface SharedPool extends PageStore {

  /** What {@link #lookup(BlockRecord)} returns when no process has published the block. */
  long NOT_FOUND = -1L;

  /**
   * Finds a block that this or another process published, and takes a read lease on its page. The
   * page's header must match {@code block} exactly (keys, parent, root, tokens). Read it with
   * {@link #readBlock}, then {@link #release(long)} it within the read lease.
   *
   * @param block the block wanted
   * @return the slot, leased, or {@link #NOT_FOUND}
   */
  long lookup(BlockRecord block);

  /**
   * Drops one read lease taken by {@link #lookup(BlockRecord)}.
   *
   * @param slot a slot {@code lookup} returned
   * @throws IllegalArgumentException if this process holds no lease on it
   */
  void release(long slot);

  /**
   * Publishes a page this process wrote (with {@link #write} or through {@link #segment}): stores
   * the block's header and checksum over the whole page and enters it in the directory.
   *
   * @param slot a slot this process allocated
   * @param block what the page holds
   * @return true if published; false if another page already holds this block (keep using that one,
   *     and free this)
   */
  boolean publish(long slot, BlockRecord block);

  /**
   * Returns to the pool every page whose owner is gone and whose read leases have ended, removing
   * their blocks from the directory. {@link #allocate(long)} does this by itself when the pool has
   * no free page; call it to reclaim eagerly.
   *
   * @return pages reclaimed
   */
  int reclaim();

  /**
   * Reads that failed verification: a header that did not match or a checksum that did not.
   *
   * @return the count since open
   */
  long verifyFailures();

  /**
   * The process id that owns a slot, as the pool's ownership table says.
   *
   * @param slot the slot
   * @return the owner's pid, or 0 for a free slot
   */
  long ownerPid(long slot);
}
