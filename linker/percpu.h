/*
 * percpu.h: per-CPU hardware state the C side owns (TSS, IST stack, the IDT
 * register), the start-up handshake with application processors, and the
 * hypervisor lock.
 */
#ifndef TV_PERCPU_H
#define TV_PERCPU_H
#include <stdint.h>

void tss_install(uint32_t cpu);
void idt_load(uint64_t base, uint16_t limit);
uint32_t ap_prepare(uint32_t cpu, uint64_t stack_top, uint64_t stack_bytes);
uint32_t ap_wait(uint32_t spins);
uint32_t ap_enter(void);
void ap_leave(void);
uint32_t this_cpu(void);
void set_stack(uint32_t cpu, uint64_t low, uint64_t high);
int on_this_stack(uint64_t address, uint64_t bytes);
void let_cpus_go(void);
void wait_for_go(void);
void hv_lock(uint32_t cpu);
uint64_t lock_waited(uint32_t cpu);
void halt_this_cpu(void) __attribute__((noreturn));
void stop_other_cpus(void);
void lapic_eoi(void);
extern volatile uint32_t tv_stopping;

/* The hypervisor lock's tickets (percpu.c hv_lock()). */
extern volatile uint32_t lock_next_ticket, lock_owner;

/* The lock if nobody holds or waits for it: the ticket is taken only when it
 * is the owner's. For the exits finished in the guest's exit (shim.c), which
 * must not wait there for a CPU that may be waiting for this one to leave its
 * guest. Inline: the exit fast path calls it. */
static inline int hv_trylock(void) {
  uint32_t owner = __atomic_load_n(&lock_owner, __ATOMIC_ACQUIRE), ticket = owner;
  return __atomic_compare_exchange_n(&lock_next_ticket, &ticket, owner + 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static inline void hv_unlock(void) { __atomic_store_n(&lock_owner, lock_owner + 1, __ATOMIC_RELEASE); }

enum ap_state { AP_NOT_STARTED, AP_RUNNING, AP_DONE };

#endif
