package io.kvtier.nvme;

import io.kvtier.spi.BlockRecord;
import java.util.Objects;
import java.util.function.Predicate;

/**
 * Options of an NVMe page store, validated once by {@link Builder#build()}. Immutable.
 *
 * <table>
 *   <caption>Options and defaults</caption>
 *   <tr><th>option</th><th>default</th><th>stores</th><th>meaning</th></tr>
 *   <tr><td>{@code lz4}</td><td>off</td><td>both</td>
 *       <td>compress page payloads with LZ4 (pages that do not shrink below 97% are stored raw)</td></tr>
 *   <tr><td>{@code lz4When}</td><td>every block</td><td>both</td>
 *       <td>which blocks to compress when {@code lz4} is on, e.g. by root key: per namespace</td></tr>
 *   <tr><td>{@code directIo}</td><td>on</td><td>both</td>
 *       <td>bypass the page cache (O_DIRECT); falls back to buffered I/O where unsupported</td></tr>
 *   <tr><td>{@code verifyPayloadsOnRecovery}</td><td>on</td><td>both</td>
 *       <td>warm restart reads every payload and checks its CRC; off checks headers only (payloads
 *       are still checked on every read)</td></tr>
 *   <tr><td>{@code blobCompression}</td><td>off</td><td>RocksDB</td>
 *       <td>RocksDB's own LZ4 compression of blob files</td></tr>
 *   <tr><td>{@code writeBufferBytes}</td><td>64 MiB</td><td>RocksDB</td>
 *       <td>memtable size of the page column family</td></tr>
 *   <tr><td>{@code wal}</td><td>off</td><td>RocksDB</td>
 *       <td>write-ahead log; off halves the bytes written, and a crash then loses only pages not yet
 *       flushed, which a cache may lose</td></tr>
 * </table>
 */
public final class NvmeOptions {

  private static final NvmeOptions DEFAULTS = builder().build();

  private final boolean lz4;
  private final Predicate<BlockRecord> lz4When;
  private final boolean directIo;
  private final boolean verifyPayloadsOnRecovery;
  private final boolean blobCompression;
  private final long writeBufferBytes;
  private final boolean wal;

  private NvmeOptions(Builder b) {
    this.lz4 = b.lz4;
    this.lz4When = b.lz4When;
    this.directIo = b.directIo;
    this.verifyPayloadsOnRecovery = b.verifyPayloadsOnRecovery;
    this.blobCompression = b.blobCompression;
    this.writeBufferBytes = b.writeBufferBytes;
    this.wal = b.wal;
  }

  /**
   * The defaults: no compression, direct I/O, full verification on recovery.
   *
   * @return default options
   */
  public static NvmeOptions defaults() {
    return DEFAULTS;
  }

  /**
   * A builder with the defaults.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Whether payloads may be LZ4-compressed.
   *
   * @return the option
   */
  public boolean lz4() {
    return lz4;
  }

  /**
   * Whether this block's payload is to be compressed: {@link #lz4()} and the filter.
   *
   * @param block the block being written, or null for an untyped write
   * @return true to try LZ4
   */
  public boolean compresses(BlockRecord block) {
    return lz4 && (block == null || lz4When.test(block));
  }

  /**
   * Whether I/O bypasses the page cache.
   *
   * @return the option
   */
  public boolean directIo() {
    return directIo;
  }

  /**
   * Whether recovery checks every payload's CRC.
   *
   * @return the option
   */
  public boolean verifyPayloadsOnRecovery() {
    return verifyPayloadsOnRecovery;
  }

  /**
   * Whether RocksDB compresses blob files.
   *
   * @return the option
   */
  public boolean blobCompression() {
    return blobCompression;
  }

  /**
   * RocksDB memtable bytes for pages.
   *
   * @return the option
   */
  public long writeBufferBytes() {
    return writeBufferBytes;
  }

  /**
   * Whether RocksDB writes a write-ahead log.
   *
   * @return the option
   */
  public boolean wal() {
    return wal;
  }

  @Override
  public String toString() {
    return "NvmeOptions[lz4="
        + lz4
        + ", directIo="
        + directIo
        + ", verifyPayloadsOnRecovery="
        + verifyPayloadsOnRecovery
        + ", blobCompression="
        + blobCompression
        + ", writeBufferBytes="
        + writeBufferBytes
        + ", wal="
        + wal
        + "]";
  }

  /** Builds {@link NvmeOptions}; every setter returns the builder. */
  public static final class Builder {
    private boolean lz4;
    private Predicate<BlockRecord> lz4When = block -> true;
    private boolean directIo = true;
    private boolean verifyPayloadsOnRecovery = true;
    private boolean blobCompression;
    private long writeBufferBytes = 64L << 20;
    private boolean wal;

    private Builder() {}

    /**
     * Compress payloads with LZ4 (default off). A page whose first 64 KiB do not compress, or which
     * does not shrink below 97% of its size, is stored raw, so incompressible KV costs little.
     *
     * @param on whether to compress
     * @return this builder
     */
    public Builder lz4(boolean on) {
      this.lz4 = on;
      return this;
    }

    /**
     * Which blocks to compress when {@link #lz4(boolean)} is on (default: all). Blocks of one
     * namespace share a root key, so a filter on {@link BlockRecord#rootHi()} and {@link
     * BlockRecord#rootLo()} compresses per namespace. Untyped writes follow {@code lz4} alone.
     *
     * @param filter true for blocks to compress
     * @return this builder
     */
    public Builder lz4When(Predicate<BlockRecord> filter) {
      this.lz4When = Objects.requireNonNull(filter, "filter");
      return this;
    }

    /**
     * Bypass the page cache with O_DIRECT (default on).
     *
     * @param on whether to use direct I/O
     * @return this builder
     */
    public Builder directIo(boolean on) {
      this.directIo = on;
      return this;
    }

    /**
     * Check every payload's CRC during warm restart (default on); off reads headers only.
     *
     * @param on whether to read payloads on recovery
     * @return this builder
     */
    public Builder verifyPayloadsOnRecovery(boolean on) {
      this.verifyPayloadsOnRecovery = on;
      return this;
    }

    /**
     * RocksDB store: LZ4-compress blob files (default off).
     *
     * @param on whether to compress blob files
     * @return this builder
     */
    public Builder blobCompression(boolean on) {
      this.blobCompression = on;
      return this;
    }

    /**
     * RocksDB store: memtable bytes of the page column family (default 64 MiB, at least 1 MiB).
     *
     * @param bytes memtable size
     * @return this builder
     */
    public Builder writeBufferBytes(long bytes) {
      this.writeBufferBytes = bytes;
      return this;
    }

    /**
     * RocksDB store: write a write-ahead log (default off).
     *
     * @param on whether to log writes
     * @return this builder
     */
    public Builder wal(boolean on) {
      this.wal = on;
      return this;
    }

    /**
     * Validates and builds.
     *
     * @return the options
     * @throws IllegalArgumentException for a write buffer under 1 MiB
     */
    public NvmeOptions build() {
      if (writeBufferBytes < (1L << 20)) {
        throw new IllegalArgumentException(
            "writeBufferBytes must be at least 1 MiB, was " + writeBufferBytes);
      }
      return new NvmeOptions(this);
    }
  }
}
