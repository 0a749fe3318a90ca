package io.kvtier.cxl;

/**
 * The shared pool file, version 1. All integers are native-endian (the processes sharing a pool run
 * on one architecture); every word updated by more than one process is a 64-bit aligned long
 * changed only by compare-and-set.
 *
 * <pre>
 * 0        +--------------------------------------------------------------+
 *          | pool header (4 KiB)                                          |
 *          |   0 magic "KVTCXLSP"  8 version  16 init state  24 init pid   |
 *          |  32 pageBytes  40 slots  48 maxBlockTokens  56 maxMembers     |
 *          |  64 dataOffset                                               |
 * 4096     +--------------------------------------------------------------+
 *          | member table: maxMembers x 32 B                              |
 *          |   0 ctl word: epoch:16 | pid:22 | start:26  (0 = unused)      |
 *          |   8 heartbeat deadline, epoch ms                              |
 *          +--------------------------------------------------------------+
 *          | slot table: slots x 16 B                                     |
 *          |   0 state word: state:2 | readers:10 | member:8 | epoch:16 | gen:28 |
 *          |   8 read-lease deadline, epoch ms (the latest of any reader)  |
 *          +--------------------------------------------------------------+
 *          | block headers: slots x headerBytes                          |
 *          |   0 magic:int  4 tokenCount:int                              |
 *          |   8 keyHi 16 keyLo 24 parentHi 32 parentLo 40 rootHi 48 rootLo |
 *          |  56 byteLength  64 page CRC32C  72 header CRC32C             |
 *          |  80 tokens: int[maxBlockTokens]                              |
 * dataOff  +------------------- aligned to 2 MiB -------------------------+
 *          | pages: slots x pageBytes                                     |
 *          +--------------------------------------------------------------+
 * </pre>
 *
 * <p>Slot states: {@code FREE} (nobody's); {@code OWNED} (allocated by member/epoch, not
 * published); {@code READY} (published: its header is valid and the directory may point at it);
 * {@code RETIRED} (freed by its owner while read leases were held; the last reader, or the lease
 * deadline, frees it). {@code gen} counts allocations of the slot, so a directory entry or a lease
 * names one incarnation. {@code readers} counts read leases in any state.
 */
final class SharedPoolLayout {
  private SharedPoolLayout() {}

  static final long MAGIC = 0x5053_4C58_4354_564BL; // "KVTCXLSP" little-endian
  static final int VERSION = 1;

  static final long OFF_MAGIC = 0;
  static final long OFF_VERSION = 8;
  static final long OFF_INIT = 16;
  static final long OFF_INIT_PID = 24;
  static final long OFF_PAGE_BYTES = 32;
  static final long OFF_SLOTS = 40;
  static final long OFF_MAX_TOKENS = 48;
  static final long OFF_MAX_MEMBERS = 56;
  static final long OFF_DATA = 64;
  static final long POOL_HEADER_BYTES = 4096;

  static final long INIT_NONE = 0;
  static final long INIT_BUSY = 1;
  static final long INIT_READY = 2;

  static final int MAX_MEMBERS = 256;
  static final long MEMBER_BYTES = 32;
  static final long MEMBER_CTL = 0;
  static final long MEMBER_HEARTBEAT = 8;

  static final long SLOT_BYTES = 16;
  static final long SLOT_STATE = 0;
  static final long SLOT_READ_DEADLINE = 8;

  static final long DATA_ALIGNMENT = 2L << 20;

  // member ctl word
  static final int CTL_START_BITS = 26;
  static final int CTL_PID_BITS = 22;
  static final int CTL_EPOCH_BITS = 16;
  static final int CTL_PID_SHIFT = CTL_START_BITS;
  static final int CTL_EPOCH_SHIFT = CTL_START_BITS + CTL_PID_BITS;
  static final long CTL_START_MASK = (1L << CTL_START_BITS) - 1;
  static final long CTL_PID_MASK = (1L << CTL_PID_BITS) - 1;
  static final long CTL_EPOCH_MASK = (1L << CTL_EPOCH_BITS) - 1;

  static long ctl(long epoch, long pid, long start) {
    return (epoch & CTL_EPOCH_MASK) << CTL_EPOCH_SHIFT
        | (pid & CTL_PID_MASK) << CTL_PID_SHIFT
        | (start & CTL_START_MASK);
  }

  static long ctlEpoch(long ctl) {
    return (ctl >>> CTL_EPOCH_SHIFT) & CTL_EPOCH_MASK;
  }

  static long ctlPid(long ctl) {
    return (ctl >>> CTL_PID_SHIFT) & CTL_PID_MASK;
  }

  static long ctlStart(long ctl) {
    return ctl & CTL_START_MASK;
  }

  // slot state word
  static final int FREE = 0;
  static final int OWNED = 1;
  static final int READY = 2;
  static final int RETIRED = 3;

  static final int GEN_BITS = 28;
  static final int EPOCH_BITS = 16;
  static final int MEMBER_BITS = 8;
  static final int READER_BITS = 10;
  static final int EPOCH_SHIFT = GEN_BITS;
  static final int MEMBER_SHIFT = EPOCH_SHIFT + EPOCH_BITS;
  static final int READER_SHIFT = MEMBER_SHIFT + MEMBER_BITS;
  static final int STATE_SHIFT = READER_SHIFT + READER_BITS;
  static final long GEN_MASK = (1L << GEN_BITS) - 1;
  static final long EPOCH_MASK = (1L << EPOCH_BITS) - 1;
  static final long MEMBER_MASK = (1L << MEMBER_BITS) - 1;
  static final long READER_MASK = (1L << READER_BITS) - 1;
  static final int MAX_READERS = (int) READER_MASK;

  static long word(int state, int readers, int member, long epoch, long gen) {
    return (long) state << STATE_SHIFT
        | (readers & READER_MASK) << READER_SHIFT
        | (member & MEMBER_MASK) << MEMBER_SHIFT
        | (epoch & EPOCH_MASK) << EPOCH_SHIFT
        | (gen & GEN_MASK);
  }

  static int state(long w) {
    return (int) (w >>> STATE_SHIFT) & 3;
  }

  static int readers(long w) {
    return (int) ((w >>> READER_SHIFT) & READER_MASK);
  }

  static int member(long w) {
    return (int) ((w >>> MEMBER_SHIFT) & MEMBER_MASK);
  }

  static long epoch(long w) {
    return (w >>> EPOCH_SHIFT) & EPOCH_MASK;
  }

  static long gen(long w) {
    return w & GEN_MASK;
  }

  static long withReaders(long w, int readers) {
    return (w & ~(READER_MASK << READER_SHIFT)) | ((long) readers & READER_MASK) << READER_SHIFT;
  }

  static long withState(long w, int state) {
    return (w & ~(3L << STATE_SHIFT)) | (long) state << STATE_SHIFT;
  }

  // block header
  static final int HEADER_MAGIC = 0x4B56_4248; // "HBVK"
  static final long H_MAGIC = 0;
  static final long H_TOKENS = 4;
  static final long H_KEY_HI = 8;
  static final long H_KEY_LO = 16;
  static final long H_PARENT_HI = 24;
  static final long H_PARENT_LO = 32;
  static final long H_ROOT_HI = 40;
  static final long H_ROOT_LO = 48;
  static final long H_LENGTH = 56;
  static final long H_PAGE_CRC = 64;
  static final long H_HEADER_CRC = 72;
  static final long H_TOKEN_IDS = 80;

  static long headerBytes(int maxBlockTokens) {
    return Math.ceilDiv(H_TOKEN_IDS + 4L * maxBlockTokens, 64) * 64;
  }

  /** Offsets of one pool's regions, derived from its shape. */
  record Geometry(int pageBytes, long slots, int maxBlockTokens, int maxMembers) {

    long memberTable() {
      return POOL_HEADER_BYTES;
    }

    long slotTable() {
      return memberTable() + MEMBER_BYTES * maxMembers;
    }

    long headers() {
      return slotTable() + SLOT_BYTES * slots;
    }

    long headerBytes() {
      return SharedPoolLayout.headerBytes(maxBlockTokens);
    }

    long data() {
      return Math.ceilDiv(headers() + headerBytes() * slots, DATA_ALIGNMENT) * DATA_ALIGNMENT;
    }

    long totalBytes() {
      return data() + (long) pageBytes * slots;
    }

    long member(int i) {
      return memberTable() + MEMBER_BYTES * i;
    }

    long slot(long i) {
      return slotTable() + SLOT_BYTES * i;
    }

    long header(long i) {
      return headers() + headerBytes() * i;
    }

    long page(long i) {
      return data() + (long) pageBytes * i;
    }
  }
}
