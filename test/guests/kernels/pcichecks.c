/*
 * The multiboot test kernel's MSI check: a virtio function interrupts this
 * CPU through its local APIC by plain MSI (PCI Local Bus Specification 3.0,
 * 6.8.1), set up as a kernel without a PCI library would. It finds the
 * virtio console (every kernel VM has one) on bus 0 through configuration
 * mechanism #1, ports 0xCF8/0xCFC (3.2.2.3.2), walks its capability list
 * to MSI and to the virtio structures (virtio 1.2, 4.1.4), points the
 * message at its own local APIC with a vector whose handler it installs,
 * and brings the device up with one small transmit queue (2.7, 5.3). Each
 * buffer the device completes must run the handler once, with that vector
 * in service; with the vector masked, the message must wait in its pending
 * bit until unmasked.
 */
#include "kernels/kernel.h"

#define CONFIG_ADDRESS 0xcf8
#define CONFIG_DATA 0xcfc
#define CONFIG_ENABLE 0x80000000u
#define SLOTS 32
/* Type 0 header (6.1): registers and command bits (6.2.2). */
#define COMMAND 0x04
#define BAR0 0x10
#define CAPABILITIES_POINTER 0x34
#define COMMAND_MEMORY (1u << 1)
#define COMMAND_BUS_MASTER (1u << 2)
#define BAR_64BIT 0x4u
#define BAR_FLAGS 0xfu
/* MSI (6.8.1.3-6.8.1.8): message control bits, and the registers of the
 * 64-bit layout with per-vector masking. */
#define CAP_MSI 0x05
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
/* virtio over PCI (4.1.2, 4.1.4): the console's IDs, the vendor-specific
 * capability's cfg_type, bar, offset and notify_off_multiplier. */
#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_CONSOLE 0x1043
#define CAP_VENDOR 0x09
#define CAP_TYPE 3
#define CAP_BAR 4
#define CAP_OFFSET 8
#define CAP_MULTIPLIER 16
#define COMMON_CFG 1
#define NOTIFY_CFG 2
#define ISR_CFG 3
/* Common configuration fields (4.1.4.3). */
#define DRIVER_FEATURE_SELECT 8
#define DRIVER_FEATURE 12
#define DEVICE_STATUS 20
#define QUEUE_SELECT 22
#define QUEUE_SIZE 24
#define QUEUE_ENABLE 28
#define QUEUE_NOTIFY_OFF 30
#define QUEUE_DESC 32
#define QUEUE_DRIVER 40
#define QUEUE_DEVICE 48
/* Device status bits (2.1); VIRTIO_F_VERSION_1 is bit 32, bit 0 of the
 * upper feature word (6); the ISR's queue interrupt bit (4.1.4.5). */
#define ACKNOWLEDGE 1
#define DRIVER 2
#define DRIVER_OK 4
#define FEATURES_OK 8
#define VERSION_1_HIGH 1
#define ISR_QUEUE 1
/* Port 0's transmit queue (5.3.2), and the few entries we give it. */
#define TRANSMITQ 1
#define ENTRIES 4
/* How many times the CPU opens an interrupt window while it waits for a
 * message: a pending interrupt is taken in the first. */
#define WINDOWS 100000

static uint32_t config_address(int slot, int reg) {
  return CONFIG_ENABLE | (uint32_t)slot << 11 | (uint32_t)(reg & 0xfc);
}

static uint32_t config_read(int slot, int reg, int size) {
  outl(CONFIG_ADDRESS, config_address(slot, reg));
  if (size == 1) return inb(CONFIG_DATA + (reg & 3));
  if (size == 2) return inw(CONFIG_DATA + (reg & 2));
  return inl(CONFIG_DATA);
}

static void config_write(int slot, int reg, int size, uint32_t v) {
  outl(CONFIG_ADDRESS, config_address(slot, reg));
  if (size == 2) outw(CONFIG_DATA + (reg & 2), (uint16_t)v);
  else outl(CONFIG_DATA, v);
}

/* Device registers of 8 and 16 bits, one MOV each, as guest.h's 32-bit ones. */
static void mmio_out8(uintptr_t address, uint8_t v) {
  __asm__ volatile("movb %0, (%1)" ::"q"(v), "r"(address) : "memory");
}
static void mmio_out16(uintptr_t address, uint16_t v) {
  __asm__ volatile("movw %0, (%1)" ::"r"(v), "r"(address) : "memory");
}
static uint8_t mmio_in8(uintptr_t address) {
  uint8_t v;
  __asm__ volatile("movb (%1), %0" : "=q"(v) : "r"(address) : "memory");
  return v;
}
static uint16_t mmio_in16(uintptr_t address) {
  uint16_t v;
  __asm__ volatile("movw (%1), %0" : "=r"(v) : "r"(address) : "memory");
  return v;
}

/* The split virtqueue (2.7): descriptor table, available and used rings,
 * at the alignments 2.7 asks (16, 2, 4). */
struct descriptor { uint64_t address; uint32_t length; uint16_t flags, next; };
static struct descriptor descriptors[ENTRIES] __attribute__((aligned(16)));
static volatile struct { uint16_t flags, idx, ring[ENTRIES], used_event; } available __attribute__((aligned(2)));
static volatile struct { uint16_t flags, idx; struct { uint32_t id, length; } ring[ENTRIES]; uint16_t avail_event; }
  used __attribute__((aligned(4)));

/* The console function as the walk found it. */
struct virtio_console {
  int slot, msi;
  uintptr_t common, isr, notify;
};

static volatile uint32_t msi_interrupts, msi_in_service;

__attribute__((interrupt)) static void msi_handler(struct interrupt_frame* frame) {
  msi_interrupts++;
  if (lapic_in_service(MSI_VECTOR)) msi_in_service++;
  lapic_eoi();
}

/* Interrupts on for a while, then off; returns the MSIs taken so far. */
static uint32_t take_interrupts(void) {
  for (int i = 0; i < WINDOWS; i++) __asm__ volatile("sti; nop; cli");
  return msi_interrupts;
}

static int find_console(void) {
  for (int slot = 0; slot < SLOTS; slot++) {
    if (config_read(slot, 0, 4) == ((uint32_t)VIRTIO_CONSOLE << 16 | VIRTIO_VENDOR)) return slot;
  }
  return -1;
}

/* Where a virtio structure is: its BAR's address (the firmware placed the
 * 64-bit BAR below 4 GiB) plus its offset. */
static uintptr_t structure(int slot, int cap) {
  int bar = BAR0 + 4 * (int)config_read(slot, cap + CAP_BAR, 1);
  uint32_t low = config_read(slot, bar, 4);
  if ((low & BAR_64BIT) && config_read(slot, bar + 4, 4) != 0) return 0;
  return (uintptr_t)((low & ~BAR_FLAGS) + config_read(slot, cap + CAP_OFFSET, 4));
}

/* Walks the capability list from the pointer at 34h to its null link. */
static void walk_capabilities(struct virtio_console* c) {
  int notify_cap = 0;
  for (int at = config_read(c->slot, CAPABILITIES_POINTER, 1) & ~3, n = 0; at != 0 && n < 48; n++) {
    uint32_t id = config_read(c->slot, at, 1);
    if (id == CAP_MSI) c->msi = at;
    if (id == CAP_VENDOR) {
      uint32_t type = config_read(c->slot, at + CAP_TYPE, 1);
      if (type == COMMON_CFG && !c->common) c->common = structure(c->slot, at);
      if (type == ISR_CFG && !c->isr) c->isr = structure(c->slot, at);
      if (type == NOTIFY_CFG && !notify_cap) notify_cap = at;
    }
    at = config_read(c->slot, at + 1, 1) & ~3;
  }
  if (!notify_cap || !c->common) return;
  /* The queue's notification address: queue_notify_off times the multiplier past the structure (4.1.4.4). */
  mmio_out16(c->common + QUEUE_SELECT, TRANSMITQ);
  c->notify = structure(c->slot, notify_cap)
    + mmio_in16(c->common + QUEUE_NOTIFY_OFF) * config_read(c->slot, notify_cap + CAP_MULTIPLIER, 4);
}

/* 3.1.1: reset, ACKNOWLEDGE, DRIVER, VERSION_1 alone, FEATURES_OK; then
 * the transmit queue (4.1.5.1.3) and DRIVER_OK. Returns whether
 * FEATURES_OK and DRIVER_OK stuck. */
static int bring_up(const struct virtio_console* c) {
  uintptr_t common = c->common;
  mmio_out8(common + DEVICE_STATUS, 0);
  mmio_out8(common + DEVICE_STATUS, ACKNOWLEDGE);
  mmio_out8(common + DEVICE_STATUS, ACKNOWLEDGE | DRIVER);
  mmio_out32(common + DRIVER_FEATURE_SELECT, 1);
  mmio_out32(common + DRIVER_FEATURE, VERSION_1_HIGH);
  mmio_out32(common + DRIVER_FEATURE_SELECT, 0);
  mmio_out32(common + DRIVER_FEATURE, 0);
  mmio_out8(common + DEVICE_STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK);
  mmio_out16(common + QUEUE_SELECT, TRANSMITQ);
  mmio_out16(common + QUEUE_SIZE, ENTRIES);
  mmio_out32(common + QUEUE_DESC, (uint32_t)(uintptr_t)descriptors);
  mmio_out32(common + QUEUE_DESC + 4, 0);
  mmio_out32(common + QUEUE_DRIVER, (uint32_t)(uintptr_t)&available);
  mmio_out32(common + QUEUE_DRIVER + 4, 0);
  mmio_out32(common + QUEUE_DEVICE, (uint32_t)(uintptr_t)&used);
  mmio_out32(common + QUEUE_DEVICE + 4, 0);
  mmio_out16(common + QUEUE_ENABLE, 1);
  mmio_out8(common + DEVICE_STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
  return mmio_in8(common + DEVICE_STATUS) == (ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
}

/* Offers `text` to the transmit queue and kicks it (2.7.13): the
 * descriptor, then the ring entry, then the index the device reads. */
static void transmit(const struct virtio_console* c, const char* text) {
  uint16_t idx = available.idx, d = idx % ENTRIES;
  uint32_t length = 0;
  while (text[length]) length++;
  descriptors[d] = (struct descriptor){ (uint32_t)(uintptr_t)text, length, 0, 0 };
  available.ring[d] = d;
  __asm__ volatile("" ::: "memory");
  available.idx = idx + 1;
  mmio_out16(c->notify, TRANSMITQ);
}

void check_msi(void) {
  struct virtio_console c = { find_console(), 0, 0, 0, 0 };
  check(c.slot >= 0, "pci: bus 0 has the virtio console, 1af4:1043, through ports 0xCF8/0xCFC");
  if (c.slot < 0) return;
  walk_capabilities(&c);
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
  int up = bring_up(&c);

  transmit(&c, "pci: a line through the virtio console's transmit queue\n");
  uint32_t taken = take_interrupts();
  uint8_t isr = mmio_in8(c.isr);
  check(up && used.idx == 1 && taken == 1 && msi_in_service == 1 && isr == ISR_QUEUE,
        "pci: the used buffer's MSI reaches this CPU's local APIC on its vector, the ISR status saying queue");

  config_write(c.slot, c.msi + MSI_MASK, 4, 1);
  transmit(&c, "pci: a second line, its interrupt masked\n");
  uint32_t masked = take_interrupts(), pending = config_read(c.slot, c.msi + MSI_PENDING, 4);
  config_write(c.slot, c.msi + MSI_MASK, 4, 0);
  uint32_t unmasked = take_interrupts(), after = config_read(c.slot, c.msi + MSI_PENDING, 4);
  check(used.idx == 2 && masked == 1 && pending == 1 && unmasked == 2 && msi_in_service == 2 && after == 0,
        "pci: a masked MSI waits in its pending bit and arrives when unmasked");

  mmio_in8(c.isr);
  mmio_out8(c.common + DEVICE_STATUS, 0);
  config_write(c.slot, c.msi + MSI_CONTROL, 2, 0);
}
