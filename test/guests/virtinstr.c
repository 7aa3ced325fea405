/*
 * A guest that tries to use virtualization itself (protected mode): INVLPGA
 * on AMD (which, not intercepted, would drop TLB entries of any ASID), VMCLEAR
 * on Intel. Both exit to the VMM, which must stop this VM.
 */
#include "lib/guest.h"

void guest_main(void) {
  uint32_t r[4];
  uint64_t region = 0;
  cpuid(0, r);
  puts("virtinstr: executing a virtualization instruction\n");
  if (r[1] == 0x756e6547) __asm__ volatile("vmclear %0" ::"m"(region));
  else __asm__ volatile("invlpga" ::"a"(0), "c"(0));
  check(0, "virtinstr: the instruction was allowed");
  hypercall(HC_EXIT, 1, 0);
}
