/*
 * Isolation guest (protected mode): looks for the hypervisor's image at the
 * guest-physical address where the image lives in host memory, then writes
 * beyond its own RAM. The VMM must show it only its own (zeroed) RAM and
 * stop it at the write; the hypervisor and the other VMs run on.
 */
#include "lib/guest.h"

#define HYPERVISOR_IMAGE 0x100000
#define MULTIBOOT1_MAGIC 0x1badb002
#define OUTSIDE_RAM 0x20000000

void guest_main(void) {
  int seen = 0;
  for (uint32_t a = HYPERVISOR_IMAGE; a < HYPERVISOR_IMAGE + 0x4000; a += 4)
    if (*(volatile uint32_t*)a == MULTIBOOT1_MAGIC) seen = 1;
  check(!seen, "isolation: the hypervisor's image is not visible");
  puts("isolation: writing outside guest RAM\n");
  *(volatile uint32_t*)OUTSIDE_RAM = 0xdead;
  check(0, "isolation: a write outside guest RAM went through");
  hypercall(HC_EXIT, 1, 0);
}
