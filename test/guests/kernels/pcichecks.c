/*
 * The multiboot test kernel's MSI check: a virtio function interrupts this
 * CPU through its local APIC by plain MSI (PCI Local Bus Specification 3.0,
 * 6.8.1). It finds the virtio console (every kernel VM has one) with the
 * driver of virtioconsole.c, points the MSI capability's message at its
 * own local APIC with a vector whose handler it installs, and brings the
 * device up. Each buffer the device completes must run the handler once,
 * with that vector in service; with the vector masked, the message must
 * wait in its pending bit until unmasked.
 */
#include "kernels/virtioconsole.h"

/* MSI (6.8.1.3-6.8.1.8): message control bits, and the registers of the
 * 64-bit layout with per-vector masking. */
#define MSI_CONTROL 2
#define MSI_ADDRESS 4
#define MSI_UPPER_ADDRESS 8
#define MSI_DATA 12
#define MSI_MASK 16
#define MSI_PENDING 20
#define MSI_ENABLE (1u << 0)
#define MSI_MULTIPLE_CAPABLE (7u << 1)
#define MSI_64BIT (1u << 7)
#define MSI_PER_VECTOR_MASKING (1u << 8)
/* An interrupt message to the local APIC whose ID is in bits 19:12, and
 * its data: the vector, fixed delivery, edge (SDM Vol. 3A 11.11.1-11.11.2). */
#define MESSAGE_BASE 0xfee00000u
#define MESSAGE_DESTINATION_SHIFT 12
#define MSI_VECTOR 0x24
/* The ISR's queue interrupt bit (virtio 1.2, 4.1.4.5). */
#define ISR_QUEUE 1
/* How many times the CPU opens an interrupt window while it waits for a
 * message: a pending interrupt is taken in the first. */
#define WINDOWS 100000
/* How long the device may take to give a buffer back, in TSC ticks: while
 * the hypervisor's console drains, the device keeps the chain (its
 * console.ts), and on a loaded host that takes seconds of an emulator. */
#define USED_WAIT_TICKS (1ull << 34)

static volatile uint32_t msi_interrupts, msi_in_service;

__attribute__((interrupt)) static void msi_handler(struct interrupt_frame* frame) {
  msi_interrupts++;
  if (lapic_in_service(MSI_VECTOR)) msi_in_service++;
  lapic_eoi();
}

/* Waits, interrupts off, until the device has used `count` buffers, or
 * for USED_WAIT_TICKS; how many it has used. An MSI sent meanwhile waits
 * in the local APIC, or in the pending bit while masked. */
static uint16_t await_used(uint16_t count) {
  uint64_t start = rdtsc();
  while (used.idx != count && rdtsc() - start < USED_WAIT_TICKS) __asm__ volatile("pause");
  return used.idx;
}

/* Interrupts on for a while, then off; returns the MSIs taken so far. */
static uint32_t take_interrupts(void) {
  for (int i = 0; i < WINDOWS; i++) __asm__ volatile("sti; nop; cli");
  return msi_interrupts;
}

void check_msi(void) {
  struct virtio_console c;
  find_console(&c);
  check(c.slot >= 0, "pci: bus 0 has the virtio console, 1af4:1043, through ports 0xCF8/0xCFC");
  if (c.slot < 0) return;
  uint32_t control = c.msi ? config_read(c.slot, c.msi + MSI_CONTROL, 2) : 0;
  uint32_t has = MSI_64BIT | MSI_PER_VECTOR_MASKING, asks = MSI_MULTIPLE_CAPABLE | MSI_ENABLE | has;
  check(c.msi && (control & asks) == has && c.common && c.isr && c.notify,
        "pci: its capabilities: MSI (05h), off, one vector, 64-bit, maskable; the virtio structures");
  if (!c.msi || !c.common || !c.isr || !c.notify) return;

  set_interrupt_gate(MSI_VECTOR, (uintptr_t)msi_handler);
  load_idt();
  enable_lapic();
  config_write(c.slot, COMMAND, 2, config_read(c.slot, COMMAND, 2) | COMMAND_MEMORY | COMMAND_BUS_MASTER);
  config_write(c.slot, c.msi + MSI_ADDRESS, 4, MESSAGE_BASE | lapic_id() << MESSAGE_DESTINATION_SHIFT);
  config_write(c.slot, c.msi + MSI_UPPER_ADDRESS, 4, 0);
  config_write(c.slot, c.msi + MSI_DATA, 2, MSI_VECTOR);
  config_write(c.slot, c.msi + MSI_MASK, 4, 0);
  config_write(c.slot, c.msi + MSI_CONTROL, 2, MSI_ENABLE);
  int up = bring_up(&c, ENTRIES) == READY;

  transmit(&c, "pci: a line through the virtio console's transmit queue\n");
  await_used(1);
  uint32_t taken = take_interrupts();
  uint8_t isr = mmio_in8(c.isr);
  check(up && used.idx == 1 && taken == 1 && msi_in_service == 1 && isr == ISR_QUEUE,
        "pci: the used buffer's MSI reaches this CPU's local APIC on its vector, the ISR status saying queue");

  config_write(c.slot, c.msi + MSI_MASK, 4, 1);
  transmit(&c, "pci: a second line, its interrupt masked\n");
  await_used(2);
  uint32_t masked = take_interrupts(), pending = config_read(c.slot, c.msi + MSI_PENDING, 4);
  config_write(c.slot, c.msi + MSI_MASK, 4, 0);
  uint32_t unmasked = take_interrupts(), after = config_read(c.slot, c.msi + MSI_PENDING, 4);
  check(used.idx == 2 && masked == 1 && pending == 1 && unmasked == 2 && msi_in_service == 2 && after == 0,
        "pci: a masked MSI waits in its pending bit and arrives when unmasked");

  mmio_in8(c.isr);
  mmio_out8(c.common + DEVICE_STATUS, 0);
  config_write(c.slot, c.msi + MSI_CONTROL, 2, 0);
}
