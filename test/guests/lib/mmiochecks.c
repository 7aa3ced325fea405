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
