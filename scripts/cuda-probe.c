/* cuda-probe: what a job sees of CUDA, as one JSON line on stdout.
 *
 * It links against nothing but libc: libcuda.so.1 is opened with dlopen,
 * as a CUDA program's runtime does, so the probe shows whether the
 * driver library resolves inside the container (the ld cache and the
 * .so.1 links that the CDI spec's hooks make), then cuInit, the device
 * count, each device's name and a 64 MiB allocation on device 0.
 * Exit 0 when every step worked, 1 otherwise.
 *
 *   cc -O2 -o cuda-probe scripts/cuda-probe.c   (glibc >= 2.34; else -ldl)
 *
 * Used by scripts/gpu-check on a real GPU node, and by
 * tests/gpu_test.sh against a stand-in libcuda. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef int (*cuInit_t)(unsigned);
typedef int (*cuDeviceGetCount_t)(int*);
typedef int (*cuDeviceGet_t)(int*, int);
typedef int (*cuDeviceGetName_t)(char*, int, int);
typedef int (*cuDevicePrimaryCtxRetain_t)(void**, int);
typedef int (*cuCtxSetCurrent_t)(void*);
typedef int (*cuMemAlloc_t)(unsigned long long*, size_t);
typedef int (*cuMemFree_t)(unsigned long long);

int main(void) {
  void* lib = dlopen("libcuda.so.1", RTLD_NOW);
  if (!lib) {
    const char* err = dlerror();
    printf("{\"libcuda\": false, \"error\": \"");
    for (const char* c = err ? err : "?"; *c; ++c)
      if (*c != '"' && *c != '\\') putchar(*c);
    printf("\"}\n");
    return 1;
  }
  cuInit_t cuInit = (cuInit_t)dlsym(lib, "cuInit");
  cuDeviceGetCount_t getCount = (cuDeviceGetCount_t)dlsym(lib, "cuDeviceGetCount");
  cuDeviceGet_t getDevice = (cuDeviceGet_t)dlsym(lib, "cuDeviceGet");
  cuDeviceGetName_t getName = (cuDeviceGetName_t)dlsym(lib, "cuDeviceGetName");
  cuDevicePrimaryCtxRetain_t retain =
      (cuDevicePrimaryCtxRetain_t)dlsym(lib, "cuDevicePrimaryCtxRetain");
  cuCtxSetCurrent_t setCurrent = (cuCtxSetCurrent_t)dlsym(lib, "cuCtxSetCurrent");
  cuMemAlloc_t memAlloc = (cuMemAlloc_t)dlsym(lib, "cuMemAlloc_v2");
  cuMemFree_t memFree = (cuMemFree_t)dlsym(lib, "cuMemFree_v2");
  if (!cuInit || !getCount || !getDevice || !getName || !retain || !setCurrent || !memAlloc ||
      !memFree) {
    printf("{\"libcuda\": true, \"error\": \"a driver API symbol is missing\"}\n");
    return 1;
  }
  int init = cuInit(0);
  int count = 0;
  int count_rc = init == 0 ? getCount(&count) : -1;
  printf("{\"libcuda\": true, \"cuInit\": %d, \"devices\": %d, \"names\": [", init, count);
  for (int i = 0; i < count; ++i) {
    int dev = 0;
    char name[256] = "?";
    if (getDevice(&dev, i) == 0) getName(name, sizeof name, dev);
    printf("%s\"%s\"", i ? ", " : "", name);
  }
  printf("]");
  int alloc = -1;
  if (init == 0 && count_rc == 0 && count > 0) {
    int dev = 0;
    void* ctx = NULL;
    unsigned long long ptr = 0;
    if (getDevice(&dev, 0) == 0 && retain(&ctx, dev) == 0 && setCurrent(ctx) == 0) {
      alloc = memAlloc(&ptr, 64u << 20);
      if (alloc == 0) memFree(ptr);
    }
  }
  printf(", \"cuMemAlloc\": %d}\n", alloc);
  return init == 0 && count_rc == 0 && count > 0 && alloc == 0 ? 0 : 1;
}
