/*
 * The multiboot test kernel's garbage check: a driver that breaks the
 * virtqueue's rules (virtio 1.2, 2.7) costs it its device and nothing
 * more. Each case brings the virtio console up (virtioconsole.c), hands its
 * transmit queue one kind of garbage and kicks: the device must take
 * nothing, set DEVICE_NEEDS_RESET (2.1.2) and leave guest RAM alone, and
 * the kernel goes on with its checks, as the hypervisor and the other VMs
 * do. A reset then brings the device back.
 */
#include "kernels/virtioconsole.h"

/* Far past any test VM's RAM (4 TiB), and a length no RAM holds. */
#define OUTSIDE_RAM 0x40000000000ull
#define ABSURD_LENGTH 0xffffffffu

static const char line[] = "virtio: this line must never reach the console\n";

/* The device may look at a chain after the kick returns (2.7.13): the
 * console leaves the transmit queue alone while its output is busy. So a
 * driver waits for the device's answer; PATIENCE TSC ticks without one is a
 * failure. */
#define PATIENCE (1ull << 32)

static int needs_reset(const struct virtio_console* c) {
  return (mmio_in8(c->common + DEVICE_STATUS) & DEVICE_NEEDS_RESET) != 0;
}

static int comes_to_need_reset(const struct virtio_console* c) {
  for (uint64_t start = rdtsc(); !needs_reset(c) && rdtsc() - start < PATIENCE;) __asm__ volatile("pause");
  return needs_reset(c);
}

/* Brings the device up and offers chain 0, as the caller wrote it after
 * bring_up(); true if the device then needs a reset and used nothing. */
static int refused(const struct virtio_console* c, struct descriptor first, struct descriptor second) {
  bring_up(c, ENTRIES);
  descriptors[0] = first;
  descriptors[1] = second;
  offer(c, 0);
  return comes_to_need_reset(c) && used.idx == 0;
}

void check_queue_garbage(void) {
  struct virtio_console c;
  find_console(&c);
  if (c.slot < 0 || !c.common || !c.notify) return; /* check_msi() said so */
  config_write(c.slot, COMMAND, 2, config_read(c.slot, COMMAND, 2) | COMMAND_MEMORY | COMMAND_BUS_MASTER);
  uint32_t length = sizeof line - 1;
  uint64_t text = (uint32_t)(uintptr_t)line;

  check(bring_up(&c, 3) & DEVICE_NEEDS_RESET,
        "virtio: a queue size of 3, not a power of two, makes the device need a reset");
  struct descriptor to_second = { text, length, DESC_NEXT, 1 }, back_to_first = { text, length, DESC_NEXT, 0 };
  check(refused(&c, to_second, back_to_first),
        "virtio: a descriptor loop makes the device need a reset and use nothing");
  check(refused(&c, (struct descriptor){ OUTSIDE_RAM, length, 0, 0 }, (struct descriptor){ 0, 0, 0, 0 }),
        "virtio: a buffer outside the VM's RAM makes the device need a reset and use nothing");
  check(refused(&c, (struct descriptor){ text, ABSURD_LENGTH, 0, 0 }, (struct descriptor){ 0, 0, 0, 0 }),
        "virtio: a buffer of 4 GiB makes the device need a reset and use nothing");
  check(refused(&c, (struct descriptor){ text, length, DESC_NEXT, ENTRIES }, (struct descriptor){ 0, 0, 0, 0 }),
        "virtio: a next index past the table makes the device need a reset and use nothing");

  /* The available index runs more than a queue's worth ahead (2.7.13). */
  bring_up(&c, ENTRIES);
  descriptors[0] = (struct descriptor){ text, length, 0, 0 };
  available.idx = 3 * ENTRIES;
  offer(&c, 0);
  check(comes_to_need_reset(&c) && used.idx == 0, "virtio: an available index a queue ahead makes the device need a reset");

  int up = bring_up(&c, ENTRIES) == READY;
  transmit(&c, "virtio: the console works again after a reset\n");
  for (uint64_t start = rdtsc(); used.idx != 1 && rdtsc() - start < PATIENCE;) __asm__ volatile("pause");
  check(up && used.idx == 1 && !needs_reset(&c), "virtio: after a reset the device works again");
  mmio_in8(c.isr);
  mmio_out8(c.common + DEVICE_STATUS, 0);
}
