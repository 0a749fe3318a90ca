package io.kvtier.cxl;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import net.openhft.chronicle.map.ChronicleMap;

/**
 * A {@link BlockDirectory} in a Chronicle Map persisted to a file beside the pool: an off-heap hash
 * map in a shared file mapping, whose segment locks live in the file, so every process that maps it
 * sees one map.
 *
 * <p>Keys are the 16 bytes of the block key; values are 16 bytes: the packed (slot, generation)
 * entry and the owner's pid. Chronicle Map compares and stores them as bytes, so {@link #replace}
 * and {@link #remove} are atomic conditional operations across processes. The arrays passed in are
 * per-thread and reused, so a lookup allocates only what Chronicle Map does.
 *
 * <p>Chronicle Map generates and compiles classes at first use (hence the {@code jdk.compiler}
 * module at run time) and reaches into the JDK: see {@link SharedPool} for the flags it needs.
 * Opening it costs seconds the first time in a JVM.
 */
final class ChronicleDirectory implements BlockDirectory {

  private static final VarHandle LONGS =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.nativeOrder());
  private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

  private final ChronicleMap<byte[], byte[]> map;

  private ChronicleDirectory(ChronicleMap<byte[], byte[]> map) {
    this.map = map;
  }

  /**
   * Opens or creates the directory file.
   *
   * @param file the directory's file
   * @param entries the entries it is sized for
   * @return the directory
   */
  static ChronicleDirectory open(Path file, long entries) {
    try {
      ChronicleMap<byte[], byte[]> map =
          ChronicleMap.of(byte[].class, byte[].class)
              .name("kvtier-cxl-directory")
              .entries(entries)
              .maxBloatFactor(4.0)
              .constantKeySizeBySample(new byte[16])
              .constantValueSizeBySample(new byte[16])
              .createPersistedTo(new File(file.toString()));
      return new ChronicleDirectory(map);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the shared pool's directory " + file, e);
    }
  }

  private static long entryOf(byte[] value) {
    return (long) LONGS.get(value, 0);
  }

  @Override
  public long get(long keyHi, long keyLo) {
    Scratch s = SCRATCH.get();
    byte[] value = map.getUsing(s.key(keyHi, keyLo), s.out);
    return value == null ? ABSENT : entryOf(value);
  }

  @Override
  public long putIfAbsent(long keyHi, long keyLo, long entry, long ownerPid) {
    Scratch s = SCRATCH.get();
    byte[] previous = map.putIfAbsent(s.key(keyHi, keyLo), s.value(entry, ownerPid));
    return previous == null ? ABSENT : entryOf(previous);
  }

  @Override
  public boolean replace(long keyHi, long keyLo, long expected, long entry, long ownerPid) {
    Scratch s = SCRATCH.get();
    byte[] key = s.key(keyHi, keyLo);
    byte[] current = map.getUsing(key, s.out);
    if (current == null || entryOf(current) != expected) {
      return false;
    }
    return map.replace(key, current.clone(), s.value(entry, ownerPid));
  }

  @Override
  public boolean remove(long keyHi, long keyLo, long entry) {
    Scratch s = SCRATCH.get();
    byte[] key = s.key(keyHi, keyLo);
    byte[] current = map.getUsing(key, s.out);
    if (current == null || entryOf(current) != entry) {
      return false;
    }
    return map.remove(key, current.clone());
  }

  @Override
  public long size() {
    return map.longSize();
  }

  @Override
  public void close() {
    map.close();
  }

  /** Per-thread key and value arrays. */
  private static final class Scratch {
    final byte[] keyBytes = new byte[16];
    final ByteBuffer keyBuf = ByteBuffer.wrap(keyBytes).order(ByteOrder.nativeOrder());
    final byte[] valueBytes = new byte[16];
    final ByteBuffer valueBuf = ByteBuffer.wrap(valueBytes).order(ByteOrder.nativeOrder());
    final byte[] out = new byte[16];

    byte[] key(long hi, long lo) {
      keyBuf.putLong(0, hi).putLong(8, lo);
      return keyBytes;
    }

    byte[] value(long entry, long ownerPid) {
      valueBuf.putLong(0, entry).putLong(8, ownerPid);
      return valueBytes;
    }
  }
}
