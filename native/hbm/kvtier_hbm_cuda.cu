/*
 * The CUDA build of the HBM shim: the ABI of kvtier_hbm.h over the CUDA runtime (linked
 * statically, so the library needs only the driver, libcuda.so, at run time; without a driver every
 * call that touches the GPU fails with KVT_HBM_E_NO_DEVICE and a message, and nothing crashes).
 *
 * Memory: device memory from cudaMalloc; pinned host memory from cudaHostAlloc (portable, mapped);
 * existing host memory (a DRAM tier's pages) pinned in place with cudaHostRegister, so copies DMA
 * straight from and to it.
 *
 * Streams and events: a kvt_hbm_stream is a non-blocking CUDA stream; an event is a CUDA event
 * created with cudaEventDisableTiming | cudaEventBlockingSync, so waiting on it sleeps instead of
 * spinning a core. Streams remember their device and make it current before every call, because
 * the current device is per host thread.
 *
 * Batched copies: the planner in kvtier_hbm_common.h turns n blocks into coalesced pieces (for a
 * contiguous layout with consecutive slots and consecutive host pages, one piece). The stream's
 * copy mode then issues them as
 *   BATCH   one cudaMemcpyBatchAsync for all pieces (CUDA >= 12.8): one submission, the driver
 *           spreads the pieces over the copy engines;
 *   KERNEL  a gather/scatter kernel that reads and writes 16-byte words through unified
 *           addressing; host memory must be pinned and mapped (checked per call, else BATCH);
 *   MEMCPY  one cudaMemcpy2DAsync per block where the region's segments are evenly spaced (the
 *           layout kvtier allocates), else one cudaMemcpyAsync per piece.
 * AUTO is BATCH where the runtime and driver have it, else MEMCPY.
 */
#include <cuda_runtime.h>

#include "kvtier_hbm_common.h"

KVT_HBM_EXPORT const char *kvt_hbm_variant(void) { return "cuda"; }

static int cuda_status(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return KVT_HBM_OK;
    case cudaErrorNotReady: return KVT_HBM_NOT_READY;
    case cudaErrorMemoryAllocation: return KVT_HBM_E_OUT_OF_MEMORY;
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorInvalidDevice:
    case cudaErrorDevicesUnavailable:
    case cudaErrorInitializationError: return KVT_HBM_E_NO_DEVICE;
    case cudaErrorNotSupported:
    case cudaErrorCallRequiresNewerDriver: return KVT_HBM_E_UNSUPPORTED;
    case cudaErrorInvalidValue:
    case cudaErrorHostMemoryAlreadyRegistered:
    case cudaErrorHostMemoryNotRegistered: return KVT_HBM_E_INVALID;
    default: return KVT_HBM_E_CUDA;
  }
}

/* Maps a CUDA error to a status, recording "<what>: <name> (<number>): <description>". */
static int cuda_fail(cudaError_t e, const char *what) {
  if (e == cudaSuccess || e == cudaErrorNotReady) {
    return cuda_status(e);
  }
  (void)cudaGetLastError(); /* clear a non-sticky error so the next call starts clean */
  return kvt_fail(cuda_status(e), "%s: %s (cuda error %d): %s", what, cudaGetErrorName(e), (int)e,
                  cudaGetErrorString(e));
}

#define CUDA_TRY(call, what)            \
  do {                                  \
    cudaError_t kvt_e_ = (call);        \
    if (kvt_e_ != cudaSuccess) {        \
      return cuda_fail(kvt_e_, (what)); \
    }                                   \
  } while (0)

/* ---- devices and memory ------------------------------------------------------------------- */

KVT_HBM_EXPORT int kvt_hbm_device_count(int *count) {
  if (count == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "device_count: count is null");
  }
  *count = 0;
  CUDA_TRY(cudaGetDeviceCount(count), "device_count");
  if (*count == 0) {
    return kvt_fail(KVT_HBM_E_NO_DEVICE, "device_count: the driver reports no CUDA device");
  }
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_device_memory(int device, uint64_t *total, uint64_t *free_bytes) {
  if (total == NULL || free_bytes == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "device_memory: null argument");
  }
  size_t f = 0, t = 0;
  CUDA_TRY(cudaSetDevice(device), "device_memory: cudaSetDevice");
  CUDA_TRY(cudaMemGetInfo(&f, &t), "device_memory: cudaMemGetInfo");
  *total = t;
  *free_bytes = f;
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_device_alloc(int device, uint64_t bytes, uint64_t *out) {
  if (out == NULL || bytes == 0) {
    return kvt_fail(KVT_HBM_E_INVALID, "device_alloc: null output or zero bytes");
  }
  void *p = NULL;
  CUDA_TRY(cudaSetDevice(device), "device_alloc: cudaSetDevice");
  CUDA_TRY(cudaMalloc(&p, (size_t)bytes), "device_alloc: cudaMalloc");
  kvt_live_add(KVT_HBM_LIVE_DEVICE_ALLOCS, 1);
  *out = (uint64_t)(uintptr_t)p;
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_device_free(int device, uint64_t ptr) {
  CUDA_TRY(cudaSetDevice(device), "device_free: cudaSetDevice");
  CUDA_TRY(cudaFree((void *)(uintptr_t)ptr), "device_free: cudaFree");
  kvt_live_add(KVT_HBM_LIVE_DEVICE_ALLOCS, -1);
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_host_alloc(uint64_t bytes, uint64_t *out) {
  if (out == NULL || bytes == 0) {
    return kvt_fail(KVT_HBM_E_INVALID, "host_alloc: null output or zero bytes");
  }
  void *p = NULL;
  CUDA_TRY(cudaHostAlloc(&p, (size_t)bytes, cudaHostAllocPortable | cudaHostAllocMapped),
           "host_alloc: cudaHostAlloc");
  kvt_live_add(KVT_HBM_LIVE_HOST_ALLOCS, 1);
  *out = (uint64_t)(uintptr_t)p;
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_host_free(uint64_t ptr) {
  CUDA_TRY(cudaFreeHost((void *)(uintptr_t)ptr), "host_free: cudaFreeHost");
  kvt_live_add(KVT_HBM_LIVE_HOST_ALLOCS, -1);
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_host_register(uint64_t ptr, uint64_t bytes) {
  if (ptr == 0 || bytes == 0) {
    return kvt_fail(KVT_HBM_E_INVALID, "host_register: null address or zero bytes");
  }
  CUDA_TRY(cudaHostRegister((void *)(uintptr_t)ptr, (size_t)bytes,
                            cudaHostRegisterPortable | cudaHostRegisterMapped),
           "host_register: cudaHostRegister");
  kvt_live_add(KVT_HBM_LIVE_HOST_REGISTRATIONS, 1);
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_host_unregister(uint64_t ptr) {
  CUDA_TRY(cudaHostUnregister((void *)(uintptr_t)ptr), "host_unregister: cudaHostUnregister");
  kvt_live_add(KVT_HBM_LIVE_HOST_REGISTRATIONS, -1);
  return KVT_HBM_OK;
}

/* ---- regions ------------------------------------------------------------------------------ */

/* Whether ptr is device (or managed) memory of `device`. */
static int cuda_check_device_ptr(int device, uint64_t ptr, uint32_t segment, const char *which) {
  cudaPointerAttributes attr;
  memset(&attr, 0, sizeof attr);
  cudaError_t e = cudaPointerGetAttributes(&attr, (const void *)(uintptr_t)ptr);
  if (e != cudaSuccess) {
    return cuda_fail(e, "region_create: cudaPointerGetAttributes");
  }
  if ((attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged) ||
      attr.device != device) {
    return kvt_fail(KVT_HBM_E_RANGE,
                    "region_create: the %s byte of segment %u (0x%llx) is not device memory of "
                    "device %d (memory type %d, device %d)",
                    which, segment, (unsigned long long)ptr, device, (int)attr.type, attr.device);
  }
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_region_create(int device, uint64_t blocks, uint32_t segments,
                                         uint64_t segment_bytes, const uint64_t *bases,
                                         const uint64_t *strides, kvt_hbm_region **out) {
  kvt_hbm_region *r = NULL;
  int rc = kvt_region_new(device, blocks, segments, segment_bytes, bases, strides, &r);
  if (rc != KVT_HBM_OK) {
    return rc;
  }
  cudaError_t e = cudaSetDevice(device);
  if (e != cudaSuccess) {
    kvt_region_free(r);
    return cuda_fail(e, "region_create: cudaSetDevice");
  }
  for (uint32_t i = 0; i < segments; i++) {
    uint64_t last = bases[i] + (blocks - 1) * strides[i] + segment_bytes - 1;
    if ((rc = cuda_check_device_ptr(device, bases[i], i, "first")) != KVT_HBM_OK ||
        (rc = cuda_check_device_ptr(device, last, i, "last")) != KVT_HBM_OK) {
      kvt_region_free(r);
      return rc;
    }
  }
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

struct kvt_hbm_stream {
  int device;
  int mode;
  int batch_ok;        /* cudaMemcpyBatchAsync worked (or was not yet tried) on this device */
  int host_ptr_direct; /* registered host memory is addressable by its host pointer */
  cudaStream_t stream;
};

struct kvt_hbm_event {
  int device;
  cudaEvent_t event;
};

KVT_HBM_EXPORT int kvt_hbm_stream_create(int device, kvt_hbm_stream **out) {
  if (out == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "stream_create: null output");
  }
  CUDA_TRY(cudaSetDevice(device), "stream_create: cudaSetDevice");
  int direct = 0;
  CUDA_TRY(cudaDeviceGetAttribute(&direct, cudaDevAttrCanUseHostPointerForRegisteredMem, device),
           "stream_create: cudaDeviceGetAttribute");
  kvt_hbm_stream *s = (kvt_hbm_stream *)calloc(1, sizeof *s);
  if (s == NULL) {
    return kvt_fail(KVT_HBM_E_OUT_OF_MEMORY, "stream_create: out of host memory");
  }
  cudaError_t e = cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking);
  if (e != cudaSuccess) {
    free(s);
    return cuda_fail(e, "stream_create: cudaStreamCreateWithFlags");
  }
  s->device = device;
  s->mode = KVT_HBM_COPY_AUTO;
  s->batch_ok = 1;
  s->host_ptr_direct = direct;
  kvt_live_add(KVT_HBM_LIVE_STREAMS, 1);
  *out = s;
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_stream_synchronize(kvt_hbm_stream *s) {
  if (s == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "stream_synchronize: null stream");
  }
  CUDA_TRY(cudaSetDevice(s->device), "stream_synchronize: cudaSetDevice");
  CUDA_TRY(cudaStreamSynchronize(s->stream), "stream_synchronize");
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_stream_destroy(kvt_hbm_stream *s) {
  if (s == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "stream_destroy: null stream");
  }
  int rc = kvt_hbm_stream_synchronize(s);
  cudaError_t e = cudaStreamDestroy(s->stream);
  free(s);
  kvt_live_add(KVT_HBM_LIVE_STREAMS, -1);
  if (rc != KVT_HBM_OK) {
    return rc;
  }
  return e == cudaSuccess ? KVT_HBM_OK : cuda_fail(e, "stream_destroy: cudaStreamDestroy");
}

KVT_HBM_EXPORT int kvt_hbm_stream_set_copy_mode(kvt_hbm_stream *s, int mode) {
  if (s == NULL || mode < KVT_HBM_COPY_AUTO || mode > KVT_HBM_COPY_KERNEL) {
    return kvt_fail(KVT_HBM_E_INVALID, "stream_set_copy_mode: null stream or unknown mode %d",
                    mode);
  }
#if CUDART_VERSION < 12080
  if (mode == KVT_HBM_COPY_BATCH) {
    return kvt_fail(KVT_HBM_E_UNSUPPORTED,
                    "stream_set_copy_mode: cudaMemcpyBatchAsync needs CUDA 12.8, built with %d",
                    CUDART_VERSION);
  }
#endif
  s->mode = mode;
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_stream_set_delay(kvt_hbm_stream *s, uint64_t nanos) {
  (void)s;
  (void)nanos;
  return kvt_fail(KVT_HBM_E_UNSUPPORTED, "stream_set_delay: only the emulated build injects delays");
}

/* ---- copies ------------------------------------------------------------------------------- */

/* Pieces per kernel launch: they travel as a kernel parameter, which must stay under 4 KiB. */
#define KERNEL_PIECES 128

struct kernel_batch {
  uint32_t count;
  kvt_piece pieces[KERNEL_PIECES];
};

/* blockIdx.y picks the piece; the x dimension strides over its 16-byte words (or bytes when the
 * piece is not 16-byte aligned). */
__global__ void kvt_gather_scatter(kernel_batch batch) {
  if (blockIdx.y >= batch.count) {
    return;
  }
  kvt_piece p = batch.pieces[blockIdx.y];
  uint64_t start = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
  uint64_t step = (uint64_t)gridDim.x * blockDim.x;
  if (((p.dst | p.src | p.len) & 15) == 0) {
    uint4 *d = (uint4 *)(uintptr_t)p.dst;
    const uint4 *s = (const uint4 *)(uintptr_t)p.src;
    for (uint64_t i = start; i < p.len / 16; i += step) {
      d[i] = s[i];
    }
  } else {
    unsigned char *d = (unsigned char *)(uintptr_t)p.dst;
    const unsigned char *s = (const unsigned char *)(uintptr_t)p.src;
    for (uint64_t i = start; i < p.len; i += step) {
      d[i] = s[i];
    }
  }
}

/* Whether every host page of the call is pinned host memory the GPU can address directly. */
static int cuda_host_mapped(const kvt_hbm_stream *s, const uint64_t *host, uint32_t n) {
  if (!s->host_ptr_direct) {
    return 0;
  }
  for (uint32_t i = 0; i < n; i++) {
    cudaPointerAttributes attr;
    memset(&attr, 0, sizeof attr);
    if (cudaPointerGetAttributes(&attr, (const void *)(uintptr_t)host[i]) != cudaSuccess) {
      (void)cudaGetLastError();
      return 0;
    }
    if (attr.type != cudaMemoryTypeHost || attr.hostPointer != attr.devicePointer) {
      return 0;
    }
  }
  return 1;
}

static int cuda_issue_kernel(kvt_hbm_stream *s, const kvt_piece *pieces, size_t count) {
  kernel_batch batch;
  for (size_t off = 0; off < count; off += KERNEL_PIECES) {
    size_t k = count - off < KERNEL_PIECES ? count - off : KERNEL_PIECES;
    uint64_t longest = 0;
    batch.count = (uint32_t)k;
    for (size_t i = 0; i < k; i++) {
      batch.pieces[i] = pieces[off + i];
      longest = pieces[off + i].len > longest ? pieces[off + i].len : longest;
    }
    unsigned threads = 512;
    uint64_t words = (longest + 15) / 16;
    unsigned xblocks = (unsigned)((words + threads * 4 - 1) / (threads * 4));
    xblocks = xblocks < 1 ? 1 : xblocks > 256 ? 256 : xblocks;
    dim3 grid(xblocks, (unsigned)k);
    kvt_gather_scatter<<<grid, threads, 0, s->stream>>>(batch);
    CUDA_TRY(cudaGetLastError(), "copy: gather/scatter kernel launch");
  }
  return KVT_HBM_OK;
}

static int cuda_issue_memcpy(kvt_hbm_stream *s, const kvt_piece *pieces, size_t count) {
  for (size_t i = 0; i < count; i++) {
    CUDA_TRY(cudaMemcpyAsync((void *)(uintptr_t)pieces[i].dst, (const void *)(uintptr_t)pieces[i].src,
                             (size_t)pieces[i].len, cudaMemcpyDefault, s->stream),
             "copy: cudaMemcpyAsync");
  }
  return KVT_HBM_OK;
}

#if CUDART_VERSION >= 12080
static int cuda_issue_batch(kvt_hbm_stream *s, const kvt_piece *pieces, size_t count, int h2d) {
  void **dsts = (void **)malloc(sizeof(void *) * count);
  const void **srcs = (const void **)malloc(sizeof(void *) * count);
  size_t *sizes = (size_t *)malloc(sizeof(size_t) * count);
  if (dsts == NULL || srcs == NULL || sizes == NULL) {
    free(dsts);
    free((void *)srcs);
    free(sizes);
    return kvt_fail(KVT_HBM_E_OUT_OF_MEMORY, "copy: out of host memory for the batch");
  }
  for (size_t i = 0; i < count; i++) {
    dsts[i] = (void *)(uintptr_t)pieces[i].dst;
    srcs[i] = (const void *)(uintptr_t)pieces[i].src;
    sizes[i] = (size_t)pieces[i].len;
  }
  cudaMemcpyAttributes attr;
  memset(&attr, 0, sizeof attr);
  attr.srcAccessOrder = cudaMemcpySrcAccessOrderStream;
  attr.srcLocHint.type = h2d ? cudaMemLocationTypeHost : cudaMemLocationTypeDevice;
  attr.srcLocHint.id = h2d ? 0 : s->device;
  attr.dstLocHint.type = h2d ? cudaMemLocationTypeDevice : cudaMemLocationTypeHost;
  attr.dstLocHint.id = h2d ? s->device : 0;
  attr.flags = cudaMemcpyFlagPreferOverlapWithCompute;
  size_t attr_index = 0;
#if CUDART_VERSION >= 13000
  cudaError_t e = cudaMemcpyBatchAsync(dsts, srcs, sizes, count, &attr, &attr_index, 1, s->stream);
#else
  size_t fail_index = 0;
  cudaError_t e = cudaMemcpyBatchAsync(dsts, (void **)srcs, sizes, count, &attr, &attr_index, 1,
                                       &fail_index, s->stream);
#endif
  free(dsts);
  free((void *)srcs);
  free(sizes);
  if (e == cudaErrorCallRequiresNewerDriver || e == cudaErrorNotSupported) {
    (void)cudaGetLastError();
    s->batch_ok = 0; /* remember, and use memcpy from now on */
    return cuda_issue_memcpy(s, pieces, count);
  }
  CUDA_TRY(e, "copy: cudaMemcpyBatchAsync");
  return KVT_HBM_OK;
}
#endif

/* Per block, one 2D copy of `segments` rows, for regions whose segments are evenly spaced. */
static int cuda_issue_2d(kvt_hbm_stream *s, const kvt_hbm_region *r, int direction,
                         const uint64_t *blocks, const uint64_t *host, uint32_t n) {
  size_t width = (size_t)r->segment_bytes;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t dev = r->bases[0] + blocks[i] * r->strides[0];
    cudaError_t e;
    if (direction == KVT_H2D) {
      e = cudaMemcpy2DAsync((void *)(uintptr_t)dev, (size_t)r->pitch, (const void *)(uintptr_t)host[i],
                            width, width, r->segments, cudaMemcpyDefault, s->stream);
    } else {
      e = cudaMemcpy2DAsync((void *)(uintptr_t)host[i], width, (const void *)(uintptr_t)dev,
                            (size_t)r->pitch, width, r->segments, cudaMemcpyDefault, s->stream);
    }
    CUDA_TRY(e, "copy: cudaMemcpy2DAsync");
  }
  return KVT_HBM_OK;
}

/* The build's copy (declared in kvtier_hbm_common.h, which defines the copy entry points). */
static int kvt_build_copy(kvt_hbm_stream *s, const kvt_hbm_region *r, int direction,
                          const uint64_t *blocks, const uint64_t *other, uint32_t n, uint64_t offset,
                          uint64_t bytes) {
  if (s == NULL || r == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "copy: null stream or region");
  }
  if (r->device != s->device) {
    return kvt_fail(KVT_HBM_E_INVALID, "copy: region of device %d on a stream of device %d",
                    r->device, s->device);
  }
  kvt_piece *pieces = NULL;
  size_t count = 0;
  int rc = kvt_plan(r, direction, blocks, other, n, offset, bytes, &pieces, &count);
  if (rc != KVT_HBM_OK || count == 0) {
    free(pieces);
    return rc;
  }
  cudaError_t e = cudaSetDevice(s->device);
  if (e != cudaSuccess) {
    free(pieces);
    return cuda_fail(e, "copy: cudaSetDevice");
  }
  int mode = s->mode;
  if (mode == KVT_HBM_COPY_KERNEL && direction != KVT_D2D && !cuda_host_mapped(s, other, n)) {
    mode = KVT_HBM_COPY_AUTO; /* pageable host memory: a kernel cannot read it safely */
  }
  if (mode == KVT_HBM_COPY_AUTO) {
    mode = s->batch_ok && CUDART_VERSION >= 12080 ? KVT_HBM_COPY_BATCH : KVT_HBM_COPY_MEMCPY;
  }
  switch (mode) {
    case KVT_HBM_COPY_KERNEL:
      rc = cuda_issue_kernel(s, pieces, count);
      break;
#if CUDART_VERSION >= 12080
    case KVT_HBM_COPY_BATCH:
      rc = count == 1 ? cuda_issue_memcpy(s, pieces, count)
                      : cuda_issue_batch(s, pieces, count, direction == KVT_H2D);
      break;
#endif
    default:
      if (r->pitch != 0 && direction != KVT_D2D && offset == 0 &&
          bytes == r->segment_bytes * r->segments && count > n) {
        rc = cuda_issue_2d(s, r, direction, blocks, other, n);
      } else {
        rc = cuda_issue_memcpy(s, pieces, count);
      }
      break;
  }
  free(pieces);
  return rc;
}

KVT_HBM_EXPORT int kvt_hbm_copy_raw(kvt_hbm_stream *s, uint64_t dst, uint64_t src, uint64_t bytes,
                                    int direction) {
  if (s == NULL || dst == 0 || src == 0 || (direction != KVT_H2D && direction != KVT_D2H)) {
    return kvt_fail(KVT_HBM_E_INVALID, "copy_raw: null stream or address, or bad direction %d",
                    direction);
  }
  CUDA_TRY(cudaSetDevice(s->device), "copy_raw: cudaSetDevice");
  CUDA_TRY(cudaMemcpyAsync((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, (size_t)bytes,
                           direction == KVT_H2D ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost,
                           s->stream),
           "copy_raw: cudaMemcpyAsync");
  return KVT_HBM_OK;
}

/* ---- events ------------------------------------------------------------------------------- */

KVT_HBM_EXPORT int kvt_hbm_event_record(kvt_hbm_stream *s, kvt_hbm_event **out) {
  if (s == NULL || out == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "event_record: null argument");
  }
  CUDA_TRY(cudaSetDevice(s->device), "event_record: cudaSetDevice");
  kvt_hbm_event *ev = (kvt_hbm_event *)malloc(sizeof *ev);
  if (ev == NULL) {
    return kvt_fail(KVT_HBM_E_OUT_OF_MEMORY, "event_record: out of host memory");
  }
  cudaError_t e =
      cudaEventCreateWithFlags(&ev->event, cudaEventDisableTiming | cudaEventBlockingSync);
  if (e != cudaSuccess) {
    free(ev);
    return cuda_fail(e, "event_record: cudaEventCreateWithFlags");
  }
  e = cudaEventRecord(ev->event, s->stream);
  if (e != cudaSuccess) {
    cudaEventDestroy(ev->event);
    free(ev);
    return cuda_fail(e, "event_record: cudaEventRecord");
  }
  ev->device = s->device;
  kvt_live_add(KVT_HBM_LIVE_EVENTS, 1);
  *out = ev;
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_event_query(kvt_hbm_event *e) {
  if (e == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "event_query: null event");
  }
  return cuda_fail(cudaEventQuery(e->event), "event_query");
}

KVT_HBM_EXPORT int kvt_hbm_event_synchronize(kvt_hbm_event *e) {
  if (e == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "event_synchronize: null event");
  }
  CUDA_TRY(cudaEventSynchronize(e->event), "event_synchronize");
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_stream_wait_event(kvt_hbm_stream *s, kvt_hbm_event *e) {
  if (s == NULL || e == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "stream_wait_event: null argument");
  }
  CUDA_TRY(cudaSetDevice(s->device), "stream_wait_event: cudaSetDevice");
  CUDA_TRY(cudaStreamWaitEvent(s->stream, e->event, 0), "stream_wait_event");
  return KVT_HBM_OK;
}

KVT_HBM_EXPORT int kvt_hbm_event_destroy(kvt_hbm_event *e) {
  if (e == NULL) {
    return kvt_fail(KVT_HBM_E_INVALID, "event_destroy: null event");
  }
  cudaError_t err = cudaEventDestroy(e->event);
  free(e);
  kvt_live_add(KVT_HBM_LIVE_EVENTS, -1);
  return err == cudaSuccess ? KVT_HBM_OK : cuda_fail(err, "event_destroy: cudaEventDestroy");
}

/* ---- function table ----------------------------------------------------------------------- */

static const kvt_hbm_api cuda_api = KVT_API_TABLE;

KVT_HBM_EXPORT const kvt_hbm_api *kvt_hbm_get_api(int abi_version) {
  return abi_version == KVT_HBM_ABI_VERSION ? &cuda_api : NULL;
}
