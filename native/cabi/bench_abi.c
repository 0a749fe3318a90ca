/*
 * The cost of the C ABI: acquire + release of a cached 4K-token prompt through kvtier_acquire and
 * kvtier_lease_release, against the same calls made from Java inside the same JVM
 * (kvtier_bench_java_acquire_release: Request.of + acquire + cachedTokens + close), measured in
 * the same run, alternating, several rounds. Prints both per-call costs and their difference, by
 * wall clock and by the thread's CPU time (robust on a loaded machine), with clock_gettime.
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

static int64_t clock_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* One round's cost per call: wall-clock, and CPU time of this thread (the Java loop runs on this
 * thread too, inside the JNI call), which excludes time spent descheduled on a loaded machine. */
struct cost {
  double wall, cpu;
};

static struct cost abi_round(kvtier_cache *cache, kvtier_namespace *ns, int iterations) {
  int64_t sink = 0;
  int64_t c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
  int64_t t0 = clock_ns(CLOCK_MONOTONIC);
  for (int i = 0; i < iterations; i++) {
    kvtier_lease *lease;
    int32_t cached;
    check(kvtier_acquire(cache, ns, NULL, 0, tokens, PROMPT, &lease, &cached), "acquire");
    sink += cached;
    check(kvtier_lease_release(lease), "release");
  }
  int64_t el = clock_ns(CLOCK_MONOTONIC) - t0;
  int64_t cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
  if (sink != (int64_t)iterations * PROMPT) {
    fprintf(stderr, "bench_abi: the prompt was not fully cached\n");
    exit(1);
  }
  return (struct cost){(double)el / iterations, (double)cpu / iterations};
}

static struct cost java_round(kvtier_cache *cache, kvtier_namespace *ns, int iterations) {
  int64_t el = 0;
  int64_t c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
  check(kvtier_bench_java_acquire_release(cache, ns, tokens, PROMPT, iterations, &el), "java loop");
  int64_t cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
  return (struct cost){(double)el / iterations, (double)cpu / iterations};
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
  double abi_wall[100], java_wall[100], abi_cpu[100], java_cpu[100];
  for (int r = 0; r < rounds; r++) {
    struct cost a = abi_round(cache, ns, iterations);
    struct cost j = java_round(cache, ns, iterations);
    abi_wall[r] = a.wall;
    abi_cpu[r] = a.cpu;
    java_wall[r] = j.wall;
    java_cpu[r] = j.cpu;
  }
  qsort(abi_wall, (size_t)rounds, sizeof(double), cmp);
  qsort(java_wall, (size_t)rounds, sizeof(double), cmp);
  qsort(abi_cpu, (size_t)rounds, sizeof(double), cmp);
  qsort(java_cpu, (size_t)rounds, sizeof(double), cmp);
  int m = rounds / 2;
  printf("acquire+release of a cached %d-token prompt: %d rounds of %d calls, C ABI and Java "
         "alternating; per call, median of rounds (min)\n",
         PROMPT, rounds, iterations);
  printf("  wall clock : c_abi %6.0f ns (%6.0f)  java %6.0f ns (%6.0f)  difference %5.0f ns\n",
         abi_wall[m], abi_wall[0], java_wall[m], java_wall[0], abi_wall[m] - java_wall[m]);
  printf("  thread cpu : c_abi %6.0f ns (%6.0f)  java %6.0f ns (%6.0f)  difference %5.0f ns\n",
         abi_cpu[m], abi_cpu[0], java_cpu[m], java_cpu[0], abi_cpu[m] - java_cpu[m]);
  printf("bench_abi: c_abi_ns_per_call=%.0f java_ns_per_call=%.0f overhead_ns=%.0f (thread cpu, "
         "median)\n",
         abi_cpu[m], java_cpu[m], abi_cpu[m] - java_cpu[m]);
  check(kvtier_cache_destroy(cache), "cache_destroy");
  return 0;
}
