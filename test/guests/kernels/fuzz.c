/*
 * The fuzzing kernel, in the spirit of Hyper-Cube: loaded from a VM
 * configuration onto the PC platform, it issues a random stream of what a
 * guest may do to the hypervisor (port I/O, MMIO to the local APIC, I/O
 * APIC and HPET, MSR reads and writes, CPUID, control-register writes,
 * XSETBV, IPIs, descriptor-table loads, hypercalls, TSC and random-number
 * reads), from "seed=S" for "ops=N" operations, and prints the seed so a
 * run can be replayed. Faults it provokes come back to fuzz.S, which
 * counts them and resumes after the instruction. It leaves alone only what
 * ends a VM on purpose (the exit and reset ports, ACPI sleep, INIT and
 * STARTUP to itself) and the UART's transmit register, so that its noise
 * does not drown the console. Every YIELD_EVERY operations it yields, so
 * that the VM beside it gets the CPU sooner. It ends with a summary and
 * hypercall exit 0.
 */
#include "kernels/kernel.h"

#define YIELD_EVERY 4096
#define LAPIC 0xfee00000u
#define IOAPIC 0xfec00000u
#define HPET 0xfed00000u

extern volatile uint32_t fault_skip, events[256];
extern const char event_stubs[];

struct idt_gate { uint16_t offset_low, selector, flags, offset_high; };
static struct idt_gate idt[256];
static struct __attribute__((packed)) { uint16_t limit; uint32_t base; } idt_pointer, saved;

static uint64_t state;
/* xorshift64* (Vigna): a small generator that any seed but 0 starts. */
static uint32_t rnd(void) {
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return (uint32_t)((state * 0x2545f4914f6cdd1dull) >> 32);
}

/* Whether a write of `bytes` at `port` reaches a port that ends the VM on
 * purpose (debug exit, reset, ACPI sleep) or one that would flood the
 * console (COM1's transmitter). */
static int write_ends_or_floods(uint16_t port, uint32_t bytes) {
  static const uint16_t avoid[][2] = {{0xf4, 0xf7}, {0x92, 0x92}, {0xcf9, 0xcf9}, {0x64, 0x64}, {0x404, 0x405}, {0x3f8, 0x3f8}};
  for (unsigned i = 0; i < sizeof avoid / sizeof avoid[0]; i++) {
    if (port <= avoid[i][1] && port + bytes > avoid[i][0]) return 1;
  }
  return 0;
}

static void port_op(int write) {
  uint16_t port = (uint16_t)rnd();
  uint32_t size = rnd() % 3, value = rnd();
  if (rnd() & 1) port &= 0x7ff; /* half the time where the devices live */
  if (write && write_ends_or_floods(port, 1u << size)) return;
  if (!write) {
    if (size == 0) (void)inb(port);
    else if (size == 1) (void)inw(port);
    else (void)inl(port);
  } else if (size == 0) outb(port, (uint8_t)value);
  else if (size == 1) outw(port, (uint16_t)value);
  else outl(port, value);
}

/* A register of a device that exits (the local APIC, the I/O APIC's index
 * and data windows, the HPET), or an address with neither RAM nor a device
 * (above this VM's 16 MiB: below, the fuzzer would write over itself). */
static uint32_t mmio_address(void) {
  switch (rnd() % 4) {
  case 0: return LAPIC + (rnd() & 0xff0);
  case 1: return IOAPIC + (rnd() & 0x10);
  case 2: return HPET + (rnd() & 0x3fc);
  default: return 0x10000000u + (rnd() & 0xeffffffcu);
  }
}

/* A value for an interrupt-routing register: delivery mode fixed, lowest
 * priority or NMI (bits 10:8), never INIT, STARTUP or SMI, whose effect on
 * this very CPU would end the run rather than test anything. */
static uint32_t routed(uint32_t v) {
  uint32_t mode = (v >> 8) & 7;
  if (mode != 0 && mode != 1 && mode != 4) v &= ~0x700u;
  return v;
}

static void mmio_op(int write) {
  uint32_t address = mmio_address(), value = rnd();
  if (!write) {
    (void)mmio_in32(address);
    return;
  }
  uint32_t lapic_register = address - LAPIC;
  if (address >= LAPIC && (lapic_register == 0x300 || (lapic_register >= 0x320 && lapic_register <= 0x370))) value = routed(value);
  if (address == IOAPIC + 0x10) value = routed(value);
  mmio_out32(address, value);
}

/* MSRs around the ones the hypervisor knows, and anywhere. */
static uint32_t msr_index(void) {
  static const uint32_t bases[] = {0x0, 0x10, 0x1b, 0x3a, 0x8b, 0xfe, 0x174, 0x179, 0x1a0, 0x200, 0x277, 0x2ff,
                                   0x3b, 0x6e0, 0x800, 0x830, 0xc0000080, 0xc0000100, 0xc0010000, 0xc0010055};
  if ((rnd() & 7) == 0) return rnd();
  return bases[rnd() % (sizeof bases / sizeof bases[0])] + (rnd() & 7);
}

static void msr_op(int write) {
  uint32_t msr = msr_index();
  fault_skip = 2;
  if (!write) {
    (void)rdmsr(msr);
    return;
  }
  uint64_t value = ((uint64_t)rnd() << 32) | rnd();
  if (msr == 0xc0000080) value = (value & ~0x500ull) | (rdmsr(msr) & 0x500); /* EFER: keep LME and LMA */
  if (msr == 0x830) value = routed((uint32_t)value);                          /* the x2APIC ICR */
  if (msr == 0x1b) value = (value & ~0xfffff000ull) | 0xfee00000;             /* APIC base: keep the window */
  wrmsr(msr, value);
}

static void cpuid_op(void) {
  static const uint32_t bases[] = {0, 0x40000000, 0x80000000};
  uint32_t r[4];
  uint32_t leaf = (rnd() & 15) == 0 ? rnd() : bases[rnd() % 3] + (rnd() & 0x1f);
  cpuid_subleaf(leaf, rnd() & 7, r);
}

/* CR0.WP and AM, CR4's TSD, DE, PGE, PCE and OSXSAVE. Not a reserved CR4
 * bit: QEMU 7.2's TCG answers that write in an AMD-V guest with a VMEXIT as
 * if VMRUN had failed, instead of the guest's #GP, and so stops the VM. */
static void control_register_op(void) {
  unsigned long v;
  fault_skip = 3;
  if (rnd() & 1) {
    __asm__ volatile("mov %%cr0, %0" : "=r"(v));
    v ^= (rnd() & 1) ? (1ul << 16) : (1ul << 18);
    __asm__ volatile("mov %0, %%cr0" ::"r"(v));
  } else {
    static const unsigned long bits[] = {1ul << 2, 1ul << 3, 1ul << 7, 1ul << 8, 1ul << 18};
    __asm__ volatile("mov %%cr4, %0" : "=r"(v));
    v ^= bits[rnd() % (sizeof bits / sizeof bits[0])];
    __asm__ volatile("mov %0, %%cr4" ::"r"(v));
  }
}

static void xsetbv_op(void) {
  fault_skip = 3;
  xsetbv(0, 3 | (rnd() & 0xfc) | ((uint64_t)(rnd() & 1) << 40));
}

static void ipi_op(void) {
  mmio_out32(LAPIC + 0x310, (rnd() & 3) << 24);
  mmio_out32(LAPIC + 0x300, routed(rnd() & ~0xc0000u)); /* no shorthand: a destination */
}

static void table_op(void) {
  __asm__ volatile("sidt %0" : "=m"(saved));
  __asm__ volatile("lidt %0" ::"m"(saved));
  __asm__ volatile("sgdt %0" : "=m"(saved));
  __asm__ volatile("lgdt %0" ::"m"(saved));
}

/* Any function but exit (2); now and then a console write of a few bytes
 * from anywhere (mostly zeros, which would otherwise fill the console). */
static void hypercall_op(void) {
  uint32_t fn = rnd() % 5;
  if (fn == 2 || (fn == 1 && (rnd() & 15) != 0)) fn = 0x7777;
  if (fn == 1) hypercall(fn, rnd() & 0xfffff, rnd() & 7);
  else hypercall(fn, rnd(), rnd());
}

static void time_op(void) {
  uint32_t lo, hi, aux;
  fault_skip = 2;
  switch (rnd() % 4) {
  case 0: __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); break;
  case 1: fault_skip = 3; __asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux)); break;
  case 2: __asm__ volatile("rdpmc" : "=a"(lo), "=d"(hi) : "c"(rnd() & 3)); break;
  default: fault_skip = 3; __asm__ volatile("rdrand %0" : "=r"(lo)); break;
  }
}

static void operation(void) {
  switch (rnd() % 12) {
  case 0: port_op(0); break;
  case 1: port_op(1); break;
  case 2: mmio_op(0); break;
  case 3: mmio_op(1); break;
  case 4: msr_op(0); break;
  case 5: msr_op(1); break;
  case 6: cpuid_op(); break;
  case 7: control_register_op(); break;
  case 8: xsetbv_op(); break;
  case 9: ipi_op(); break;
  case 10: rnd() & 1 ? table_op() : hypercall_op(); break;
  default: time_op(); break;
  }
}

void fuzz_main(uint32_t magic, const uint32_t* mbi) {
  char value[32];
  const char* cmdline = (mbi[0] & (1u << 2)) ? (const char*)(uintptr_t)mbi[4] : "";
  option(cmdline, "seed", value, sizeof value);
  uint64_t seed = number(value);
  option(cmdline, "ops", value, sizeof value);
  uint64_t ops = number(value);
  state = seed ? seed : 1;
  for (int v = 0; v < 256; v++) {
    uint32_t handler = (uint32_t)(uintptr_t)(event_stubs + 16 * v);
    idt[v] = (struct idt_gate){(uint16_t)handler, 0x08, 0x8e00, (uint16_t)(handler >> 16)};
  }
  idt_pointer.limit = sizeof idt - 1;
  idt_pointer.base = (uint32_t)(uintptr_t)idt;
  __asm__ volatile("lidt %0" ::"m"(idt_pointer));
  puts("fuzz: seed ");
  put_dec((uint32_t)seed);
  puts(", ");
  put_dec((uint32_t)ops);
  puts(" operations\n");
  for (uint64_t done = 0; done < ops; done++) {
    operation();
    if (done % YIELD_EVERY == YIELD_EVERY - 1) hypercall(HC_YIELD, 0, 0);
  }
  /* The UART as a console again, whatever the fuzzing left in it: 8N1 with
   * the divisor latch closed (LCR), no loopback (MCR), no interrupts (IER). */
  outb(0x3fb, 0x03);
  outb(0x3fc, 0x03);
  outb(0x3f9, 0x00);
  uint32_t faults = 0, nmis = events[2];
  for (int v = 0; v < 32; v++) faults += events[v];
  puts("\nfuzz: done: ");
  put_dec((uint32_t)ops);
  puts(" operations, ");
  put_dec(faults - nmis);
  puts(" exceptions, ");
  put_dec(nmis);
  puts(" NMIs\n");
  hypercall(HC_EXIT, 0, 0);
}
