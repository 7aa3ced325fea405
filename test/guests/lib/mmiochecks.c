/*
 * Loads and stores on the test device's MMIO window
 * (vmm/devices/test/testmmio.ts), which the VMM emulates instruction by
 * instruction (vmm/emul/mmio.ts): each encoding worth testing is fixed by
 * inline assembly. Part of the checks every suite guest runs (checks.c).
 */
#include "guest.h"

#define MMIO_SCRATCH 0xfeb00000u
#define MMIO_ID_OFFSET 8
#define MMIO_ID_VALUE 0x4f494d54 /* "TMIO" */

/* The pointer register the inline assembly below names explicitly. */
#ifdef __x86_64__
#define PTR "%%rcx"
#else
#define PTR "%%ecx"
#endif

/* Read from memory, so that the compiler addresses the window through a
 * register: clang -m16 truncates absolute addresses in ModRM to 16 bits. */
static volatile uint8_t* volatile mmio_window = (volatile uint8_t*)(uintptr_t)MMIO_SCRATCH;

static uint32_t mmio_read32(volatile uint8_t* p) { return *(volatile uint32_t*)p; }
static void mmio_write32(volatile uint8_t* p, uint32_t v) { *(volatile uint32_t*)p = v; }

/* Each access exits to the VMM, which decodes the instruction (the inline
 * assembly fixes the encodings worth testing) and performs it on the device. */
void check_mmio(void) {
  volatile uint8_t* scratch = mmio_window;
  volatile uint8_t* id = scratch + MMIO_ID_OFFSET;
  mmio_write32(scratch, 0x12345678);
  check(mmio_read32(scratch) == 0x12345678, "mmio: 32-bit round trip");
  *(volatile uint16_t*)scratch = 0xbeef;
  scratch[3] = 0xab;
  check(mmio_read32(scratch) == 0xab34beef, "mmio: 8- and 16-bit writes merge into the register");

  /* AH to the device, the device into BH: the high-byte registers. */
  uint32_t ax = 0x5a00, bx = 0x1111;
  __asm__ volatile("movb %%ah, (" PTR ")\n\tmovb 1(" PTR "), %%bh" : "+b"(bx) : "a"(ax), "c"(scratch) : "memory");
  check(scratch[0] == 0x5a && bx == 0xbe11, "mmio: stores from AH and loads into BH");

  uint32_t zero, sign, sign16;
  scratch[1] = 0x80;
  __asm__ volatile("movzbl 1(" PTR "), %0" : "=r"(zero) : "c"(scratch) : "memory");
  __asm__ volatile("movsbl 1(" PTR "), %0" : "=r"(sign) : "c"(scratch) : "memory");
  __asm__ volatile("movswl 2(" PTR "), %0" : "=r"(sign16) : "c"(scratch) : "memory");
  check(zero == 0x80 && sign == 0xffffff80 && sign16 == 0xffffab34, "mmio: MOVZX and MOVSX loads extend");

  __asm__ volatile("movl $0xcafef00d, (" PTR ")" ::"c"(scratch) : "memory");
  __asm__ volatile("movw $0x1234, 2(" PTR ")" ::"c"(scratch) : "memory");
  __asm__ volatile("movb $0x77, (" PTR ")" ::"c"(scratch) : "memory");
  check(mmio_read32(scratch) == 0x1234f077, "mmio: stores of immediates");

  check(mmio_read32(id) == MMIO_ID_VALUE, "mmio: the ID register reads TMIO");
  mmio_write32(id, 0);
  check(mmio_read32(id) == MMIO_ID_VALUE, "mmio: the ID register ignores writes");

#ifdef __x86_64__
  /* REX.W with REX.R and REX.B: 64-bit values in r9 and r12. */
  uint64_t out;
  __asm__ volatile("mov %1, %%r9\n\tmov %%r9, (" PTR ")\n\tmov (" PTR "), %%r12\n\tmov %%r12, %0"
                   : "=r"(out) : "r"(0x0123456789abcdefull), "c"(scratch) : "r9", "r12", "memory");
  check(out == 0x0123456789abcdefull, "64-bit: 64-bit store and load through r9 and r12");
  /* A 32-bit load clears the upper half; a 64-bit immediate store sign-extends imm32. */
  uint64_t upper = ~0ull;
  __asm__ volatile("movq $-2, (" PTR ")\n\tmovl 4(" PTR "), %k0" : "+r"(upper) : "c"(scratch) : "memory");
  check(upper == 0xffffffff, "64-bit: MOV r/m64, imm32 sign-extends and a 32-bit load zero-extends");
  uint32_t moffs;
  __asm__ volatile("movabs 0xfeb00008, %%eax" : "=a"(moffs) :: "memory");
  check(moffs == MMIO_ID_VALUE, "64-bit: MOV eAX, moffs64");
#endif
}

/* The read-modify-write forms: the VMM reads the device register, computes,
 * writes the result back and sets the status flags as the CPU would. */
void check_mmio_read_modify_write(void) {
  volatile uint8_t* scratch = mmio_window;
  uint8_t carry, zero, sign;
  mmio_write32(scratch, 0x80);
  __asm__ volatile("orl $1, (" PTR ")\n\tandl $0xf1, (" PTR ")" ::"c"(scratch) : "memory", "cc");
  uint32_t masked = mmio_read32(scratch);
  __asm__ volatile("addl %3, (" PTR ")\n\tsetc %0\n\tsetz %1\n\tsets %2"
                   : "=&q"(carry), "=&q"(zero), "=&q"(sign) : "r"(0xffffff7fu), "c"(scratch) : "memory", "cc");
  uint32_t sum = mmio_read32(scratch);
  check(masked == 0x81 && sum == 0 && carry && zero && !sign, "mmio: OR, AND and ADD on a device register, with their flags");

  uint32_t value = 0x10;
  __asm__ volatile("subl $1, (" PTR ")\n\tsetc %0\n\tsets %1\n\taddl (" PTR "), %2"
                   : "=&q"(carry), "=&q"(sign), "+r"(value) : "c"(scratch) : "memory", "cc");
  check(mmio_read32(scratch) == 0xffffffff && carry && sign && value == 0xf,
        "mmio: SUB borrows, and ADD into a register reads the device");

  uint8_t equal, tested_zero;
  mmio_write32(scratch, 5);
  __asm__ volatile("cmpl $5, (" PTR ")\n\tsetz %0\n\ttestb $0x2, (" PTR ")\n\tsetz %1"
                   : "=&q"(equal), "=&q"(tested_zero) : "c"(scratch) : "memory", "cc");
  check(equal && tested_zero && mmio_read32(scratch) == 5, "mmio: CMP and TEST set the flags and write nothing");

  uint32_t swapped = 0xabcd;
  __asm__ volatile("xchgl %0, (" PTR ")" : "+r"(swapped) : "c"(scratch) : "memory");
  check(swapped == 5 && mmio_read32(scratch) == 0xabcd, "mmio: XCHG swaps a register with the device register");

  uint8_t was_set, was_clear;
  mmio_write32(scratch, 0x8);
  __asm__ volatile("btl %2, (" PTR ")\n\tsetc %0\n\tbtsl $4, (" PTR ")\n\tsetc %1\n\tbtrl $3, (" PTR ")"
                   : "=&q"(was_set), "=&q"(was_clear) : "r"(3u), "c"(scratch) : "memory", "cc");
  check(was_set && !was_clear && mmio_read32(scratch) == 0x10, "mmio: BT, BTS and BTR on a device register");
}

#define MMIO_BUFFER_OFFSET 0x800
#define STRING_WORDS 8
#ifdef __x86_64__
#define DI "%%rdi"
#define SI "%%rsi"
#else
#define DI "%%edi"
#define SI "%%esi"
#endif

static uint32_t string_source[STRING_WORDS], string_copy[STRING_WORDS];

/* String instructions with the device at one end: REP STOS fills its
 * buffer, REP MOVS copies RAM into it and back out. */
void check_mmio_strings(void) {
  volatile uint8_t* buffer = mmio_window + MMIO_BUFFER_OFFSET;
  unsigned long count = STRING_WORDS;
  volatile uint8_t* to = buffer;
  __asm__ volatile("rep stosl %%eax, %%es:(" DI ")" : "+D"(to), "+c"(count) : "a"(0x5a5a5a5a) : "memory");
  int filled = count == 0 && to == buffer + 4 * STRING_WORDS;
  for (int i = 0; i < STRING_WORDS; i++) filled &= mmio_read32(buffer + 4 * i) == 0x5a5a5a5a;
  check(filled, "mmio: REP STOS fills device memory");

  for (int i = 0; i < STRING_WORDS; i++) string_source[i] = 0x01010101u * (i + 1);
  const uint32_t* from = string_source;
  to = buffer;
  count = STRING_WORDS;
  __asm__ volatile("rep movsl %%ds:(" SI "), %%es:(" DI ")" : "+S"(from), "+D"(to), "+c"(count) :: "memory");
  const volatile uint8_t* back = buffer;
  uint32_t* into = string_copy;
  count = 4 * STRING_WORDS;
  __asm__ volatile("rep movsb %%ds:(" SI "), %%es:(" DI ")" : "+S"(back), "+D"(into), "+c"(count) :: "memory");
  int copied = 1;
  for (int i = 0; i < STRING_WORDS; i++) copied &= string_copy[i] == string_source[i];
  check(copied, "mmio: REP MOVS copies RAM to device memory and back");
}
