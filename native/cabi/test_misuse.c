/*
 * Misuse of the C ABI must come back as status codes, never as a crash: NULL pointers, negative
 * lengths, forged, foreign, stale and double-released handles, a destroyed cache, buffers that are
 * too small, threads that attach and exit, and two threads releasing one lease at once; and, on a
 * cache of two tiers, onboarding (whole and layer by layer, polled, out of room), prefetch and the
 * queue's hold.
 * Prints "test_misuse: OK checks=N" last and exits 0 when every check holds.
 */
#include "kvtier.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int checks;

#define EXPECT(call, want)                                                                   \
  do {                                                                                       \
    int got_ = (call);                                                                       \
    checks++;                                                                                \
    if (got_ != (want)) {                                                                    \
      fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: %s)\n", __FILE__,     \
              __LINE__, #call, kvtier_status_name(got_), kvtier_status_name(want),           \
              kvtier_last_error());                                                          \
      exit(1);                                                                               \
    }                                                                                        \
  } while (0)

#define CHECK(cond)                                                                 \
  do {                                                                              \
    checks++;                                                                       \
    if (!(cond)) {                                                                  \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);      \
      exit(1);                                                                      \
    }                                                                               \
  } while (0)

static const char *CONFIG =
    "# a small cache: 16 tokens per block, 512-byte pages, 256 pages\n"
    "layout.page_bytes=512\n"
    "layout.tokens_per_block=16\n"
    "tier.dram.capacity=128k\n";

static const char *TINY =
    "layout.page_bytes=512\n"
    "layout.tokens_per_block=16\n"
    "tier.dram.capacity=2k\n";

/* Two tiers: 8 pages of 2 KiB (4 layers of 16 tokens) on top of 64 more. */
static const char *TWO_TIERS =
    "layout.layers=4\nlayout.kv_heads=1\nlayout.head_dim=8\nlayout.dtype=fp16\n"
    "layout.tokens_per_block=16\n"
    "tiers=top,low\n"
    "tier.top.kind=dram\ntier.top.capacity=16k\n"
    "tier.low.kind=dram\ntier.low.capacity=128k\n";

static int32_t tokens[1024];

/* Acquires, fills, commits and releases tokens[from..from+n): its blocks are cached. */
static void fill(kvtier_cache *cache, kvtier_namespace *ns, int32_t from, int32_t n) {
  kvtier_lease *lease = NULL;
  EXPECT(kvtier_acquire(cache, ns, NULL, 0, tokens + from, n, &lease, NULL), KVTIER_OK);
  EXPECT(kvtier_lease_extend(lease), KVTIER_OK);
  EXPECT(kvtier_lease_commit(lease, -1), KVTIER_OK);
  EXPECT(kvtier_lease_release(lease), KVTIER_OK);
}

/* Blocks of tokens[from..from+n) in the top tier (per_tier[0]) and the one below (per_tier[1]). */
static void where(kvtier_cache *cache, kvtier_namespace *ns, int32_t from, int32_t n,
                  int32_t per_tier[2]) {
  int32_t matched = 0;
  EXPECT(kvtier_probe(cache, ns, 0, tokens + from, n, &matched, per_tier, 2), KVTIER_OK);
  CHECK(matched == n);
}

/* The prompt at 0 (4 blocks) cached, then pushed below the top by a new one of 8 blocks at from. */
static void push_below(kvtier_cache *cache, kvtier_namespace *ns, int32_t from) {
  int32_t per_tier[2] = {-1, -1};
  fill(cache, ns, 0, 64);
  fill(cache, ns, from, 128);
  where(cache, ns, 0, 64, per_tier);
  CHECK(per_tier[0] == 0 && per_tier[1] == 4);
}

static void tiers_onboarding_and_prefetch(void) {
  kvtier_cache *cache = NULL;
  kvtier_namespace *ns = NULL;
  kvtier_session *session = NULL;
  kvtier_lease *lease = NULL, *filler = NULL;
  int32_t n = 0, cached = -1, per_tier[2] = {-1, -1};
  uint64_t arriving[8], table[8];

  CHECK(strcmp(kvtier_status_name(KVTIER_ERR_TIMEOUT), "KVTIER_ERR_TIMEOUT") == 0);
  CHECK(KVTIER_ABI_VERSION == 3);
  EXPECT(kvtier_cache_create(TWO_TIERS, &cache), KVTIER_OK);
  EXPECT(kvtier_namespace_open(cache, "llama", NULL, &ns), KVTIER_OK);
  EXPECT(kvtier_session_open(cache, "s-2", &session), KVTIER_OK);

  /* Misuse that needs no lease. */
  EXPECT(kvtier_lease_onboard(NULL, -1, 0), KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_lease_onboard((kvtier_lease *)ns, -1, 0), KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_lease_arriving_table((kvtier_lease *)cache, table, 8, &n), KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_prefetch(cache, ns, NULL, 0, NULL, 5, &n), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_prefetch(cache, ns, NULL, 0, tokens, -1, &n), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_prefetch(NULL, ns, NULL, 0, tokens, 64, &n), KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_prefetch(cache, NULL, NULL, 0, tokens, 64, &n), KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_prefetch(cache, ns, (kvtier_session *)ns, 0, tokens, 64, &n),
         KVTIER_ERR_BAD_HANDLE);
  n = -1;
  EXPECT(kvtier_prefetch(cache, ns, NULL, 0, tokens, 64, &n), KVTIER_OK); /* nothing cached */
  CHECK(n == 0);

  /* A prompt below the top: no block table until its onboarding landed; then the same pages the
   * arriving table gave at once. */
  push_below(cache, ns, 128);
  EXPECT(kvtier_acquire(cache, ns, NULL, 0, tokens, 64, &lease, &cached), KVTIER_OK);
  CHECK(cached == 64);
  EXPECT(kvtier_lease_block_table(lease, table, 8, &n), KVTIER_ERR_INVALID_ARGUMENT);
  CHECK(strstr(kvtier_last_error(), "kvtier_lease_onboard") != NULL);
  EXPECT(kvtier_lease_onboard(lease, 4, 0), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_lease_onboard(lease, -2, 0), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_lease_arriving_table(lease, NULL, 8, &n), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_lease_arriving_table(lease, table, -1, &n), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_lease_arriving_table(lease, table, 8, NULL), KVTIER_ERR_INVALID_ARGUMENT);
  n = 0;
  EXPECT(kvtier_lease_arriving_table(lease, table, 2, &n), KVTIER_ERR_BUFFER_TOO_SMALL);
  CHECK(n == 4);
  EXPECT(kvtier_lease_arriving_table(lease, arriving, 8, &n), KVTIER_OK);
  CHECK(n == 4);
  for (int i = 0; i < 4; i++) {
    CHECK(arriving[i] != 0 && kvtier_page_tier(arriving[i]) == 0);
  }
  for (int32_t layer = 0; layer < 4; layer++) {
    EXPECT(kvtier_lease_onboard(lease, layer, -1), KVTIER_OK);
  }
  EXPECT(kvtier_lease_onboard(lease, -1, 10000), KVTIER_OK);
  EXPECT(kvtier_lease_onboard(lease, -1, 0), KVTIER_OK);
  EXPECT(kvtier_lease_block_table(lease, table, 8, &n), KVTIER_OK);
  CHECK(n == 4 && memcmp(table, arriving, sizeof(uint64_t) * 4) == 0);
  EXPECT(kvtier_lease_release(lease), KVTIER_OK);
  EXPECT(kvtier_lease_onboard(lease, -1, 0), KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_lease_arriving_table(lease, table, 8, &n), KVTIER_ERR_BAD_HANDLE);
  where(cache, ns, 0, 64, per_tier);
  CHECK(per_tier[0] == 4);

  /* Polled: TIMEOUT while on its way, then OK, nothing else. */
  push_below(cache, ns, 256);
  EXPECT(kvtier_acquire(cache, ns, NULL, 0, tokens, 64, &lease, NULL), KVTIER_OK);
  int rc;
  while ((rc = kvtier_lease_onboard(lease, -1, 0)) == KVTIER_ERR_TIMEOUT) {
    checks++;
  }
  EXPECT(rc, KVTIER_OK);
  EXPECT(kvtier_lease_block_table(lease, table, 8, &n), KVTIER_OK);
  EXPECT(kvtier_lease_release(lease), KVTIER_OK);

  /* No room on top (every page pinned): NO_SPACE, once; after the pins go, it starts over. */
  push_below(cache, ns, 384);
  EXPECT(kvtier_acquire(cache, ns, NULL, 0, tokens + 512, 128, &filler, NULL), KVTIER_OK);
  EXPECT(kvtier_lease_extend(filler), KVTIER_OK);
  EXPECT(kvtier_acquire(cache, ns, NULL, 0, tokens, 64, &lease, NULL), KVTIER_OK);
  EXPECT(kvtier_lease_onboard(lease, -1, -1), KVTIER_ERR_NO_SPACE);
  EXPECT(kvtier_lease_onboard(lease, 1, 100), KVTIER_ERR_NO_SPACE);
  EXPECT(kvtier_lease_release(filler), KVTIER_OK);
  EXPECT(kvtier_lease_onboard(lease, -1, -1), KVTIER_OK);
  EXPECT(kvtier_lease_block_table(lease, table, 8, &n), KVTIER_OK);
  CHECK(n == 4);
  EXPECT(kvtier_lease_release(lease), KVTIER_OK);

  /* Prefetch: the copies start now; a later acquire waits only for what has not landed. The top
   * tier's blocks must be older than the call (a millisecond clock) for it to take their pages. */
  push_below(cache, ns, 640);
  struct timespec pause = {0, 5 * 1000 * 1000};
  nanosleep(&pause, NULL);
  n = -1;
  EXPECT(kvtier_prefetch(cache, ns, session, 0, tokens, 64, &n), KVTIER_OK);
  CHECK(n == 4);
  EXPECT(kvtier_prefetch(cache, ns, NULL, 0, tokens, 64, NULL), KVTIER_OK);
  EXPECT(kvtier_acquire(cache, ns, session, 0, tokens, 64, &lease, NULL), KVTIER_OK);
  EXPECT(kvtier_lease_onboard(lease, -1, -1), KVTIER_OK);
  EXPECT(kvtier_lease_block_table(lease, table, 8, &n), KVTIER_OK);
  CHECK(n == 4);
  EXPECT(kvtier_lease_release(lease), KVTIER_OK);

  /* A destroyed cache: CLOSED, and the lease can still be released. */
  push_below(cache, ns, 768);
  EXPECT(kvtier_acquire(cache, ns, NULL, 0, tokens, 64, &lease, NULL), KVTIER_OK);
  EXPECT(kvtier_cache_destroy(cache), KVTIER_OK);
  EXPECT(kvtier_lease_onboard(lease, -1, -1), KVTIER_ERR_CLOSED);
  EXPECT(kvtier_lease_arriving_table(lease, table, 8, &n), KVTIER_ERR_CLOSED);
  EXPECT(kvtier_lease_release(lease), KVTIER_OK);
  EXPECT(kvtier_prefetch(cache, ns, NULL, 0, tokens, 64, &n), KVTIER_ERR_BAD_HANDLE);
}

/* The queue's hold on TWO_TIERS, where it takes at most a quarter of the 8 top pages: bad lengths,
 * offsets and handles come back as codes and leave the previous hold, which keeps the held blocks
 * on top under pressure until a call with no requests releases it. */
static void tiers_queue_hold(void) {
  kvtier_cache *cache = NULL, *one = NULL;
  kvtier_namespace *ns = NULL, *one_ns = NULL;
  int32_t held = -1, per_tier[2] = {-1, -1};
  /* Request 0 is the prompt at 0 (4 blocks), request 1 tokens nobody ran. */
  int32_t offsets[3] = {0, 64, 128};
  int32_t not_from_0[3] = {16, 64, 128};
  int32_t decreasing[3] = {0, 64, 32};
  uint64_t unsalted[2] = {0, 0}, salted[2] = {7, 7};
  struct timespec pause = {0, 5 * 1000 * 1000};

  EXPECT(kvtier_cache_create(TWO_TIERS, &cache), KVTIER_OK);
  EXPECT(kvtier_namespace_open(cache, "llama", NULL, &ns), KVTIER_OK);
  EXPECT(kvtier_cache_create(TINY, &one), KVTIER_OK);
  EXPECT(kvtier_namespace_open(one, "llama", NULL, &one_ns), KVTIER_OK);

  /* Nothing cached: nothing held. No requests (NULL arrays allowed): the hold released. */
  EXPECT(kvtier_hold_queue(cache, ns, 2, NULL, tokens, offsets, &held), KVTIER_OK);
  CHECK(held == 0);
  held = -1;
  EXPECT(kvtier_hold_queue(cache, ns, 0, NULL, NULL, NULL, &held), KVTIER_OK);
  CHECK(held == 0);

  fill(cache, ns, 0, 64);
  held = -1;
  EXPECT(kvtier_hold_queue(cache, ns, 2, salted, tokens, offsets, &held), KVTIER_OK);
  CHECK(held == 0); /* cached unsalted only */
  EXPECT(kvtier_hold_queue(cache, ns, 2, unsalted, tokens, offsets, &held), KVTIER_OK);
  CHECK(held == 2); /* a quarter of 8 pages: the prompt's first two blocks */
  EXPECT(kvtier_hold_queue(cache, ns, 2, NULL, tokens, offsets, NULL), KVTIER_OK);

  /* Misuse: every call fails and the hold stays. */
  EXPECT(kvtier_hold_queue(cache, ns, -1, NULL, tokens, offsets, &held),
         KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_hold_queue(cache, ns, 2, NULL, tokens, NULL, &held), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_hold_queue(cache, ns, 2, NULL, NULL, offsets, &held), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_hold_queue(cache, ns, 2, NULL, tokens, not_from_0, &held),
         KVTIER_ERR_INVALID_ARGUMENT);
  CHECK(strstr(kvtier_last_error(), "offsets[0]") != NULL);
  EXPECT(kvtier_hold_queue(cache, ns, 2, NULL, tokens, decreasing, &held),
         KVTIER_ERR_INVALID_ARGUMENT);
  CHECK(strstr(kvtier_last_error(), "decrease") != NULL);
  EXPECT(kvtier_hold_queue(NULL, ns, 0, NULL, NULL, NULL, &held), KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_hold_queue(cache, NULL, 0, NULL, NULL, NULL, &held), KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_hold_queue(NULL, ns, 2, NULL, tokens, offsets, &held), KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_hold_queue(cache, NULL, 2, NULL, tokens, offsets, &held), KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_hold_queue((kvtier_cache *)ns, ns, 0, NULL, NULL, NULL, &held),
         KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_hold_queue(cache, (kvtier_namespace *)cache, 0, NULL, NULL, NULL, &held),
         KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_hold_queue((kvtier_cache *)(uintptr_t)0xdeadbeefcafeULL, ns, 2, NULL, tokens,
                           offsets, &held),
         KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_hold_queue(cache, one_ns, 0, NULL, NULL, NULL, &held), KVTIER_ERR_BAD_HANDLE);
  CHECK(strstr(kvtier_last_error(), "another cache") != NULL);

  /* One tier: nothing is held. */
  fill(one, one_ns, 0, 64);
  held = -1;
  EXPECT(kvtier_hold_queue(one, one_ns, 2, NULL, tokens, offsets, &held), KVTIER_OK);
  CHECK(held == 0);

  /* Pressure of 6 blocks, twice: the held blocks stay on top, the rest of the prompt goes down. */
  nanosleep(&pause, NULL);
  fill(cache, ns, 128, 96);
  nanosleep(&pause, NULL);
  fill(cache, ns, 224, 96);
  where(cache, ns, 0, 64, per_tier);
  CHECK(per_tier[0] == 2 && per_tier[1] == 2);
  held = -1;
  EXPECT(kvtier_hold_queue(cache, ns, 0, NULL, NULL, NULL, &held), KVTIER_OK);
  CHECK(held == 0);
  nanosleep(&pause, NULL);
  fill(cache, ns, 320, 96);
  where(cache, ns, 0, 64, per_tier);
  CHECK(per_tier[0] == 0 && per_tier[1] == 4); /* released: the oldest went down */

  EXPECT(kvtier_cache_destroy(one), KVTIER_OK);
  EXPECT(kvtier_hold_queue(one, one_ns, 0, NULL, NULL, NULL, &held), KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_cache_destroy(cache), KVTIER_OK);
  EXPECT(kvtier_hold_queue(cache, ns, 2, NULL, tokens, offsets, &held), KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_hold_queue(cache, ns, 0, NULL, NULL, NULL, &held), KVTIER_ERR_BAD_HANDLE);
}

static void *attach_and_exit(void *arg) {
  kvtier_cache *cache = arg;
  kvtier_stats st;
  int rc = kvtier_stats_get(cache, &st);
  return (void *)(intptr_t)(rc == KVTIER_OK ? 0 : 1);
}

struct race {
  kvtier_lease *lease;
  pthread_barrier_t *barrier;
  int rc;
};

static void *release_racer(void *arg) {
  struct race *r = arg;
  pthread_barrier_wait(r->barrier);
  r->rc = kvtier_lease_release(r->lease);
  return NULL;
}

int main(void) {
  for (int i = 0; i < 1024; i++) {
    tokens[i] = 1000 + i;
  }
  kvtier_cache *cache = NULL, *other = NULL, *tiny = NULL;
  kvtier_namespace *ns = NULL, *other_ns = NULL, *tiny_ns = NULL;
  kvtier_session *session = NULL;
  kvtier_lease *lease = NULL;
  int32_t n = 0;

  /* Argument checks that need no JVM. */
  EXPECT(kvtier_cache_create(NULL, &cache), KVTIER_ERR_INVALID_ARGUMENT);
  CHECK(strstr(kvtier_last_error(), "config") != NULL);
  EXPECT(kvtier_cache_create(CONFIG, NULL), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_acquire(NULL, NULL, NULL, 0, tokens, -1, &lease, NULL), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_acquire(NULL, NULL, NULL, 0, NULL, 5, &lease, NULL), KVTIER_ERR_INVALID_ARGUMENT);
  CHECK(kvtier_abi_version() == KVTIER_ABI_VERSION);

  /* Bad configurations name the key to fix. */
  EXPECT(kvtier_cache_create("layout.page_bytes=512\nbogus=1\ntier.dram.capacity=1m\n", &cache),
         KVTIER_ERR_INVALID_ARGUMENT);
  CHECK(strstr(kvtier_last_error(), "bogus") != NULL);
  EXPECT(kvtier_cache_create("layout.page_bytes=512\n", &cache), KVTIER_ERR_INVALID_ARGUMENT);
  CHECK(strstr(kvtier_last_error(), "capacity") != NULL);
  EXPECT(kvtier_cache_create("layout.page_bytes=512\ntier.dram.capacity=12q\n", &cache),
         KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_cache_create("layout.page_bytes=512\ntier.dram.capacity=1m\neviction=fifo\n", &cache),
         KVTIER_ERR_INVALID_ARGUMENT);

  EXPECT(kvtier_cache_create(CONFIG, &cache), KVTIER_OK);
  EXPECT(kvtier_cache_create(CONFIG, &other), KVTIER_OK);
  EXPECT(kvtier_cache_create(TINY, &tiny), KVTIER_OK);
  EXPECT(kvtier_namespace_open(cache, "llama", NULL, &ns), KVTIER_OK);
  kvtier_namespace *again = NULL;
  EXPECT(kvtier_namespace_open(cache, "llama", "", &again), KVTIER_OK);
  CHECK(again == ns);
  EXPECT(kvtier_namespace_open(other, "llama", NULL, &other_ns), KVTIER_OK);
  EXPECT(kvtier_namespace_open(tiny, "llama", NULL, &tiny_ns), KVTIER_OK);
  EXPECT(kvtier_namespace_open(cache, "", NULL, &again), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_session_open(cache, "s-1", &session), KVTIER_OK);
  EXPECT(kvtier_session_open(cache, "", &session), KVTIER_ERR_INVALID_ARGUMENT);

  /* NULL, forged and wrong-kind handles. */
  EXPECT(kvtier_acquire(NULL, ns, NULL, 0, tokens, 64, &lease, NULL), KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_acquire(cache, NULL, NULL, 0, tokens, 64, &lease, NULL), KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_acquire((kvtier_cache *)ns, ns, NULL, 0, tokens, 64, &lease, NULL),
         KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_acquire((kvtier_cache *)(uintptr_t)0xdeadbeefcafeULL, ns, NULL, 0, tokens, 64,
                        &lease, NULL),
         KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_acquire((kvtier_cache *)(uintptr_t)-1, ns, NULL, 0, tokens, 64, &lease, NULL),
         KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_lease_release((kvtier_lease *)session), KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_lease_extend(NULL), KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_session_resume((kvtier_session *)cache), KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_cache_destroy((kvtier_cache *)ns), KVTIER_ERR_BAD_HANDLE);
  /* A namespace or session of another cache. */
  EXPECT(kvtier_acquire(other, ns, NULL, 0, tokens, 64, &lease, NULL), KVTIER_ERR_BAD_HANDLE);
  CHECK(strstr(kvtier_last_error(), "another cache") != NULL);
  EXPECT(kvtier_acquire(other, other_ns, session, 0, tokens, 64, &lease, NULL),
         KVTIER_ERR_BAD_HANDLE);

  /* A lease through its life, with bad arguments along the way. */
  int32_t cached = -1;
  EXPECT(kvtier_acquire(cache, ns, session, 0, tokens, 100, &lease, &cached), KVTIER_OK);
  CHECK(cached == 0);
  EXPECT(kvtier_lease_extend(lease), KVTIER_OK);
  EXPECT(kvtier_lease_block_count(lease, &n), KVTIER_OK);
  CHECK(n == 7);
  uint64_t table[16];
  EXPECT(kvtier_lease_block_table(lease, table, 3, &n), KVTIER_ERR_BUFFER_TOO_SMALL);
  CHECK(n == 7);
  EXPECT(kvtier_lease_block_table(lease, NULL, 3, &n), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_lease_block_table(lease, table, -1, &n), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_lease_block_table(lease, table, 16, NULL), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_lease_block_table(lease, table, 16, &n), KVTIER_OK);
  CHECK(n == 7);
  for (int i = 0; i < n; i++) {
    CHECK(kvtier_page_tier(table[i]) == 0 && kvtier_page_generation(table[i]) >= 1);
    for (int j = 0; j < i; j++) CHECK(kvtier_page_index(table[i]) != kvtier_page_index(table[j]));
  }
  EXPECT(kvtier_lease_commit(lease, 101), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_lease_commit(lease, -2), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_lease_append(lease, NULL, 3), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_lease_append(lease, tokens + 100, -3), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_lease_append(lease, tokens + 100, 28), KVTIER_OK);
  EXPECT(kvtier_lease_commit(lease, -1), KVTIER_OK);
  EXPECT(kvtier_lease_committed_tokens(lease, &n), KVTIER_OK);
  CHECK(n == 128);
  EXPECT(kvtier_lease_cached_tokens(lease, NULL), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_lease_release(lease), KVTIER_OK);
  EXPECT(kvtier_lease_release(lease), KVTIER_ERR_BAD_HANDLE);
  CHECK(strstr(kvtier_last_error(), "stale") != NULL);
  EXPECT(kvtier_lease_extend(lease), KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_lease_token_count(lease, &n), KVTIER_ERR_BAD_HANDLE);

  /* The committed prefix is found again; the tenant salt separates tenants. */
  EXPECT(kvtier_probe(cache, ns, 0, tokens, 200, &n, NULL, 0), KVTIER_OK);
  CHECK(n == 128);
  int32_t per_tier[2] = {-1, -1};
  EXPECT(kvtier_probe(cache, ns, 0, tokens, 200, &n, per_tier, 0), KVTIER_ERR_BUFFER_TOO_SMALL);
  EXPECT(kvtier_probe(cache, ns, 0, tokens, 200, &n, per_tier, 2), KVTIER_OK);
  CHECK(n == 128 && per_tier[0] == 8);
  uint64_t salt_a = 0, salt_b = 0;
  EXPECT(kvtier_tenant_salt("tenant-a", &salt_a), KVTIER_OK);
  EXPECT(kvtier_tenant_salt("tenant-b", &salt_b), KVTIER_OK);
  CHECK(salt_a != 0 && salt_a != salt_b);
  EXPECT(kvtier_probe(cache, ns, salt_a, tokens, 200, &n, NULL, 0), KVTIER_OK);
  CHECK(n == 0);
  EXPECT(kvtier_probe(cache, ns, 0, NULL, 10, &n, NULL, 0), KVTIER_ERR_INVALID_ARGUMENT);

  /* Sessions. */
  EXPECT(kvtier_session_pause(session, 7, 10), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_session_pause(session, KVTIER_PAUSE_TOOL, -1), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_session_pause(session, KVTIER_PAUSE_TOOL, 10000), KVTIER_OK);
  EXPECT(kvtier_session_pinned_blocks(session, &n), KVTIER_OK);
  CHECK(n >= 1);
  EXPECT(kvtier_session_resume(session), KVTIER_OK);
  EXPECT(kvtier_session_pin(session, 0), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_session_priority(session, 101), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_session_priority(session, 80), KVTIER_OK);
  EXPECT(kvtier_session_compacted(session), KVTIER_OK);
  kvtier_session *second = NULL;
  EXPECT(kvtier_session_open(cache, "s-1", &second), KVTIER_OK);
  CHECK(second != session);
  EXPECT(kvtier_session_close(second), KVTIER_OK);
  EXPECT(kvtier_session_close(second), KVTIER_ERR_BAD_HANDLE);

  /* Events and stats. */
  kvtier_event evs[4];
  uint64_t next = 0, missed = 0;
  EXPECT(kvtier_events_poll(cache, 0, evs, 0, &n, &next, &missed), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_events_poll(cache, 0, NULL, 4, &n, &next, &missed), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_events_poll(cache, 0, evs, 4, &n, &next, &missed), KVTIER_OK);
  CHECK(n == 4 && evs[0].type == KVTIER_EVENT_STORED && evs[0].ns == ns && evs[0].tier == 0);
  CHECK(evs[0].tokens == 16 && (evs[0].key_hi | evs[0].key_lo) != 0);
  CHECK(evs[1].parent_hi == evs[0].key_hi && evs[1].parent_lo == evs[0].key_lo);
  CHECK(next == evs[3].seq + 1);
  kvtier_stats st;
  EXPECT(kvtier_stats_get(cache, NULL), KVTIER_ERR_INVALID_ARGUMENT);
  EXPECT(kvtier_stats_get(cache, &st), KVTIER_OK);
  CHECK(st.lookups == 1 && st.cached_blocks == 8 && st.active_leases == 0 && st.n_tiers == 1);
  CHECK(strcmp(st.tiers[0].name, "dram") == 0 && st.tiers[0].kind == KVTIER_TIER_DRAM);
  CHECK(st.tiers[0].page_bytes == 512 && st.tiers[0].capacity_pages == 256);

  /* No space: a four-page tier cannot hold a ten-page prompt; the lease stays usable. */
  EXPECT(kvtier_acquire(tiny, tiny_ns, NULL, 0, tokens, 160, &lease, NULL), KVTIER_OK);
  EXPECT(kvtier_lease_extend(lease), KVTIER_ERR_NO_SPACE);
  EXPECT(kvtier_lease_token_count(lease, &n), KVTIER_OK);
  CHECK(n == 0);
  EXPECT(kvtier_lease_release(lease), KVTIER_OK);

  /* Threads that attach on first use and detach when they exit. */
  for (int i = 0; i < 32; i++) {
    pthread_t t;
    void *ret = NULL;
    CHECK(pthread_create(&t, NULL, attach_and_exit, cache) == 0);
    CHECK(pthread_join(t, &ret) == 0);
    CHECK(ret == NULL);
  }

  /* Two threads release one lease: exactly one succeeds. */
  for (int i = 0; i < 16; i++) {
    EXPECT(kvtier_acquire(cache, ns, NULL, 0, tokens, 64, &lease, NULL), KVTIER_OK);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    struct race a = {lease, &barrier, 99}, b = {lease, &barrier, 99};
    pthread_t ta, tb;
    CHECK(pthread_create(&ta, NULL, release_racer, &a) == 0);
    CHECK(pthread_create(&tb, NULL, release_racer, &b) == 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&barrier);
    CHECK((a.rc == KVTIER_OK) != (b.rc == KVTIER_OK));
    CHECK(a.rc == KVTIER_ERR_BAD_HANDLE || b.rc == KVTIER_ERR_BAD_HANDLE);
  }

  /* A destroyed cache: its lease reports CLOSED and can still be released; the rest is stale. */
  EXPECT(kvtier_acquire(other, other_ns, NULL, 0, tokens, 64, &lease, NULL), KVTIER_OK);
  EXPECT(kvtier_cache_destroy(other), KVTIER_OK);
  EXPECT(kvtier_cache_destroy(other), KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_lease_extend(lease), KVTIER_ERR_CLOSED);
  EXPECT(kvtier_lease_release(lease), KVTIER_OK);
  EXPECT(kvtier_acquire(other, other_ns, NULL, 0, tokens, 64, &lease, NULL), KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_namespace_open(other, "llama", NULL, &other_ns), KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_stats_get(other, &st), KVTIER_ERR_BAD_HANDLE);

  tiers_onboarding_and_prefetch();
  tiers_queue_hold();

  EXPECT(kvtier_session_end(session), KVTIER_OK);
  EXPECT(kvtier_session_end(session), KVTIER_ERR_BAD_HANDLE);
  EXPECT(kvtier_cache_destroy(tiny), KVTIER_OK);
  EXPECT(kvtier_cache_destroy(cache), KVTIER_OK);
  EXPECT(kvtier_session_resume(session), KVTIER_ERR_BAD_HANDLE);

  printf("test_misuse: OK checks=%d\n", checks);
  return 0;
}
