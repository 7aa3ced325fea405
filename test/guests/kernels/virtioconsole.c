/*
 * The test kernels' virtio console driver (virtioconsole.h): just enough to
 * find the device, bring it up with one transmit queue and offer buffers.
 */
#include "kernels/virtioconsole.h"

#define CONFIG_ADDRESS 0xcf8
#define CONFIG_DATA 0xcfc
#define CONFIG_ENABLE 0x80000000u
#define SLOTS 32
/* Type 0 header (6.1). */
#define BAR0 0x10
#define CAPABILITIES_POINTER 0x34
#define BAR_IO 0x1u
#define BAR_IO_FLAGS 0x3u
#define BAR_64BIT 0x4u
#define BAR_FLAGS 0xfu
#define CAP_MSI 0x05
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
#define QUEUE_ENABLE 28
#define QUEUE_NOTIFY_OFF 30
#define QUEUE_DESC 32
#define QUEUE_DRIVER 40
#define QUEUE_DEVICE 48
/* VIRTIO_F_VERSION_1 is bit 32, bit 0 of the upper feature word (6). */
#define VERSION_1_HIGH 1

struct descriptor descriptors[ENTRIES] __attribute__((aligned(16)));
volatile struct available_ring available __attribute__((aligned(2)));
volatile struct used_ring used __attribute__((aligned(4)));

static uint32_t config_address(int slot, int reg) {
  return CONFIG_ENABLE | (uint32_t)slot << 11 | (uint32_t)(reg & 0xfc);
}

uint32_t config_read(int slot, int reg, int size) {
  outl(CONFIG_ADDRESS, config_address(slot, reg));
  if (size == 1) return inb(CONFIG_DATA + (reg & 3));
  if (size == 2) return inw(CONFIG_DATA + (reg & 2));
  return inl(CONFIG_DATA);
}

void config_write(int slot, int reg, int size, uint32_t v) {
  outl(CONFIG_ADDRESS, config_address(slot, reg));
  if (size == 2) outw(CONFIG_DATA + (reg & 2), (uint16_t)v);
  else outl(CONFIG_DATA, v);
}

/* Device registers of 8 and 16 bits, one MOV each, as guest.h's 32-bit ones. */
void mmio_out8(uintptr_t address, uint8_t v) {
  __asm__ volatile("movb %0, (%1)" ::"q"(v), "r"(address) : "memory");
}
static void mmio_out16(uintptr_t address, uint16_t v) {
  __asm__ volatile("movw %0, (%1)" ::"r"(v), "r"(address) : "memory");
}
uint8_t mmio_in8(uintptr_t address) {
  uint8_t v;
  __asm__ volatile("movb (%1), %0" : "=q"(v) : "r"(address) : "memory");
  return v;
}
static uint16_t mmio_in16(uintptr_t address) {
  uint16_t v;
  __asm__ volatile("movw (%1), %0" : "=r"(v) : "r"(address) : "memory");
  return v;
}

/* The BAR register of a virtio structure's capability. */
static int bar_of(int slot, int cap) {
  return BAR0 + 4 * (int)config_read(slot, cap + CAP_BAR, 1);
}

/* Where a virtio structure is: its BAR's port or address (the firmware
 * placed the 64-bit BAR below 4 GiB) plus its offset. */
static uintptr_t structure(int slot, int cap) {
  int bar = bar_of(slot, cap);
  uint32_t low = config_read(slot, bar, 4), offset = config_read(slot, cap + CAP_OFFSET, 4);
  if (low & BAR_IO) return (uintptr_t)((low & ~BAR_IO_FLAGS) + offset);
  if ((low & BAR_64BIT) && config_read(slot, bar + 4, 4) != 0) return 0;
  return (uintptr_t)((low & ~BAR_FLAGS) + offset);
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
  /* The queue's notification address: queue_notify_off times the
   * multiplier past the first structure (4.1.4.4), a port if it lies in
   * an I/O BAR, as Linux takes it. */
  mmio_out16(c->common + QUEUE_SELECT, TRANSMITQ);
  c->notify = structure(c->slot, notify_cap)
    + mmio_in16(c->common + QUEUE_NOTIFY_OFF) * config_read(c->slot, notify_cap + CAP_MULTIPLIER, 4);
  c->notify_port = (config_read(c->slot, bar_of(c->slot, notify_cap), 4) & BAR_IO) != 0;
}

void find_console(struct virtio_console* c) {
  *c = (struct virtio_console){ -1, 0, 0, 0, 0, 0 };
  for (int slot = 0; slot < SLOTS; slot++) {
    if (config_read(slot, 0, 4) == ((uint32_t)VIRTIO_CONSOLE << 16 | VIRTIO_VENDOR)) {
      c->slot = slot;
      walk_capabilities(c);
      return;
    }
  }
}

uint8_t bring_up(const struct virtio_console* c, uint16_t size) {
  uintptr_t common = c->common;
  mmio_out8(common + DEVICE_STATUS, 0);
  /* After the reset the device starts the rings from 0 again (2.7.13). */
  for (int i = 0; i < ENTRIES; i++) descriptors[i] = (struct descriptor){ 0, 0, 0, 0 };
  available.idx = available.flags = 0;
  used.idx = used.flags = 0;
  mmio_out8(common + DEVICE_STATUS, ACKNOWLEDGE);
  mmio_out8(common + DEVICE_STATUS, ACKNOWLEDGE | DRIVER);
  mmio_out32(common + DRIVER_FEATURE_SELECT, 1);
  mmio_out32(common + DRIVER_FEATURE, VERSION_1_HIGH);
  mmio_out32(common + DRIVER_FEATURE_SELECT, 0);
  mmio_out32(common + DRIVER_FEATURE, 0);
  mmio_out8(common + DEVICE_STATUS, ACKNOWLEDGE | DRIVER | FEATURES_OK);
  mmio_out16(common + QUEUE_SELECT, TRANSMITQ);
  mmio_out16(common + QUEUE_SIZE, size);
  mmio_out32(common + QUEUE_DESC, (uint32_t)(uintptr_t)descriptors);
  mmio_out32(common + QUEUE_DESC + 4, 0);
  mmio_out32(common + QUEUE_DRIVER, (uint32_t)(uintptr_t)&available);
  mmio_out32(common + QUEUE_DRIVER + 4, 0);
  mmio_out32(common + QUEUE_DEVICE, (uint32_t)(uintptr_t)&used);
  mmio_out32(common + QUEUE_DEVICE + 4, 0);
  mmio_out16(common + QUEUE_ENABLE, 1);
  mmio_out8(common + DEVICE_STATUS, READY);
  return mmio_in8(common + DEVICE_STATUS);
}

/* 2.7.13: the descriptor is in place before the ring entry, the ring entry
 * before the index the device reads. */
void offer(const struct virtio_console* c, uint16_t head) {
  uint16_t idx = available.idx;
  available.ring[idx % ENTRIES] = head;
  __asm__ volatile("" ::: "memory");
  available.idx = idx + 1;
  if (c->notify_port) outw((uint16_t)c->notify, TRANSMITQ);
  else mmio_out16(c->notify, TRANSMITQ);
}

void transmit(const struct virtio_console* c, const char* text) {
  uint16_t d = available.idx % ENTRIES;
  uint32_t length = 0;
  while (text[length]) length++;
  descriptors[d] = (struct descriptor){ (uint32_t)(uintptr_t)text, length, 0, 0 };
  offer(c, d);
}
