/*
 * ipstack-host.c: linker/ipstack.c and lwIP's instance (build/lwip.c) as a
 * Linux program, for test/unit/ipstack.test.ts. It stands in for the
 * hypervisor's runtime (runtime.c: traps, tables; console.c: output) and
 * plays the kernel's side: a memory of its own with an ARP request in it.
 *
 * It starts the stack, has it answer the ARP request, then overwrites
 * lwIP's memory above its stack with 0xff bytes, as a bug in lwIP might,
 * so that every pointer lwIP follows next is 0xffffffff. The next frame
 * must end in a trap that the glue catches, not in a stray access to this
 * process's memory (which would be a segmentation fault); after it, the
 * stack takes nothing and sends nothing, and the program goes on. It
 * prints what happened, a line per step, and exits 0.
 */
#include "ipstack.c"

int printf(const char* format, ...);
void* calloc(size_t n, size_t size);
void exit(int status) __attribute__((noreturn));

void console_puts(const char* s) { printf("%s", s); }

/* The hypervisor's wasm_rt_trap() (runtime.c), without the machine to stop. */
void wasm_rt_trap(wasm_rt_trap_t code) {
  ip_stack_catch_trap(code == WASM_RT_TRAP_OOB ? "out-of-bounds memory access" : "another trap");
  printf("trap outside lwIP\n");
  exit(2);
}
bool wasm_rt_is_initialized(void) { return true; }
void wasm_rt_allocate_funcref_table(wasm_rt_funcref_table_t* t, uint32_t n, uint32_t max) {
  t->data = calloc(n, sizeof(wasm_rt_funcref_t));
  t->size = n;
  t->max_size = max;
}
void wasm_rt_free_funcref_table(wasm_rt_funcref_table_t* t) {}
void wasm_rt_allocate_externref_table(wasm_rt_externref_table_t* t, uint32_t n, uint32_t max) {}
void wasm_rt_free_externref_table(wasm_rt_externref_table_t* t) {}
void wasm_rt_allocate_memory(wasm_rt_memory_t* m, uint64_t pages, uint64_t max, bool is64, uint32_t size) {}
uint64_t wasm_rt_grow_memory(wasm_rt_memory_t* m, uint64_t delta) { return (uint64_t)-1; }
void wasm_rt_free_memory(wasm_rt_memory_t* m) {}

/* lwIP's C stack: the bottom of its memory (the Makefile's -z stack-size). */
#define STACK_BYTES 16384

static uint8_t kernel_bytes[65536];
static const wasm_rt_memory_t kernel = {kernel_bytes, 1, 1, sizeof kernel_bytes, false};

/* An ARP request from 52:54:00:12:00:00 (10.0.2.15) for 10.0.2.20, in the
 * last 42 bytes of the kernel's memory; its offset. */
static uint32_t arp_request(void) {
  static const uint8_t frame[42] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0x12, 0, 0, 0x08, 0x06,
                                    0, 1, 8, 0, 6, 4, 0, 1, 0x52, 0x54, 0, 0x12, 0, 0, 10, 0, 2, 15,
                                    0, 0, 0, 0, 0, 0, 10, 0, 2, 20};
  __builtin_memcpy(kernel_bytes + sizeof kernel_bytes - sizeof frame, frame, sizeof frame);
  return sizeof kernel_bytes - sizeof frame;
}

/* Takes every frame the stack sent; how many. */
static int drain(void) {
  int n = 0;
  while (ip_stack_output(&kernel, 4096, 2048) > 0) n++;
  return n;
}

int main(void) {
  printf("started %d\n", ip_stack_start(0x525400130001ull, 0x0a000214, 0xffffff00, 0, 1));
  drain();
  /* One byte more would run past the kernel's memory: refused before any copy. */
  ip_stack_input(&kernel, arp_request(), 43);
  printf("one byte past answered %d\n", drain());
  ip_stack_input(&kernel, arp_request(), 42);
  printf("answered %d\n", drain());
  __builtin_memset(memory + STACK_BYTES, 0xff, IP_STACK_PAGES * 65536 - STACK_BYTES);
  ip_stack_input(&kernel, arp_request(), 42);
  printf("failed %d\n", ip_stack_failed());
  ip_stack_input(&kernel, arp_request(), 42);
  ip_stack_poll(5000);
  printf("after the trap answered %d\n", drain());
  return 0;
}
