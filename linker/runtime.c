/*
 * runtime.c: the freestanding wasm runtime under the compiled AssemblyScript.
 *
 * It owns three things the generated C cannot provide for itself:
 *  - the linear memory: a fixed virtual window at LINEAR_BASE, backed by
 *    2 MiB chunks of physical memory. The first chunk is in the image's bss
 *    (so the kernel can run before it knows the memory map); later chunks
 *    come from a physical pool the kernel grants once it has parsed the
 *    memory map. Everything past the memory's current size is unmapped guard
 *    space, so an out-of-bounds access page-faults and the kernel reports it
 *    as a wasm trap.
 *  - function tables, from a small static arena (there is no malloc);
 *  - traps: print the reason and a backtrace, then stop the CPU.
 * Plus the libc pieces the generated code calls (memcpy & co., rounding).
 */
#include "wasm-rt.h"
#include <math.h>
#include "../boot/layout.h"
#include "console.h"
#include "percpu.h"
#include "cpu.h"
#include "ipstack.h"

#define PTE_P 0x1ull
#define PTE_W 0x2ull
#define PAGE 4096ull
#define WASM_PAGE 65536ull
#define LINEAR_MAX_BYTES (256ull << 20)
#define LINEAR_MAX_CHUNKS (LINEAR_MAX_BYTES / LINEAR_CHUNK)
/* The first LINEAR_NULL_GUARD bytes stay unmapped so that a null-pointer
 * access faults like any other out-of-bounds access. (The AssemblyScript
 * build puts its data at --memoryBase 65536, above the guard.) */
#define LINEAR_NULL_GUARD 65536

extern uint64_t boot_pml4[512];

/*
 * The window: PML4 slot -> linear_pdpt -> linear_pd -> one page table per
 * 2 MiB chunk. Pages are mapped exactly up to the memory's current size, so
 * the guard starts at the first byte past it. Each chunk is 2 MiB of
 * contiguous physical memory: the first is in the image, the others come from
 * the pool the kernel grants.
 */
static uint8_t linear_first_chunk[LINEAR_CHUNK] __attribute__((aligned(4096)));
static uint64_t linear_pdpt[512] __attribute__((aligned(4096)));
static uint64_t linear_pd[512] __attribute__((aligned(4096)));
static uint64_t linear_pt[LINEAR_MAX_CHUNKS][512] __attribute__((aligned(4096)));
static uint64_t linear_chunk_phys[LINEAR_MAX_CHUNKS];
static uint32_t linear_chunks;
static uint64_t pool_next, pool_end;

/* The image is identity-mapped, so a static object's address is physical. */
static uint64_t image_phys(const void* p) { return (uint64_t)(uintptr_t)p; }

static void add_chunk(uint64_t phys) {
  uint32_t index = linear_chunks++;
  linear_chunk_phys[index] = phys;
  linear_pd[index] = image_phys(linear_pt[index]) | PTE_P | PTE_W;
}

/* Maps and zeroes the pages of [from, to); the chunks must exist. */
static void map_pages(uint64_t from, uint64_t to) {
  for (uint64_t off = from < LINEAR_NULL_GUARD ? LINEAR_NULL_GUARD : from; off < to; off += PAGE) {
    uint64_t chunk = off / LINEAR_CHUNK;
    linear_pt[chunk][off % LINEAR_CHUNK / PAGE] = (linear_chunk_phys[chunk] + off % LINEAR_CHUNK) | PTE_P | PTE_W;
    /* The entry was not present; flush anyway in case a paging-structure
     * cache remembers the walk (SDM Vol. 3A 4.10.4.1). */
    invlpg(LINEAR_BASE + off);
    __builtin_memset((void*)(uintptr_t)(LINEAR_BASE + off), 0, PAGE);
  }
}

uint64_t linear_to_phys(uint32_t offset) {
  return linear_chunk_phys[offset / LINEAR_CHUNK] + offset % LINEAR_CHUNK;
}

uint64_t linear_window_pdpt(void) { return image_phys(linear_pdpt); }

void linear_grant(uint64_t phys, uint64_t bytes) {
  pool_next = phys;
  pool_end = phys + bytes;
}

bool wasm_rt_is_initialized(void) { return true; }

void wasm_rt_allocate_memory(wasm_rt_memory_t* mem, uint64_t initial_pages,
                             uint64_t max_pages, bool is64, uint32_t page_size) {
  if (is64 || page_size != WASM_PAGE || initial_pages * WASM_PAGE > LINEAR_CHUNK ||
      max_pages * WASM_PAGE > LINEAR_MAX_BYTES) {
    console_puts("typervisor: the kernel's linear memory layout does not fit the runtime\r\n");
    tv_halt(2);
  }
  linear_pdpt[0] = image_phys(linear_pd) | PTE_P | PTE_W;
  boot_pml4[LINEAR_PML4_SLOT] = image_phys(linear_pdpt) | PTE_P | PTE_W;
  add_chunk(image_phys(linear_first_chunk));
  map_pages(0, initial_pages * WASM_PAGE);
  mem->data = (uint8_t*)(uintptr_t)LINEAR_BASE;
  mem->pages = initial_pages;
  mem->max_pages = max_pages;
  mem->size = initial_pages * WASM_PAGE;
  mem->is64 = false;
}

uint64_t wasm_rt_grow_memory(wasm_rt_memory_t* mem, uint64_t delta) {
  uint64_t old_pages = mem->pages, new_pages = old_pages + delta;
  if (new_pages > mem->max_pages) return (uint64_t)-1;
  uint64_t chunks = (new_pages * WASM_PAGE + LINEAR_CHUNK - 1) / LINEAR_CHUNK;
  if (chunks > linear_chunks + (pool_end - pool_next) / LINEAR_CHUNK) {
    console_puts("typervisor: linear memory exhausted at 0x");
    console_hex(mem->size);
    console_puts(" bytes\r\n");
    return (uint64_t)-1;
  }
  while (linear_chunks < chunks) {
    add_chunk(pool_next);
    pool_next += LINEAR_CHUNK;
  }
  map_pages(old_pages * WASM_PAGE, new_pages * WASM_PAGE);
  mem->pages = new_pages;
  mem->size = new_pages * WASM_PAGE;
  return old_pages;
}

void wasm_rt_free_memory(wasm_rt_memory_t* mem) { (void)mem; }

/* Tables live for the life of the hypervisor: a bump arena is enough. */
static uint8_t table_arena[64 * 1024] __attribute__((aligned(16)));
static size_t table_arena_used;

static void* table_alloc(size_t bytes) {
  if (table_arena_used + bytes > sizeof table_arena) {
    console_puts("typervisor: wasm function tables exceed the runtime's arena\r\n");
    tv_halt(2);
  }
  void* p = table_arena + table_arena_used;
  table_arena_used += (bytes + 15) & ~(size_t)15;
  return p;
}

void wasm_rt_allocate_funcref_table(wasm_rt_funcref_table_t* t, uint32_t n, uint32_t max) {
  t->data = table_alloc(n * sizeof(wasm_rt_funcref_t));
  for (uint32_t i = 0; i < n; i++) t->data[i] = wasm_rt_funcref_null_value;
  t->size = n;
  t->max_size = max;
}
void wasm_rt_free_funcref_table(wasm_rt_funcref_table_t* t) { (void)t; }
void wasm_rt_allocate_externref_table(wasm_rt_externref_table_t* t, uint32_t n, uint32_t max) {
  t->data = table_alloc(n * sizeof(wasm_rt_externref_t));
  for (uint32_t i = 0; i < n; i++) t->data[i] = NULL;
  t->size = n;
  t->max_size = max;
}
void wasm_rt_free_externref_table(wasm_rt_externref_table_t* t) { (void)t; }

static const char* const trap_reasons[] = {
    [WASM_RT_TRAP_NONE] = "none",
    [WASM_RT_TRAP_OOB] = "out-of-bounds memory access",
    [WASM_RT_TRAP_INT_OVERFLOW] = "integer overflow",
    [WASM_RT_TRAP_DIV_BY_ZERO] = "integer divide by zero",
    [WASM_RT_TRAP_INVALID_CONVERSION] = "invalid conversion to integer",
    [WASM_RT_TRAP_UNREACHABLE] = "unreachable executed",
    [WASM_RT_TRAP_CALL_INDIRECT] = "indirect call type mismatch",
    [WASM_RT_TRAP_UNCAUGHT_EXCEPTION] = "uncaught exception",
    [WASM_RT_TRAP_UNALIGNED] = "unaligned atomic access",
    [WASM_RT_TRAP_EXHAUSTION] = "call stack exhausted",
};

void wasm_rt_trap(wasm_rt_trap_t code) {
  const char* reason = code <= WASM_RT_TRAP_EXHAUSTION ? trap_reasons[code] : "unknown";
  /* A trap inside lwIP's instance stops only lwIP: this does not return then. */
  ip_stack_catch_trap(reason);
  cli();
  stop_other_cpus();
  console_puts("\r\n*** cpu ");
  console_putc("0123456789abcdef"[this_cpu() & 15]);
  console_puts(": wasm trap: ");
  console_puts(reason);
  console_puts("\r\n  frame 0x");
  console_hex((uint64_t)(uintptr_t)__builtin_frame_address(0));
  console_puts("\r\n");
  tv_backtrace((uint64_t)(uintptr_t)__builtin_frame_address(0));
  tv_fault_witness(this_cpu());
  tv_halt(3);
}

void abort(void) { wasm_rt_trap(WASM_RT_TRAP_UNREACHABLE); }

/* The memory functions clang may also emit calls to, and wasm2c's
 * memory.fill and memory.copy: by the CPU's string instructions, 8 bytes a
 * step while 8 remain (under emulation each step counts as an instruction;
 * DF is clear in C code). */
void* memcpy(void* dst, const void* src, size_t n) {
  void* d = dst;
  size_t q = n / 8, rest = n % 8;
  __asm__ volatile("rep movsq; mov %3, %%rcx; rep movsb" : "+D"(d), "+S"(src), "+c"(q) : "r"(rest) : "memory");
  return dst;
}

void* memset(void* dst, int c, size_t n) {
  void* d = dst;
  size_t q = n / 8, rest = n % 8;
  uint64_t pattern = 0x0101010101010101ull * (uint8_t)c;
  __asm__ volatile("rep stosq; mov %2, %%rcx; rep stosb" : "+D"(d), "+c"(q) : "r"(rest), "a"(pattern) : "memory");
  return dst;
}

void* memmove(void* dst, const void* src, size_t n) {
  if ((uintptr_t)dst <= (uintptr_t)src || (uintptr_t)dst >= (uintptr_t)src + n)
    return memcpy(dst, src, n);
  /* Overlapping with dst above src: copy backwards, the odd bytes at the
   * top first, then the 8-byte words below them from the last one down. */
  size_t q = n / 8, rest = n % 8;
  void* d = (uint8_t*)dst + n - 1;
  const void* s = (const uint8_t*)src + n - 1;
  __asm__ volatile("std; rep movsb; sub $7, %%rdi; sub $7, %%rsi; mov %3, %%rcx; rep movsq; cld"
                   : "+D"(d), "+S"(s), "+c"(rest)
                   : "r"(q)
                   : "memory");
  return dst;
}

int memcmp(const void* a, const void* b, size_t n) {
  const uint8_t *x = a, *y = b;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}

/*
 * Rounding without SSE4.1: a double at or above 2^52 in magnitude is already
 * an integer; below that, converting through int64 truncates toward zero.
 */
double trunc(double x) {
  if (!(fabs(x) < 4503599627370496.0)) return x; /* also NaN and infinities */
  return copysign((double)(int64_t)x, x);
}
double floor(double x) {
  double t = trunc(x);
  return t > x ? t - 1.0 : t;
}
double ceil(double x) {
  double t = trunc(x);
  return t < x ? t + 1.0 : t;
}
double nearbyint(double x) {
  /* Round half to even, as the default SSE rounding mode does. */
  if (!(fabs(x) < 4503599627370496.0)) return x;
  double big = copysign(4503599627370496.0, x);
  volatile double r = x + big;
  return copysign(r - big, x);
}
float truncf(float x) { return (float)trunc(x); }
float floorf(float x) { return (float)floor(x); }
float ceilf(float x) { return (float)ceil(x); }
float nearbyintf(float x) { return (float)nearbyint(x); }
