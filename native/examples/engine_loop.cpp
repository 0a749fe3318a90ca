// An example engine loop over kvtier's C ABI, the way a C++ serving runtime would drive it.
//
// Four worker threads serve agent sessions that share one system prompt. Each session runs a few
// turns: acquire a lease for the prompt (the cached prefix comes back), allocate pages for the
// rest, read the block table for the attention kernel, "prefill", commit, decode token by token
// (appending and committing as blocks fill), release, then pause for a tool call and resume with
// the tool's result appended to the context. A router thread polls events and probes warmth
// meanwhile.
//
// Checks: every first turn reuses the whole system prompt (warmed once at start-up); every later
// turn reuses at least everything the session committed before (its prefix is pinned through the
// tool call); block tables are well formed; tenants with another salt share nothing; no lease is
// left open.
//
// Then a second cache with two tiers (a small top tier over a larger host tier) runs the queue
// side of an engine: sessions whose prefixes no longer fit on top wait in a queue; on every queue
// change the engine tells the cache its waiting requests (kvtier_hold_queue) and prefetches the
// head (kvtier_prefetch); a scheduled request onboards what is still below layer by layer, reading
// the arriving block table, before its block table is final. Checks: every queued request finds
// all its session had committed (in some tier); the head's prefetch starts copies of its whole
// prefix; the arriving table covers the cached prefix; after onboarding every page is in the top
// tier; an empty queue holds nothing.
//
// Prints "engine_loop: OK ..." last and exits 0, or prints the failure and exits 1.
#include "kvtier.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace {

constexpr int kThreads = 4;
constexpr int kSessionsPerThread = 3;
constexpr int kTurns = 3;
constexpr int kTokensPerBlock = 16;
constexpr int kSystemPromptTokens = 1024;
constexpr int kUserTokens = 150;
constexpr int kDecodeTokens = 40;
constexpr int kToolResultTokens = 70;

const char *kConfig =
    "# a toy model: 2 layers, 2 KV heads of 64 dims in bf16 -> 16 KiB pages of 16 tokens\n"
    "layout.layers=2\n"
    "layout.kv_heads=2\n"
    "layout.head_dim=64\n"
    "layout.dtype=bf16\n"
    "layout.tokens_per_block=16\n"
    "tiers=dram\n"
    "tier.dram.capacity=64m\n"
    "eviction=lru\n"
    "retention=tool-call-ttl\n";

[[noreturn]] void die(const char *what, int rc) {
  std::fprintf(stderr, "engine_loop: FAILED: %s: %s (%s)\n", what, kvtier_status_name(rc),
               kvtier_last_error());
  std::exit(1);
}

void ok(int rc, const char *what) {
  if (rc != KVTIER_OK) die(what, rc);
}

[[noreturn]] void fail(const std::string &what) {
  std::fprintf(stderr, "engine_loop: FAILED: %s\n", what.c_str());
  std::exit(1);
}

// Deterministic pseudo-random tokens, different per (session, turn, part).
void append_tokens(std::vector<int32_t> &v, int n, uint64_t seed) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (int i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    v.push_back(static_cast<int32_t>(x % 50000) + 100);
  }
}

struct Totals {
  std::atomic<long> turns{0};
  std::atomic<long> prompt_tokens{0};
  std::atomic<long> reused_tokens{0};
  std::atomic<long> min_first_turn_reuse{1L << 40};
  std::atomic<long> min_later_turn_margin{1L << 40};
};

void lower(std::atomic<long> &a, long v) {
  long cur = a.load();
  while (v < cur && !a.compare_exchange_weak(cur, v)) {
  }
}

// One "forward pass" over a lease: allocate pages for what is not cached and check the table.
void prefill(kvtier_lease *lease, int prompt_len, std::vector<uint64_t> &table) {
  ok(kvtier_lease_extend(lease), "extend");
  int32_t n = 0;
  int rc = kvtier_lease_block_table(lease, table.data(), static_cast<int32_t>(table.size()), &n);
  if (rc == KVTIER_ERR_BUFFER_TOO_SMALL) {
    table.resize(static_cast<size_t>(n) * 2);
    rc = kvtier_lease_block_table(lease, table.data(), static_cast<int32_t>(table.size()), &n);
  }
  ok(rc, "block_table");
  int want = (prompt_len + kTokensPerBlock - 1) / kTokensPerBlock;
  if (n != want) fail("block table has " + std::to_string(n) + " pages, want " + std::to_string(want));
  std::unordered_set<uint32_t> seen;
  for (int i = 0; i < n; i++) {
    if (kvtier_page_tier(table[i]) != 0) fail("a block table entry is not in the top tier");
    if (!seen.insert(kvtier_page_index(table[i])).second) fail("a page appears twice in one table");
  }
  // A real engine launches the attention kernel on `table` here and writes KV into the pages.
}

void serve(int worker, kvtier_cache *cache, kvtier_namespace *ns,
           const std::vector<int32_t> &system_prompt, Totals &totals) {
  std::vector<uint64_t> table(64);
  for (int s = 0; s < kSessionsPerThread; s++) {
    int sid = worker * kSessionsPerThread + s;
    std::string name = "agent-" + std::to_string(sid);
    kvtier_session *session = nullptr;
    ok(kvtier_session_open(cache, name.c_str(), &session), "session_open");

    std::vector<int32_t> context = system_prompt;
    append_tokens(context, kUserTokens, sid * 1000 + 1);
    int committed_before = 0;
    for (int turn = 0; turn < kTurns; turn++) {
      kvtier_lease *lease = nullptr;
      int32_t cached = -1;
      ok(kvtier_acquire(cache, ns, session, 0, context.data(), static_cast<int32_t>(context.size()),
                        &lease, &cached),
         "acquire");
      totals.turns++;
      totals.prompt_tokens += static_cast<long>(context.size());
      totals.reused_tokens += cached;
      if (turn == 0) {
        lower(totals.min_first_turn_reuse, cached);
      } else {
        lower(totals.min_later_turn_margin, static_cast<long>(cached) - committed_before);
      }

      prefill(lease, static_cast<int>(context.size()), table);
      ok(kvtier_lease_commit(lease, -1), "commit prompt");

      // Decode: one token at a time; publish each block as it fills.
      std::vector<int32_t> generated;
      append_tokens(generated, kDecodeTokens, sid * 1000 + 10 + turn);
      for (int32_t tok : generated) {
        ok(kvtier_lease_append(lease, &tok, 1), "append");
        context.push_back(tok);
        if (context.size() % kTokensPerBlock == 0) ok(kvtier_lease_commit(lease, -1), "commit");
      }
      int32_t committed = 0;
      ok(kvtier_lease_committed_tokens(lease, &committed), "committed_tokens");
      if (committed != static_cast<int32_t>(context.size() / kTokensPerBlock * kTokensPerBlock)) {
        fail("committed tokens " + std::to_string(committed) + " for a context of " +
             std::to_string(context.size()));
      }
      committed_before = committed;
      ok(kvtier_lease_release(lease), "release");

      // The model called a tool: the session waits ~20 ms for its result, then continues with it.
      ok(kvtier_session_pause(session, KVTIER_PAUSE_TOOL, 20), "pause");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      ok(kvtier_session_resume(session), "resume");
      append_tokens(context, kToolResultTokens, sid * 1000 + 100 + turn);
    }
    ok(kvtier_session_end(session), "session_end");
  }
}

// The queue side of an engine over two tiers. Page = 16 tokens x 2 layers x 2 heads x 64 dims x
// K and V x 2 bytes = 16 KiB: the top tier holds 128 pages, the host tier 1024.
const char *kTieredConfig =
    "layout.layers=2\n"
    "layout.kv_heads=2\n"
    "layout.head_dim=64\n"
    "layout.dtype=bf16\n"
    "layout.tokens_per_block=16\n"
    "tiers=top,host\n"
    "tier.top.kind=dram\n"
    "tier.top.capacity=2m\n"
    "tier.host.kind=dram\n"
    "tier.host.capacity=16m\n"
    "eviction=lru\n"
    "retention=none\n";

constexpr int kQueuedSessions = 6;
// 30 blocks each: six of them are 180 pages for a top tier of 128, and the hold (a quarter of the
// top tier, 32 blocks) covers the head's whole prefix, so its prefetch takes what it needs.
constexpr int kQueuedContextTokens = 480;
constexpr int kQueuedNewTokens = 40;
constexpr int kLayers = 2;

struct Request {
  kvtier_session *session;
  std::vector<int32_t> tokens;
  int32_t committed;  // what the session had committed before this request
};

// Tells the cache the waiting queue, head first, as one token array with offsets.
int32_t hold(kvtier_cache *cache, kvtier_namespace *ns, const std::vector<Request> &queue,
             size_t from) {
  std::vector<int32_t> tokens;
  std::vector<int32_t> offsets{0};
  for (size_t i = from; i < queue.size(); i++) {
    tokens.insert(tokens.end(), queue[i].tokens.begin(), queue[i].tokens.end());
    offsets.push_back(static_cast<int32_t>(tokens.size()));
  }
  int32_t held = -1;
  ok(kvtier_hold_queue(cache, ns, static_cast<int32_t>(queue.size() - from), nullptr,
                       tokens.data(), offsets.data(), &held),
     "hold_queue");
  return held;
}

// Returns how many requests found part of their prefix below the top tier.
int queue_phase() {
  kvtier_cache *cache = nullptr;
  ok(kvtier_cache_create(kTieredConfig, &cache), "tiered cache_create");
  kvtier_namespace *ns = nullptr;
  ok(kvtier_namespace_open(cache, "toy-8b", nullptr, &ns), "tiered namespace_open");
  std::vector<uint64_t> table(64);

  // A first turn for each session: the later ones push the earlier ones down to the host tier.
  std::vector<Request> queue;
  for (int s = 0; s < kQueuedSessions; s++) {
    std::string name = "queued-" + std::to_string(s);
    Request r{nullptr, {}, 0};
    ok(kvtier_session_open(cache, name.c_str(), &r.session), "tiered session_open");
    append_tokens(r.tokens, kQueuedContextTokens, 7000 + s);
    kvtier_lease *lease = nullptr;
    ok(kvtier_acquire(cache, ns, r.session, 0, r.tokens.data(),
                      static_cast<int32_t>(r.tokens.size()), &lease, nullptr),
       "tiered acquire");
    prefill(lease, static_cast<int>(r.tokens.size()), table);
    ok(kvtier_lease_commit(lease, -1), "tiered commit");
    ok(kvtier_lease_committed_tokens(lease, &r.committed), "tiered committed_tokens");
    ok(kvtier_lease_release(lease), "tiered release");
    ok(kvtier_session_pause(r.session, KVTIER_PAUSE_TOOL, 9000), "tiered pause");
    // The tool's result is the next turn's new tokens; the turn waits in the queue.
    append_tokens(r.tokens, kQueuedNewTokens, 8000 + s);
    queue.push_back(std::move(r));
    // Sessions arrive over time: recency (kept in milliseconds) orders them.
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }

  // All of them are waiting now: hold their prefixes and start the head's copies.
  if (hold(cache, ns, queue, 0) <= 0) fail("the queue's hold holds nothing");
  int32_t started = 0;
  ok(kvtier_prefetch(cache, ns, queue[0].session, 0, queue[0].tokens.data(),
                     static_cast<int32_t>(queue[0].tokens.size()), &started),
     "prefetch");

  int below = 0;
  for (size_t i = 0; i < queue.size(); i++) {
    Request &r = queue[i];
    // The engine takes the head: the rest is the queue now, and its new head is prefetched.
    hold(cache, ns, queue, i + 1);
    if (i + 1 < queue.size()) {
      ok(kvtier_prefetch(cache, ns, queue[i + 1].session, 0, queue[i + 1].tokens.data(),
                         static_cast<int32_t>(queue[i + 1].tokens.size()), nullptr),
         "prefetch next");
    }
    ok(kvtier_session_resume(r.session), "tiered resume");
    kvtier_lease *lease = nullptr;
    int32_t cached = -1;
    ok(kvtier_acquire(cache, ns, r.session, 0, r.tokens.data(),
                      static_cast<int32_t>(r.tokens.size()), &lease, &cached),
       "queued acquire");
    if (cached < r.committed) {
      fail("a queued request found " + std::to_string(cached) + " tokens of the " +
           std::to_string(r.committed) + " its session committed");
    }
    int32_t n = 0;
    int rc = kvtier_lease_block_table(lease, table.data(), static_cast<int32_t>(table.size()), &n);
    if (rc == KVTIER_ERR_INVALID_ARGUMENT) {
      below++;  // part of the prefix is still below the top tier: onboard it
    } else {
      ok(rc, "queued block_table");
    }
    // The pages the onboarding lands in, known before they land: layer l may be read once
    // kvtier_lease_onboard(lease, l, ...) says so, so the prefill runs layer by layer.
    ok(kvtier_lease_arriving_table(lease, table.data(), static_cast<int32_t>(table.size()), &n),
       "arriving_table");
    if (n != cached / kTokensPerBlock) {
      fail("the arriving table has " + std::to_string(n) + " pages for " + std::to_string(cached) +
           " cached tokens");
    }
    for (int32_t l = 0; l < kLayers; l++) {
      ok(kvtier_lease_onboard(lease, l, -1), "onboard layer");
      // A real engine runs layer l of the prefill over `table` here.
    }
    ok(kvtier_lease_onboard(lease, -1, -1), "onboard all");
    prefill(lease, static_cast<int>(r.tokens.size()), table);  // every page on top now
    ok(kvtier_lease_commit(lease, -1), "queued commit");
    ok(kvtier_lease_release(lease), "queued release");
    ok(kvtier_session_end(r.session), "tiered session_end");
  }
  if (hold(cache, ns, queue, queue.size()) != 0) fail("an empty queue still holds blocks");

  kvtier_stats st;
  ok(kvtier_stats_get(cache, &st), "tiered stats");
  if (st.active_leases != 0) fail("tiered leases left open");
  ok(kvtier_cache_destroy(cache), "tiered cache_destroy");
  // The head's prefix was all below when it was prefetched (five sessions came after it) and all
  // held; how many of the others still had to onboard depends on how fast the copies ran.
  if (started != kQueuedContextTokens / kTokensPerBlock) {
    fail("the head's prefetch started " + std::to_string(started) + " copies, want " +
         std::to_string(kQueuedContextTokens / kTokensPerBlock));
  }
  std::printf("queue phase: %d requests, %d onboarded from the host tier, head prefetch started %d\n",
              kQueuedSessions, below, started);
  return below;
}

}  // namespace

int main() {
  kvtier_cache *cache = nullptr;
  ok(kvtier_cache_create(kConfig, &cache), "cache_create");
  kvtier_namespace *ns = nullptr;
  ok(kvtier_namespace_open(cache, "toy-8b", nullptr, &ns), "namespace_open");

  std::vector<int32_t> system_prompt;
  append_tokens(system_prompt, kSystemPromptTokens, 42);

  // Warm the shared system prompt once, as an engine does at start-up.
  {
    kvtier_lease *lease = nullptr;
    ok(kvtier_acquire(cache, ns, nullptr, 0, system_prompt.data(), kSystemPromptTokens, &lease,
                      nullptr),
       "warm acquire");
    ok(kvtier_lease_extend(lease), "warm extend");
    ok(kvtier_lease_commit(lease, -1), "warm commit");
    ok(kvtier_lease_release(lease), "warm release");
  }

  // A router follows the cache's events and probes warmth while the workers run.
  std::atomic<bool> stop{false};
  long stored_events = 0, foreign_ns_events = 0, router_probes = 0;
  std::thread router([&] {
    std::vector<kvtier_event> evs(256);
    uint64_t next = 0, missed = 0;
    for (;;) {
      bool last = stop.load();
      int32_t n = 0;
      ok(kvtier_events_poll(cache, next, evs.data(), static_cast<int32_t>(evs.size()), &n, &next,
                            &missed),
         "events_poll");
      for (int i = 0; i < n; i++) {
        if (evs[i].type == KVTIER_EVENT_STORED) stored_events++;
        if (evs[i].ns != ns) foreign_ns_events++;
      }
      int32_t matched = 0;
      ok(kvtier_probe(cache, ns, 0, system_prompt.data(), kSystemPromptTokens, &matched, nullptr, 0),
         "probe");
      if (matched != kSystemPromptTokens) fail("the router sees the system prompt cold");
      router_probes++;
      if (last && n == 0) break;
      if (n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });

  Totals totals;
  std::vector<std::thread> workers;
  for (int w = 0; w < kThreads; w++) {
    workers.emplace_back(serve, w, cache, ns, std::cref(system_prompt), std::ref(totals));
  }
  for (auto &t : workers) t.join();
  stop = true;
  router.join();

  // Another tenant shares nothing, even with the same prompt.
  uint64_t salt = 0;
  ok(kvtier_tenant_salt("tenant-b", &salt), "tenant_salt");
  int32_t other_tenant = -1;
  ok(kvtier_probe(cache, ns, salt, system_prompt.data(), kSystemPromptTokens, &other_tenant,
                  nullptr, 0),
     "probe salted");

  kvtier_stats st;
  ok(kvtier_stats_get(cache, &st), "stats");

  long expected_turns = static_cast<long>(kThreads) * kSessionsPerThread * kTurns;
  if (totals.turns != expected_turns) fail("turns");
  if (totals.min_first_turn_reuse < kSystemPromptTokens) {
    fail("a first turn reused only " + std::to_string(totals.min_first_turn_reuse.load()) +
         " tokens, less than the system prompt");
  }
  if (totals.min_later_turn_margin < 0) {
    fail("a later turn reused less than its session had committed (margin " +
         std::to_string(totals.min_later_turn_margin.load()) + ")");
  }
  if (other_tenant != 0) fail("another tenant's probe matched " + std::to_string(other_tenant));
  if (stored_events == 0 || foreign_ns_events != 0) fail("events");
  if (st.active_leases != 0) fail("leases left open: " + std::to_string(st.active_leases));
  if (st.lookups != static_cast<uint64_t>(expected_turns) + 1) fail("lookups");

  ok(kvtier_cache_destroy(cache), "cache_destroy");
  int onboarded = queue_phase();
  std::printf(
      "turns=%ld prompt_tokens=%ld reused_tokens=%ld stored_events=%ld router_probes=%ld "
      "cached_blocks=%llu used_pages=%llu\n",
      totals.turns.load(), totals.prompt_tokens.load(), totals.reused_tokens.load(), stored_events,
      router_probes, static_cast<unsigned long long>(st.cached_blocks),
      static_cast<unsigned long long>(st.tiers[0].used_pages));
  std::printf("engine_loop: OK threads=%d sessions=%d turns=%ld reuse=%.1f%% onboarded=%d\n",
              kThreads, kThreads * kSessionsPerThread, totals.turns.load(),
              100.0 * totals.reused_tokens / totals.prompt_tokens, onboarded);
  return 0;
}
