/* The test kernels' shared checks and reporting (kernel.h). */
#include "kernels/kernel.h"

#define COM1 0x3f8
#define LSR_THR_EMPTY 0x20
#define FW_CFG_SELECTOR 0x510
#define FW_CFG_DATA 0x511
#define DEBUG_EXIT 0xf4

/* guest.h's console over the UART instead of hypercalls; check() and
 * failures() are lib/guest.c's, on top of it. */
void puts(const char* s) {
  for (; *s; s++) {
    while (!(inb(COM1 + 5) & LSR_THR_EMPTY)) {}
    outb(COM1, (uint8_t)*s);
  }
}

void put_dec(uint32_t v) {
  char buf[11];
  int i = 10;
  buf[i] = 0;
  do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v && i > 0);
  puts(buf + i);
}

int str_eq(const char* a, const char* b) {
  while (*a && *a == *b) { a++; b++; }
  return *a == *b;
}

void option(const char* cmdline, const char* key, char* out, int size) {
  out[0] = 0;
  for (const char* p = cmdline; *p; p++) {
    if (p != cmdline && p[-1] != ' ') continue;
    const char* k = key;
    const char* q = p;
    while (*k && *q == *k) { k++; q++; }
    if (*k || *q != '=') continue;
    q++;
    int n = 0;
    while (*q && *q != ' ' && n < size - 1) out[n++] = *q++;
    out[n] = 0;
  }
}

uint64_t number(const char* s) {
  uint64_t v = 0;
  for (; *s >= '0' && *s <= '9'; s++) v = v * 10 + (uint64_t)(*s - '0');
  return v;
}

void check_memory_map(const struct region* map, int n, uint64_t ram) {
  uint64_t usable = 0, top = 0;
  int low = 0, high = 0, legacy = 0;
  for (int i = 0; i < n; i++) {
    const struct region* e = &map[i];
    if (e->type == 1) {
      usable += e->length;
      if (e->base + e->length > top) top = e->base + e->length;
      if (e->base == 0 && e->length == 0x9f000) low = 1;
      if (e->base == 0x100000 && e->length == ram - 0x100000) high = 1;
    } else if (e->base <= 0x9f000 && e->base + e->length >= 0x100000) {
      legacy = 1;
    }
  }
  check(low && high, "memory map: usable RAM [0, 0x9f000) and [1 MiB, configured RAM)");
  check(usable == ram - (0x100000 - 0x9f000) && top == ram, "memory map: no usable RAM beyond the configured size");
  check(legacy, "memory map: the legacy area [0x9f000, 1 MiB) is reserved");
  puts("memory: "); put_dec((uint32_t)(usable >> 10)); puts(" KiB usable of "); put_dec((uint32_t)(ram >> 20)); puts(" MiB\n");
}

int module_contents_ok(const char* data, uint64_t size) {
  return size >= 5 && data[0] == 'T' && data[1] == 'V' && data[2] == 'M' && data[3] == 'O' && data[4] == 'D';
}

/* fw_cfg item `key`: `n` bytes, little-endian, through the traditional interface. */
static uint64_t fw_cfg_read(uint16_t key, int n) {
  outw(FW_CFG_SELECTOR, key);
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v |= (uint64_t)inb(FW_CFG_DATA) << (8 * i);
  return v;
}

void check_uart(void) {
  outb(COM1 + 7, 0x5a);
  int ok = inb(COM1 + 7) == 0x5a;
  check(ok, "uart: COM1 scratch register round trip");
}

void check_fw_cfg(uint64_t ram, uint64_t cpus) {
  check(fw_cfg_read(0x0000, 4) == 0x554d4551, "fw_cfg: signature \"QEMU\"");
  check((fw_cfg_read(0x0001, 4) & 1) == 1, "fw_cfg: ID has the traditional interface");
  check(fw_cfg_read(0x0005, 2) == cpus, "fw_cfg: CPU count");
  check(fw_cfg_read(0x0003, 8) == ram, "fw_cfg: RAM size");
  check(fw_cfg_read(0x7fff, 4) == 0, "fw_cfg: an unknown item reads as zeros");
}

/* Resets the machine through one of a PC chipset's reset registers: "92",
 * System Control Port A, whose bit 0 rising is the fast reset; or "cf9",
 * the Reset Control Register, written as Linux's "cf9" reboot does it:
 * SYS_RST (bit 1), then RST_CPU (bit 2) rising with it. */
static void reset_through(const char* how) {
  if (str_eq(how, "92")) {
    uint8_t a = inb(0x92) & ~1;
    outb(0x92, a);
    outb(0x92, a | 1);
  } else if (str_eq(how, "cf9")) {
    uint8_t r = inb(0xcf9) & ~6;
    outb(0xcf9, r | 2);
    outb(0xcf9, r | 6);
  }
}

/* The local APIC in xAPIC mode, at the address the MADT gives (SDM Vol. 3A
 * 11.4.1): its ID, EOI, spurious-interrupt (SVR), in-service (ISR, eight
 * registers of 32 vectors, 16 bytes apart) and command (ICR) registers. */
#define LAPIC_ID 0xfee00020u
#define LAPIC_EOI 0xfee000b0u
#define LAPIC_ISR 0xfee00100u
#define LAPIC_SVR 0xfee000f0u
#define LAPIC_ICR_LOW 0xfee00300u
#define LAPIC_ICR_HIGH 0xfee00310u
#define SVR_ENABLE 0x100u
#define SPURIOUS_VECTOR 0xff
#define ICR_SEND_PENDING (1u << 12)

uint32_t lapic_id(void) { return mmio_in32(LAPIC_ID) >> 24; }

/* Software-enables the APIC (SDM Vol. 3A 11.4.7.2), as a kernel does at
 * boot, with the spurious vector at 0xff. */
void enable_lapic(void) { mmio_out32(LAPIC_SVR, mmio_in32(LAPIC_SVR) | SVR_ENABLE | SPURIOUS_VECTOR); }

/* SDM Vol. 3A 11.8.4: bit v of the ISR is set from the interrupt's
 * delivery to the EOI. */
__attribute__((no_caller_saved_registers)) int lapic_in_service(uint8_t vector) {
  return (mmio_in32(LAPIC_ISR + 0x10u * (vector / 32)) >> (vector % 32)) & 1;
}

__attribute__((no_caller_saved_registers)) void lapic_eoi(void) { mmio_out32(LAPIC_EOI, 0); }

/* Once the last IPI has left (delivery status idle), the destination goes
 * in the ICR's high half, then the command in the low half, whose write
 * sends it (SDM Vol. 3A 11.6.1). */
void send_ipi(uint32_t apic_id, uint32_t command) {
  while (mmio_in32(LAPIC_ICR_LOW) & ICR_SEND_PENDING) __asm__ volatile("pause");
  mmio_out32(LAPIC_ICR_HIGH, apic_id << 24);
  mmio_out32(LAPIC_ICR_LOW, command);
}

/* The RTC (MC146818A, index port 0x70 with NMIs left enabled, data 0x71)
 * and the way to IRQ 8 a kernel of today takes: I/O APIC input 8 (no MADT
 * override moves it), to the boot CPU's local APIC. */
#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
#define RTC_SECONDS 0x00
#define RTC_A 0x0a
#define RTC_B 0x0b
#define RTC_C 0x0c
#define A_UIP 0x80
#define A_RATE 0x0f
#define B_UIE 0x10
#define C_IRQF 0x80
#define C_UF 0x10
#define RTC_IRQ 8
#define RTC_VECTOR 0x28
#define INTERRUPT_GATE 0x8e /* present, DPL 0 */
/* 82093AA I/O APIC datasheet 3.2.4: a pin's redirection entry is two
 * registers, the vector and mode bits (bit 16 masks) and the destination. */
#define IOAPIC_SELECT 0xfec00000u
#define IOAPIC_WINDOW 0xfec00010u
#define IOAPIC_REDIRECTION(pin) (0x10 + 2 * (pin))
#define IOAPIC_MASKED 0x10000u

static uint8_t cmos_read(uint8_t index) {
  outb(CMOS_INDEX, index);
  return inb(CMOS_DATA);
}

static void cmos_write(uint8_t index, uint8_t v) {
  outb(CMOS_INDEX, index);
  outb(CMOS_DATA, v);
}

/* The seconds register, read while no update is near: with UIP clear the
 * next update is at least 244 us away ("Update Cycle"). */
static uint8_t rtc_seconds(void) {
  while (cmos_read(RTC_A) & A_UIP) {}
  return cmos_read(RTC_SECONDS);
}

static void ioapic_write(uint32_t reg, uint32_t v) {
  mmio_out32(IOAPIC_SELECT, reg);
  mmio_out32(IOAPIC_WINDOW, v);
}

/* The RTC's interrupt handler counts and returns; the waiting code reads
 * register C and signals the EOI itself. */
volatile uint32_t rtc_interrupts;
void rtc_interrupt(void);
__asm__(".text\n"
        "rtc_interrupt:\n"
#ifdef __x86_64__
        "  lock incl rtc_interrupts(%rip)\n"
        "  iretq\n"
#else
        "  lock incl rtc_interrupts\n"
        "  iret\n"
#endif
);

/* An interrupt gate (SDM Vol. 3A 6.11 and, in long mode, 6.14.1). */
struct gate {
  uint16_t offset_low, selector;
  uint8_t reserved, type;
  uint16_t offset_middle;
#ifdef __x86_64__
  uint32_t offset_high, zero;
#endif
};
struct __attribute__((packed)) descriptor_table { uint16_t limit; uintptr_t base; };
/* The kernel's IDT: the vectors up to the RTC's, which covers the exceptions. */
static struct gate idt[RTC_VECTOR + 1];

void set_interrupt_gate(uint8_t vector, uintptr_t handler) {
  uint16_t cs;
  __asm__ volatile("mov %%cs, %0" : "=r"(cs));
  struct gate* g = &idt[vector];
  g->offset_low = (uint16_t)handler;
  g->selector = cs;
  g->type = INTERRUPT_GATE;
  g->offset_middle = (uint16_t)(handler >> 16);
#ifdef __x86_64__
  g->offset_high = (uint32_t)(handler >> 32);
#endif
}

void load_idt(void) {
  struct descriptor_table idtr = { sizeof idt - 1, (uintptr_t)idt };
  __asm__ volatile("lidt %0" ::"m"(idtr));
}

/* A kernel that sleeps until the RTC's update-ended interrupt: UIE set,
 * IRQ 8 routed and unmasked, HLT with interrupts on. The interrupt must
 * wake it; register C then shows UF with IRQF and reads 0 after that. */
static void check_update_interrupt(void) {
  struct descriptor_table old_idtr;
  __asm__ volatile("sidt %0" : "=m"(old_idtr));
  set_interrupt_gate(RTC_VECTOR, (uintptr_t)rtc_interrupt);
  load_idt();
  uint32_t svr = mmio_in32(LAPIC_SVR);
  enable_lapic();
  ioapic_write(IOAPIC_REDIRECTION(RTC_IRQ) + 1, 0); /* destination: APIC ID 0 */
  ioapic_write(IOAPIC_REDIRECTION(RTC_IRQ), RTC_VECTOR); /* fixed, edge, active high, unmasked */

  uint8_t b = cmos_read(RTC_B);
  cmos_read(RTC_C);
  cmos_write(RTC_B, b | B_UIE);
  while (!rtc_interrupts) __asm__ volatile("sti; hlt; cli");
  uint8_t c = cmos_read(RTC_C), after = cmos_read(RTC_C);
  lapic_eoi();
  cmos_write(RTC_B, b);

  ioapic_write(IOAPIC_REDIRECTION(RTC_IRQ), IOAPIC_MASKED);
  mmio_out32(LAPIC_SVR, svr);
  __asm__ volatile("lidt %0" ::"m"(old_idtr));
  check(rtc_interrupts == 1 && (c & (C_IRQF | C_UF)) == (C_IRQF | C_UF) && after == 0,
        "rtc: the update-ended interrupt wakes a halted CPU; register C shows UF and IRQF, then 0");
}

/* A kernel that waits for an update by polling, interrupts off: UIP rises
 * before it and falls as the seconds change, and register C then holds UF
 * without IRQF. A CPU taken off its host CPU for longer than UIP stays up
 * misses it, so seeing UIP is reported, not checked; a run that sees no
 * change of second for 2^32 TSC ticks gives up. */
static void check_update_polling(void) {
  cmos_read(RTC_C);
  uint8_t first = rtc_seconds(), seconds = first;
  int saw_uip = 0;
  for (uint64_t start = rdtsc(); seconds == first && rdtsc() - start < (1ull << 32);) {
    if (cmos_read(RTC_A) & A_UIP) saw_uip = 1;
    else seconds = cmos_read(RTC_SECONDS);
  }
  uint8_t c = cmos_read(RTC_C);
  puts(saw_uip ? "rtc: UIP seen before the update\n" : "rtc: UIP rose and fell while this vCPU was not running\n");
  check(seconds != first && (c & (C_IRQF | C_UF)) == C_UF,
        "rtc: polling, the seconds change with UF set in register C, and no IRQF without UIE");
}

/* The RTC's update cycle as a kernel waiting for a second to end sees it,
 * with the periodic flag (rate 0) out of register C's way. */
static void check_rtc(void) {
  uint8_t a = cmos_read(RTC_A);
  cmos_write(RTC_A, a & ~A_RATE);
  check_update_polling();
  check_update_interrupt();
  cmos_write(RTC_A, a);
}

/* Runs the RTC checks both kernels end with, then leaves through the exit
 * port with status exit=N (1 if a check failed), or, with reset=92 or
 * reset=cf9, by resetting the machine. */
void finish(const char* cmdline, const char* kernel) {
  check_rtc();
  char value[32];
  option(cmdline, "exit", value, sizeof value);
  uint32_t status = failures() ? 1 : (uint32_t)number(value);
  puts(kernel);
  puts(failures() ? ": some checks failed\n" : ": all checks passed\n");
  option(cmdline, "reset", value, sizeof value);
  if (value[0]) reset_through(value);
  outl(DEBUG_EXIT, status);
}
