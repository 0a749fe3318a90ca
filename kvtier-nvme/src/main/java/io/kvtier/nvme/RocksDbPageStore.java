package io.kvtier.nvme;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.CompressionType;
import org.rocksdb.DBOptions;
import org.rocksdb.FlushOptions;
import org.rocksdb.InfoLogLevel;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Status;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * An NVMe page store in RocksDB: one directory, two column families, slot ids as keys.
 *
 * <h2>Layout</h2>
 *
 * <pre>
 *   column family   key                          value                      where it lives
 *   "default"       slot, 8 bytes big-endian  -> NvmePageHeader (80+4n B)   LSM (SST files)
 *   "pages"         slot, 8 bytes big-endian  -> payload (page or LZ4)      BlobDB blob files
 * </pre>
 *
 * <p>A page's header and payload are written in one {@link WriteBatch}, so they become visible
 * together; {@code atomic_flush} keeps them together on disk without a write-ahead log. Keeping the
 * header apart from the payload has three uses: a read fetches the small header first and then the
 * payload straight into the caller's segment (no copy through a record buffer); warm restart scans
 * only the header family, a few MB for millions of pages, instead of every payload; and the page
 * family holds nothing but large values, which is what BlobDB (key-value separation, after WiscKey,
 * Lu et al., FAST 2016) is for: payloads go to append-only blob files ({@code enable_blob_files},
 * {@code min_blob_size} below the page size) and the LSM keeps only small blob references, so
 * compaction never rewrites page bytes. Freed slots are deleted; blob garbage collection reclaims
 * their space as blob files age.
 *
 * <h2>I/O</h2>
 *
 * <p>By default there is no write-ahead log: a page is written once, to a blob file, when its
 * memtable is flushed; a crash loses the pages written since the last flush, which a cache may
 * lose, and never leaves a page half-visible (the CRCs would catch it anyway). Reads and flushes
 * use direct I/O unless {@link NvmeOptions#directIo()} is off, so pages do not crowd the page
 * cache. Keys and values cross JNI as direct {@link java.nio.ByteBuffer}s over FFM segments: no
 * {@code byte[]} per page.
 *
 * <p>Concurrency, faults and verification are {@link AbstractNvmeStore}'s. A RocksDB status of
 * {@code Corruption} on a read is a corrupt page (a counted miss); every other error status is an
 * I/O fault that degrades the store.
 */
final class RocksDbPageStore extends AbstractNvmeStore {

  private static final ValueLayout.OfLong KEY =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
  private static final String PAGES = "pages";

  private final Path dir;
  private final boolean directIo;
  private final RocksDB db;
  private final DBOptions dbOptions;
  private final ColumnFamilyOptions headerOptions;
  private final ColumnFamilyOptions pageOptions;
  private final ColumnFamilyHandle headers;
  private final ColumnFamilyHandle pages;
  private final WriteOptions writeOptions;
  private final ReadOptions readOptions;

  private RocksDbPageStore(
      String name,
      Path dir,
      int pageBytes,
      long capacityPages,
      NvmeOptions options,
      boolean directIo,
      Handles h) {
    super(name, pageBytes, capacityPages, options);
    this.dir = dir;
    this.directIo = directIo;
    this.db = h.db;
    this.dbOptions = h.dbOptions;
    this.headerOptions = h.headerOptions;
    this.pageOptions = h.pageOptions;
    this.headers = h.handles.get(0);
    this.pages = h.handles.get(1);
    // A write never blocks inside RocksDB: with no_slowdown a stall (a flush that cannot finish,
    // as on a full disk) comes back as Incomplete instead of hanging the caller, who may be the
    // cache's metadata writer. store() retries briefly, then reports it as an I/O fault.
    this.writeOptions = new WriteOptions().setDisableWAL(!options.wal()).setNoSlowdown(true);
    this.readOptions = new ReadOptions().setVerifyChecksums(false).setFillCache(false);
  }

  private record Handles(
      RocksDB db,
      DBOptions dbOptions,
      ColumnFamilyOptions headerOptions,
      ColumnFamilyOptions pageOptions,
      List<ColumnFamilyHandle> handles) {}

  static RocksDbPageStore open(
      String name, Path dir, long capacityBytes, int pageBytes, NvmeOptions options) {
    long pages = pagesFor(name, capacityBytes, pageBytes);
    RocksDB.loadLibrary();
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(
          "tier '" + name + "': cannot create directory " + dir, e);
    }
    boolean direct = options.directIo();
    Handles h;
    try {
      h = openDb(dir, pageBytes, options, direct);
    } catch (RocksDBException e) {
      if (!direct || !mentionsDirectIo(e)) {
        throw openFailure(name, dir, e);
      }
      LOG.log(
          System.Logger.Level.INFO,
          "tier ''{0}'': direct I/O unsupported in {1}; using buffered I/O",
          name,
          dir);
      direct = false;
      try {
        h = openDb(dir, pageBytes, options, false);
      } catch (RocksDBException again) {
        throw openFailure(name, dir, again);
      }
    }
    return new RocksDbPageStore(name, dir, pageBytes, pages, options, direct, h);
  }

  private static boolean mentionsDirectIo(RocksDBException e) {
    String m = String.valueOf(e.getMessage()).toLowerCase(java.util.Locale.ROOT);
    return m.contains("direct") || m.contains("invalid argument");
  }

  private static RuntimeException openFailure(String name, Path dir, RocksDBException e) {
    String m = String.valueOf(e.getMessage());
    if (m.contains("lock")) {
      return new IllegalStateException(
          "tier '" + name + "': " + dir + " is in use by another open store (" + m + ")", e);
    }
    return new java.io.UncheckedIOException(
        "tier '" + name + "': cannot open RocksDB in " + dir + ": " + m, new IOException(m, e));
  }

  private static Handles openDb(Path dir, int pageBytes, NvmeOptions options, boolean direct)
      throws RocksDBException {
    DBOptions dbOptions =
        new DBOptions()
            .setCreateIfMissing(true)
            .setCreateMissingColumnFamilies(true)
            .setAtomicFlush(true)
            .setUseDirectReads(direct)
            .setUseDirectIoForFlushAndCompaction(direct)
            .setMaxBackgroundJobs(2)
            .setInfoLogLevel(InfoLogLevel.WARN_LEVEL)
            .setKeepLogFileNum(2);
    ColumnFamilyOptions headerOptions =
        new ColumnFamilyOptions().setCompressionType(CompressionType.NO_COMPRESSION);
    ColumnFamilyOptions pageOptions =
        new ColumnFamilyOptions()
            .setCompressionType(CompressionType.NO_COMPRESSION)
            .setEnableBlobFiles(true)
            .setMinBlobSize(Math.max(1, Math.min(4096, pageBytes / 2)))
            .setBlobCompressionType(
                options.blobCompression()
                    ? CompressionType.LZ4_COMPRESSION
                    : CompressionType.NO_COMPRESSION)
            .setEnableBlobGarbageCollection(true)
            .setWriteBufferSize(options.writeBufferBytes())
            .setMaxWriteBufferNumber(4);
    List<ColumnFamilyDescriptor> families =
        List.of(
            new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, headerOptions),
            new ColumnFamilyDescriptor(
                PAGES.getBytes(java.nio.charset.StandardCharsets.UTF_8), pageOptions));
    List<ColumnFamilyHandle> handles = new ArrayList<>();
    try {
      RocksDB db = RocksDB.open(dbOptions, dir.toString(), families, handles);
      return new Handles(db, dbOptions, headerOptions, pageOptions, handles);
    } catch (RocksDBException | RuntimeException e) {
      pageOptions.close();
      headerOptions.close();
      dbOptions.close();
      throw e;
    }
  }

  @Override
  void store(long slot, MemorySegment header, MemorySegment payload, Scratch scratch)
      throws IOException {
    MemorySegment value = payload;
    if (!payload.isNative()) {
      value = scratch.bounce(payload.byteSize()).asSlice(0, payload.byteSize());
      MemorySegment.copy(payload, 0, value, 0, payload.byteSize());
    }
    MemorySegment key = key(scratch, slot);
    try (WriteBatch batch = new WriteBatch()) {
      try {
        batch.put(headers, key.asByteBuffer(), header.asByteBuffer());
        batch.put(pages, key.asByteBuffer(), value.asByteBuffer());
      } catch (RocksDBException e) {
        throw ioException(e);
      }
      long deadline = System.nanoTime() + STALL_PATIENCE_NANOS;
      while (true) {
        try {
          db.write(writeOptions, batch);
          return;
        } catch (RocksDBException e) {
          boolean stall =
              e.getStatus() != null && e.getStatus().getCode() == Status.Code.Incomplete;
          if (!stall) {
            throw ioException(e);
          }
          String background = backgroundError();
          if (background != null || System.nanoTime() > deadline) {
            throw new IOException(
                "RocksDB stopped accepting writes"
                    + (background != null ? " after a background error (" + background + ")" : "")
                    + ": "
                    + e.getMessage()
                    + "; the disk may be out of space",
                e);
          }
          java.util.concurrent.locks.LockSupport.parkNanos(1_000_000L);
        }
      }
    }
  }

  /** How long a write waits out a RocksDB write stall before it counts as an I/O fault. */
  private static final long STALL_PATIENCE_NANOS = 200_000_000L;

  /** The count of RocksDB background errors (a failed flush, e.g. no space), or null if none. */
  private String backgroundError() {
    try {
      String n = db.getProperty("rocksdb.background-errors");
      return n == null || n.isBlank() || "0".equals(n.trim())
          ? null
          : n.trim() + " background error(s)";
    } catch (RocksDBException e) {
      return null;
    }
  }

  @Override
  Loaded load(long slot, MemorySegment dst, Scratch scratch) throws IOException {
    MemorySegment key = key(scratch, slot);
    try {
      MemorySegment buffer = scratch.headerBuffer(NvmePageHeader.bytesFor(128));
      int n = db.get(headers, readOptions, key.asByteBuffer(), buffer.asByteBuffer());
      if (n == RocksDB.NOT_FOUND) {
        return null;
      }
      if (n > buffer.byteSize()) {
        buffer = scratch.headerBuffer(n);
        n = db.get(headers, readOptions, key.asByteBuffer(), buffer.asByteBuffer());
      }
      MemorySegment header = buffer.asSlice(0, n);
      int status = NvmePageHeader.checkHeader(header);
      if (status != NvmePageHeader.VALID) {
        return new Loaded(status, header, MemorySegment.NULL);
      }
      int length = NvmePageHeader.payloadBytes(header);
      MemorySegment target =
          !NvmePageHeader.isCompressed(header) && dst.isNative() && dst.byteSize() == length
              ? dst
              : scratch.bounce(length).asSlice(0, length);
      int m = db.get(pages, readOptions, key.asByteBuffer(), target.asByteBuffer());
      if (m != length) {
        return new Loaded(NvmePageHeader.BAD_LENGTH, header, MemorySegment.NULL);
      }
      return new Loaded(NvmePageHeader.VALID, header, target);
    } catch (RocksDBException e) {
      if (e.getStatus() != null && e.getStatus().getCode() == Status.Code.Corruption) {
        return new Loaded(NvmePageHeader.BAD_CHECKSUM, MemorySegment.NULL, MemorySegment.NULL);
      }
      throw ioException(e);
    }
  }

  @Override
  void erase(long slot) throws IOException {
    byte[] key = new byte[8];
    MemorySegment.ofArray(key).set(KEY, 0, slot);
    try (WriteBatch batch = new WriteBatch()) {
      batch.delete(headers, key);
      batch.delete(pages, key);
      db.write(writeOptions, batch);
    } catch (RocksDBException e) {
      throw ioException(e);
    }
  }

  @Override
  void scan(HeaderVisitor visitor) throws IOException {
    Scratch scratch = new Scratch(java.lang.foreign.Arena.ofAuto());
    try (ReadOptions scanOptions = new ReadOptions().setFillCache(false);
        RocksIterator it = db.newIterator(headers, scanOptions)) {
      for (it.seekToFirst(); it.isValid(); it.next()) {
        byte[] key = it.key();
        long slot = key.length == 8 ? MemorySegment.ofArray(key).get(KEY, 0) : -1;
        visitor.header(slot, MemorySegment.ofArray(it.value()), scratch);
      }
      it.status();
    } catch (RocksDBException e) {
      throw ioException(e);
    }
  }

  @Override
  void release() throws IOException {
    try {
      if (!options.wal()) {
        try (FlushOptions flush = new FlushOptions().setWaitForFlush(true)) {
          db.flush(flush, List.of(headers, pages));
        } catch (RocksDBException e) {
          LOG.log(
              System.Logger.Level.WARNING,
              "tier ''{0}'': final flush failed; pages since the last flush are lost: {1}",
              name,
              e.getMessage());
        }
      }
    } finally {
      writeOptions.close();
      readOptions.close();
      headers.close();
      pages.close();
      db.close();
      pageOptions.close();
      headerOptions.close();
      dbOptions.close();
    }
  }

  /** Whether reads and flushes bypass the page cache. */
  boolean directIo() {
    return directIo;
  }

  @Override
  public String toString() {
    return "NvmeTier.rocksdb["
        + name
        + ", "
        + dir
        + ", "
        + capacityPages
        + " x "
        + pageBytes
        + " B, "
        + options
        + "]";
  }

  private static MemorySegment key(Scratch scratch, long slot) {
    scratch.key.set(KEY, 0, slot);
    return scratch.key;
  }

  private static IOException ioException(RocksDBException e) {
    Status s = e.getStatus();
    String what = s == null ? e.getMessage() : s.getCodeString() + ": " + s.getState();
    return new IOException("RocksDB " + what, e);
  }
}
