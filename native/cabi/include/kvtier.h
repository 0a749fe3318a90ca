/*
 * kvtier.h — the C ABI of kvtier, a tiered, prefix-indexed KV cache for LLM serving engines.
 *
 * libkvtier.so embeds a JVM (or attaches to the one already running in the process) and calls
 * kvtier's Java API through it. Everything here is plain C: opaque handles, fixed-width integers,
 * caller-owned buffers.
 *
 * Errors. Every function returns a kvtier_status: KVTIER_OK (0) or a negative code. After a
 * failure, kvtier_last_error() returns a message for the calling thread. No Java exception ever
 * crosses the boundary, and no argument in bad shape crashes the process: NULL pointers, negative
 * lengths, and handles that are stale, of the wrong kind, released twice, or from a destroyed cache
 * all come back as codes. (A non-NULL pointer to memory the caller does not own cannot be detected.)
 *
 * Handles. kvtier_cache, kvtier_namespace, kvtier_session and kvtier_lease are opaque: their values
 * are ids into a generation-checked table on the Java side, never pointers that libkvtier
 * dereferences. NULL is never a valid handle.
 *
 * Threads. Every function may be called from any thread; a native thread is attached to the JVM on
 * its first call and detached when it exits. A lease is driven by one thread at a time (it may move
 * between threads); caches, namespaces and sessions are shared freely.
 *
 * The JVM. The first call starts a JVM unless kvtier_init() was called: the class path comes from
 * the KVTIER_CLASSPATH environment variable (kvtier-api, kvtier-core and kvtier-cabi jars), the
 * JVM library from KVTIER_LIBJVM or JAVA_HOME (then the JDK libkvtier was built with), extra
 * options from KVTIER_JVM_OPTS (space-separated). If a JVM already runs in the process, libkvtier
 * attaches to it instead, and the kvtier classes must be on its class path. The JVM lives until the
 * process exits.
 */
#ifndef KVTIER_H
#define KVTIER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define KVTIER_API __attribute__((visibility("default")))
#else
#define KVTIER_API
#endif

/** Version of the functions and struct layouts below; kvtier_abi_version() returns it. */
#define KVTIER_ABI_VERSION 3

/* ------------------------------------------------------------------------------------------------
 * Status codes
 * --------------------------------------------------------------------------------------------- */

typedef enum kvtier_status {
  KVTIER_OK = 0,
  /** A malformed argument: NULL pointer, negative length, bad configuration, value out of range. */
  KVTIER_ERR_INVALID_ARGUMENT = -1,
  /** A handle that is stale, of another kind, never issued, or already released/destroyed. */
  KVTIER_ERR_BAD_HANDLE = -2,
  /** The cache (or the session) the call went to was closed. */
  KVTIER_ERR_CLOSED = -3,
  /** The top tier has no free page and nothing it holds can be evicted; the lease is unchanged. */
  KVTIER_ERR_NO_SPACE = -4,
  /** A caller buffer is too small; the size needed is reported where the function says. */
  KVTIER_ERR_BUFFER_TOO_SMALL = -5,
  /** The JVM could not be loaded, started or attached, or the kvtier classes are missing. */
  KVTIER_ERR_JVM = -6,
  /** Anything else (a bug, or the JVM ran out of memory); the message says what. */
  KVTIER_ERR_INTERNAL = -7,
  /** What the call waits for (an onboarding, a layer of one) has not landed within its timeout. */
  KVTIER_ERR_TIMEOUT = -8
} kvtier_status;

/** The message of the calling thread's last failed call ("" if none), kept until its next failure. */
KVTIER_API const char *kvtier_last_error(void);

/** A static name for a status code, e.g. "KVTIER_ERR_BAD_HANDLE". */
KVTIER_API const char *kvtier_status_name(int status);

/** KVTIER_ABI_VERSION of the library. */
KVTIER_API int kvtier_abi_version(void);

/* ------------------------------------------------------------------------------------------------
 * The JVM
 * --------------------------------------------------------------------------------------------- */

/**
 * Starts the JVM (or attaches to the running one) now instead of on the first call.
 * classpath: the kvtier jars, ':'-separated; NULL for $KVTIER_CLASSPATH.
 * jvm_options/n_options: extra JVM options (e.g. "-Xmx2g"); may be NULL/0.
 * Calling it again after success is a no-op returning KVTIER_OK.
 */
KVTIER_API int kvtier_init(const char *classpath, const char *const *jvm_options, int n_options);

/* ------------------------------------------------------------------------------------------------
 * Handles
 * --------------------------------------------------------------------------------------------- */

typedef struct kvtier_cache kvtier_cache;
typedef struct kvtier_namespace kvtier_namespace;
typedef struct kvtier_session kvtier_session;
typedef struct kvtier_lease kvtier_lease;

/* ------------------------------------------------------------------------------------------------
 * Cache
 * --------------------------------------------------------------------------------------------- */

/**
 * Creates a cache from a configuration in properties syntax ("key=value" lines, '#' comments):
 *
 *   layout.layers=32            layout.kv_heads=8          layout.head_dim=128
 *   layout.dtype=bf16           (fp32 fp16 bf16 fp8_e4m3 fp8_e5m2 int8; default bf16)
 *   layout.tokens_per_block=16  (default 16)
 *   layout.arrangement=contiguous   (or layer_split)
 *   layout.page_bytes=N         (instead of layers/kv_heads/head_dim: N bytes per page)
 *   tiers=dram                  (tier names, fastest first; default "dram")
 *   tier.dram.kind=dram         tier.dram.capacity=8g     (bytes; k m g t suffixes, binary)
 *   eviction=lru                (lru s3fifo priority-lru)
 *   admission=always            (always, after-hits:K, min-priority:P)
 *   retention=tool-call-ttl     (tool-call-ttl, tool-call-ttl:MAX_MS, none)
 *   branches=cap-per-session:64 (free-now, keep-all, cap-per-session:PAGES)
 *   prefetch=none               (none, on-resume)
 *   event_buffer=65536          (a power of two >= 16)
 *
 * An unknown key or a bad value fails with KVTIER_ERR_INVALID_ARGUMENT and a message naming it.
 */
KVTIER_API int kvtier_cache_create(const char *config, kvtier_cache **out);

/**
 * Closes the cache and frees its memory. Its namespace and session handles become invalid; its
 * leases must still be released (kvtier_lease_release returns KVTIER_OK for them) to free their
 * handles. Destroying twice returns KVTIER_ERR_BAD_HANDLE.
 */
KVTIER_API int kvtier_cache_destroy(kvtier_cache *cache);

/**
 * The namespace (model id, adapter id) in which KV is shared; its layout is the cache's.
 * adapter: NULL or "" for the base model. Opening the same namespace again returns the same
 * handle; namespace handles live until the cache is destroyed.
 */
KVTIER_API int kvtier_namespace_open(kvtier_cache *cache, const char *model, const char *adapter,
                                     kvtier_namespace **out);

/** The 64-bit tenant salt of a tenant id (the same value the Java API computes for it). */
KVTIER_API int kvtier_tenant_salt(const char *tenant, uint64_t *out);

/* ------------------------------------------------------------------------------------------------
 * Sessions: an agent conversation across requests
 * --------------------------------------------------------------------------------------------- */

typedef enum kvtier_pause_kind {
  KVTIER_PAUSE_TOOL = 0,   /* waiting for a tool call: seconds */
  KVTIER_PAUSE_HUMAN = 1,  /* waiting for a person: minutes to hours */
  KVTIER_PAUSE_UNKNOWN = 2
} kvtier_pause_kind;

/** A handle on the session with this id (created on first use). Each call returns a new handle. */
KVTIER_API int kvtier_session_open(kvtier_cache *cache, const char *session_id,
                                   kvtier_session **out);
/** Drops the handle; the session and its pins stay. */
KVTIER_API int kvtier_session_close(kvtier_session *session);
/** Ends the session (drops its pins) and drops the handle. */
KVTIER_API int kvtier_session_end(kvtier_session *session);
/** The session stops (tool call, human); the retention policy may pin its prefix for a while. */
KVTIER_API int kvtier_session_pause(kvtier_session *session, kvtier_pause_kind kind,
                                    int64_t expected_ms);
/** The session is back; a pause pin is dropped. */
KVTIER_API int kvtier_session_resume(kvtier_session *session);
/** The agent compacted its context: the session's current prefix is reclaimed first. */
KVTIER_API int kvtier_session_compacted(kvtier_session *session);
/** Pins the session's current prefix for ttl_ms (> 0), replacing an earlier pin. */
KVTIER_API int kvtier_session_pin(kvtier_session *session, int64_t ttl_ms);
/** Drops the session's pin. */
KVTIER_API int kvtier_session_unpin(kvtier_session *session);
/** Retention priority of the session's blocks: 0 (evict first) to 100 (evict last). */
KVTIER_API int kvtier_session_priority(kvtier_session *session, int32_t priority);
/** Blocks the session pins now. */
KVTIER_API int kvtier_session_pinned_blocks(kvtier_session *session, int32_t *out);

/* ------------------------------------------------------------------------------------------------
 * Leases: what one request holds while it runs
 * --------------------------------------------------------------------------------------------- */

/**
 * Matches the longest cached prefix of tokens[0..n_tokens) in namespace ns (salted with salt, 0
 * for none), pins it and returns a lease. session: NULL, or a session handle of the same cache.
 * cached_tokens (may be NULL) receives the matched prefix length, a multiple of the block size.
 * The tokens are copied; the caller's array is free again when the call returns.
 */
KVTIER_API int kvtier_acquire(kvtier_cache *cache, kvtier_namespace *ns, kvtier_session *session,
                              uint64_t salt, const int32_t *tokens, int32_t n_tokens,
                              kvtier_lease **out, int32_t *cached_tokens);

/** Leading tokens found cached at acquire. */
KVTIER_API int kvtier_lease_cached_tokens(kvtier_lease *lease, int32_t *out);
/** Tokens the lease has pages for. */
KVTIER_API int kvtier_lease_token_count(kvtier_lease *lease, int32_t *out);
/** Tokens whose full blocks are published (reusable by later requests). */
KVTIER_API int kvtier_lease_committed_tokens(kvtier_lease *lease, int32_t *out);
/** Entries in the block table. */
KVTIER_API int kvtier_lease_block_count(kvtier_lease *lease, int32_t *out);

/**
 * Copies the block table — the top tier's page handles, one per block, in token order — into
 * table[0..capacity). *n_out receives the number of entries; with KVTIER_ERR_BUFFER_TOO_SMALL it
 * receives the number needed and nothing is written. Decode a handle with kvtier_page_index().
 * Today the top tier is host DRAM; with an HBM tier the indices are the engine's block ids.
 * With several tiers, matched blocks that only lower tiers hold have no top-tier page yet: until
 * kvtier_lease_onboard(lease, -1, ...) has returned KVTIER_OK the call fails with
 * KVTIER_ERR_INVALID_ARGUMENT (kvtier_lease_arriving_table gives the pages they will land in).
 */
KVTIER_API int kvtier_lease_block_table(kvtier_lease *lease, uint64_t *table, int32_t capacity,
                                        int32_t *n_out);

/**
 * Onboarding: with several tiers (`tiers=` in the configuration), kvtier_acquire matches blocks
 * in every tier, but the engine reads pages of the top tier only. kvtier_lease_onboard copies the
 * matched blocks that only lower tiers hold up into the top tier and waits for them.
 *
 * Starts the lease's onboarding unless it is under way or done, then waits until layer `layer`
 * (0 to layout.layers - 1; a layout given as layout.page_bytes has 1 layer) of every matched block
 * is in the top tier, or with layer = -1 until the whole onboarding is, after which
 * kvtier_lease_block_table works. Pages that are copied as memory land layer 0 of every page
 * first, then layer 1, and so on, so that the engine can prefill layer l while later layers copy;
 * other copies land all layers at once. timeout_ms < 0 waits without limit, 0 only polls.
 * Repeated calls wait on the same onboarding (kvtier_lease_arriving_table's pages stay valid).
 * A lease with nothing below the top tier returns KVTIER_OK at once.
 *
 * Returns KVTIER_OK when it landed; KVTIER_ERR_TIMEOUT when it has not landed yet (call again);
 * KVTIER_ERR_NO_SPACE when the top tier has no room for the copies (every page is pinned);
 * KVTIER_ERR_INVALID_ARGUMENT for a layer out of range; KVTIER_ERR_BAD_HANDLE, KVTIER_ERR_CLOSED as
 * the other lease functions. A failed onboarding is reported once, by the call that sees it; the
 * engine must not use what it read from pages that were still arriving, and the next call starts
 * the onboarding over (into pages that may differ).
 */
KVTIER_API int kvtier_lease_onboard(kvtier_lease *lease, int32_t layer, int64_t timeout_ms);

/**
 * The block table of the lease's onboarding, with the pages still arriving already in it: their
 * handles are final (the lease pins its blocks), but layer l of such a page may be read only after
 * kvtier_lease_onboard(lease, l, ...) returned KVTIER_OK. Starts the onboarding as
 * kvtier_lease_onboard does if it is not under way; if it failed, returns its failure as
 * kvtier_lease_onboard would. The buffer protocol is kvtier_lease_block_table's: *n_out receives
 * the number of entries; with KVTIER_ERR_BUFFER_TOO_SMALL the number needed, and nothing is written.
 * Once the onboarding is done, it is the same table as kvtier_lease_block_table's.
 */
KVTIER_API int kvtier_lease_arriving_table(kvtier_lease *lease, uint64_t *table, int32_t capacity,
                                           int32_t *n_out);

/** Allocates pages for the rest of the prompt (the tokens after the cached prefix). */
KVTIER_API int kvtier_lease_extend(kvtier_lease *lease);
/** Appends tokens (generated ones, a tool result) and allocates pages for them. */
KVTIER_API int kvtier_lease_append(kvtier_lease *lease, const int32_t *tokens, int32_t n_tokens);
/**
 * Publishes the full blocks among the first computed_tokens tokens: their KV is written and later
 * requests may reuse it. computed_tokens = -1: everything the lease has pages for.
 */
KVTIER_API int kvtier_lease_commit(kvtier_lease *lease, int32_t computed_tokens);
/** Releases the lease's pins, pages and handle. Releasing twice returns KVTIER_ERR_BAD_HANDLE. */
KVTIER_API int kvtier_lease_release(kvtier_lease *lease);

/* ------------------------------------------------------------------------------------------------
 * Page handles (as in the Java PageHandle): tier 4 bits | generation 28 bits | index 32 bits
 * --------------------------------------------------------------------------------------------- */

static inline uint32_t kvtier_page_index(uint64_t handle) { return (uint32_t)(handle & 0xffffffffu); }
static inline uint32_t kvtier_page_generation(uint64_t handle) {
  return (uint32_t)((handle >> 32) & 0x0fffffffu);
}
static inline uint32_t kvtier_page_tier(uint64_t handle) { return (uint32_t)(handle >> 60); }

/* ------------------------------------------------------------------------------------------------
 * Routers: warmth without pinning
 * --------------------------------------------------------------------------------------------- */

/**
 * How many leading tokens of tokens[0..n_tokens) are cached, without pinning anything.
 * blocks_per_tier (may be NULL): receives, per tier, how many of the matched blocks it holds
 * (KVTIER_ERR_BUFFER_TOO_SMALL if tier_capacity is below the number of tiers).
 */
KVTIER_API int kvtier_probe(kvtier_cache *cache, kvtier_namespace *ns, uint64_t salt,
                            const int32_t *tokens, int32_t n_tokens, int32_t *matched_tokens,
                            int32_t *blocks_per_tier, int32_t tier_capacity);

/**
 * The engine queued this request: starts copying the part of its cached prefix that only lower
 * tiers hold into the top tier now, so that the copies overlap the time it waits in the queue; its
 * kvtier_lease_onboard then waits only for what has not landed yet. Arguments as kvtier_acquire's
 * (session: NULL or a session of the same cache; the tokens are copied). A hint, asynchronous and
 * best effort: nothing is pinned, copies take only pages nobody needs more, and what finds no room
 * stays below for the request's own onboarding. Call it in queue order.
 * out_started (may be NULL) receives how many blocks' copies were started: 0 when the cached
 * prefix is all in the top tier already, nothing is cached, or the cache has one tier.
 */
KVTIER_API int kvtier_prefetch(kvtier_cache *cache, kvtier_namespace *ns, kvtier_session *session,
                               uint64_t salt, const int32_t *tokens, int32_t n_tokens,
                               int32_t *out_started);

/**
 * The engine's waiting queue changed: holds the cached prefixes of its leading requests in the
 * cache, so that what they are about to use is not pushed down before they run. The requests come
 * head first, in the order the engine will schedule them; the hold takes their cached blocks head
 * first, a block that several requests share once, up to a quarter of the top tier's pages. A held
 * block is evicted from no tier, and a kvtier_prefetch of a request whose cached prefix is held does
 * not yield to recent traffic: it takes the pages the eviction policy offers, as the request's own
 * onboarding would. Each call replaces the previous hold; n_requests == 0 releases it. The hold
 * gives way, from its last block, when a lease's allocation in the top tier finds nothing else to
 * evict: it never makes a request fail for pages. A request acquired while held simply finds its
 * prefix; the next call, without it, drops it from the hold. Call it whenever the queue changes,
 * before kvtier_prefetch for the requests nearest the head.
 *
 * Request i is tokens[offsets[i] .. offsets[i+1]) in namespace ns, salted with salts[i] (salts may
 * be NULL: no salt for any); offsets has n_requests + 1 entries, offsets[0] == 0, non-decreasing.
 * With n_requests == 0, tokens, offsets and salts may be NULL. Everything is read and checked
 * before the hold changes: on any error (KVTIER_ERR_INVALID_ARGUMENT for bad lengths or offsets,
 * KVTIER_ERR_BAD_HANDLE for the handles, as kvtier_prefetch's) the previous hold stays as it was.
 * The arrays are free again when the call returns. out_held (may be NULL) receives the blocks now
 * held: 0 for a cache with one tier, or when nothing waiting is cached.
 */
KVTIER_API int kvtier_hold_queue(kvtier_cache *cache, kvtier_namespace *ns, int32_t n_requests,
                                 const uint64_t *salts, const int32_t *tokens,
                                 const int32_t *offsets, int32_t *out_held);

/* ------------------------------------------------------------------------------------------------
 * Events: sequence-numbered Stored / Removed / Moved / Cleared
 * --------------------------------------------------------------------------------------------- */

typedef enum kvtier_event_type {
  KVTIER_EVENT_STORED = 1,  /* a block was stored in a tier */
  KVTIER_EVENT_REMOVED = 2, /* a block left a tier */
  KVTIER_EVENT_MOVED = 3,   /* a block's copy moved from tier to to_tier */
  KVTIER_EVENT_CLEARED = 4  /* every block left a tier */
} kvtier_event_type;

typedef struct kvtier_event {
  uint64_t seq;           /* sequence number, from 1, +1 per event */
  int32_t type;           /* kvtier_event_type */
  int32_t tokens;         /* STORED: tokens in the block; else 0 */
  uint64_t key_hi;        /* the block's 128-bit key (0 for CLEARED) */
  uint64_t key_lo;
  uint64_t parent_hi;     /* STORED: the parent block's key (see the Java CacheEvent.Stored) */
  uint64_t parent_lo;
  int32_t tier;           /* tier ordinal in the configuration's `tiers`; MOVED: the source */
  int32_t to_tier;        /* MOVED: the destination; else -1 */
  kvtier_namespace *ns;   /* the namespace's handle if opened through this cache, else NULL */
} kvtier_event;

/**
 * Copies up to capacity events with sequence numbers from from_seq on (0: the oldest buffered)
 * into events. *n_out: events written; *next_seq: the from_seq of the next poll; *missed (may be
 * NULL): events lost because the caller fell behind the cache's bounded buffer.
 */
KVTIER_API int kvtier_events_poll(kvtier_cache *cache, uint64_t from_seq, kvtier_event *events,
                                  int32_t capacity, int32_t *n_out, uint64_t *next_seq,
                                  uint64_t *missed);

/* ------------------------------------------------------------------------------------------------
 * Stats
 * --------------------------------------------------------------------------------------------- */

#define KVTIER_MAX_TIERS 16

typedef enum kvtier_tier_kind {
  KVTIER_TIER_HBM = 0,
  KVTIER_TIER_DRAM = 1,
  KVTIER_TIER_CXL = 2,
  KVTIER_TIER_NVME = 3,
  KVTIER_TIER_REMOTE = 4
} kvtier_tier_kind;

typedef struct kvtier_tier_stats {
  char name[32];          /* NUL-terminated UTF-8, truncated */
  int32_t kind;           /* kvtier_tier_kind */
  int32_t page_bytes;
  uint64_t capacity_pages;
  uint64_t used_pages;
  uint64_t free_runs;
  uint64_t largest_free_run;
  uint64_t evictions;
} kvtier_tier_stats;

typedef struct kvtier_stats {
  uint64_t lookups;           /* requests acquired */
  uint64_t requested_tokens;  /* tokens they carried */
  uint64_t hit_tokens;        /* leading tokens found cached */
  uint64_t cached_blocks;     /* blocks in the prefix index now */
  uint64_t evicted_blocks;
  int32_t active_leases;
  int32_t metadata_bytes_per_block;
  int32_t n_tiers;
  int32_t reserved;
  kvtier_tier_stats tiers[KVTIER_MAX_TIERS];
} kvtier_stats;

/** Counters since the cache was built and its occupancy now. */
KVTIER_API int kvtier_stats_get(kvtier_cache *cache, kvtier_stats *out);

/* ------------------------------------------------------------------------------------------------
 * Benchmark support
 * --------------------------------------------------------------------------------------------- */

/**
 * Runs `iterations` times acquire + cachedTokens + close of tokens[0..n_tokens) straight on the
 * Java API, inside the JVM, and stores the elapsed nanoseconds in *elapsed_ns: the baseline that
 * bench_abi compares kvtier_acquire + kvtier_lease_release against.
 */
KVTIER_API int kvtier_bench_java_acquire_release(kvtier_cache *cache, kvtier_namespace *ns,
                                                 const int32_t *tokens, int32_t n_tokens,
                                                 int32_t iterations, int64_t *elapsed_ns);

/* Layout checks: these structs are written by the Java side (io.kvtier.cabi.StructLayout). */
#if defined(__cplusplus)
static_assert(sizeof(kvtier_event) == 64, "kvtier_event layout");
static_assert(offsetof(kvtier_event, tier) == 48, "kvtier_event layout");
static_assert(offsetof(kvtier_event, ns) == 56, "kvtier_event layout");
static_assert(sizeof(kvtier_tier_stats) == 80, "kvtier_tier_stats layout");
static_assert(offsetof(kvtier_tier_stats, capacity_pages) == 40, "kvtier_tier_stats layout");
static_assert(offsetof(kvtier_stats, tiers) == 56, "kvtier_stats layout");
static_assert(sizeof(kvtier_stats) == 1336, "kvtier_stats layout");
#else
_Static_assert(sizeof(kvtier_event) == 64, "kvtier_event layout");
_Static_assert(offsetof(kvtier_event, tier) == 48, "kvtier_event layout");
_Static_assert(offsetof(kvtier_event, ns) == 56, "kvtier_event layout");
_Static_assert(sizeof(kvtier_tier_stats) == 80, "kvtier_tier_stats layout");
_Static_assert(offsetof(kvtier_tier_stats, capacity_pages) == 40, "kvtier_tier_stats layout");
_Static_assert(offsetof(kvtier_stats, tiers) == 56, "kvtier_stats layout");
_Static_assert(sizeof(kvtier_stats) == 1336, "kvtier_stats layout");
#endif

#ifdef __cplusplus
}
#endif

#endif /* KVTIER_H */
