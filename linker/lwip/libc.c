/*
 * libc.c: the C library functions lwIP calls, for its wasm32 instance
 * (docs/lwip.md). The block operations compile to wasm's bulk-memory
 * instructions (memory.copy, memory.fill), which wasm2c bounds-checks
 * against the instance's memory like any other access.
 */
#include <string.h>

void* memcpy(void* dst, const void* src, size_t n) { return __builtin_memcpy(dst, src, n); }
void* memmove(void* dst, const void* src, size_t n) { return __builtin_memmove(dst, src, n); }
void* memset(void* dst, int c, size_t n) { return __builtin_memset(dst, c, n); }

int memcmp(const void* a, const void* b, size_t n) {
  const unsigned char *x = a, *y = b;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}
