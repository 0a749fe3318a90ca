/*
 * A host that already runs a JVM: this program starts one itself through the JNI invocation API,
 * then uses kvtier, which must find that JVM (JNI_GetCreatedJavaVMs) and attach to it instead of
 * starting another, from the main thread and from a second native thread.
 * Prints "test_attach: OK" last and exits 0.
 */
#define _GNU_SOURCE
#include "kvtier.h"

#include <dlfcn.h>
#include <jni.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what, int rc) {
  fprintf(stderr, "test_attach: FAILED: %s: %s (%s)\n", what, kvtier_status_name(rc),
          kvtier_last_error());
  exit(1);
}

static int32_t tokens[64];

static void *worker(void *arg) {
  kvtier_cache *cache = arg;
  kvtier_namespace *ns;
  kvtier_lease *lease;
  int32_t cached = -1;
  int rc;
  if ((rc = kvtier_namespace_open(cache, "m", NULL, &ns)) != KVTIER_OK) die("namespace_open", rc);
  if ((rc = kvtier_acquire(cache, ns, NULL, 0, tokens, 64, &lease, &cached)) != KVTIER_OK) {
    die("acquire", rc);
  }
  if (cached != 64) die("the worker thread did not see the committed prompt", KVTIER_OK);
  if ((rc = kvtier_lease_release(lease)) != KVTIER_OK) die("release", rc);
  return NULL;
}

int main(void) {
  const char *cp = getenv("KVTIER_CLASSPATH");
  const char *home = getenv("JAVA_HOME");
  if (cp == NULL || home == NULL) {
    fprintf(stderr, "test_attach: set KVTIER_CLASSPATH and JAVA_HOME\n");
    return 1;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/lib/server/libjvm.so", home);
  void *lib = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
  if (lib == NULL) {
    fprintf(stderr, "test_attach: cannot load %s: %s\n", path, dlerror());
    return 1;
  }
  jint(JNICALL * create)(JavaVM **, void **, void *) =
      (jint(JNICALL *)(JavaVM **, void **, void *))dlsym(lib, "JNI_CreateJavaVM");
  size_t n = strlen(cp) + 32;
  char *opt = malloc(n);
  snprintf(opt, n, "-Djava.class.path=%s", cp);
  JavaVMOption options[2] = {{opt, NULL}, {"--enable-native-access=ALL-UNNAMED", NULL}};
  JavaVMInitArgs args = {JNI_VERSION_21, 2, options, JNI_FALSE};
  JavaVM *vm;
  JNIEnv *env;
  if (create == NULL || create(&vm, (void **)&env, &args) != JNI_OK) {
    fprintf(stderr, "test_attach: the host could not start its JVM\n");
    return 1;
  }
  free(opt);

  /* kvtier_init with a bogus class path: ignored, since the running JVM is used. */
  int rc = kvtier_init("/nonexistent.jar", NULL, 0);
  if (rc != KVTIER_OK) die("init", rc);
  for (int i = 0; i < 64; i++) tokens[i] = i + 7;
  kvtier_cache *cache;
  kvtier_namespace *ns;
  kvtier_lease *lease;
  if ((rc = kvtier_cache_create("layout.page_bytes=512\ntier.dram.capacity=64k\n", &cache))) {
    die("cache_create", rc);
  }
  if ((rc = kvtier_namespace_open(cache, "m", NULL, &ns))) die("namespace_open", rc);
  if ((rc = kvtier_acquire(cache, ns, NULL, 0, tokens, 64, &lease, NULL))) die("acquire", rc);
  if ((rc = kvtier_lease_extend(lease))) die("extend", rc);
  if ((rc = kvtier_lease_commit(lease, -1))) die("commit", rc);
  if ((rc = kvtier_lease_release(lease))) die("release", rc);

  pthread_t t;
  pthread_create(&t, NULL, worker, cache);
  pthread_join(t, NULL);

  JavaVM *vms[2];
  jsize n_vms = 0;
  jint(JNICALL * created)(JavaVM **, jsize, jsize *) =
      (jint(JNICALL *)(JavaVM **, jsize, jsize *))dlsym(lib, "JNI_GetCreatedJavaVMs");
  if (created == NULL || created(vms, 2, &n_vms) != JNI_OK || n_vms != 1 || vms[0] != vm) {
    fprintf(stderr, "test_attach: FAILED: expected exactly the host's JVM\n");
    return 1;
  }
  if ((rc = kvtier_cache_destroy(cache))) die("cache_destroy", rc);
  printf("test_attach: OK\n");
  return 0;
}
