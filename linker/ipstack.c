/*
 * ipstack.c: the glue between the hypervisor and its own TCP/IP stack.
 *
 * lwIP (fetched as Debian's source package, built by the Makefile with
 * linker/lwip/) is compiled to wasm32 and by wasm2c to C, like the kernel,
 * but as a second instance with a linear memory of its own: the array
 * `memory` below, IP_STACK_PAGES wasm pages. That C is built with bounds
 * checks on every access (WASM_RT_MEMCHECK_GUARD_PAGES 0), so a bug in
 * lwIP can corrupt only lwIP's memory. lwIP imports nothing; the glue calls
 * its exports (linker/lwip/stack.c) and copies each frame across, checking
 * the range against both memories first (docs/lwip.md). The management
 * API's HTTP requests and replies cross the same way (linker/lwip/http.c).
 *
 * A trap inside lwIP (an access out of its memory, an assertion) does not
 * stop the machine: wasm_rt_trap() hands it to ip_stack_catch_trap(), which
 * unwinds to the glue's entry point; the stack is then marked failed and
 * every later call does nothing. The kernel runs every call under the
 * hypervisor lock, on CPU 0 (docs/smp.md), so one context at a time.
 */
#include "ipstack.h"
#include "lwip.h"
#include "console.h"

#define WASM_PAGE 65536u

struct w2c_env {
  wasm_rt_memory_t memory;
};
wasm_rt_memory_t* w2c_env_memory(struct w2c_env* env) { return &env->memory; }

static uint8_t memory[IP_STACK_PAGES * WASM_PAGE] __attribute__((aligned(16)));
static struct w2c_env env;
static w2c_lwip stack;
static bool started, failed;
/* Where a trap inside lwIP unwinds to (__builtin_setjmp's five words). */
static void* unwind_to[5];
static bool inside;

void ip_stack_catch_trap(const char* reason) {
  if (!inside) return;
  inside = false;
  failed = true;
  console_puts("ipstack: lwIP trapped (");
  console_puts(reason);
  console_puts("); the management address is down\r\n");
  __builtin_longjmp(unwind_to, 1);
}

bool ip_stack_failed(void) { return failed; }

/* Starts a call into lwIP, unless the stack is down, in which case (or
 * after a trap inside lwIP, which lands here) the caller returns `fallback`. */
#define ENTER_LWIP_OR(fallback) \
  do { \
    if (!started || failed || __builtin_setjmp(unwind_to)) return fallback; \
    inside = true; \
  } while (0)
#define LEAVE_LWIP() (inside = false)

/* [offset, offset + length) lies inside `m` (no 32-bit overflow: 64-bit sum). */
static bool within(const wasm_rt_memory_t* m, uint32_t offset, uint32_t length) {
  return (uint64_t)offset + length <= m->size;
}

bool ip_stack_start(uint64_t mac, uint32_t address, uint32_t netmask, uint32_t gateway, uint32_t seed) {
  if (started || wasm2c_lwip_min_env_memory > IP_STACK_PAGES) return false;
  env.memory = (wasm_rt_memory_t){memory, IP_STACK_PAGES, IP_STACK_PAGES, sizeof memory, false};
  started = true;
  ENTER_LWIP_OR(false);
  wasm2c_lwip_instantiate(&stack, &env);
  w2c_lwip_start(&stack, (uint32_t)(mac >> 32), (uint32_t)mac, address, netmask, gateway, seed);
  LEAVE_LWIP();
  return true;
}

void ip_stack_input(const wasm_rt_memory_t* kernel, uint32_t offset, uint32_t length) {
  ENTER_LWIP_OR();
  uint32_t to = w2c_lwip_receive_buffer(&stack);
  if (length <= w2c_lwip_frame_capacity(&stack) && within(kernel, offset, length) && within(&env.memory, to, length)) {
    __builtin_memcpy(memory + to, kernel->data + offset, length);
    w2c_lwip_input(&stack, length);
  }
  LEAVE_LWIP();
}

void ip_stack_poll(uint32_t now_ms) {
  ENTER_LWIP_OR();
  w2c_lwip_poll(&stack, now_ms);
  LEAVE_LWIP();
}

/* Copies `length` bytes at `from` in lwIP's memory to `kernel` at `offset`
 * if both ranges hold and `length` is at most `capacity`; the bytes copied. */
static uint32_t copy_out(const wasm_rt_memory_t* kernel, uint32_t offset, uint32_t capacity, uint32_t from, uint32_t length) {
  if (length > capacity || !within(&env.memory, from, length) || !within(kernel, offset, length)) return 0;
  __builtin_memcpy(kernel->data + offset, memory + from, length);
  return length;
}

uint32_t ip_stack_output(const wasm_rt_memory_t* kernel, uint32_t offset, uint32_t capacity) {
  ENTER_LWIP_OR(0);
  uint32_t length = w2c_lwip_pending(&stack);
  if (length > 0) {
    length = copy_out(kernel, offset, capacity, w2c_lwip_pending_frame(&stack), length);
    /* A frame that does not fit is dropped rather than left to block the rest. */
    w2c_lwip_pop(&stack);
  }
  LEAVE_LWIP();
  return length;
}

bool ip_http_listen(uint32_t port) {
  ENTER_LWIP_OR(false);
  bool listening = w2c_lwip_http_listen(&stack, port);
  LEAVE_LWIP();
  return listening;
}

uint32_t ip_http_take(const wasm_rt_memory_t* kernel, uint32_t offset, uint32_t capacity) {
  ENTER_LWIP_OR(0);
  uint32_t length = w2c_lwip_http_next(&stack);
  /* A record that does not fit is dropped: its connection times out. */
  if (length > 0) length = copy_out(kernel, offset, capacity, w2c_lwip_http_record(&stack), length);
  LEAVE_LWIP();
  return length;
}

uint32_t ip_address(void) {
  ENTER_LWIP_OR(0);
  uint32_t address = w2c_lwip_address(&stack);
  LEAVE_LWIP();
  return address;
}

uint32_t ip_netmask(void) {
  ENTER_LWIP_OR(0);
  uint32_t netmask = w2c_lwip_netmask(&stack);
  LEAVE_LWIP();
  return netmask;
}

bool ip_ping_send(uint32_t address, uint32_t sequence) {
  ENTER_LWIP_OR(false);
  bool sent = w2c_lwip_ping_send(&stack, address, sequence);
  LEAVE_LWIP();
  return sent;
}

uint32_t ip_ping_take(void) {
  ENTER_LWIP_OR(0xffffffffu);
  uint32_t sequence = w2c_lwip_ping_take(&stack);
  LEAVE_LWIP();
  return sequence;
}

bool ip_http_stream(const wasm_rt_memory_t* kernel, uint32_t slot, uint32_t offset, uint32_t length) {
  ENTER_LWIP_OR(false);
  uint32_t to = w2c_lwip_http_record(&stack);
  bool streams = false;
  if (within(kernel, offset, length) && within(&env.memory, to, length)) {
    __builtin_memcpy(memory + to, kernel->data + offset, length);
    streams = w2c_lwip_http_stream(&stack, slot, length);
  }
  LEAVE_LWIP();
  return streams;
}

void ip_http_reply(const wasm_rt_memory_t* kernel, uint32_t slot, uint32_t status, uint32_t fields, uint32_t offset,
                   uint32_t length) {
  ENTER_LWIP_OR();
  uint32_t to = w2c_lwip_http_body(&stack, slot), capacity = w2c_lwip_http_body_capacity(&stack);
  bool fits = length <= capacity && within(kernel, offset, length) && within(&env.memory, to, length);
  if (fits) __builtin_memcpy(memory + to, kernel->data + offset, length);
  /* A body that was not copied is answered 500 by lwIP: a length over its capacity. */
  w2c_lwip_http_respond(&stack, slot, status, fields, fits ? length : capacity + 1);
  LEAVE_LWIP();
}
