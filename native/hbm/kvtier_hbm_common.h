/*
 * Shared by both builds of the HBM shim (included once, by kvtier_hbm_emulated.c or
 * kvtier_hbm_cuda.cu; compiles as C11 and as C++): thread-local error messages, live-object
 * counters, region descriptions, and the planner that turns "these blocks, those host pages" into a
 * list of coalesced (dst, src, len) pieces.
 */
#ifndef KVTIER_HBM_COMMON_H
#define KVTIER_HBM_COMMON_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvtier_hbm.h"

#ifdef __cplusplus
#define KVT_THREAD_LOCAL thread_local
#else
#define KVT_THREAD_LOCAL _Thread_local
#endif

static KVT_THREAD_LOCAL char kvt_error_message[512];
static uint64_t kvt_live[KVT_HBM_LIVE_COUNTERS];

/* Records the calling thread's error message and returns status. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int kvt_fail(int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(kvt_error_message, sizeof kvt_error_message, fmt, ap);
  va_end(ap);
  return status;
}

static void kvt_live_add(int counter, int64_t delta) {
  __atomic_add_fetch(&kvt_live[counter], (uint64_t)delta, __ATOMIC_RELAXED);
}

KVT_HBM_EXPORT int kvt_hbm_abi_version(void) { return KVT_HBM_ABI_VERSION; }

KVT_HBM_EXPORT const char *kvt_hbm_last_error(void) { return kvt_error_message; }

KVT_HBM_EXPORT int kvt_hbm_live_objects(uint64_t *counts) {
  if (counts == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "live_objects: counts is null");
  }
  for (int i = 0; i < KVT_HBM_LIVE_COUNTERS; i++) {
    counts[i] = __atomic_load_n(&kvt_live[i], __ATOMIC_RELAXED);
  }
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT const char *kvt_hbm_strerror(int status) {
  switch (status) {
    case KVT_HBM_OK: return "ok";
    case KVT_HBM_NOT_READY: return "not ready";
    case KVT_HBM_E_INVALID: return "invalid argument";
    case KVT_HBM_E_NO_DEVICE: return "no usable device";
    case KVT_HBM_E_OUT_OF_MEMORY: return "out of memory";
    case KVT_HBM_E_RANGE: return "out of range";
    case KVT_HBM_E_UNSUPPORTED: return "not supported by this build or device";
    case KVT_HBM_E_CLOSED: return "stream is closed";
    case KVT_HBM_E_CUDA: return "CUDA error";
    case KVT_HBM_E_INTERNAL: return "internal error in the HBM shim";
    default: return "unknown status";
  }
}

struct kvt_hbm_region {
  int device;
  uint32_t segments;
  uint64_t blocks;
  uint64_t segment_bytes;
  uint64_t *bases;   /* [segments] */
  uint64_t *strides; /* [segments] */
  /* Nonzero when segment i starts at bases[0] + i * pitch for all i and all strides are equal:
   * a block is then one 2D copy of `segments` rows. */
  uint64_t pitch;
};

/* One contiguous copy. */
typedef struct kvt_piece {
  uint64_t dst;
  uint64_t src;
  uint64_t len;
} kvt_piece;

/* Validates the arguments of kvt_hbm_region_create and builds the description (not validating
 * that the memory belongs to the device: each build does that). */
static int kvt_region_new(int device, uint64_t blocks, uint32_t segments, uint64_t segment_bytes,
                          const uint64_t *bases, const uint64_t *strides, kvt_hbm_region **out) {
  if (out == NULL || bases == NULL || strides == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "region_create: null argument");
  }
  if (blocks == 0 || segments == 0 || segment_bytes == 0) {
    return kvt_fail(KVT_HBM_E_INVALID,
                    "region_create: blocks (%llu), segments (%u) and segment_bytes (%llu) must be "
                    "positive",
                    (unsigned long long)blocks, segments, (unsigned long long)segment_bytes);
  }
  if (segment_bytes > UINT64_MAX / segments) {
    return kvt_fail(KVT_HBM_E_INVALID, "region_create: page size overflows");
  }
  for (uint32_t i = 0; i < segments; i++) {
    if (bases[i] == 0) {
      return kvt_fail(KVT_HBM_E_INVALID, "region_create: segment %u has a null base", i);
    }
    if (strides[i] < segment_bytes) {
      return kvt_fail(KVT_HBM_E_INVALID,
                      "region_create: segment %u has block stride %llu, less than segment_bytes "
                      "%llu, so blocks would overlap",
                      i, (unsigned long long)strides[i], (unsigned long long)segment_bytes);
    }
    if (bases[i] > UINT64_MAX - segment_bytes ||
        (blocks - 1) > (UINT64_MAX - bases[i] - segment_bytes) / strides[i]) {
      return kvt_fail(KVT_HBM_E_RANGE, "region_create: segment %u runs past the address space", i);
    }
  }
  kvt_hbm_region *r = (kvt_hbm_region *)calloc(1, sizeof *r);
  uint64_t *b = (uint64_t *)malloc(sizeof(uint64_t) * segments);
  uint64_t *s = (uint64_t *)malloc(sizeof(uint64_t) * segments);
  if (r == NULL || b == NULL || s == NULL) {
    free(r);
    free(b);
    free(s);
    return kvt_fail(KVT_HBM_E_OUT_OF_MEMORY, "region_create: out of host memory");
  }
  memcpy(b, bases, sizeof(uint64_t) * segments);
  memcpy(s, strides, sizeof(uint64_t) * segments);
  r->device = device;
  r->segments = segments;
  r->blocks = blocks;
  r->segment_bytes = segment_bytes;
  r->bases = b;
  r->strides = s;
  r->pitch = 0;
  if (segments > 1 && bases[1] > bases[0]) {
    uint64_t pitch = bases[1] - bases[0];
    int uniform = pitch >= segment_bytes;
    for (uint32_t i = 1; uniform && i < segments; i++) {
      uniform = bases[i] - bases[i - 1] == pitch && strides[i] == strides[0] && bases[i] > bases[i - 1];
    }
    r->pitch = uniform ? pitch : 0;
  }
  *out = r;
  kvt_live_add(KVT_HBM_LIVE_REGIONS, 1);
  return KVT_HBM_OK;
}

static void kvt_region_free(kvt_hbm_region *r) {
  free(r->bases);
  free(r->strides);
  free(r);
  kvt_live_add(KVT_HBM_LIVE_REGIONS, -1);
}

static void kvt_append(kvt_piece *pieces, size_t *count, uint64_t dst, uint64_t src, uint64_t len) {
  if (*count > 0) {
    kvt_piece *last = &pieces[*count - 1];
    if (last->dst + last->len == dst && last->src + last->len == src) {
      last->len += len;
      return;
    }
  }
  pieces[*count].dst = dst;
  pieces[*count].src = src;
  pieces[*count].len = len;
  (*count)++;
}

#define KVT_H2D 1
#define KVT_D2H 2
#define KVT_D2D 3

/*
 * Plans a copy between `n` blocks of a region and `n` host pages (or, for KVT_D2D, `n` other
 * blocks, passed in `host` as block ids): bytes [offset, offset + bytes) of each page, one piece
 * per segment they touch, at the same offset on both sides, coalesced where consecutive pieces
 * touch on both sides. The caller frees *out.
 */
static int kvt_plan(const kvt_hbm_region *r, int direction, const uint64_t *blocks,
                    const uint64_t *host, uint32_t n, uint64_t offset, uint64_t bytes,
                    kvt_piece **out, size_t *count) {
  if (r == NULL || blocks == NULL || host == NULL || out == NULL || count == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "copy: null argument");
  }
  uint64_t page = r->segment_bytes * r->segments;
  if (bytes > page || offset > page - bytes) {
    return kvt_fail(KVT_HBM_E_INVALID,
                    "copy: bytes [%llu, %llu + %llu) are not inside a page of %llu bytes",
                    (unsigned long long)offset, (unsigned long long)offset,
                    (unsigned long long)bytes, (unsigned long long)page);
  }
  *out = NULL;
  *count = 0;
  if (n == 0 || bytes == 0) {
    return KVT_HBM_OK;
  }
  for (uint32_t i = 0; i < n; i++) {
    if (blocks[i] >= r->blocks || (direction == KVT_D2D && host[i] >= r->blocks)) {
      return kvt_fail(KVT_HBM_E_RANGE, "copy: block %llu is out of range [0, %llu)",
                      (unsigned long long)(blocks[i] >= r->blocks ? blocks[i] : host[i]),
                      (unsigned long long)r->blocks);
    }
    if (direction != KVT_D2D && host[i] == 0) {
      return kvt_fail(KVT_HBM_E_INVALID, "copy: host address %u is null", i);
    }
  }
  uint64_t sb = r->segment_bytes;
  uint32_t first = (uint32_t)(offset / sb);
  uint32_t last = (uint32_t)((offset + bytes - 1) / sb); /* the segments the range touches */
  uint64_t per_page = (uint64_t)(last - first) + 1;
  kvt_piece *pieces = (kvt_piece *)malloc(sizeof(kvt_piece) * (size_t)per_page * n);
  if (pieces == NULL) {
    return kvt_fail(KVT_HBM_E_OUT_OF_MEMORY, "copy: out of host memory for %u pieces", n);
  }
  size_t c = 0;
  for (uint32_t i = 0; i < n; i++) {
    for (uint32_t s = first; s <= last; s++) {
      uint64_t seg_start = (uint64_t)s * sb;
      uint64_t lo = offset > seg_start ? offset : seg_start;
      uint64_t hi = offset + bytes < seg_start + sb ? offset + bytes : seg_start + sb;
      uint64_t len = hi - lo;
      uint64_t in_seg = lo - seg_start;
      uint64_t dev = r->bases[s] + blocks[i] * r->strides[s] + in_seg;
      switch (direction) {
        case KVT_H2D:
          kvt_append(pieces, &c, dev, host[i] + lo, len);
          break;
        case KVT_D2H:
          kvt_append(pieces, &c, host[i] + lo, dev, len);
          break;
        default:
          kvt_append(pieces, &c, r->bases[s] + host[i] * r->strides[s] + in_seg, dev, len);
          break;
      }
    }
  }
  *out = pieces;
  *count = c;
  return KVT_HBM_OK;
}

/*
 * Issues one planned copy on a stream: bytes [offset, offset + bytes) of each of n pages, in
 * `direction`. Each build defines it; the copy entry points below are the same in both.
 */
static int kvt_build_copy(kvt_hbm_stream *s, const kvt_hbm_region *r, int direction,
                          const uint64_t *blocks, const uint64_t *other, uint32_t n,
                          uint64_t offset, uint64_t bytes);

KVT_HBM_EXPORT int kvt_hbm_copy_h2d(kvt_hbm_stream *s, const kvt_hbm_region *r,
                                    const uint64_t *blocks, const uint64_t *host, uint32_t n,
                                    uint64_t bytes) {
  return kvt_build_copy(s, r, KVT_H2D, blocks, host, n, 0, bytes);
}

KVT_HBM_EXPORT int kvt_hbm_copy_d2h(kvt_hbm_stream *s, const kvt_hbm_region *r,
                                    const uint64_t *blocks, const uint64_t *host, uint32_t n,
                                    uint64_t bytes) {
  return kvt_build_copy(s, r, KVT_D2H, blocks, host, n, 0, bytes);
}

KVT_HBM_EXPORT int kvt_hbm_copy_h2d_range(kvt_hbm_stream *s, const kvt_hbm_region *r,
                                          const uint64_t *blocks, const uint64_t *host,
                                          uint32_t n, uint64_t offset, uint64_t bytes) {
  return kvt_build_copy(s, r, KVT_H2D, blocks, host, n, offset, bytes);
}

KVT_HBM_EXPORT int kvt_hbm_copy_d2h_range(kvt_hbm_stream *s, const kvt_hbm_region *r,
                                          const uint64_t *blocks, const uint64_t *host,
                                          uint32_t n, uint64_t offset, uint64_t bytes) {
  return kvt_build_copy(s, r, KVT_D2H, blocks, host, n, offset, bytes);
}

KVT_HBM_EXPORT int kvt_hbm_copy_d2d(kvt_hbm_stream *s, const kvt_hbm_region *r,
                                    const uint64_t *from, const uint64_t *to, uint32_t n) {
  if (r == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "copy_d2d: null region");
  }
  return kvt_build_copy(s, r, KVT_D2D, from, to, n, 0, r->segment_bytes * r->segments);
}

#define KVT_API_TABLE                                                                            \
  {                                                                                              \
    kvt_hbm_abi_version, kvt_hbm_variant, kvt_hbm_strerror, kvt_hbm_last_error,                  \
        kvt_hbm_live_objects, kvt_hbm_device_count, kvt_hbm_device_memory, kvt_hbm_device_alloc, \
        kvt_hbm_device_free, kvt_hbm_host_alloc, kvt_hbm_host_free, kvt_hbm_host_register,       \
        kvt_hbm_host_unregister, kvt_hbm_region_create, kvt_hbm_region_destroy,                  \
        kvt_hbm_stream_create, kvt_hbm_stream_destroy, kvt_hbm_stream_synchronize,               \
        kvt_hbm_stream_set_copy_mode, kvt_hbm_stream_set_delay, kvt_hbm_copy_h2d,                \
        kvt_hbm_copy_d2h, kvt_hbm_copy_d2d, kvt_hbm_copy_raw, kvt_hbm_event_record,              \
        kvt_hbm_event_query, kvt_hbm_event_synchronize, kvt_hbm_stream_wait_event,               \
        kvt_hbm_event_destroy, kvt_hbm_copy_h2d_range, kvt_hbm_copy_d2h_range                    \
  }

#endif /* KVTIER_HBM_COMMON_H */
