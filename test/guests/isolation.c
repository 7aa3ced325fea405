/*
 * Isolation guest (protected mode): looks for the hypervisor's image at the
 * guest-physical address where the image lives in host memory, then writes
 * beyond its own RAM and reads back. The VMM must show it only its own
 * (zeroed) RAM, and beyond it nothing, as a PC's empty bus: the write
 * vanishes and the read is all ones.
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
  *(volatile uint32_t*)OUTSIDE_RAM = 0xdead;
  check(*(volatile uint32_t*)OUTSIDE_RAM == 0xffffffff, "isolation: outside its RAM a write vanishes and a read is all ones");
  hypercall(HC_EXIT, failures(), 0);
}
