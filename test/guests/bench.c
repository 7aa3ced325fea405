/*
 * Benchmark guest (long mode): the cost of one exit round trip, measured
 * with RDTSC around loops of CPUID, hypercall (VMCALL/VMMCALL), an OUT to
 * the POST port 0x80 (a quiet port, which the exit fast path answers) and
 * an OUT to the test device's scratch register (a device model with state,
 * reached through the hypervisor lock and the device bus), and an EOI
 * written to the local APIC (an MMIO exit, decoded). Under QEMU
 * -icount and in Bochs the TSC counts instructions, so the figures are
 * exact instruction counts. Prints
 * "BENCH <name> <ticks per round trip>" lines for tools/bench.ts.
 */
#include "lib/guest.h"

#define ROUNDS 1000
#define POST_PORT 0x80
#define TEST_DEVICE_SCRATCH 0x600
#define LAPIC_EOI 0xfee000b0u

static void put_dec(uint64_t v) {
  char buf[21];
  int i = 20;
  buf[i] = 0;
  do { buf[--i] = '0' + v % 10; v /= 10; } while (v);
  puts(buf + i);
}

static void report(const char* name, uint64_t total, uint64_t empty) {
  puts("BENCH ");
  puts(name);
  puts(" ");
  put_dec((total - empty) / ROUNDS);
  puts("\n");
}

/* The same loop with nothing in it, subtracted from each measurement. */
static uint64_t empty_loop(void) {
  uint64_t t = rdtsc();
  for (int i = 0; i < ROUNDS; i++) __asm__ volatile("" ::: "memory");
  return rdtsc() - t;
}

/* Each loop in a function of its own, so that tools/exitprofile.ts can
 * tell from the guest's instruction addresses which loop an exit came from. */
__attribute__((noinline)) static uint64_t time_cpuid(void) {
  uint32_t r[4];
  uint64_t t = rdtsc();
  for (int i = 0; i < ROUNDS; i++) cpuid(0, r);
  return rdtsc() - t;
}

__attribute__((noinline)) static uint64_t time_hypercall(void) {
  uint64_t t = rdtsc();
  for (int i = 0; i < ROUNDS; i++) hypercall(HC_YIELD, 0, 0);
  return rdtsc() - t;
}

__attribute__((noinline)) static uint64_t time_out(void) {
  uint64_t t = rdtsc();
  for (int i = 0; i < ROUNDS; i++) outb(POST_PORT, 0);
  return rdtsc() - t;
}

__attribute__((noinline)) static uint64_t time_device_out(void) {
  uint64_t t = rdtsc();
  for (int i = 0; i < ROUNDS; i++) outb(TEST_DEVICE_SCRATCH, (uint8_t)i);
  return rdtsc() - t;
}

/* A write to the local APIC's EOI register: the APIC's page is left out of
 * the nested tables, so an MMIO exit that the VMM decodes. With nothing in
 * service the EOI does nothing more (SDM Vol. 3A 11.8.5). */
__attribute__((noinline)) static uint64_t time_eoi(void) {
  uint64_t t = rdtsc();
  for (int i = 0; i < ROUNDS; i++) mmio_out32(LAPIC_EOI, 0);
  return rdtsc() - t;
}

void guest_main(void) {
  uint32_t r[4];
  uint64_t empty = empty_loop();
  cpuid(0, r); /* warm up */
  report("cpuid", time_cpuid(), empty);
  report("hypercall", time_hypercall(), empty);
  report("out", time_out(), empty);
  report("device_out", time_device_out(), empty);
  report("eoi", time_eoi(), empty);
  hypercall(HC_EXIT, 0, 0);
}
