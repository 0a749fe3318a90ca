package io.kvtier.cabi;

/**
 * The C structs that the Java side writes into caller-provided memory: {@code kvtier_event}, {@code
 * kvtier_tier_stats} and {@code kvtier_stats} of {@code kvtier.h}. Drawn once here; the header
 * checks every offset with {@code _Static_assert}, and {@link #VERSION} is the header's {@code
 * KVTIER_ABI_VERSION}.
 *
 * <pre>
 * kvtier_event (64 bytes)                 kvtier_tier_stats (80 bytes)
 * +--------+------+-----------+           +--------+------+-------------------+
 * | offset | size | field     |           | offset | size | field             |
 * +--------+------+-----------+           +--------+------+-------------------+
 * |      0 |    8 | seq       |           |      0 |   32 | name (UTF-8, NUL) |
 * |      8 |    4 | type      |           |     32 |    4 | kind              |
 * |     12 |    4 | tokens    |           |     36 |    4 | page_bytes        |
 * |     16 |    8 | key_hi    |           |     40 |    8 | capacity_pages    |
 * |     24 |    8 | key_lo    |           |     48 |    8 | used_pages        |
 * |     32 |    8 | parent_hi |           |     56 |    8 | free_runs         |
 * |     40 |    8 | parent_lo |           |     64 |    8 | largest_free_run  |
 * |     48 |    4 | tier      |           |     72 |    8 | evictions         |
 * |     52 |    4 | to_tier   |           +--------+------+-------------------+
 * |     56 |    8 | ns        |
 * +--------+------+-----------+
 *
 * kvtier_stats (56 + 16 * 80 = 1336 bytes)
 * +--------+------+--------------------------+
 * |      0 |    8 | lookups                  |
 * |      8 |    8 | requested_tokens         |
 * |     16 |    8 | hit_tokens               |
 * |     24 |    8 | cached_blocks            |
 * |     32 |    8 | evicted_blocks           |
 * |     40 |    4 | active_leases            |
 * |     44 |    4 | metadata_bytes_per_block |
 * |     48 |    4 | n_tiers                  |
 * |     52 |    4 | reserved (0)             |
 * |     56 | 1280 | tiers[16]                |
 * +--------+------+--------------------------+
 * </pre>
 *
 * All integers are in the platform's byte order. Event types are {@link #EVENT_STORED} to {@link
 * #EVENT_CLEARED}; tiers are named by their ordinal in the configuration's {@code tiers} list
 * ({@code -1} where a field does not apply); a tier's kind is the ordinal of {@link
 * io.kvtier.spi.TierKind}.
 */
final class StructLayout {
  private StructLayout() {}

  /** Version of these layouts and of the entry points' signatures. */
  static final int VERSION = 3;

  static final int EVENT_STORED = 1;
  static final int EVENT_REMOVED = 2;
  static final int EVENT_MOVED = 3;
  static final int EVENT_CLEARED = 4;

  static final long EVENT_SIZE = 64;
  static final long EVENT_SEQ = 0;
  static final long EVENT_TYPE = 8;
  static final long EVENT_TOKENS = 12;
  static final long EVENT_KEY_HI = 16;
  static final long EVENT_KEY_LO = 24;
  static final long EVENT_PARENT_HI = 32;
  static final long EVENT_PARENT_LO = 40;
  static final long EVENT_TIER = 48;
  static final long EVENT_TO_TIER = 52;
  static final long EVENT_NS = 56;

  static final int MAX_TIERS = 16;
  static final int TIER_NAME_BYTES = 32;

  static final long TIER_SIZE = 80;
  static final long TIER_NAME = 0;
  static final long TIER_KIND = 32;
  static final long TIER_PAGE_BYTES = 36;
  static final long TIER_CAPACITY_PAGES = 40;
  static final long TIER_USED_PAGES = 48;
  static final long TIER_FREE_RUNS = 56;
  static final long TIER_LARGEST_FREE_RUN = 64;
  static final long TIER_EVICTIONS = 72;

  static final long STATS_LOOKUPS = 0;
  static final long STATS_REQUESTED_TOKENS = 8;
  static final long STATS_HIT_TOKENS = 16;
  static final long STATS_CACHED_BLOCKS = 24;
  static final long STATS_EVICTED_BLOCKS = 32;
  static final long STATS_ACTIVE_LEASES = 40;
  static final long STATS_METADATA_BYTES_PER_BLOCK = 44;
  static final long STATS_N_TIERS = 48;
  static final long STATS_RESERVED = 52;
  static final long STATS_TIERS = 56;
  static final long STATS_SIZE = STATS_TIERS + MAX_TIERS * TIER_SIZE;
}
