/*
 * libkvtier.so: the C ABI of kvtier (include/kvtier.h) over an embedded JVM.
 *
 * How it works. The first call (or kvtier_init) finds a JVM: one already created in the process
 * (JNI_GetCreatedJavaVMs, looked up in the process's loaded libraries), else it loads libjvm.so
 * (KVTIER_LIBJVM, $JAVA_HOME/lib/server, or the JDK it was built with) and starts one through the
 * JNI invocation API with the kvtier jars on its class path. It then resolves the Java entry points
 * (io.kvtier.cabi.CAbi) once: a global reference to the class and a jmethodID per function, kept
 * for the life of the process. Every kvtier_* function is then one JNI static call that passes
 * primitives only — handles are ids, memory is passed as addresses that the Java side reads and
 * writes through the foreign-memory API — so no Java object is created on this side and the hot
 * path makes no local references.
 *
 * Threads. A native thread is attached (as a daemon, so it never holds the JVM up) on its first
 * call; its JNIEnv is cached in a thread-local, and a pthread key whose destructor detaches it runs
 * when the thread exits. A thread the JVM already knows (a Java thread calling in) is used as is
 * and never detached by us.
 *
 * Errors. Functions return kvtier_status codes. Pointer and length checks happen here before any
 * JNI call; handle checks (kind, generation, owner, double release) happen on the Java side, which
 * also catches every Throwable. If an exception is ever pending after a call anyway, it is cleared
 * and reported as KVTIER_ERR_INTERNAL: no exception crosses the boundary. Messages go to a
 * thread-local buffer read by kvtier_last_error().
 */
#define _GNU_SOURCE
#include "kvtier.h"

#include <dlfcn.h>
#include <jni.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef KVTIER_DEFAULT_LIBJVM
#define KVTIER_DEFAULT_LIBJVM ""
#endif

#define ERR_CAP 1024
/* The most negative kvtier_status; anything below it from the Java side is reported as INTERNAL. */
#define LOWEST_STATUS KVTIER_ERR_TIMEOUT
#define MAX_OPTIONS 64

typedef jint(JNICALL *create_vm_fn)(JavaVM **, void **, void *);
typedef jint(JNICALL *created_vms_fn)(JavaVM **, jsize, jsize *);

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_ready;        /* read with acquire; written once under g_lock */
static int g_vm_failed;    /* JNI_CreateJavaVM failed: a process gets one attempt */
static char g_vm_error[ERR_CAP];
static JavaVM *g_vm;
static pthread_key_t g_detach_key;
static jclass g_cls;

static __thread JNIEnv *t_env;
static __thread char t_err[ERR_CAP];

/* The entry points of io.kvtier.cabi.CAbi, resolved once. */
static struct {
  jmethodID abi_version, last_error;
  jmethodID cache_create, cache_destroy, namespace_open, tenant_salt;
  jmethodID session_open, session_close, session_end, session_pause, session_resume,
      session_compacted, session_pin, session_unpin, session_priority, session_pinned_blocks;
  jmethodID acquire, lease_cached_tokens, lease_token_count, lease_committed_tokens,
      lease_block_count, lease_block_table, lease_onboard, lease_arriving_table, lease_extend,
      lease_append, lease_commit, lease_release;
  jmethodID probe, prefetch, hold_queue, events, stats, bench;
} M;

static const struct {
  size_t offset;
  const char *name;
  const char *sig;
} METHODS[] = {
    {offsetof(__typeof__(M), abi_version), "abiVersion", "()I"},
    {offsetof(__typeof__(M), last_error), "lastError", "()Ljava/lang/String;"},
    {offsetof(__typeof__(M), cache_create), "cacheCreate", "(JI)J"},
    {offsetof(__typeof__(M), cache_destroy), "cacheDestroy", "(J)I"},
    {offsetof(__typeof__(M), namespace_open), "namespaceOpen", "(JJIJI)J"},
    {offsetof(__typeof__(M), tenant_salt), "tenantSalt", "(JIJ)I"},
    {offsetof(__typeof__(M), session_open), "sessionOpen", "(JJI)J"},
    {offsetof(__typeof__(M), session_close), "sessionClose", "(J)I"},
    {offsetof(__typeof__(M), session_end), "sessionEnd", "(J)I"},
    {offsetof(__typeof__(M), session_pause), "sessionPause", "(JIJ)I"},
    {offsetof(__typeof__(M), session_resume), "sessionResume", "(J)I"},
    {offsetof(__typeof__(M), session_compacted), "sessionCompacted", "(J)I"},
    {offsetof(__typeof__(M), session_pin), "sessionPin", "(JJ)I"},
    {offsetof(__typeof__(M), session_unpin), "sessionUnpin", "(J)I"},
    {offsetof(__typeof__(M), session_priority), "sessionPriority", "(JI)I"},
    {offsetof(__typeof__(M), session_pinned_blocks), "sessionPinnedBlocks", "(J)I"},
    {offsetof(__typeof__(M), acquire), "acquire", "(JJJJJIJ)J"},
    {offsetof(__typeof__(M), lease_cached_tokens), "leaseCachedTokens", "(J)I"},
    {offsetof(__typeof__(M), lease_token_count), "leaseTokenCount", "(J)I"},
    {offsetof(__typeof__(M), lease_committed_tokens), "leaseCommittedTokens", "(J)I"},
    {offsetof(__typeof__(M), lease_block_count), "leaseBlockCount", "(J)I"},
    {offsetof(__typeof__(M), lease_block_table), "leaseBlockTable", "(JJI)I"},
    {offsetof(__typeof__(M), lease_onboard), "leaseOnboard", "(JIJ)I"},
    {offsetof(__typeof__(M), lease_arriving_table), "leaseArrivingTable", "(JJI)I"},
    {offsetof(__typeof__(M), lease_extend), "leaseExtend", "(J)I"},
    {offsetof(__typeof__(M), lease_append), "leaseAppend", "(JJI)I"},
    {offsetof(__typeof__(M), lease_commit), "leaseCommit", "(JI)I"},
    {offsetof(__typeof__(M), lease_release), "leaseRelease", "(J)I"},
    {offsetof(__typeof__(M), probe), "probe", "(JJJJIJI)I"},
    {offsetof(__typeof__(M), prefetch), "prefetch", "(JJJJJI)I"},
    {offsetof(__typeof__(M), hold_queue), "holdQueue", "(JJIJJJ)I"},
    {offsetof(__typeof__(M), events), "events", "(JJJIJJ)I"},
    {offsetof(__typeof__(M), stats), "stats", "(JJ)I"},
    {offsetof(__typeof__(M), bench), "benchJavaAcquireRelease", "(JJJII)J"},
};

/* ---------------------------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------------------------ */

__attribute__((format(printf, 2, 3))) static int fail(int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t_err, ERR_CAP, fmt, ap);
  va_end(ap);
  return status;
}

const char *kvtier_last_error(void) { return t_err; }

const char *kvtier_status_name(int status) {
  switch (status) {
    case KVTIER_OK: return "KVTIER_OK";
    case KVTIER_ERR_INVALID_ARGUMENT: return "KVTIER_ERR_INVALID_ARGUMENT";
    case KVTIER_ERR_BAD_HANDLE: return "KVTIER_ERR_BAD_HANDLE";
    case KVTIER_ERR_CLOSED: return "KVTIER_ERR_CLOSED";
    case KVTIER_ERR_NO_SPACE: return "KVTIER_ERR_NO_SPACE";
    case KVTIER_ERR_BUFFER_TOO_SMALL: return "KVTIER_ERR_BUFFER_TOO_SMALL";
    case KVTIER_ERR_JVM: return "KVTIER_ERR_JVM";
    case KVTIER_ERR_INTERNAL: return "KVTIER_ERR_INTERNAL";
    case KVTIER_ERR_TIMEOUT: return "KVTIER_ERR_TIMEOUT";
    default: return "KVTIER_ERR_UNKNOWN";
  }
}

int kvtier_abi_version(void) { return KVTIER_ABI_VERSION; }

/* Clears a pending exception (there should never be one) into an INTERNAL error. */
static int pending_exception(JNIEnv *env) {
  jthrowable t = (*env)->ExceptionOccurred(env);
  (*env)->ExceptionClear(env);
  const char *what = "a Java exception escaped the bridge";
  if (t != NULL) {
    (*env)->DeleteLocalRef(env, t);
  }
  return fail(KVTIER_ERR_INTERNAL, "%s", what);
}

/* After a call that returned a negative status: copies the Java side's message. */
static int java_error(JNIEnv *env, jlong status) {
  jstring msg = (jstring)(*env)->CallStaticObjectMethod(env, g_cls, M.last_error);
  if ((*env)->ExceptionCheck(env)) {
    (*env)->ExceptionClear(env);
    snprintf(t_err, ERR_CAP, "%s", kvtier_status_name((int)status));
  } else if (msg == NULL) {
    snprintf(t_err, ERR_CAP, "%s", kvtier_status_name((int)status));
  } else {
    const char *s = (*env)->GetStringUTFChars(env, msg, NULL);
    if (s != NULL) {
      snprintf(t_err, ERR_CAP, "%s", s);
      (*env)->ReleaseStringUTFChars(env, msg, s);
    } else {
      (*env)->ExceptionClear(env);
      snprintf(t_err, ERR_CAP, "%s", kvtier_status_name((int)status));
    }
    (*env)->DeleteLocalRef(env, msg);
  }
  return status < LOWEST_STATUS ? KVTIER_ERR_INTERNAL : (int)status;
}

/* ---------------------------------------------------------------------------------------------
 * The JVM
 * ------------------------------------------------------------------------------------------ */

static void detach_thread(void *unused) {
  (void)unused;
  if (g_vm != NULL) {
    (*g_vm)->DetachCurrentThread(g_vm);
  }
  t_env = NULL;
}

/* A handle for dlsym of the JNI invocation API: the process itself when it already has a JVM. */
static int find_jvm_library(void **handle) {
  if (dlsym(RTLD_DEFAULT, "JNI_GetCreatedJavaVMs") != NULL) {
    *handle = RTLD_DEFAULT;
    return 1;
  }
  char path[4096];
  const char *candidates[3] = {getenv("KVTIER_LIBJVM"), NULL, KVTIER_DEFAULT_LIBJVM};
  const char *home = getenv("JAVA_HOME");
  if (home != NULL && home[0] != '\0') {
    snprintf(path, sizeof path, "%s/lib/server/libjvm.so", home);
    candidates[1] = path;
  }
  for (int i = 0; i < 3; i++) {
    if (candidates[i] == NULL || candidates[i][0] == '\0') {
      continue;
    }
    void *lib = dlopen(candidates[i], RTLD_NOW | RTLD_GLOBAL);
    if (lib != NULL) {
      *handle = lib;
      return 1;
    }
  }
  return 0;
}

/* Resolves the Java entry points with env; the caller holds g_lock. */
static int resolve_entry_points(JNIEnv *env) {
  jclass local = (*env)->FindClass(env, "io/kvtier/cabi/CAbi");
  if (local == NULL) {
    (*env)->ExceptionClear(env);
    return fail(KVTIER_ERR_JVM,
                "class io.kvtier.cabi.CAbi not found: put the kvtier-api, kvtier-core and "
                "kvtier-cabi jars on the class path (KVTIER_CLASSPATH or kvtier_init)");
  }
  g_cls = (jclass)(*env)->NewGlobalRef(env, local);
  (*env)->DeleteLocalRef(env, local);
  if (g_cls == NULL) {
    (*env)->ExceptionClear(env);
    return fail(KVTIER_ERR_JVM, "out of memory making a global reference");
  }
  for (size_t i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++) {
    jmethodID id = (*env)->GetStaticMethodID(env, g_cls, METHODS[i].name, METHODS[i].sig);
    if (id == NULL) {
      (*env)->ExceptionClear(env);
      return fail(KVTIER_ERR_JVM, "io.kvtier.cabi.CAbi.%s%s is missing: kvtier-cabi jar of another version?",
                  METHODS[i].name, METHODS[i].sig);
    }
    memcpy((char *)&M + METHODS[i].offset, &id, sizeof id);
  }
  jint v = (*env)->CallStaticIntMethod(env, g_cls, M.abi_version);
  if ((*env)->ExceptionCheck(env)) {
    (*env)->ExceptionClear(env);
    return fail(KVTIER_ERR_JVM, "CAbi.abiVersion() threw");
  }
  if (v != KVTIER_ABI_VERSION) {
    return fail(KVTIER_ERR_JVM, "kvtier-cabi jar has ABI version %d, this library %d", (int)v,
                KVTIER_ABI_VERSION);
  }
  return KVTIER_OK;
}

static int start_locked(const char *classpath, const char *const *options, int n_options) {
  if (g_vm_failed) {
    return fail(KVTIER_ERR_JVM, "%s", g_vm_error);
  }
  if (n_options < 0 || (n_options > 0 && options == NULL)) {
    return fail(KVTIER_ERR_INVALID_ARGUMENT, "jvm_options is NULL or n_options negative");
  }
  if (n_options > MAX_OPTIONS / 2) {
    return fail(KVTIER_ERR_INVALID_ARGUMENT, "at most %d JVM options", MAX_OPTIONS / 2);
  }
  void *lib = NULL;
  if (!find_jvm_library(&lib)) {
    const char *why = dlerror();
    return fail(KVTIER_ERR_JVM,
                "libjvm.so not found: set KVTIER_LIBJVM to its path or JAVA_HOME to a JDK 25 (%s)",
                why != NULL ? why : "no candidate");
  }
  created_vms_fn created = (created_vms_fn)dlsym(lib, "JNI_GetCreatedJavaVMs");
  create_vm_fn create = (create_vm_fn)dlsym(lib, "JNI_CreateJavaVM");
  if (created == NULL || create == NULL) {
    return fail(KVTIER_ERR_JVM, "the JVM library lacks the JNI invocation API");
  }
  if (pthread_key_create(&g_detach_key, detach_thread) != 0) {
    return fail(KVTIER_ERR_JVM, "pthread_key_create failed");
  }

  JavaVM *vm = NULL;
  jsize n_vms = 0;
  JNIEnv *env = NULL;
  if (created(&vm, 1, &n_vms) == JNI_OK && n_vms > 0) {
    jint r = (*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_21);
    if (r == JNI_EDETACHED) {
      JavaVMAttachArgs a = {JNI_VERSION_21, "kvtier-native", NULL};
      r = (*vm)->AttachCurrentThreadAsDaemon(vm, (void **)&env, &a);
      if (r == JNI_OK) {
        g_vm = vm;
        pthread_setspecific(g_detach_key, (void *)1);
      }
    }
    if (r != JNI_OK) {
      pthread_key_delete(g_detach_key);
      return fail(KVTIER_ERR_JVM, "cannot attach to the running JVM (JNI error %d)", (int)r);
    }
  } else {
    if (classpath == NULL || classpath[0] == '\0') {
      classpath = getenv("KVTIER_CLASSPATH");
    }
    if (classpath == NULL || classpath[0] == '\0') {
      pthread_key_delete(g_detach_key);
      return fail(KVTIER_ERR_JVM,
                  "no class path: set KVTIER_CLASSPATH to the kvtier-api, kvtier-core and "
                  "kvtier-cabi jars (':'-separated) or pass it to kvtier_init");
    }
    JavaVMOption opts[MAX_OPTIONS];
    int n = 0;
    size_t cp_len = strlen(classpath) + sizeof "-Djava.class.path=";
    char *cp = malloc(cp_len);
    char *env_opts = getenv("KVTIER_JVM_OPTS") ? strdup(getenv("KVTIER_JVM_OPTS")) : NULL;
    if (cp == NULL) {
      free(env_opts);
      pthread_key_delete(g_detach_key);
      return fail(KVTIER_ERR_JVM, "out of memory");
    }
    snprintf(cp, cp_len, "-Djava.class.path=%s", classpath);
    opts[n++].optionString = cp;
    opts[n++].optionString = "--enable-native-access=ALL-UNNAMED";
    /* The host process owns SIGINT, SIGTERM, SIGHUP and SIGQUIT, not the JVM. */
    opts[n++].optionString = "-Xrs";
    for (int i = 0; i < n_options; i++) {
      if (options[i] != NULL) {
        opts[n++].optionString = (char *)options[i];
      }
    }
    if (env_opts != NULL) {
      char *save = NULL;
      for (char *tok = strtok_r(env_opts, " \t", &save); tok != NULL && n < MAX_OPTIONS;
           tok = strtok_r(NULL, " \t", &save)) {
        opts[n++].optionString = tok;
      }
    }
    for (int i = 0; i < n; i++) {
      opts[i].extraInfo = NULL;
    }
    JavaVMInitArgs args = {JNI_VERSION_21, n, opts, JNI_FALSE};
    jint r = create(&vm, (void **)&env, &args);
    free(cp);
    free(env_opts);
    if (r != JNI_OK) {
      g_vm_failed = 1;
      snprintf(g_vm_error, ERR_CAP, "JNI_CreateJavaVM failed with %d (bad KVTIER_JVM_OPTS?)", (int)r);
      pthread_key_delete(g_detach_key);
      return fail(KVTIER_ERR_JVM, "%s", g_vm_error);
    }
    g_vm = vm;
    pthread_setspecific(g_detach_key, (void *)1);
  }
  g_vm = vm;
  int rc = resolve_entry_points(env);
  if (rc != KVTIER_OK) {
    /* The JVM stays (it cannot be recreated); later calls report the same problem. */
    g_vm_failed = 1;
    snprintf(g_vm_error, ERR_CAP, "%s", t_err);
    return rc;
  }
  t_env = env;
  __atomic_store_n(&g_ready, 1, __ATOMIC_RELEASE);
  return KVTIER_OK;
}

int kvtier_init(const char *classpath, const char *const *jvm_options, int n_options) {
  pthread_mutex_lock(&g_lock);
  int rc = __atomic_load_n(&g_ready, __ATOMIC_ACQUIRE)
               ? KVTIER_OK
               : start_locked(classpath, jvm_options, n_options);
  pthread_mutex_unlock(&g_lock);
  return rc;
}

/* The calling thread's JNIEnv, starting the JVM or attaching the thread when needed. */
static int get_env(JNIEnv **out) {
  JNIEnv *env = t_env;
  if (__builtin_expect(env != NULL, 1)) {
    *out = env;
    return KVTIER_OK;
  }
  if (!__atomic_load_n(&g_ready, __ATOMIC_ACQUIRE)) {
    int rc = kvtier_init(NULL, NULL, 0);
    if (rc != KVTIER_OK) {
      return rc;
    }
    if (t_env != NULL) {
      *out = t_env;
      return KVTIER_OK;
    }
  }
  jint r = (*g_vm)->GetEnv(g_vm, (void **)&env, JNI_VERSION_21);
  if (r == JNI_EDETACHED) {
    JavaVMAttachArgs a = {JNI_VERSION_21, "kvtier-native", NULL};
    r = (*g_vm)->AttachCurrentThreadAsDaemon(g_vm, (void **)&env, &a);
    if (r != JNI_OK) {
      return fail(KVTIER_ERR_JVM, "cannot attach this thread to the JVM (JNI error %d)", (int)r);
    }
    pthread_setspecific(g_detach_key, (void *)1);
  } else if (r != JNI_OK) {
    return fail(KVTIER_ERR_JVM, "JNI GetEnv failed with %d", (int)r);
  }
  t_env = env;
  *out = env;
  return KVTIER_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Call helpers
 * ------------------------------------------------------------------------------------------ */

#define PTR(p) ((jlong)(uintptr_t)(p))
#define HANDLE(h) ((jlong)(uintptr_t)(h))

#define ENV(env)                       \
  JNIEnv *env;                         \
  do {                                 \
    int rc_ = get_env(&env);           \
    if (rc_ != KVTIER_OK) return rc_;  \
  } while (0)

#define REQUIRE(cond, ...) \
  do {                     \
    if (!(cond)) return fail(KVTIER_ERR_INVALID_ARGUMENT, __VA_ARGS__); \
  } while (0)

/* Turns an int result (status or count) into a status; counts go to *out when out != NULL. */
static int done_int(JNIEnv *env, jint r, int32_t *out) {
  if (__builtin_expect((*env)->ExceptionCheck(env), 0)) {
    return pending_exception(env);
  }
  if (r < 0) {
    return java_error(env, r);
  }
  if (out != NULL) {
    *out = (int32_t)r;
  }
  return KVTIER_OK;
}

/* Turns a long result (handle or status) into a status; the handle goes to *out. */
static int done_handle(JNIEnv *env, jlong r, void **out) {
  if (__builtin_expect((*env)->ExceptionCheck(env), 0)) {
    return pending_exception(env);
  }
  if (r < 0) {
    return java_error(env, r);
  }
  *out = (void *)(uintptr_t)r;
  return KVTIER_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Cache
 * ------------------------------------------------------------------------------------------ */

int kvtier_cache_create(const char *config, kvtier_cache **out) {
  REQUIRE(config != NULL, "config is NULL");
  REQUIRE(out != NULL, "out is NULL");
  size_t len = strlen(config);
  REQUIRE(len < INT32_MAX, "config is longer than 2 GiB");
  ENV(env);
  jlong r = (*env)->CallStaticLongMethod(env, g_cls, M.cache_create, PTR(config), (jint)len);
  return done_handle(env, r, (void **)out);
}

int kvtier_cache_destroy(kvtier_cache *cache) {
  ENV(env);
  return done_int(env, (*env)->CallStaticIntMethod(env, g_cls, M.cache_destroy, HANDLE(cache)),
                  NULL);
}

int kvtier_namespace_open(kvtier_cache *cache, const char *model, const char *adapter,
                          kvtier_namespace **out) {
  REQUIRE(model != NULL, "model is NULL");
  REQUIRE(out != NULL, "out is NULL");
  size_t ml = strlen(model), al = adapter != NULL ? strlen(adapter) : 0;
  REQUIRE(ml < INT32_MAX && al < INT32_MAX, "model or adapter id too long");
  ENV(env);
  jlong r = (*env)->CallStaticLongMethod(env, g_cls, M.namespace_open, HANDLE(cache), PTR(model),
                                         (jint)ml, al > 0 ? PTR(adapter) : (jlong)0, (jint)al);
  return done_handle(env, r, (void **)out);
}

int kvtier_tenant_salt(const char *tenant, uint64_t *out) {
  REQUIRE(tenant != NULL, "tenant is NULL");
  REQUIRE(out != NULL, "out is NULL");
  size_t len = strlen(tenant);
  REQUIRE(len < INT32_MAX, "tenant id too long");
  ENV(env);
  return done_int(
      env, (*env)->CallStaticIntMethod(env, g_cls, M.tenant_salt, PTR(tenant), (jint)len, PTR(out)),
      NULL);
}

/* ---------------------------------------------------------------------------------------------
 * Sessions
 * ------------------------------------------------------------------------------------------ */

int kvtier_session_open(kvtier_cache *cache, const char *session_id, kvtier_session **out) {
  REQUIRE(session_id != NULL, "session_id is NULL");
  REQUIRE(out != NULL, "out is NULL");
  size_t len = strlen(session_id);
  REQUIRE(len > 0 && len < INT32_MAX, "session_id must be non-empty");
  ENV(env);
  jlong r = (*env)->CallStaticLongMethod(env, g_cls, M.session_open, HANDLE(cache), PTR(session_id),
                                         (jint)len);
  return done_handle(env, r, (void **)out);
}

#define SESSION_CALL(fn, method)                                                              \
  int fn(kvtier_session *session) {                                                           \
    ENV(env);                                                                                 \
    return done_int(env, (*env)->CallStaticIntMethod(env, g_cls, M.method, HANDLE(session)), \
                    NULL);                                                                    \
  }

SESSION_CALL(kvtier_session_close, session_close)
SESSION_CALL(kvtier_session_end, session_end)
SESSION_CALL(kvtier_session_resume, session_resume)
SESSION_CALL(kvtier_session_compacted, session_compacted)
SESSION_CALL(kvtier_session_unpin, session_unpin)

int kvtier_session_pause(kvtier_session *session, kvtier_pause_kind kind, int64_t expected_ms) {
  ENV(env);
  return done_int(env,
                  (*env)->CallStaticIntMethod(env, g_cls, M.session_pause, HANDLE(session),
                                              (jint)kind, (jlong)expected_ms),
                  NULL);
}

int kvtier_session_pin(kvtier_session *session, int64_t ttl_ms) {
  ENV(env);
  return done_int(
      env, (*env)->CallStaticIntMethod(env, g_cls, M.session_pin, HANDLE(session), (jlong)ttl_ms),
      NULL);
}

int kvtier_session_priority(kvtier_session *session, int32_t priority) {
  ENV(env);
  return done_int(env,
                  (*env)->CallStaticIntMethod(env, g_cls, M.session_priority, HANDLE(session),
                                              (jint)priority),
                  NULL);
}

int kvtier_session_pinned_blocks(kvtier_session *session, int32_t *out) {
  REQUIRE(out != NULL, "out is NULL");
  ENV(env);
  return done_int(
      env, (*env)->CallStaticIntMethod(env, g_cls, M.session_pinned_blocks, HANDLE(session)), out);
}

/* ---------------------------------------------------------------------------------------------
 * Leases
 * ------------------------------------------------------------------------------------------ */

int kvtier_acquire(kvtier_cache *cache, kvtier_namespace *ns, kvtier_session *session,
                   uint64_t salt, const int32_t *tokens, int32_t n_tokens, kvtier_lease **out,
                   int32_t *cached_tokens) {
  REQUIRE(out != NULL, "out is NULL");
  REQUIRE(n_tokens >= 0, "n_tokens must not be negative, was %d", (int)n_tokens);
  REQUIRE(tokens != NULL || n_tokens == 0, "tokens is NULL but n_tokens is %d", (int)n_tokens);
  ENV(env);
  jlong r = (*env)->CallStaticLongMethod(env, g_cls, M.acquire, HANDLE(cache), HANDLE(ns),
                                         HANDLE(session), (jlong)salt, PTR(tokens), (jint)n_tokens,
                                         PTR(cached_tokens));
  return done_handle(env, r, (void **)out);
}

#define LEASE_GETTER(fn, method)                                                           \
  int fn(kvtier_lease *lease, int32_t *out) {                                              \
    REQUIRE(out != NULL, "out is NULL");                                                   \
    ENV(env);                                                                              \
    return done_int(env, (*env)->CallStaticIntMethod(env, g_cls, M.method, HANDLE(lease)), \
                    out);                                                                  \
  }

LEASE_GETTER(kvtier_lease_cached_tokens, lease_cached_tokens)
LEASE_GETTER(kvtier_lease_token_count, lease_token_count)
LEASE_GETTER(kvtier_lease_committed_tokens, lease_committed_tokens)
LEASE_GETTER(kvtier_lease_block_count, lease_block_count)

/* A block table into a caller buffer, with the size needed in *n_out on
 * KVTIER_ERR_BUFFER_TOO_SMALL: the lease's (leaseBlockTable) or, with arriving, its onboarding's
 * (leaseArrivingTable). The method is picked after ENV, which resolves M on the first call. */
static int copy_table(int arriving, kvtier_lease *lease, uint64_t *table, int32_t capacity,
                      int32_t *n_out) {
  REQUIRE(n_out != NULL, "n_out is NULL");
  REQUIRE(capacity >= 0, "capacity must not be negative, was %d", (int)capacity);
  REQUIRE(table != NULL || capacity == 0, "table is NULL but capacity is %d", (int)capacity);
  ENV(env);
  jmethodID method = arriving ? M.lease_arriving_table : M.lease_block_table;
  jint r = (*env)->CallStaticIntMethod(env, g_cls, method, HANDLE(lease), PTR(table),
                                       (jint)capacity);
  int rc = done_int(env, r, n_out);
  if (rc == KVTIER_ERR_BUFFER_TOO_SMALL) {
    jint need = (*env)->CallStaticIntMethod(env, g_cls, M.lease_block_count, HANDLE(lease));
    if ((*env)->ExceptionCheck(env)) {
      return pending_exception(env);
    }
    *n_out = need < 0 ? 0 : (int32_t)need;
  }
  return rc;
}

int kvtier_lease_block_table(kvtier_lease *lease, uint64_t *table, int32_t capacity,
                             int32_t *n_out) {
  return copy_table(0, lease, table, capacity, n_out);
}

int kvtier_lease_onboard(kvtier_lease *lease, int32_t layer, int64_t timeout_ms) {
  REQUIRE(layer >= -1, "layer must be -1 (all) or >= 0, was %d", (int)layer);
  ENV(env);
  return done_int(env,
                  (*env)->CallStaticIntMethod(env, g_cls, M.lease_onboard, HANDLE(lease),
                                              (jint)layer, (jlong)timeout_ms),
                  NULL);
}

int kvtier_lease_arriving_table(kvtier_lease *lease, uint64_t *table, int32_t capacity,
                                int32_t *n_out) {
  return copy_table(1, lease, table, capacity, n_out);
}

int kvtier_lease_extend(kvtier_lease *lease) {
  ENV(env);
  return done_int(env, (*env)->CallStaticIntMethod(env, g_cls, M.lease_extend, HANDLE(lease)),
                  NULL);
}

int kvtier_lease_append(kvtier_lease *lease, const int32_t *tokens, int32_t n_tokens) {
  REQUIRE(n_tokens >= 0, "n_tokens must not be negative, was %d", (int)n_tokens);
  REQUIRE(tokens != NULL || n_tokens == 0, "tokens is NULL but n_tokens is %d", (int)n_tokens);
  ENV(env);
  return done_int(env,
                  (*env)->CallStaticIntMethod(env, g_cls, M.lease_append, HANDLE(lease),
                                              PTR(tokens), (jint)n_tokens),
                  NULL);
}

int kvtier_lease_commit(kvtier_lease *lease, int32_t computed_tokens) {
  REQUIRE(computed_tokens >= -1, "computed_tokens must be -1 (all) or >= 0, was %d",
          (int)computed_tokens);
  ENV(env);
  return done_int(env,
                  (*env)->CallStaticIntMethod(env, g_cls, M.lease_commit, HANDLE(lease),
                                              (jint)computed_tokens),
                  NULL);
}

int kvtier_lease_release(kvtier_lease *lease) {
  ENV(env);
  return done_int(env, (*env)->CallStaticIntMethod(env, g_cls, M.lease_release, HANDLE(lease)),
                  NULL);
}

/* ---------------------------------------------------------------------------------------------
 * Probe, events, stats, bench
 * ------------------------------------------------------------------------------------------ */

int kvtier_probe(kvtier_cache *cache, kvtier_namespace *ns, uint64_t salt, const int32_t *tokens,
                 int32_t n_tokens, int32_t *matched_tokens, int32_t *blocks_per_tier,
                 int32_t tier_capacity) {
  REQUIRE(matched_tokens != NULL, "matched_tokens is NULL");
  REQUIRE(n_tokens >= 0, "n_tokens must not be negative, was %d", (int)n_tokens);
  REQUIRE(tokens != NULL || n_tokens == 0, "tokens is NULL but n_tokens is %d", (int)n_tokens);
  REQUIRE(blocks_per_tier == NULL || tier_capacity >= 0, "tier_capacity is negative");
  ENV(env);
  jint r = (*env)->CallStaticIntMethod(env, g_cls, M.probe, HANDLE(cache), HANDLE(ns), (jlong)salt,
                                       PTR(tokens), (jint)n_tokens, PTR(blocks_per_tier),
                                       blocks_per_tier != NULL ? (jint)tier_capacity : 0);
  return done_int(env, r, matched_tokens);
}

int kvtier_prefetch(kvtier_cache *cache, kvtier_namespace *ns, kvtier_session *session,
                    uint64_t salt, const int32_t *tokens, int32_t n_tokens, int32_t *out_started) {
  REQUIRE(n_tokens >= 0, "n_tokens must not be negative, was %d", (int)n_tokens);
  REQUIRE(tokens != NULL || n_tokens == 0, "tokens is NULL but n_tokens is %d", (int)n_tokens);
  ENV(env);
  jint r = (*env)->CallStaticIntMethod(env, g_cls, M.prefetch, HANDLE(cache), HANDLE(ns),
                                       HANDLE(session), (jlong)salt, PTR(tokens), (jint)n_tokens);
  return done_int(env, r, out_started);
}

int kvtier_hold_queue(kvtier_cache *cache, kvtier_namespace *ns, int32_t n_requests,
                      const uint64_t *salts, const int32_t *tokens, const int32_t *offsets,
                      int32_t *out_held) {
  REQUIRE(n_requests >= 0, "n_requests must not be negative, was %d", (int)n_requests);
  REQUIRE(offsets != NULL || n_requests == 0, "offsets is NULL but n_requests is %d",
          (int)n_requests);
  REQUIRE(tokens != NULL || n_requests == 0, "tokens is NULL but n_requests is %d",
          (int)n_requests);
  /* The offsets' values (offsets[0] == 0, non-decreasing) are checked on the Java side, which
   * reads them anyway, before anything changes. */
  ENV(env);
  jint r = (*env)->CallStaticIntMethod(env, g_cls, M.hold_queue, HANDLE(cache), HANDLE(ns),
                                       (jint)n_requests, PTR(salts), PTR(tokens), PTR(offsets));
  return done_int(env, r, out_held);
}

int kvtier_events_poll(kvtier_cache *cache, uint64_t from_seq, kvtier_event *events,
                       int32_t capacity, int32_t *n_out, uint64_t *next_seq, uint64_t *missed) {
  REQUIRE(events != NULL, "events is NULL");
  REQUIRE(capacity >= 1, "capacity must be at least 1, was %d", (int)capacity);
  REQUIRE(n_out != NULL, "n_out is NULL");
  REQUIRE(next_seq != NULL, "next_seq is NULL");
  REQUIRE(from_seq <= (uint64_t)INT64_MAX, "from_seq must be below 2^63");
  ENV(env);
  jint r = (*env)->CallStaticIntMethod(env, g_cls, M.events, HANDLE(cache), (jlong)from_seq,
                                       PTR(events), (jint)capacity, PTR(next_seq), PTR(missed));
  return done_int(env, r, n_out);
}

int kvtier_stats_get(kvtier_cache *cache, kvtier_stats *out) {
  REQUIRE(out != NULL, "out is NULL");
  ENV(env);
  return done_int(env, (*env)->CallStaticIntMethod(env, g_cls, M.stats, HANDLE(cache), PTR(out)),
                  NULL);
}

int kvtier_bench_java_acquire_release(kvtier_cache *cache, kvtier_namespace *ns,
                                      const int32_t *tokens, int32_t n_tokens, int32_t iterations,
                                      int64_t *elapsed_ns) {
  REQUIRE(elapsed_ns != NULL, "elapsed_ns is NULL");
  REQUIRE(n_tokens >= 0, "n_tokens must not be negative, was %d", (int)n_tokens);
  REQUIRE(tokens != NULL || n_tokens == 0, "tokens is NULL but n_tokens is %d", (int)n_tokens);
  ENV(env);
  jlong r = (*env)->CallStaticLongMethod(env, g_cls, M.bench, HANDLE(cache), HANDLE(ns),
                                         PTR(tokens), (jint)n_tokens, (jint)iterations);
  if ((*env)->ExceptionCheck(env)) {
    return pending_exception(env);
  }
  if (r < 0) {
    return java_error(env, r);
  }
  *elapsed_ns = (int64_t)r;
  return KVTIER_OK;
}
