/*
 * kvtier HBM shim: the C ABI between kvtier's HBM tier and GPU memory.
 *
 * Two builds implement this header with the same symbols and the same status codes:
 *
 *   libkvtier_hbm_cuda.so      CUDA runtime (nvcc): device memory, pinned host memory, copies on
 *                              CUDA streams ordered by CUDA events.
 *   libkvtier_hbm_emulated.so  plain C over host memory: "device" memory is malloc'd, each stream is
 *                              a worker thread that performs its copies in order, events are
 *                              sequence numbers. Copies complete asynchronously, and a per-stream
 *                              delay can be injected, so tests can prove ordering without a GPU.
 *
 * A third library, libkvtier_hbm_jni.so, is the JNI glue: it dlopen()s one or both builds and calls
 * them through the function table kvt_hbm_api. C and C++ callers can link a build directly.
 *
 * Conventions
 *   - Every function that can fail returns an int status: KVT_HBM_OK (0), KVT_HBM_NOT_READY (1,
 *     only from kvt_hbm_event_query), or a negative KVT_HBM_E_* code. kvt_hbm_strerror names a
 *     code; kvt_hbm_last_error returns the calling thread's message for its last failure (with the
 *     CUDA error name and number where there is one). Nothing aborts the process.
 *   - Addresses (device, pinned or ordinary host memory) travel as uint64_t.
 *   - Handles are opaque pointers. Destroying a handle twice is the caller's bug; the Java side
 *     guarantees it never happens.
 *
 * Pages and regions
 *   A region is a table of `blocks` pages in device memory. A page is `segments` segments of
 *   `segment_bytes` each; block b's segment i lives at bases[i] + b * strides[i]. On the host a page
 *   is the concatenation of its segments, so a copy of one block moves `segments` pieces:
 *
 *     contiguous page:        segments = 1,          bases[0] = base,  strides[0] = page bytes
 *     vLLM layer-split:       segments = 2 * layers, bases[2l + kv] = layer l's K or V tensor,
 *                             strides[i] = segment_bytes   (tensor [2][blocks][tokens][heads][dim])
 *     kvtier-allocated split: segments = 2 * layers, bases[i] = base + i * blocks * segment_bytes
 *
 *   Copies that name many blocks are one transfer: the pieces of every block are coalesced where
 *   they touch on both sides and issued together (cudaMemcpyBatchAsync, or a gather/scatter kernel,
 *   or one cudaMemcpyAsync per coalesced piece; see kvt_hbm_stream_set_copy_mode).
 *
 * Ordering
 *   Work on one stream runs in submission order. kvt_hbm_event_record marks everything submitted
 *   so far; kvt_hbm_stream_wait_event makes a stream wait for another stream's event without
 *   blocking the host. The shim tracks no hazards between streams: the caller (kvtier's store)
 *   does, per slot.
 */
#ifndef KVTIER_HBM_H
#define KVTIER_HBM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define KVT_HBM_EXPORT __attribute__((visibility("default")))
#else
#define KVT_HBM_EXPORT
#endif

/** Version of this ABI; bumped on any incompatible change. */
#define KVT_HBM_ABI_VERSION 2

/* Status codes. */
#define KVT_HBM_OK 0
#define KVT_HBM_NOT_READY 1           /* kvt_hbm_event_query: the event has not completed yet */
#define KVT_HBM_E_INVALID (-1)        /* a null pointer, zero size, or otherwise bad argument */
#define KVT_HBM_E_NO_DEVICE (-2)      /* no such device, or no usable driver */
#define KVT_HBM_E_OUT_OF_MEMORY (-3)  /* device or host memory exhausted */
#define KVT_HBM_E_RANGE (-4)          /* a block id or address outside its region */
#define KVT_HBM_E_UNSUPPORTED (-5)    /* not available in this build or on this device */
#define KVT_HBM_E_CLOSED (-6)         /* the stream is shutting down */
#define KVT_HBM_E_CUDA (-7)           /* any other CUDA error; kvt_hbm_last_error has its name */
#define KVT_HBM_E_INTERNAL (-8)       /* a bug in the shim */

/* kvt_hbm_stream_set_delay: hold copies until the delay is changed. */
#define KVT_HBM_DELAY_PAUSE UINT64_MAX

/* Copy modes for kvt_hbm_stream_set_copy_mode. The emulated build always uses memcpy. */
#define KVT_HBM_COPY_AUTO 0   /* batch where the runtime has it, else memcpy */
#define KVT_HBM_COPY_MEMCPY 1 /* one cudaMemcpyAsync per coalesced piece */
#define KVT_HBM_COPY_BATCH 2  /* one cudaMemcpyBatchAsync per call (CUDA >= 12.8) */
#define KVT_HBM_COPY_KERNEL 3 /* one gather/scatter kernel per call; host memory must be pinned */

/* Counters of live objects, for leak checks (kvt_hbm_live_objects). */
#define KVT_HBM_LIVE_DEVICE_ALLOCS 0
#define KVT_HBM_LIVE_HOST_ALLOCS 1
#define KVT_HBM_LIVE_HOST_REGISTRATIONS 2
#define KVT_HBM_LIVE_REGIONS 3
#define KVT_HBM_LIVE_STREAMS 4
#define KVT_HBM_LIVE_EVENTS 5
#define KVT_HBM_LIVE_COUNTERS 6

typedef struct kvt_hbm_region kvt_hbm_region;
typedef struct kvt_hbm_stream kvt_hbm_stream;
typedef struct kvt_hbm_event kvt_hbm_event;

/* ---- identity and errors ---------------------------------------------------------------- */

/** KVT_HBM_ABI_VERSION of the build. */
KVT_HBM_EXPORT int kvt_hbm_abi_version(void);
/** "cuda" or "emulated". */
KVT_HBM_EXPORT const char *kvt_hbm_variant(void);
/** A static description of a status code. */
KVT_HBM_EXPORT const char *kvt_hbm_strerror(int status);
/** The calling thread's message for its last failed call; "" if none. Valid until its next call. */
KVT_HBM_EXPORT const char *kvt_hbm_last_error(void);
/** Fills counts[KVT_HBM_LIVE_COUNTERS] with the number of live objects of each kind. */
KVT_HBM_EXPORT int kvt_hbm_live_objects(uint64_t *counts);

/* ---- devices and device memory ---------------------------------------------------------- */

/** Number of usable devices. No driver or no GPU is an error (KVT_HBM_E_NO_DEVICE) with a reason. */
KVT_HBM_EXPORT int kvt_hbm_device_count(int *count);
/** Total and free bytes of a device. */
KVT_HBM_EXPORT int kvt_hbm_device_memory(int device, uint64_t *total, uint64_t *free_bytes);
/** Allocates device memory, aligned to at least 256 bytes. */
KVT_HBM_EXPORT int kvt_hbm_device_alloc(int device, uint64_t bytes, uint64_t *out);
/** Frees memory from kvt_hbm_device_alloc. */
KVT_HBM_EXPORT int kvt_hbm_device_free(int device, uint64_t ptr);

/* ---- host memory that the device can DMA to and from ------------------------------------ */

/** Allocates pinned (page-locked, device-mapped) host memory, aligned to 4096 bytes. */
KVT_HBM_EXPORT int kvt_hbm_host_alloc(uint64_t bytes, uint64_t *out);
/** Frees memory from kvt_hbm_host_alloc. */
KVT_HBM_EXPORT int kvt_hbm_host_free(uint64_t ptr);
/** Pins existing host memory (cudaHostRegister) so copies to and from it need no staging. */
KVT_HBM_EXPORT int kvt_hbm_host_register(uint64_t ptr, uint64_t bytes);
/** Undoes kvt_hbm_host_register. */
KVT_HBM_EXPORT int kvt_hbm_host_unregister(uint64_t ptr);

/* ---- regions: tables of blocks in device memory ----------------------------------------- */

/**
 * Describes `blocks` pages in device memory of `device` (see "Pages and regions" above). The
 * memory is not owned: it stays the caller's (kvtier's own allocation, or an engine's tensors).
 * Every segment of every block must lie in device memory of `device`, strides must be at least
 * segment_bytes, and the arrays are copied.
 */
KVT_HBM_EXPORT int kvt_hbm_region_create(int device, uint64_t blocks, uint32_t segments,
                                         uint64_t segment_bytes, const uint64_t *bases,
                                         const uint64_t *strides, kvt_hbm_region **out);
/** Frees the description (not the memory). */
KVT_HBM_EXPORT int kvt_hbm_region_destroy(kvt_hbm_region *region);

/* ---- streams, copies and events --------------------------------------------------------- */

/** A stream on `device`: copies submitted to it run in order. */
KVT_HBM_EXPORT int kvt_hbm_stream_create(int device, kvt_hbm_stream **out);
/** Waits for the stream's work, then destroys it. */
KVT_HBM_EXPORT int kvt_hbm_stream_destroy(kvt_hbm_stream *stream);
/** Blocks until everything submitted to the stream has completed. */
KVT_HBM_EXPORT int kvt_hbm_stream_synchronize(kvt_hbm_stream *stream);
/** Chooses how batched copies are issued (KVT_HBM_COPY_*). */
KVT_HBM_EXPORT int kvt_hbm_stream_set_copy_mode(kvt_hbm_stream *stream, int mode);
/**
 * Testing hook: every later copy call on the stream starts `nanos` after the stream reaches it.
 * KVT_HBM_DELAY_PAUSE instead holds every copy the stream reaches until another delay is set, so a
 * test can keep a copy in flight for as long as it needs without depending on timing. Emulated
 * build only (KVT_HBM_E_UNSUPPORTED on cuda).
 */
KVT_HBM_EXPORT int kvt_hbm_stream_set_delay(kvt_hbm_stream *stream, uint64_t nanos);

/**
 * Host to device: for i < n, the first `bytes` bytes of the page at host[i] go into block
 * blocks[i] of the region. bytes <= segments * segment_bytes. One transfer for all n blocks.
 */
KVT_HBM_EXPORT int kvt_hbm_copy_h2d(kvt_hbm_stream *stream, const kvt_hbm_region *region,
                                    const uint64_t *blocks, const uint64_t *host, uint32_t n,
                                    uint64_t bytes);
/** Device to host: the first `bytes` bytes of block blocks[i] go to host[i]. */
KVT_HBM_EXPORT int kvt_hbm_copy_d2h(kvt_hbm_stream *stream, const kvt_hbm_region *region,
                                    const uint64_t *blocks, const uint64_t *host, uint32_t n,
                                    uint64_t bytes);
/**
 * Host to device, part of each page: bytes [offset, offset + bytes) of the page at host[i] go to
 * the same bytes of block blocks[i] (host[i] is the page's start). With layer-major pages and a
 * layer-split region, one call per layer copies a batch layer by layer, and an event recorded after
 * each call marks that layer landed (layer-wise pre-loading). offset + bytes <= a page.
 */
KVT_HBM_EXPORT int kvt_hbm_copy_h2d_range(kvt_hbm_stream *stream, const kvt_hbm_region *region,
                                          const uint64_t *blocks, const uint64_t *host,
                                          uint32_t n, uint64_t offset, uint64_t bytes);
/** Device to host, part of each page: bytes [offset, offset + bytes) of block blocks[i]. */
KVT_HBM_EXPORT int kvt_hbm_copy_d2h_range(kvt_hbm_stream *stream, const kvt_hbm_region *region,
                                          const uint64_t *blocks, const uint64_t *host,
                                          uint32_t n, uint64_t offset, uint64_t bytes);
/** Device to device within a region: block from[i] is copied to block to[i]. */
KVT_HBM_EXPORT int kvt_hbm_copy_d2d(kvt_hbm_stream *stream, const kvt_hbm_region *region,
                                    const uint64_t *from, const uint64_t *to, uint32_t n);
/**
 * One plain cudaMemcpyAsync of `bytes` (1: host to device, 2: device to host), with no region:
 * the contiguous baseline that benchmarks compare the page paths with.
 */
KVT_HBM_EXPORT int kvt_hbm_copy_raw(kvt_hbm_stream *stream, uint64_t dst, uint64_t src,
                                    uint64_t bytes, int direction);

/** Records an event after everything submitted to the stream so far. */
KVT_HBM_EXPORT int kvt_hbm_event_record(kvt_hbm_stream *stream, kvt_hbm_event **out);
/** KVT_HBM_OK if the event has completed, KVT_HBM_NOT_READY if not, or an error. */
KVT_HBM_EXPORT int kvt_hbm_event_query(kvt_hbm_event *event);
/** Blocks (without spinning) until the event has completed. */
KVT_HBM_EXPORT int kvt_hbm_event_synchronize(kvt_hbm_event *event);
/** Later work on `stream` waits for `event` (recorded on any stream of the same device). */
KVT_HBM_EXPORT int kvt_hbm_stream_wait_event(kvt_hbm_stream *stream, kvt_hbm_event *event);
/** Destroys the event; a stream already waiting on it is unaffected. */
KVT_HBM_EXPORT int kvt_hbm_event_destroy(kvt_hbm_event *event);

/* ---- the function table the JNI glue loads ---------------------------------------------- */

typedef struct kvt_hbm_api {
  int (*abi_version)(void);
  const char *(*variant)(void);
  const char *(*strerror)(int);
  const char *(*last_error)(void);
  int (*live_objects)(uint64_t *);
  int (*device_count)(int *);
  int (*device_memory)(int, uint64_t *, uint64_t *);
  int (*device_alloc)(int, uint64_t, uint64_t *);
  int (*device_free)(int, uint64_t);
  int (*host_alloc)(uint64_t, uint64_t *);
  int (*host_free)(uint64_t);
  int (*host_register)(uint64_t, uint64_t);
  int (*host_unregister)(uint64_t);
  int (*region_create)(int, uint64_t, uint32_t, uint64_t, const uint64_t *, const uint64_t *,
                       kvt_hbm_region **);
  int (*region_destroy)(kvt_hbm_region *);
  int (*stream_create)(int, kvt_hbm_stream **);
  int (*stream_destroy)(kvt_hbm_stream *);
  int (*stream_synchronize)(kvt_hbm_stream *);
  int (*stream_set_copy_mode)(kvt_hbm_stream *, int);
  int (*stream_set_delay)(kvt_hbm_stream *, uint64_t);
  int (*copy_h2d)(kvt_hbm_stream *, const kvt_hbm_region *, const uint64_t *, const uint64_t *,
                  uint32_t, uint64_t);
  int (*copy_d2h)(kvt_hbm_stream *, const kvt_hbm_region *, const uint64_t *, const uint64_t *,
                  uint32_t, uint64_t);
  int (*copy_d2d)(kvt_hbm_stream *, const kvt_hbm_region *, const uint64_t *, const uint64_t *,
                  uint32_t);
  int (*copy_raw)(kvt_hbm_stream *, uint64_t, uint64_t, uint64_t, int);
  int (*event_record)(kvt_hbm_stream *, kvt_hbm_event **);
  int (*event_query)(kvt_hbm_event *);
  int (*event_synchronize)(kvt_hbm_event *);
  int (*stream_wait_event)(kvt_hbm_stream *, kvt_hbm_event *);
  int (*event_destroy)(kvt_hbm_event *);
  /* ABI 2 */
  int (*copy_h2d_range)(kvt_hbm_stream *, const kvt_hbm_region *, const uint64_t *,
                        const uint64_t *, uint32_t, uint64_t, uint64_t);
  int (*copy_d2h_range)(kvt_hbm_stream *, const kvt_hbm_region *, const uint64_t *,
                        const uint64_t *, uint32_t, uint64_t, uint64_t);
} kvt_hbm_api;

/** The build's function table; abi_version must equal KVT_HBM_ABI_VERSION, else returns NULL. */
KVT_HBM_EXPORT const kvt_hbm_api *kvt_hbm_get_api(int abi_version);

#ifdef __cplusplus
}
#endif

#endif /* KVTIER_HBM_H */
