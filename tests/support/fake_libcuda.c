/* A stand-in for the driver's libcuda.so, for tests on hosts without a
 * GPU: a device is each /dev/nvidiaN that this process can open, as the
 * real driver counts the devices it can reach. Built as
 * libcuda.so.<version> with the soname libcuda.so.1, so that only the ld
 * cache and links that the CDI hooks make can resolve "libcuda.so.1". */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int devices[64];
static int count = -1;

int cuInit(unsigned flags) {
  (void)flags;
  count = 0;
  for (int n = 0; n < 64; ++n) {
    char path[32];
    snprintf(path, sizeof path, "/dev/nvidia%d", n);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) continue;
    close(fd);
    devices[count++] = n;
  }
  return count > 0 ? 0 : 100; /* CUDA_ERROR_NO_DEVICE */
}
int cuDeviceGetCount(int* n) {
  if (count < 0) return 3; /* CUDA_ERROR_NOT_INITIALIZED */
  *n = count;
  return 0;
}
int cuDeviceGet(int* dev, int ordinal) {
  if (ordinal < 0 || ordinal >= count) return 101; /* CUDA_ERROR_INVALID_DEVICE */
  *dev = ordinal;
  return 0;
}
int cuDeviceGetName(char* name, int len, int dev) {
  snprintf(name, (size_t)len, "Fake GPU /dev/nvidia%d", devices[dev]);
  return 0;
}
int cuDevicePrimaryCtxRetain(void** ctx, int dev) {
  *ctx = &devices[dev];
  return 0;
}
int cuCtxSetCurrent(void* ctx) {
  (void)ctx;
  return 0;
}
int cuMemAlloc_v2(unsigned long long* ptr, size_t bytes) {
  void* p = malloc(bytes);
  if (!p) return 2; /* CUDA_ERROR_OUT_OF_MEMORY */
  memset(p, 0, bytes);
  *ptr = (unsigned long long)(unsigned long)p;
  return 0;
}
int cuMemFree_v2(unsigned long long ptr) {
  free((void*)(unsigned long)ptr);
  return 0;
}
