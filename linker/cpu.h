/*
 * cpu.h: the privileged x86 instructions, one static inline function each.
 * Everything that touches hardware directly in Typervisor goes through here;
 * clang inlines these into the compiled AssemblyScript, so no call remains.
 */
#ifndef TV_CPU_H
#define TV_CPU_H
#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline uint64_t rdmsr(uint32_t msr) {
  uint32_t lo, hi;
  __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v) {
  __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t out[4]) {
  __asm__ volatile("cpuid" : "=a"(out[0]), "=b"(out[1]), "=c"(out[2]), "=d"(out[3]) : "a"(leaf), "c"(sub));
}
static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}
static inline void invlpg(uint64_t virt) { __asm__ volatile("invlpg (%0)" ::"r"(virt) : "memory"); }
/* MOV from/to DR0-DR3, DR6, DR7: the register is part of the instruction. */
#define DR_READ(n) case n: __asm__ volatile("mov %%dr" #n ", %0" : "=r"(v)); break;
#define DR_WRITE(n) case n: __asm__ volatile("mov %0, %%dr" #n ::"r"(v)); break;
static inline uint64_t read_dr(uint32_t n) { uint64_t v = 0; switch (n) { DR_READ(0) DR_READ(1) DR_READ(2) DR_READ(3) DR_READ(6) DR_READ(7) } return v; }
static inline void write_dr(uint32_t n, uint64_t v) { switch (n) { DR_WRITE(0) DR_WRITE(1) DR_WRITE(2) DR_WRITE(3) DR_WRITE(6) DR_WRITE(7) } }
static inline void xsetbv(uint32_t xcr, uint64_t v) {
  __asm__ volatile("xsetbv" ::"c"(xcr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
static inline uint64_t xgetbv(uint32_t xcr) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(xcr));
  return ((uint64_t)hi << 32) | lo;
}
/* PKRU, the rights of each protection key; both need CR4.PKE (SDM Vol. 3A 4.6.2). */
static inline uint32_t rdpkru(void) {
  uint32_t v, d;
  __asm__ volatile("rdpkru" : "=a"(v), "=d"(d) : "c"(0));
  return v;
}
static inline void wrpkru(uint32_t v) { __asm__ volatile("wrpkru" ::"a"(v), "c"(0), "d"(0) : "memory"); }
/* XSAVE/XRSTOR of the state components in `mask` (the area is 64-byte aligned). */
static inline void xsave(void* area, uint64_t mask) {
  __asm__ volatile("xsave64 (%0)" ::"r"(area), "a"((uint32_t)mask), "d"((uint32_t)(mask >> 32)) : "memory");
}
static inline void xrstor(void* area, uint64_t mask) {
  __asm__ volatile("xrstor64 (%0)" ::"r"(area), "a"((uint32_t)mask), "d"((uint32_t)(mask >> 32)) : "memory");
}
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" ::: "memory"); }
static inline void cpu_pause(void) { __asm__ volatile("pause"); }

#define CR_ACCESSORS(n)                                                         \
  static inline uint64_t read_cr##n(void) { uint64_t v; __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v)); return v; } \
  static inline void write_cr##n(uint64_t v) { __asm__ volatile("mov %0, %%cr" #n ::"r"(v) : "memory"); }
CR_ACCESSORS(0)
CR_ACCESSORS(2)
CR_ACCESSORS(3)
CR_ACCESSORS(4)
CR_ACCESSORS(8)
#undef CR_ACCESSORS

struct descriptor_pointer {
  uint16_t limit;
  uint64_t base;
} __attribute__((packed));

static inline void lidt(uint64_t base, uint16_t limit) {
  struct descriptor_pointer p = {limit, base};
  __asm__ volatile("lidt %0" ::"m"(p));
}
static inline void ltr(uint16_t selector) { __asm__ volatile("ltr %0" ::"r"(selector)); }

#endif
