/*
 * The cost of the C ABI: acquire + release of a cached 4K-token prompt through kvtier_acquire and
 * kvtier_lease_release, against the same calls made from Java inside the same JVM
 * (kvtier_bench_java_acquire_release: Request.of + acquire + cachedTokens + close), measured in
 * the same run, alternating, several rounds. Prints both per-call costs and their difference.
 *
 *   bench_abi [iterations per round (default 5000)] [rounds (default 31)]
 *
 * Needs KVTIER_CLASSPATH (see kvtier.h). Not a test: numbers vary with the machine.
 */
#define _GNU_SOURCE
#include "kvtier.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define PROMPT 4096

static int32_t tokens[PROMPT];

static void check(int rc, const char *what) {
  if (rc != KVTIER_OK) {
    fprintf(stderr, "bench_abi: %s: %s (%s)\n", what, kvtier_status_name(rc), kvtier_last_error());
    exit(1);
  }
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double abi_round(kvtier_cache *cache, kvtier_namespace *ns, int iterations) {
  int64_t sink = 0;
  int64_t t0 = now_ns();
  for (int i = 0; i < iterations; i++) {
    kvtier_lease *lease;
    int32_t cached;
    check(kvtier_acquire(cache, ns, NULL, 0, tokens, PROMPT, &lease, &cached), "acquire");
    sink += cached;
    check(kvtier_lease_release(lease), "release");
  }
  int64_t el = now_ns() - t0;
  if (sink != (int64_t)iterations * PROMPT) {
    fprintf(stderr, "bench_abi: the prompt was not fully cached\n");
    exit(1);
  }
  return (double)el / iterations;
}

static double java_round(kvtier_cache *cache, kvtier_namespace *ns, int iterations) {
  int64_t el = 0;
  check(kvtier_bench_java_acquire_release(cache, ns, tokens, PROMPT, iterations, &el), "java loop");
  return (double)el / iterations;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int iterations = argc > 1 ? atoi(argv[1]) : 5000;
  int rounds = argc > 2 ? atoi(argv[2]) : 31;
  if (iterations < 1 || rounds < 1 || rounds > 100) {
    fprintf(stderr, "usage: bench_abi [iterations >= 1] [rounds 1..100]\n");
    return 2;
  }
  for (int i = 0; i < PROMPT; i++) tokens[i] = (int32_t)((i * 7919) % 50000 + 100);

  kvtier_cache *cache;
  kvtier_namespace *ns;
  check(kvtier_cache_create("layout.page_bytes=512\nlayout.tokens_per_block=16\n"
                            "tier.dram.capacity=64m\n",
                            &cache),
        "cache_create");
  check(kvtier_namespace_open(cache, "bench", NULL, &ns), "namespace_open");
  kvtier_lease *lease;
  check(kvtier_acquire(cache, ns, NULL, 0, tokens, PROMPT, &lease, NULL), "warm acquire");
  check(kvtier_lease_extend(lease), "warm extend");
  check(kvtier_lease_commit(lease, -1), "warm commit");
  check(kvtier_lease_release(lease), "warm release");

  /* Warm-up: let both paths reach the JIT's top tier. */
  for (int w = 0; w < 10; w++) {
    abi_round(cache, ns, iterations);
    java_round(cache, ns, iterations);
  }
  double abi[100], java[100];
  for (int r = 0; r < rounds; r++) {
    abi[r] = abi_round(cache, ns, iterations);
    java[r] = java_round(cache, ns, iterations);
  }
  qsort(abi, (size_t)rounds, sizeof abi[0], cmp);
  qsort(java, (size_t)rounds, sizeof java[0], cmp);
  double abi_med = abi[rounds / 2], java_med = java[rounds / 2];
  double abi_q1 = abi[rounds / 4], java_q1 = java[rounds / 4];
  printf("acquire+release of a cached %d-token prompt, %d calls x %d rounds (per-call cost: median of rounds, rounds alternate)\n",
         PROMPT, iterations, rounds);
  printf("bench_abi: c_abi_ns_per_call=%.0f java_ns_per_call=%.0f overhead_ns=%.0f "
         "(first quartile: c_abi=%.0f java=%.0f diff=%.0f; min: c_abi=%.0f java=%.0f diff=%.0f)\n",
         abi_med, java_med, abi_med - java_med, abi_q1, java_q1, abi_q1 - java_q1, abi[0], java[0],
         abi[0] - java[0]);
  check(kvtier_cache_destroy(cache), "cache_destroy");
  return 0;
}
