/*
 * The emulated build of the HBM shim: the ABI of kvtier_hbm.h over host memory.
 *
 * Devices: KVTIER_HBM_EMULATED_DEVICES of them (default 1), each with KVTIER_HBM_EMULATED_BYTES of
 * "device memory" (default: the machine's physical memory), which is ordinary 4096-byte-aligned
 * host memory. Every allocation is recorded, so a region that points outside device memory, or a
 * free of an address that was never allocated, fails as it would on a GPU.
 *
 * Streams: each stream is a worker thread with a FIFO of operations (a batch of copies, or a wait
 * on another stream's event). Operations run in submission order; `completed` counts finished
 * ones. An event is (stream, sequence number of the last operation submitted before it); it has
 * completed when the stream's `completed` reaches that number. A wait operation blocks its worker
 * until the other stream gets there. kvt_hbm_stream_set_delay makes each later copy operation sleep
 * before it moves any byte, or (KVT_HBM_DELAY_PAUSE) holds every copy until the delay is changed,
 * so a test can keep a copy in flight for as long as it likes.
 *
 * Streams are reference-counted: events and pending waits hold a reference, so an event may
 * outlive its stream as a CUDA event can.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "kvtier_hbm_common.h"

KVT_HBM_EXPORT const char *kvt_hbm_variant(void) { return "emulated"; }

/* ---- devices and their memory ----------------------------------------------------------- */

typedef struct emu_alloc {
  uint64_t ptr;
  uint64_t bytes;
  int device;
} emu_alloc;

static pthread_mutex_t emu_mu = PTHREAD_MUTEX_INITIALIZER;
static emu_alloc *emu_allocs; /* device allocations, guarded by emu_mu */
static size_t emu_alloc_count, emu_alloc_cap;
static emu_alloc *emu_hosts; /* host registrations (device = -1) and pinned allocations (-2) */
static size_t emu_host_count, emu_host_cap;
static uint64_t emu_used[64];

static int emu_devices(void) {
  const char *v = getenv("KVTIER_HBM_EMULATED_DEVICES");
  if (v == NULL || *v == 0) {
    return 1;
  }
  long n = strtol(v, NULL, 10);
  return n < 0 ? 0 : n > 64 ? 64 : (int)n;
}

static uint64_t emu_capacity(void) {
  const char *v = getenv("KVTIER_HBM_EMULATED_BYTES");
  if (v != NULL && *v != 0) {
    return strtoull(v, NULL, 10);
  }
  long pages = sysconf(_SC_PHYS_PAGES);
  long size = sysconf(_SC_PAGESIZE);
  return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : UINT64_MAX;
}

static int emu_check_device(int device, const char *what) {
  int n = emu_devices();
  if (device < 0 || device >= n) {
    return kvt_fail(KVT_HBM_E_NO_DEVICE, "%s: emulated device %d does not exist (%d devices)", what,
                    device, n);
  }
  return KVT_HBM_OK;
}

static int emu_push(emu_alloc **list, size_t *count, size_t *cap, emu_alloc a) {
  if (*count == *cap) {
    size_t ncap = *cap == 0 ? 16 : *cap * 2;
    emu_alloc *grown = (emu_alloc *)realloc(*list, ncap * sizeof(emu_alloc));
    if (grown == NULL) {
      return 0;
    }
    *list = grown;
    *cap = ncap;
  }
  (*list)[(*count)++] = a;
  return 1;
}

static long emu_find(const emu_alloc *list, size_t count, uint64_t ptr) {
  for (size_t i = 0; i < count; i++) {
    if (list[i].ptr == ptr) {
      return (long)i;
    }
  }
  return -1;
}

/* Whether [ptr, ptr + bytes) lies inside one allocation of `device`. Caller holds emu_mu. */
static int emu_inside(int device, uint64_t ptr, uint64_t bytes) {
  for (size_t i = 0; i < emu_alloc_count; i++) {
    const emu_alloc *a = &emu_allocs[i];
    if (a->device == device && ptr >= a->ptr && ptr - a->ptr <= a->bytes &&
        bytes <= a->bytes - (ptr - a->ptr)) {
      return 1;
    }
  }
  return 0;
}

static void *emu_aligned(uint64_t bytes) {
  uint64_t rounded = (bytes + 4095) & ~(uint64_t)4095;
  if (rounded < bytes) {
    return NULL;
  }
  return aligned_alloc(4096, (size_t)rounded);
}

KVT_HBM_EXPORT int kvt_hbm_device_count(int *count) {
  if (count == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "device_count: count is null");
  }
  *count = emu_devices();
  if (*count == 0) {
    return kvt_fail(KVT_HBM_E_NO_DEVICE, "device_count: KVTIER_HBM_EMULATED_DEVICES is 0");
  }
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_device_memory(int device, uint64_t *total, uint64_t *free_bytes) {
  int rc = emu_check_device(device, "device_memory");
  if (rc != KVT_HBM_OK) {
    return rc;
  }
  if (total == NULL || free_bytes == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "device_memory: null argument");
  }
  uint64_t cap = emu_capacity();
  pthread_mutex_lock(&emu_mu);
  uint64_t used = emu_used[device];
  pthread_mutex_unlock(&emu_mu);
  *total = cap;
  *free_bytes = used < cap ? cap - used : 0;
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_device_alloc(int device, uint64_t bytes, uint64_t *out) {
  int rc = emu_check_device(device, "device_alloc");
  if (rc != KVT_HBM_OK) {
    return rc;
  }
  if (out == NULL || bytes == 0) {
    return kvt_fail(KVT_HBM_E_INVALID, "device_alloc: null output or zero bytes");
  }
  uint64_t cap = emu_capacity();
  pthread_mutex_lock(&emu_mu);
  if (bytes > cap - (emu_used[device] < cap ? emu_used[device] : cap)) {
    uint64_t used = emu_used[device];
    pthread_mutex_unlock(&emu_mu);
    return kvt_fail(KVT_HBM_E_OUT_OF_MEMORY,
                    "device_alloc: %llu bytes requested, %llu of %llu in use on emulated device %d",
                    (unsigned long long)bytes, (unsigned long long)used, (unsigned long long)cap,
                    device);
  }
  void *p = emu_aligned(bytes);
  emu_alloc a = {(uint64_t)(uintptr_t)p, bytes, device};
  if (p == NULL || !emu_push(&emu_allocs, &emu_alloc_count, &emu_alloc_cap, a)) {
    pthread_mutex_unlock(&emu_mu);
    free(p);
    return kvt_fail(KVT_HBM_E_OUT_OF_MEMORY, "device_alloc: host allocation of %llu bytes failed",
                    (unsigned long long)bytes);
  }
  emu_used[device] += bytes;
  pthread_mutex_unlock(&emu_mu);
  kvt_live_add(KVT_HBM_LIVE_DEVICE_ALLOCS, 1);
  *out = a.ptr;
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_device_free(int device, uint64_t ptr) {
  int rc = emu_check_device(device, "device_free");
  if (rc != KVT_HBM_OK) {
    return rc;
  }
  pthread_mutex_lock(&emu_mu);
  long i = emu_find(emu_allocs, emu_alloc_count, ptr);
  if (i < 0 || emu_allocs[i].device != device) {
    pthread_mutex_unlock(&emu_mu);
    return kvt_fail(KVT_HBM_E_INVALID, "device_free: 0x%llx is not an allocation of device %d",
                    (unsigned long long)ptr, device);
  }
  emu_used[device] -= emu_allocs[i].bytes;
  emu_allocs[i] = emu_allocs[--emu_alloc_count];
  pthread_mutex_unlock(&emu_mu);
  free((void *)(uintptr_t)ptr);
  kvt_live_add(KVT_HBM_LIVE_DEVICE_ALLOCS, -1);
  return KVT_HBM_OK;
}

/* ---- host memory -------------------------------------------------------------------------- */

#define EMU_PINNED (-2)
#define EMU_REGISTERED (-1)

KVT_HBM_EXPORT int kvt_hbm_host_alloc(uint64_t bytes, uint64_t *out) {
  if (out == NULL || bytes == 0) {
    return kvt_fail(KVT_HBM_E_INVALID, "host_alloc: null output or zero bytes");
  }
  void *p = emu_aligned(bytes);
  emu_alloc a = {(uint64_t)(uintptr_t)p, bytes, EMU_PINNED};
  pthread_mutex_lock(&emu_mu);
  int ok = p != NULL && emu_push(&emu_hosts, &emu_host_count, &emu_host_cap, a);
  pthread_mutex_unlock(&emu_mu);
  if (!ok) {
    free(p);
    return kvt_fail(KVT_HBM_E_OUT_OF_MEMORY, "host_alloc: %llu bytes failed",
                    (unsigned long long)bytes);
  }
  kvt_live_add(KVT_HBM_LIVE_HOST_ALLOCS, 1);
  *out = a.ptr;
  return KVT_HBM_OK;
}

static int emu_host_remove(uint64_t ptr, int kind, const char *what) {
  pthread_mutex_lock(&emu_mu);
  long i = emu_find(emu_hosts, emu_host_count, ptr);
  if (i < 0 || emu_hosts[i].device != kind) {
    pthread_mutex_unlock(&emu_mu);
    return kvt_fail(KVT_HBM_E_INVALID, "%s: 0x%llx was not %s", what, (unsigned long long)ptr,
                    kind == EMU_PINNED ? "allocated by host_alloc" : "registered");
  }
  emu_hosts[i] = emu_hosts[--emu_host_count];
  pthread_mutex_unlock(&emu_mu);
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_host_free(uint64_t ptr) {
  int rc = emu_host_remove(ptr, EMU_PINNED, "host_free");
  if (rc == KVT_HBM_OK) {
    free((void *)(uintptr_t)ptr);
    kvt_live_add(KVT_HBM_LIVE_HOST_ALLOCS, -1);
  }
  return rc;
}

KVT_HBM_EXPORT int kvt_hbm_host_register(uint64_t ptr, uint64_t bytes) {
  if (ptr == 0 || bytes == 0) {
    return kvt_fail(KVT_HBM_E_INVALID, "host_register: null address or zero bytes");
  }
  emu_alloc a = {ptr, bytes, EMU_REGISTERED};
  pthread_mutex_lock(&emu_mu);
  for (size_t i = 0; i < emu_host_count; i++) {
    const emu_alloc *h = &emu_hosts[i];
    if (ptr < h->ptr + h->bytes && h->ptr < ptr + bytes) {
      pthread_mutex_unlock(&emu_mu);
      return kvt_fail(KVT_HBM_E_INVALID,
                      "host_register: [0x%llx, +%llu) overlaps memory already pinned or registered",
                      (unsigned long long)ptr, (unsigned long long)bytes);
    }
  }
  int ok = emu_push(&emu_hosts, &emu_host_count, &emu_host_cap, a);
  pthread_mutex_unlock(&emu_mu);
  if (!ok) {
    return kvt_fail(KVT_HBM_E_OUT_OF_MEMORY, "host_register: out of host memory");
  }
  kvt_live_add(KVT_HBM_LIVE_HOST_REGISTRATIONS, 1);
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_host_unregister(uint64_t ptr) {
  int rc = emu_host_remove(ptr, EMU_REGISTERED, "host_unregister");
  if (rc == KVT_HBM_OK) {
    kvt_live_add(KVT_HBM_LIVE_HOST_REGISTRATIONS, -1);
  }
  return rc;
}

/* ---- regions ------------------------------------------------------------------------------ */

KVT_HBM_EXPORT int kvt_hbm_region_create(int device, uint64_t blocks, uint32_t segments,
                                         uint64_t segment_bytes, const uint64_t *bases,
                                         const uint64_t *strides, kvt_hbm_region **out) {
  int rc = emu_check_device(device, "region_create");
  if (rc != KVT_HBM_OK) {
    return rc;
  }
  kvt_hbm_region *r = NULL;
  rc = kvt_region_new(device, blocks, segments, segment_bytes, bases, strides, &r);
  if (rc != KVT_HBM_OK) {
    return rc;
  }
  pthread_mutex_lock(&emu_mu);
  for (uint32_t i = 0; i < segments; i++) {
    uint64_t span = (blocks - 1) * strides[i] + segment_bytes;
    if (!emu_inside(device, bases[i], span)) {
      pthread_mutex_unlock(&emu_mu);
      kvt_region_free(r);
      return kvt_fail(KVT_HBM_E_RANGE,
                      "region_create: segment %u [0x%llx, +%llu) is not inside device memory of "
                      "emulated device %d",
                      i, (unsigned long long)bases[i], (unsigned long long)span, device);
    }
  }
  pthread_mutex_unlock(&emu_mu);
  *out = r;
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_region_destroy(kvt_hbm_region *region) {
  if (region == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "region_destroy: null region");
  }
  kvt_region_free(region);
  return KVT_HBM_OK;
}

/* ---- streams ------------------------------------------------------------------------------ */

#define OP_COPY 1
#define OP_WAIT 2

typedef struct emu_op {
  int kind;
  kvt_piece *pieces; /* OP_COPY: owned */
  size_t count;
  uint64_t delay_ns;
  struct kvt_hbm_stream *other; /* OP_WAIT: a referenced stream */
  uint64_t seq;                 /* OP_WAIT: wait until other->completed >= seq */
  struct emu_op *next;
} emu_op;

struct kvt_hbm_stream {
  int device;
  int refs; /* atomic */
  pthread_mutex_t mu;
  pthread_cond_t cv; /* broadcast on new work, on completion and on stop */
  emu_op *head, *tail;
  uint64_t submitted, completed;
  uint64_t delay_ns;
  int paused; /* KVT_HBM_DELAY_PAUSE is set: copies wait before they start */
  int stop;
  pthread_t worker;
};

struct kvt_hbm_event {
  kvt_hbm_stream *stream; /* referenced */
  uint64_t seq;
};

static void emu_stream_release(kvt_hbm_stream *s) {
  if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
    kvt_live_add(KVT_HBM_LIVE_STREAMS, -1);
  }
}

static void emu_sleep(uint64_t ns) {
  struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static void emu_run(emu_op *op) {
  if (op->kind == OP_COPY) {
    if (op->delay_ns > 0) {
      emu_sleep(op->delay_ns);
    }
    for (size_t i = 0; i < op->count; i++) {
      memmove((void *)(uintptr_t)op->pieces[i].dst, (const void *)(uintptr_t)op->pieces[i].src,
              (size_t)op->pieces[i].len);
    }
  } else {
    kvt_hbm_stream *o = op->other;
    pthread_mutex_lock(&o->mu);
    while (o->completed < op->seq) {
      pthread_cond_wait(&o->cv, &o->mu);
    }
    pthread_mutex_unlock(&o->mu);
  }
}

static void *emu_worker(void *arg) {
  kvt_hbm_stream *s = (kvt_hbm_stream *)arg;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (s->head == NULL && !s->stop) {
      pthread_cond_wait(&s->cv, &s->mu);
    }
    if (s->head == NULL) {
      break;
    }
    emu_op *op = s->head;
    while (op->kind == OP_COPY && s->paused && !s->stop) {
      pthread_cond_wait(&s->cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    emu_run(op);
    pthread_mutex_lock(&s->mu);
    s->head = op->next;
    if (s->head == NULL) {
      s->tail = NULL;
    }
    s->completed++;
    pthread_cond_broadcast(&s->cv);
    if (op->other != NULL) {
      pthread_mutex_unlock(&s->mu);
      emu_stream_release(op->other);
      pthread_mutex_lock(&s->mu);
    }
    free(op->pieces);
    free(op);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

/* Appends an operation; takes ownership of op. */
static int emu_submit(kvt_hbm_stream *s, emu_op *op) {
  pthread_mutex_lock(&s->mu);
  if (s->stop) {
    pthread_mutex_unlock(&s->mu);
    free(op->pieces);
    free(op);
    return kvt_fail(KVT_HBM_E_CLOSED, "stream is being destroyed");
  }
  if (op->kind == OP_COPY && !s->paused) {
    op->delay_ns = s->delay_ns;
  }
  op->next = NULL;
  if (s->tail == NULL) {
    s->head = op;
  } else {
    s->tail->next = op;
  }
  s->tail = op;
  s->submitted++;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_stream_create(int device, kvt_hbm_stream **out) {
  int rc = emu_check_device(device, "stream_create");
  if (rc != KVT_HBM_OK) {
    return rc;
  }
  if (out == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "stream_create: null output");
  }
  kvt_hbm_stream *s = (kvt_hbm_stream *)calloc(1, sizeof *s);
  if (s == NULL) {
    return kvt_fail(KVT_HBM_E_OUT_OF_MEMORY, "stream_create: out of host memory");
  }
  s->device = device;
  s->refs = 1;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  int err = pthread_create(&s->worker, NULL, emu_worker, s);
  if (err != 0) {
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return kvt_fail(KVT_HBM_E_OUT_OF_MEMORY, "stream_create: pthread_create failed (%s)",
                    strerror(err));
  }
  kvt_live_add(KVT_HBM_LIVE_STREAMS, 1);
  *out = s;
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_stream_synchronize(kvt_hbm_stream *s) {
  if (s == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "stream_synchronize: null stream");
  }
  pthread_mutex_lock(&s->mu);
  while (s->completed < s->submitted) {
    pthread_cond_wait(&s->cv, &s->mu);
  }
  pthread_mutex_unlock(&s->mu);
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_stream_destroy(kvt_hbm_stream *s) {
  if (s == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "stream_destroy: null stream");
  }
  pthread_mutex_lock(&s->mu);
  s->stop = 1;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->worker, NULL);
  emu_stream_release(s);
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_stream_set_copy_mode(kvt_hbm_stream *s, int mode) {
  if (s == NULL || mode < KVT_HBM_COPY_AUTO || mode > KVT_HBM_COPY_KERNEL) {
    return kvt_fail(KVT_HBM_E_INVALID, "stream_set_copy_mode: null stream or unknown mode %d",
                    mode);
  }
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_stream_set_delay(kvt_hbm_stream *s, uint64_t nanos) {
  if (s == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "stream_set_delay: null stream");
  }
  pthread_mutex_lock(&s->mu);
  s->paused = nanos == KVT_HBM_DELAY_PAUSE;
  s->delay_ns = s->paused ? 0 : nanos;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  return KVT_HBM_OK;
}

/* The build's copy (declared in kvtier_hbm_common.h, which defines the copy entry points). */
static int kvt_build_copy(kvt_hbm_stream *s, const kvt_hbm_region *r, int direction,
                          const uint64_t *blocks, const uint64_t *other, uint32_t n, uint64_t offset,
                          uint64_t bytes) {
  if (s == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "copy: null stream");
  }
  if (r != NULL && r->device != s->device) {
    return kvt_fail(KVT_HBM_E_INVALID, "copy: region of device %d on a stream of device %d",
                    r->device, s->device);
  }
  kvt_piece *pieces;
  size_t count;
  int rc = kvt_plan(r, direction, blocks, other, n, offset, bytes, &pieces, &count);
  if (rc != KVT_HBM_OK) {
    return rc;
  }
  emu_op *op = (emu_op *)calloc(1, sizeof *op);
  if (op == NULL) {
    free(pieces);
    return kvt_fail(KVT_HBM_E_OUT_OF_MEMORY, "copy: out of host memory");
  }
  op->kind = OP_COPY;
  op->pieces = pieces;
  op->count = count;
  return emu_submit(s, op);
}

KVT_HBM_EXPORT int kvt_hbm_copy_raw(kvt_hbm_stream *s, uint64_t dst, uint64_t src, uint64_t bytes,
                                    int direction) {
  if (s == NULL || dst == 0 || src == 0 || (direction != KVT_H2D && direction != KVT_D2H)) {
    return kvt_fail(KVT_HBM_E_INVALID, "copy_raw: null stream or address, or bad direction %d",
                    direction);
  }
  kvt_piece *piece = (kvt_piece *)malloc(sizeof *piece);
  emu_op *op = (emu_op *)calloc(1, sizeof *op);
  if (piece == NULL || op == NULL) {
    free(piece);
    free(op);
    return kvt_fail(KVT_HBM_E_OUT_OF_MEMORY, "copy_raw: out of host memory");
  }
  piece->dst = dst;
  piece->src = src;
  piece->len = bytes;
  op->kind = OP_COPY;
  op->pieces = piece;
  op->count = 1;
  return emu_submit(s, op);
}

/* ---- events ------------------------------------------------------------------------------- */

KVT_HBM_EXPORT int kvt_hbm_event_record(kvt_hbm_stream *s, kvt_hbm_event **out) {
  if (s == NULL || out == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "event_record: null argument");
  }
  kvt_hbm_event *e = (kvt_hbm_event *)malloc(sizeof *e);
  if (e == NULL) {
    return kvt_fail(KVT_HBM_E_OUT_OF_MEMORY, "event_record: out of host memory");
  }
  pthread_mutex_lock(&s->mu);
  e->seq = s->submitted;
  pthread_mutex_unlock(&s->mu);
  __atomic_add_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
  e->stream = s;
  kvt_live_add(KVT_HBM_LIVE_EVENTS, 1);
  *out = e;
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_event_query(kvt_hbm_event *e) {
  if (e == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "event_query: null event");
  }
  pthread_mutex_lock(&e->stream->mu);
  int done = e->stream->completed >= e->seq;
  pthread_mutex_unlock(&e->stream->mu);
  return done ? KVT_HBM_OK : KVT_HBM_NOT_READY;
}

KVT_HBM_EXPORT int kvt_hbm_event_synchronize(kvt_hbm_event *e) {
  if (e == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "event_synchronize: null event");
  }
  kvt_hbm_stream *s = e->stream;
  pthread_mutex_lock(&s->mu);
  while (s->completed < e->seq) {
    pthread_cond_wait(&s->cv, &s->mu);
  }
  pthread_mutex_unlock(&s->mu);
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_stream_wait_event(kvt_hbm_stream *s, kvt_hbm_event *e) {
  if (s == NULL || e == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "stream_wait_event: null argument");
  }
  if (e->stream == s) {
    return KVT_HBM_OK; /* a stream is already ordered after its own events */
  }
  emu_op *op = (emu_op *)calloc(1, sizeof *op);
  if (op == NULL) {
    return kvt_fail(KVT_HBM_E_OUT_OF_MEMORY, "stream_wait_event: out of host memory");
  }
  __atomic_add_fetch(&e->stream->refs, 1, __ATOMIC_ACQ_REL);
  op->kind = OP_WAIT;
  op->other = e->stream;
  op->seq = e->seq;
  int rc = emu_submit(s, op);
  if (rc != KVT_HBM_OK) {
    emu_stream_release(e->stream);
  }
  return rc;
}

KVT_HBM_EXPORT int kvt_hbm_event_destroy(kvt_hbm_event *e) {
  if (e == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "event_destroy: null event");
  }
  emu_stream_release(e->stream);
  free(e);
  kvt_live_add(KVT_HBM_LIVE_EVENTS, -1);
  return KVT_HBM_OK;
}

/* ---- function table ----------------------------------------------------------------------- */

static const kvt_hbm_api emu_api = KVT_API_TABLE;

KVT_HBM_EXPORT const kvt_hbm_api *kvt_hbm_get_api(int abi_version) {
  return abi_version == KVT_HBM_ABI_VERSION ? &emu_api : NULL;
}
