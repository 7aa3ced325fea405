/*
 * A minimal driver for the virtio console every kernel VM has, as a kernel
 * without a PCI library would write it: configuration mechanism #1 (PCI
 * Local Bus Specification 3.0, 3.2.2.3.2), the capability list (6.7) with
 * the virtio structures (virtio 1.2, 4.1.4), and one small split transmit
 * queue (2.7, 5.3). The MSI check (pcichecks.c) and the garbage check
 * (queuechecks.c) drive the device through it.
 */
#ifndef VIRTIOCONSOLE_H
#define VIRTIOCONSOLE_H

#include "kernels/kernel.h"

/* Type 0 header (6.1): registers and command bits (6.2.2). */
#define COMMAND 0x04
#define COMMAND_MEMORY (1u << 1)
#define COMMAND_BUS_MASTER (1u << 2)
/* Common configuration fields (4.1.4.3). */
#define DEVICE_STATUS 20
#define QUEUE_SELECT 22
#define QUEUE_SIZE 24
/* Device status bits (2.1). */
#define ACKNOWLEDGE 1
#define DRIVER 2
#define DRIVER_OK 4
#define FEATURES_OK 8
#define DEVICE_NEEDS_RESET 0x40
#define READY (ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK)
/* Descriptor flags (2.7.5). */
#define DESC_NEXT 1
/* Port 0's transmit queue (5.3.2), and the most entries we give it. */
#define TRANSMITQ 1
#define ENTRIES 4

/* The split virtqueue (2.7): descriptor table, available and used rings,
 * at the alignments 2.7 asks (16, 2, 4). */
struct descriptor { uint64_t address; uint32_t length; uint16_t flags, next; };
extern struct descriptor descriptors[ENTRIES];
extern volatile struct available_ring { uint16_t flags, idx, ring[ENTRIES], used_event; } available;
extern volatile struct used_ring {
  uint16_t flags, idx;
  struct { uint32_t id, length; } ring[ENTRIES];
  uint16_t avail_event;
} used;

/* The console function as the walk found it: its slot on bus 0, where its
 * MSI capability is (0: none) and its common, ISR and notification
 * structures (0: not found), and whether the notification is a port (the
 * first notification structure lies in an I/O BAR) or memory. */
struct virtio_console {
  int slot, msi;
  uintptr_t common, isr, notify;
  int notify_port;
};

uint32_t config_read(int slot, int reg, int size);
void config_write(int slot, int reg, int size, uint32_t v);
void mmio_out8(uintptr_t address, uint8_t v);
uint8_t mmio_in8(uintptr_t address);
/* Fills `c`: slot -1 if bus 0 has no virtio console. */
void find_console(struct virtio_console* c);
/* 3.1.1: reset, ACKNOWLEDGE, DRIVER, VERSION_1 alone, FEATURES_OK; then
 * the transmit queue with `size` entries (4.1.5.1.3) and DRIVER_OK. The
 * rings start empty. Returns the device status read back. */
uint8_t bring_up(const struct virtio_console* c, uint16_t size);
/* Offers `text` to the transmit queue in one descriptor and kicks it. */
void transmit(const struct virtio_console* c, const char* text);
/* Makes the available ring's next entry name descriptor `head`, and kicks. */
void offer(const struct virtio_console* c, uint16_t head);

#endif
