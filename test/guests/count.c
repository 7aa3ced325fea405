/*
 * The SMP bench's CPU-bound guest (protected mode; tools/smpbench.ts): reads
 * the TSC, counts down COUNT_ROUNDS times from 2^28 without a single exit,
 * reads the TSC again and prints both ("count: tsc 0xSTART 0xEND"), then
 * exits with status 0. Typervisor passes the host's TSC on without an offset
 * and RDTSC does not exit, so the stamps of two such VMs are on one clock,
 * the machine's. Six rounds take about 8 s of one host core under QEMU TCG.
 */
#include "lib/guest.h"

/* Rounds of 2^28 iterations of a two-instruction loop, as spin.S's (the
 * bench reads the figure from here). */
#define COUNT_ROUNDS 6

void guest_main(void) {
  uint64_t start = rdtsc();
  uint32_t rounds = COUNT_ROUNDS, n;
  __asm__ volatile("2: mov $0x10000000, %1\n"
                   "1: dec %1\n"
                   "   jnz 1b\n"
                   "   dec %0\n"
                   "   jnz 2b\n"
                   : "+r"(rounds), "=&r"(n));
  uint64_t end = rdtsc();
  puts("count: tsc ");
  put_hex(start);
  puts(" ");
  put_hex(end);
  puts("\n");
  hypercall(HC_EXIT, 0, 0);
}
