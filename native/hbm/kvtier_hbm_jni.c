/*
 * JNI glue for io.kvtier.hbm.HbmNative: loads a build of the HBM shim (cuda or emulated) with
 * dlopen and forwards every call through its kvt_hbm_api table. Each native takes the table as its
 * first argument (a jlong), so both builds can be loaded in one process side by side; the glue
 * holds no state of its own except the calling thread's last dlopen error.
 *
 * Arrays cross with Get<Type>ArrayRegion into stack buffers (heap for large batches), never with
 * critical sections, because a copy call may block in the driver.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <jni.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvtier_hbm.h"

#define API(h) ((const kvt_hbm_api *)(intptr_t)(h))
#define PTR(T, h) ((T *)(intptr_t)(h))
#define STACK_LONGS 256

static _Thread_local char glue_error[1024];

static int put_long(JNIEnv *env, jlongArray out, jint index, uint64_t value) {
  jlong v = (jlong)value;
  (*env)->SetLongArrayRegion(env, out, index, 1, &v);
  return (*env)->ExceptionCheck(env) ? KVT_HBM_E_INVALID : KVT_HBM_OK;
}

/* Copies a Java long[] of length n into buf (or a malloc'd array if n > STACK_LONGS). */
static uint64_t *get_longs(JNIEnv *env, jlongArray array, jint n, uint64_t *buf) {
  if (array == NULL || (*env)->GetArrayLength(env, array) < n) {
    return NULL;
  }
  uint64_t *dst = n <= STACK_LONGS ? buf : (uint64_t *)malloc(sizeof(uint64_t) * (size_t)n);
  if (dst == NULL) {
    return NULL;
  }
  (*env)->GetLongArrayRegion(env, array, 0, n, (jlong *)dst);
  return dst;
}

static void put_longs(uint64_t *p, const uint64_t *buf) {
  if (p != buf) {
    free(p);
  }
}

JNIEXPORT jint JNICALL Java_io_kvtier_hbm_HbmNative_open(JNIEnv *env, jclass cls, jstring path,
                                                         jlongArray out) {
  (void)cls;
  glue_error[0] = 0;
  const char *p = (*env)->GetStringUTFChars(env, path, NULL);
  if (p == NULL) {
    return KVT_HBM_E_OUT_OF_MEMORY;
  }
  void *lib = dlopen(p, RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    snprintf(glue_error, sizeof glue_error, "dlopen failed: %s", dlerror());
    (*env)->ReleaseStringUTFChars(env, path, p);
    return KVT_HBM_E_UNSUPPORTED;
  }
  (*env)->ReleaseStringUTFChars(env, path, p);
  const kvt_hbm_api *(*get)(int);
  *(void **)(&get) = dlsym(lib, "kvt_hbm_get_api");
  if (get == NULL) {
    snprintf(glue_error, sizeof glue_error, "not an HBM shim: no kvt_hbm_get_api (%s)", dlerror());
    dlclose(lib);
    return KVT_HBM_E_UNSUPPORTED;
  }
  const kvt_hbm_api *api = get(KVT_HBM_ABI_VERSION);
  if (api == NULL) {
    snprintf(glue_error, sizeof glue_error, "the shim does not implement ABI version %d",
             KVT_HBM_ABI_VERSION);
    dlclose(lib);
    return KVT_HBM_E_UNSUPPORTED;
  }
  /* The library stays loaded for the life of the process, as System.load's libraries do. */
  return put_long(env, out, 0, (uint64_t)(uintptr_t)api);
}

JNIEXPORT jstring JNICALL Java_io_kvtier_hbm_HbmNative_lastError(JNIEnv *env, jclass cls,
                                                                 jlong api) {
  (void)cls;
  return (*env)->NewStringUTF(env,
                              api == 0 || glue_error[0] != 0 ? glue_error : API(api)->last_error());
}

JNIEXPORT jstring JNICALL Java_io_kvtier_hbm_HbmNative_variant(JNIEnv *env, jclass cls,
                                                               jlong api) {
  (void)cls;
  glue_error[0] = 0;
  return (*env)->NewStringUTF(env, API(api)->variant());
}

JNIEXPORT jstring JNICALL Java_io_kvtier_hbm_HbmNative_strerror(JNIEnv *env, jclass cls,
                                                                jlong api, jint status) {
  (void)cls;
  glue_error[0] = 0;
  return (*env)->NewStringUTF(env, API(api)->strerror(status));
}

JNIEXPORT jint JNICALL Java_io_kvtier_hbm_HbmNative_liveObjects(JNIEnv *env, jclass cls,
                                                                jlong api, jlongArray out) {
  (void)cls;
  glue_error[0] = 0;
  uint64_t counts[KVT_HBM_LIVE_COUNTERS];
  int rc = API(api)->live_objects(counts);
  if (rc == KVT_HBM_OK) {
    if ((*env)->GetArrayLength(env, out) < KVT_HBM_LIVE_COUNTERS) {
      return KVT_HBM_E_INVALID;
    }
    (*env)->SetLongArrayRegion(env, out, 0, KVT_HBM_LIVE_COUNTERS, (const jlong *)counts);
  }
  return rc;
}

JNIEXPORT jint JNICALL Java_io_kvtier_hbm_HbmNative_deviceCount(JNIEnv *env, jclass cls,
                                                                jlong api, jlongArray out) {
  (void)cls;
  glue_error[0] = 0;
  int count = 0;
  int rc = API(api)->device_count(&count);
  return rc == KVT_HBM_OK ? put_long(env, out, 0, (uint64_t)count) : rc;
}

JNIEXPORT jint JNICALL Java_io_kvtier_hbm_HbmNative_deviceMemory(JNIEnv *env, jclass cls,
                                                                 jlong api, jint device,
                                                                 jlongArray out) {
  (void)cls;
  glue_error[0] = 0;
  uint64_t total = 0, free_bytes = 0;
  int rc = API(api)->device_memory(device, &total, &free_bytes);
  if (rc == KVT_HBM_OK && (rc = put_long(env, out, 0, total)) == KVT_HBM_OK) {
    rc = put_long(env, out, 1, free_bytes);
  }
  return rc;
}

JNIEXPORT jint JNICALL Java_io_kvtier_hbm_HbmNative_deviceAlloc(JNIEnv *env, jclass cls,
                                                                jlong api, jint device,
                                                                jlong bytes, jlongArray out) {
  (void)cls;
  glue_error[0] = 0;
  uint64_t ptr = 0;
  int rc = API(api)->device_alloc(device, (uint64_t)bytes, &ptr);
  return rc == KVT_HBM_OK ? put_long(env, out, 0, ptr) : rc;
}

JNIEXPORT jint JNICALL Java_io_kvtier_hbm_HbmNative_deviceFree(JNIEnv *env, jclass cls, jlong api,
                                                               jint device, jlong ptr) {
  (void)env;
  (void)cls;
  glue_error[0] = 0;
  return API(api)->device_free(device, (uint64_t)ptr);
}

JNIEXPORT jint JNICALL Java_io_kvtier_hbm_HbmNative_hostAlloc(JNIEnv *env, jclass cls, jlong api,
                                                              jlong bytes, jlongArray out) {
  (void)cls;
  glue_error[0] = 0;
  uint64_t ptr = 0;
  int rc = API(api)->host_alloc((uint64_t)bytes, &ptr);
  return rc == KVT_HBM_OK ? put_long(env, out, 0, ptr) : rc;
}

JNIEXPORT jint JNICALL Java_io_kvtier_hbm_HbmNative_hostFree(JNIEnv *env, jclass cls, jlong api,
                                                             jlong ptr) {
  (void)env;
  (void)cls;
  glue_error[0] = 0;
  return API(api)->host_free((uint64_t)ptr);
}

JNIEXPORT jint JNICALL Java_io_kvtier_hbm_HbmNative_hostRegister(JNIEnv *env, jclass cls,
                                                                 jlong api, jlong ptr,
                                                                 jlong bytes) {
  (void)env;
  (void)cls;
  glue_error[0] = 0;
  return API(api)->host_register((uint64_t)ptr, (uint64_t)bytes);
}

JNIEXPORT jint JNICALL Java_io_kvtier_hbm_HbmNative_hostUnregister(JNIEnv *env, jclass cls,
                                                                   jlong api, jlong ptr) {
  (void)env;
  (void)cls;
  glue_error[0] = 0;
  return API(api)->host_unregister((uint64_t)ptr);
}

JNIEXPORT jint JNICALL Java_io_kvtier_hbm_HbmNative_regionCreate(JNIEnv *env, jclass cls,
                                                                 jlong api, jint device,
                                                                 jlong blocks, jlong segmentBytes,
                                                                 jlongArray bases,
                                                                 jlongArray strides,
                                                                 jlongArray out) {
  (void)cls;
  glue_error[0] = 0;
  jint segments = bases == NULL ? 0 : (*env)->GetArrayLength(env, bases);
  if (segments == 0 || strides == NULL || (*env)->GetArrayLength(env, strides) != segments) {
    snprintf(glue_error, sizeof glue_error, "bases and strides must be non-empty and equally long");
    return KVT_HBM_E_INVALID;
  }
  uint64_t bbuf[STACK_LONGS], sbuf[STACK_LONGS];
  uint64_t *b = get_longs(env, bases, segments, bbuf);
  uint64_t *s = get_longs(env, strides, segments, sbuf);
  int rc = KVT_HBM_E_OUT_OF_MEMORY;
  if (b != NULL && s != NULL) {
    kvt_hbm_region *r = NULL;
    rc = API(api)->region_create(device, (uint64_t)blocks, (uint32_t)segments,
                                 (uint64_t)segmentBytes, b, s, &r);
    if (rc == KVT_HBM_OK) {
      rc = put_long(env, out, 0, (uint64_t)(uintptr_t)r);
    }
  }
  if (b != NULL) {
    put_longs(b, bbuf);
  }
  if (s != NULL) {
    put_longs(s, sbuf);
  }
  return rc;
}

JNIEXPORT jint JNICALL Java_io_kvtier_hbm_HbmNative_regionDestroy(JNIEnv *env, jclass cls,
                                                                  jlong api, jlong region) {
  (void)env;
  (void)cls;
  glue_error[0] = 0;
  return API(api)->region_destroy(PTR(kvt_hbm_region, region));
}

JNIEXPORT jint JNICALL Java_io_kvtier_hbm_HbmNative_streamCreate(JNIEnv *env, jclass cls,
                                                                 jlong api, jint device,
                                                                 jlongArray out) {
  (void)cls;
  glue_error[0] = 0;
  kvt_hbm_stream *s = NULL;
  int rc = API(api)->stream_create(device, &s);
  return rc == KVT_HBM_OK ? put_long(env, out, 0, (uint64_t)(uintptr_t)s) : rc;
}

JNIEXPORT jint JNICALL Java_io_kvtier_hbm_HbmNative_streamDestroy(JNIEnv *env, jclass cls,
                                                                  jlong api, jlong stream) {
  (void)env;
  (void)cls;
  glue_error[0] = 0;
  return API(api)->stream_destroy(PTR(kvt_hbm_stream, stream));
}

JNIEXPORT jint JNICALL Java_io_kvtier_hbm_HbmNative_streamSynchronize(JNIEnv *env, jclass cls,
                                                                      jlong api, jlong stream) {
  (void)env;
  (void)cls;
  glue_error[0] = 0;
  return API(api)->stream_synchronize(PTR(kvt_hbm_stream, stream));
}

JNIEXPORT jint JNICALL Java_io_kvtier_hbm_HbmNative_streamSetCopyMode(JNIEnv *env, jclass cls,
                                                                      jlong api, jlong stream,
                                                                      jint mode) {
  (void)env;
  (void)cls;
  glue_error[0] = 0;
  return API(api)->stream_set_copy_mode(PTR(kvt_hbm_stream, stream), mode);
}

JNIEXPORT jint JNICALL Java_io_kvtier_hbm_HbmNative_streamSetDelay(JNIEnv *env, jclass cls,
                                                                   jlong api, jlong stream,
                                                                   jlong nanos) {
  (void)env;
  (void)cls;
  glue_error[0] = 0;
  return API(api)->stream_set_delay(PTR(kvt_hbm_stream, stream), (uint64_t)nanos);
}

/*
 * One transfer: waits on `waitCount` events of other streams, issues the copy (direction 1 H2D,
 * 2 D2H, 3 D2D, 4 raw H2D, 5 raw D2H), then records an event and stores it in out[0]. On failure
 * after the copy was issued nothing is recorded; the caller synchronizes the stream.
 */
JNIEXPORT jint JNICALL Java_io_kvtier_hbm_HbmNative_submit(JNIEnv *env, jclass cls, jlong api,
                                                           jlong stream, jlongArray waits,
                                                           jint waitCount, jlong region,
                                                           jint direction, jlongArray blocks,
                                                           jlongArray other, jint n,
                                                           jlong offset, jlong bytes,
                                                           jlongArray out) {
  (void)cls;
  glue_error[0] = 0;
  const kvt_hbm_api *a = API(api);
  kvt_hbm_stream *s = PTR(kvt_hbm_stream, stream);
  if (waitCount < 0 || n < 0 || (waitCount > 0 && waits == NULL)) {
    snprintf(glue_error, sizeof glue_error, "submit: bad counts");
    return KVT_HBM_E_INVALID;
  }
  if (waitCount > 0) {
    uint64_t wbuf[STACK_LONGS];
    uint64_t *w = get_longs(env, waits, waitCount, wbuf);
    if (w == NULL) {
      return KVT_HBM_E_INVALID;
    }
    for (jint i = 0; i < waitCount; i++) {
      int rc = a->stream_wait_event(s, PTR(kvt_hbm_event, w[i]));
      if (rc != KVT_HBM_OK) {
        put_longs(w, wbuf);
        return rc;
      }
    }
    put_longs(w, wbuf);
  }
  int rc;
  if (direction == 4 || direction == 5) {
    /* raw: blocks = {dst}, other = {src} */
    uint64_t d = 0, sr = 0;
    (*env)->GetLongArrayRegion(env, blocks, 0, 1, (jlong *)&d);
    (*env)->GetLongArrayRegion(env, other, 0, 1, (jlong *)&sr);
    if ((*env)->ExceptionCheck(env)) {
      return KVT_HBM_E_INVALID;
    }
    rc = a->copy_raw(s, d, sr, (uint64_t)bytes, direction == 4 ? 1 : 2);
  } else {
    uint64_t bbuf[STACK_LONGS], obuf[STACK_LONGS];
    uint64_t *b = get_longs(env, blocks, n, bbuf);
    uint64_t *o = get_longs(env, other, n, obuf);
    if (b == NULL || o == NULL) {
      if (b != NULL) {
        put_longs(b, bbuf);
      }
      if (o != NULL) {
        put_longs(o, obuf);
      }
      snprintf(glue_error, sizeof glue_error, "submit: arrays shorter than %d", (int)n);
      return KVT_HBM_E_INVALID;
    }
    const kvt_hbm_region *r = PTR(const kvt_hbm_region, region);
    switch (direction) {
      case 1:
        rc = a->copy_h2d_range(s, r, b, o, (uint32_t)n, (uint64_t)offset, (uint64_t)bytes);
        break;
      case 2:
        rc = a->copy_d2h_range(s, r, b, o, (uint32_t)n, (uint64_t)offset, (uint64_t)bytes);
        break;
      case 3: rc = a->copy_d2d(s, r, b, o, (uint32_t)n); break;
      default:
        snprintf(glue_error, sizeof glue_error, "submit: unknown direction %d", (int)direction);
        rc = KVT_HBM_E_INVALID;
        break;
    }
    put_longs(b, bbuf);
    put_longs(o, obuf);
  }
  if (rc != KVT_HBM_OK) {
    return rc;
  }
  kvt_hbm_event *e = NULL;
  rc = a->event_record(s, &e);
  if (rc != KVT_HBM_OK) {
    return rc;
  }
  return put_long(env, out, 0, (uint64_t)(uintptr_t)e);
}

JNIEXPORT jint JNICALL Java_io_kvtier_hbm_HbmNative_eventQuery(JNIEnv *env, jclass cls, jlong api,
                                                               jlong event) {
  (void)env;
  (void)cls;
  glue_error[0] = 0;
  return API(api)->event_query(PTR(kvt_hbm_event, event));
}

JNIEXPORT jint JNICALL Java_io_kvtier_hbm_HbmNative_eventSynchronize(JNIEnv *env, jclass cls,
                                                                     jlong api, jlong event) {
  (void)env;
  (void)cls;
  glue_error[0] = 0;
  return API(api)->event_synchronize(PTR(kvt_hbm_event, event));
}

JNIEXPORT jint JNICALL Java_io_kvtier_hbm_HbmNative_eventDestroy(JNIEnv *env, jclass cls,
                                                                 jlong api, jlong event) {
  (void)env;
  (void)cls;
  glue_error[0] = 0;
  return API(api)->event_destroy(PTR(kvt_hbm_event, event));
}
