/*
 * ipstack.h: the hypervisor's own TCP/IP stack, lwIP in a second wasm
 * instance with its own linear memory (ipstack.c, docs/lwip.md). The
 * kernel reaches it through the shim (shim.c, "ip_*" imports); each call
 * names frames by offset and length in the kernel's memory, which the glue
 * checks before it copies.
 */
#ifndef TV_IPSTACK_H
#define TV_IPSTACK_H
#include "wasm-rt.h"

/* Brings the interface up with MAC `mac` and the IPv4 addresses as
 * a.b.c.d = a << 24 | ... ; false if the instance does not fit its memory. */
bool ip_stack_start(uint64_t mac, uint32_t address, uint32_t netmask, uint32_t gateway, uint32_t seed);
/* A frame for the stack, `length` bytes at `offset` in `kernel`. */
void ip_stack_input(const wasm_rt_memory_t* kernel, uint32_t offset, uint32_t length);
/* Runs the stack's timers; `now_ms` is a millisecond clock. */
void ip_stack_poll(uint32_t now_ms);
/* Moves the oldest frame the stack sent into `kernel` at `offset`, at most
 * `capacity` bytes; its length, or 0 if there is none. */
uint32_t ip_stack_output(const wasm_rt_memory_t* kernel, uint32_t offset, uint32_t capacity);
/* Serves the management API's HTTP on TCP `port`; false if it cannot. */
bool ip_http_listen(uint32_t port);
/* Moves the next HTTP request's record (linker/lwip/http.c) into `kernel`
 * at `offset`, at most `capacity` bytes; its length, or 0 if none waits. */
uint32_t ip_http_take(const wasm_rt_memory_t* kernel, uint32_t offset, uint32_t capacity);
/* Answers request `slot` with `status` and the `length` bytes at `offset`
 * in `kernel`: `fields` bytes of header fields, then the body (http.c). */
void ip_http_reply(const wasm_rt_memory_t* kernel, uint32_t slot, uint32_t status, uint32_t fields, uint32_t offset,
                   uint32_t length);
/* Adds the `length` bytes at `offset` in `kernel` to the event stream of
 * `slot`; false if that slot streams no more. */
bool ip_http_stream(const wasm_rt_memory_t* kernel, uint32_t slot, uint32_t offset, uint32_t length);
/* The management interface's address and netmask now (0: DHCP has not
 * bound one yet). */
uint32_t ip_address(void);
uint32_t ip_netmask(void);
/* Sends ICMP echo `sequence` to `address` (linker/lwip/ping.c); false if
 * it could not. */
bool ip_ping_send(uint32_t address, uint32_t sequence);
/* The sequence number of the next echo reply, or 0xffffffff if none came. */
uint32_t ip_ping_take(void);
/* Whether the stack stopped after a trap (the trap's reason was printed). */
bool ip_stack_failed(void);
/* Called by wasm_rt_trap(): returns only if the trap is not the stack's. */
void ip_stack_catch_trap(const char* reason);

#endif
