/*
 * percpu.h: per-CPU hardware state the C side owns (TSS, IST stack, the IDT
 * register) and the start-up handshake with application processors.
 */
#ifndef TV_PERCPU_H
#define TV_PERCPU_H
#include <stdint.h>

void tss_install(uint32_t cpu);
void idt_load(uint64_t base, uint16_t limit);
uint32_t ap_prepare(uint32_t cpu, uint64_t stack_top);
uint32_t ap_wait(uint32_t spins);
uint32_t ap_enter(void);
void ap_leave(void);

enum ap_state { AP_NOT_STARTED, AP_RUNNING, AP_DONE };

#endif
