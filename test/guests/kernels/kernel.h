/*
 * What the test kernels share (test/guests/kernels): the ones the hypervisor
 * loads itself from a VM configuration (vmm/setup/kernelvms.ts), as QEMU's -kernel
 * or a Linux boot loader would, rather than the flat binaries of lib/. They
 * report on COM1 (the 16550 model, the VM's console) through guest.h's
 * puts()/check(), take what to expect from their command line
 * ("ram=MiB cpus=N module=NAME exit=V"), check the PC platform's fw_cfg,
 * its RTC and the memory map their boot protocol passed, and end by writing
 * V (or 1 after a failure) to QEMU's isa-debug-exit port 0xf4.
 */
#ifndef KERNEL_H
#define KERNEL_H
#include "lib/guest.h"

/* A memory map entry, whatever the protocol's format (ACPI 6.5 table 15.4 types). */
struct region { uint64_t base, length; uint32_t type; };

/* The value of "key=" in the command line, copied into out ("" if absent). */
void option(const char* cmdline, const char* key, char* out, int size);
uint64_t number(const char* s);
int str_eq(const char* a, const char* b);
void put_dec(uint32_t v);
/* Checks that RAM is exactly [0, 0x9f000) and [1 MiB, ram) with the legacy
 * area reserved, as vmm/setup/loaders/layout.ts promises. */
void check_memory_map(const struct region* map, int n, uint64_t ram);
/* The initrd or module: starts with "TVMOD". */
int module_contents_ok(const char* data, uint64_t size);
/* The UART's scratch register, then fw_cfg's signature, ID, CPU count, RAM size. */
void check_uart(void);
void check_fw_cfg(uint64_t ram, uint64_t cpus);
/* The kernel's IDT, vectors 0 to 0x28: an interrupt gate in this code
 * segment to `handler`, and LIDT of the table. */
void set_interrupt_gate(uint8_t vector, uintptr_t handler);
void load_idt(void);
/* What an interrupt or exception at the same privilege level pushes, in
 * 32-bit protected mode (SDM Vol. 3A 6.12.1): the multiboot kernel's
 * handlers' argument. */
struct interrupt_frame { uint32_t eip, cs, eflags; };
/* This CPU's local APIC: its ID, software enabling, an IPI to an APIC ID,
 * whether `vector` is in service and the end of the interrupt in service
 * (which interrupt handlers call: they save the registers they use). */
uint32_t lapic_id(void);
void enable_lapic(void);
void send_ipi(uint32_t apic_id, uint32_t command);
__attribute__((no_caller_saved_registers)) int lapic_in_service(uint8_t vector);
__attribute__((no_caller_saved_registers)) void lapic_eoi(void);
/* The multiboot kernel's ACPI and SMP checks (mpboot.c), its MSI check
 * (pcichecks.c), its virtqueue garbage check (queuechecks.c) and its
 * stress run (stress.c). */
void check_smp(uint32_t cpus);
void check_msi(void);
void check_queue_garbage(void);
void stress(uint32_t n);
/* Checks the RTC's update cycle (polled, then its interrupt), prints the
 * summary and writes the status to port 0xf4 (exit= on success, else 1). */
void finish(const char* cmdline, const char* kernel);

#endif
