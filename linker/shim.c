/*
 * shim.c: the imports of the AssemblyScript kernel, and the C entry points.
 *
 * The kernel (kernel/ and vmm/, compiled to wasm and then to C by wasm2c)
 * cannot execute a privileged instruction or touch memory outside its linear
 * memory. Each thing it needs from the hardware is one import here, a
 * one-line wrapper over cpu.h. This file #includes the generated C so that
 * the whole kernel is one translation unit and clang inlines every wrapper
 * into its caller (the build checks the disassembly for leftover calls).
 *
 * Entry points: kmain() from boot/entry.S, trap_entry() from boot/isr.S.
 */
#include "../boot/layout.h" /* LINEAR_BASE, used by the generated code */
#include "kernel.c"
#include "console.h"
#include "cpu.h"
#include "percpu.h"

typedef struct w2c_shim w2c_shim;

uint64_t linear_to_phys(uint32_t offset);
uint64_t linear_window_pdpt(void);
void linear_grant(uint64_t phys, uint64_t bytes);

static w2c_kernel kernel;
static int in_trap;

/* A pointer into the linear memory, for the few imports that fill a buffer. */
static inline void* linear(uint32_t offset) { return (void*)(uintptr_t)(LINEAR_BASE + offset); }

/* Port I/O. */
u32 w2c_shim_inb(w2c_shim* s, u32 port) { return inb(port); }
u32 w2c_shim_inw(w2c_shim* s, u32 port) { return inw(port); }
u32 w2c_shim_inl(w2c_shim* s, u32 port) { return inl(port); }
void w2c_shim_outb(w2c_shim* s, u32 port, u32 v) { outb(port, v); }
void w2c_shim_outw(w2c_shim* s, u32 port, u32 v) { outw(port, v); }
void w2c_shim_outl(w2c_shim* s, u32 port, u32 v) { outl(port, v); }

/* Model-specific registers, CPUID, control registers, time. */
u64 w2c_shim_rdmsr(w2c_shim* s, u32 msr) { return rdmsr(msr); }
void w2c_shim_wrmsr(w2c_shim* s, u32 msr, u64 v) { wrmsr(msr, v); }
void w2c_shim_cpuid(w2c_shim* s, u32 leaf, u32 sub, u32 out) { cpuid(leaf, sub, linear(out)); }
u64 w2c_shim_read_cr0(w2c_shim* s) { return read_cr0(); }
u64 w2c_shim_read_cr2(w2c_shim* s) { return read_cr2(); }
u64 w2c_shim_read_cr3(w2c_shim* s) { return read_cr3(); }
u64 w2c_shim_read_cr4(w2c_shim* s) { return read_cr4(); }
void w2c_shim_write_cr0(w2c_shim* s, u64 v) { write_cr0(v); }
void w2c_shim_write_cr3(w2c_shim* s, u64 v) { write_cr3(v); }
void w2c_shim_write_cr4(w2c_shim* s, u64 v) { write_cr4(v); }
u64 w2c_shim_rdtsc(w2c_shim* s) { return rdtsc(); }
void w2c_shim_invlpg(w2c_shim* s, u64 virt) { invlpg(virt); }
void w2c_shim_pause(w2c_shim* s) { cpu_pause(); }
u64 w2c_shim_read_dr(w2c_shim* s, u32 n) { return read_dr(n); }
void w2c_shim_write_dr(w2c_shim* s, u32 n, u64 v) { write_dr(n, v); }
void w2c_shim_xsetbv(w2c_shim* s, u32 xcr, u64 v) { xsetbv(xcr, v); }
u64 w2c_shim_xgetbv(w2c_shim* s, u32 xcr) { return xgetbv(xcr); }
void w2c_shim_xsave(w2c_shim* s, u32 area, u64 mask) { xsave(linear(area), mask); }
void w2c_shim_xrstor(w2c_shim* s, u32 area, u64 mask) { xrstor(linear(area), mask); }
/* STI's one-instruction shadow covers the NOP; pending interrupts arrive before CLI. */
void w2c_shim_interrupt_window(w2c_shim* s) { __asm__ volatile("sti; nop; cli" ::: "memory"); }

/* Raw physical memory: all RAM and MMIO are identity-mapped by the host page tables. */
u32 w2c_shim_phys_read8(w2c_shim* s, u64 a) { return *(volatile uint8_t*)(uintptr_t)a; }
u32 w2c_shim_phys_read16(w2c_shim* s, u64 a) { return *(volatile uint16_t*)(uintptr_t)a; }
u32 w2c_shim_phys_read32(w2c_shim* s, u64 a) { return *(volatile uint32_t*)(uintptr_t)a; }
u64 w2c_shim_phys_read64(w2c_shim* s, u64 a) { return *(volatile uint64_t*)(uintptr_t)a; }
void w2c_shim_phys_write8(w2c_shim* s, u64 a, u32 v) { *(volatile uint8_t*)(uintptr_t)a = v; }
void w2c_shim_phys_write16(w2c_shim* s, u64 a, u32 v) { *(volatile uint16_t*)(uintptr_t)a = v; }
void w2c_shim_phys_write32(w2c_shim* s, u64 a, u32 v) { *(volatile uint32_t*)(uintptr_t)a = v; }
void w2c_shim_phys_write64(w2c_shim* s, u64 a, u64 v) { *(volatile uint64_t*)(uintptr_t)a = v; }

/* The linear memory's place in physical and virtual memory. */
u64 w2c_shim_linear_to_phys(w2c_shim* s, u32 offset) { return linear_to_phys(offset); }
u64 w2c_shim_linear_base(w2c_shim* s) { return LINEAR_BASE; }
u64 w2c_shim_linear_window_pdpt(w2c_shim* s) { return linear_window_pdpt(); }
void w2c_shim_linear_grant(w2c_shim* s, u64 phys, u64 bytes) { linear_grant(phys, bytes); }

/* The image, and the interrupt stubs the kernel builds its IDT from. */
u64 w2c_shim_image_start(w2c_shim* s) { extern char __image_start[]; return (uintptr_t)__image_start; }
u64 w2c_shim_image_end(w2c_shim* s) { extern char __image_end[]; return (uintptr_t)__image_end; }
u64 w2c_shim_boot_stack_bottom(w2c_shim* s) { extern char boot_stack[]; return (uintptr_t)boot_stack; }
u64 w2c_shim_isr_stub(w2c_shim* s, u32 vector) { extern char isr_stubs[]; return (uintptr_t)isr_stubs + (vector & 255) * ISR_STUB_SIZE; }
void w2c_shim_lidt(w2c_shim* s, u32 offset, u32 limit) { idt_load(LINEAR_BASE + offset, limit); }

/* Other processors: prepare one to start, then wait for it (linker/percpu.c). */
u32 w2c_shim_ap_prepare(w2c_shim* s, u32 cpu, u64 stack_top) { return ap_prepare(cpu, stack_top); }
u32 w2c_shim_ap_wait(w2c_shim* s, u32 spins) { return ap_wait(spins); }

/* AMD-V: one trip into the guest (boot/svm.S), and the exit fast path it
 * calls after every #VMEXIT: nonzero means "finished, enter again". */
void svm_run(uint64_t guest_vmcb, uint64_t host_vmcb, void* regs);
__attribute__((flatten)) uint32_t svm_fast_exit(void) { return w2c_kernel_svmFastExit(&kernel); }
void w2c_shim_svm_run(w2c_shim* s, u64 guest_vmcb, u64 host_vmcb, u32 regs) { svm_run(guest_vmcb, host_vmcb, linear(regs)); }

/*
 * Intel VT-x: the VMX instructions, one static inline function each (like
 * cpu.h) so that clang inlines them into the compiled AssemblyScript; the
 * descriptor-table registers the VMCS host state needs; one trip into the
 * guest (boot/vmx.S). A VMX instruction reports in RFLAGS (Intel SDM Vol. 3C
 * 30.2 "Conventions"): CF=1 VMfailInvalid (no current VMCS), ZF=1
 * VMfailValid (the VM-instruction error field says why), both clear VMsucceed;
 * the wrappers return 0, 1 or 2 for these. Operands of VMXON, VMCLEAR and
 * VMPTRLD are a 64-bit physical address in memory; INVEPT and INVVPID take a
 * 128-bit descriptor in memory and the type in a register (SDM 30.3).
 */
#define VMX_STATUS(cf, zf) ((cf) ? 1u : (zf) ? 2u : 0u)
static inline uint32_t vmx_on(uint64_t pa) { uint8_t cf, zf; __asm__ volatile("vmxon %2" : "=@ccc"(cf), "=@ccz"(zf) : "m"(pa) : "memory"); return VMX_STATUS(cf, zf); }
static inline uint32_t vmx_clear(uint64_t pa) { uint8_t cf, zf; __asm__ volatile("vmclear %2" : "=@ccc"(cf), "=@ccz"(zf) : "m"(pa) : "memory"); return VMX_STATUS(cf, zf); }
static inline uint32_t vmx_ptrld(uint64_t pa) { uint8_t cf, zf; __asm__ volatile("vmptrld %2" : "=@ccc"(cf), "=@ccz"(zf) : "m"(pa) : "memory"); return VMX_STATUS(cf, zf); }
static inline uint64_t vmx_read(uint64_t field) { uint64_t v; __asm__ volatile("vmread %1, %0" : "=r"(v) : "r"(field) : "cc", "memory"); return v; }
static inline uint32_t vmx_write(uint64_t field, uint64_t v) { uint8_t cf, zf; __asm__ volatile("vmwrite %3, %2" : "=@ccc"(cf), "=@ccz"(zf) : "r"(field), "r"(v) : "memory"); return VMX_STATUS(cf, zf); }
static inline uint32_t vmx_invept(uint64_t type, uint64_t eptp) {
  struct { uint64_t eptp, zero; } d = {eptp, 0};
  uint8_t cf, zf; __asm__ volatile("invept %2, %3" : "=@ccc"(cf), "=@ccz"(zf) : "m"(d), "r"(type) : "memory"); return VMX_STATUS(cf, zf);
}
static inline uint32_t vmx_invvpid(uint64_t type, uint64_t vpid, uint64_t address) {
  struct { uint64_t vpid, address; } d = {vpid & 0xffff, address};
  uint8_t cf, zf; __asm__ volatile("invvpid %2, %3" : "=@ccc"(cf), "=@ccz"(zf) : "m"(d), "r"(type) : "memory"); return VMX_STATUS(cf, zf);
}
static inline uint64_t gdtr_base(void) { struct descriptor_pointer p; __asm__ volatile("sgdt %0" : "=m"(p)); return p.base; }
static inline uint64_t idtr_base(void) { struct descriptor_pointer p; __asm__ volatile("sidt %0" : "=m"(p)); return p.base; }
static inline uint16_t tr_selector(void) { uint16_t s; __asm__ volatile("str %0" : "=r"(s)); return s; }
/* The base of this CPU's TSS, from its 16-byte descriptor (SDM Vol. 3A 8.2.3 "TSS Descriptor in 64-bit mode"). */
static inline uint64_t tr_base(void) {
  const uint64_t* d = (const uint64_t*)(uintptr_t)(gdtr_base() + (tr_selector() & ~7));
  return (d[0] >> 16 & 0xffffff) | (d[0] >> 56 & 0xff) << 24 | d[1] << 32;
}
uint32_t vmx_run(void* regs, uint32_t launched);
/* Called by vmx_run after every VM exit, like svm_fast_exit. */
__attribute__((flatten)) uint32_t vmx_fast_exit(void) { return w2c_kernel_vmxFastExit(&kernel); }

u32 w2c_shim_vmxon(w2c_shim* s, u64 pa) { return vmx_on(pa); }
u32 w2c_shim_vmclear(w2c_shim* s, u64 pa) { return vmx_clear(pa); }
u32 w2c_shim_vmptrld(w2c_shim* s, u64 pa) { return vmx_ptrld(pa); }
u64 w2c_shim_vmread(w2c_shim* s, u32 field) { return vmx_read(field); }
u32 w2c_shim_vmwrite(w2c_shim* s, u32 field, u64 v) { return vmx_write(field, v); }
u32 w2c_shim_invept(w2c_shim* s, u32 type, u64 eptp) { return vmx_invept(type, eptp); }
u32 w2c_shim_invvpid(w2c_shim* s, u32 type, u32 vpid, u64 address) { return vmx_invvpid(type, vpid, address); }
u64 w2c_shim_gdtr_base(w2c_shim* s) { return gdtr_base(); }
u64 w2c_shim_idtr_base(w2c_shim* s) { return idtr_base(); }
u32 w2c_shim_tr_selector(w2c_shim* s) { return tr_selector(); }
u64 w2c_shim_tr_base(w2c_shim* s) { return tr_base(); }
u32 w2c_shim_vmx_run(w2c_shim* s, u32 regs, u32 launched) { return vmx_run(linear(regs), launched); }

/* Stopping. */
void w2c_shim_set_emulator_exit(w2c_shim* s, u32 on) { tv_emulator_exit = on; }
void w2c_shim_halt(w2c_shim* s, u32 status) { tv_halt(status); }
void w2c_shim_backtrace(w2c_shim* s, u64 rbp) { tv_backtrace(rbp); }

void kmain(uint32_t magic, uint32_t info) {
  tss_install(0);
  wasm2c_kernel_instantiate(&kernel, NULL);
  w2c_kernel_boot(&kernel, magic, info);
  tv_halt(0);
}

/* Every interrupt and exception: hand the saved frame to the kernel. (The
 * kernel installs the IDT itself, so the instance is always ready here.) */
void trap_entry(uint64_t* frame) {
  enum { FRAME_VECTOR = 15, FRAME_RIP = 17 };
  if (in_trap) {
    console_puts("\r\n*** exception in the exception handler: vector 0x");
    console_hex(frame[FRAME_VECTOR]);
    console_puts(" rip 0x");
    console_hex(frame[FRAME_RIP]);
    console_puts("\r\n");
    tv_halt(4);
  }
  in_trap = 1;
  w2c_kernel_onTrap(&kernel, (uintptr_t)frame);
  in_trap = 0;
}

/*
 * An application processor, in long mode on its own stack (boot/ap.S). It
 * runs the kernel's per-CPU start-up while the boot processor waits in
 * ap_wait(): the kernel is one wasm instance and never runs on two CPUs at
 * once. Then it halts with interrupts off.
 */
void ap_main(void) {
  uint32_t cpu = ap_enter();
  w2c_kernel_apMain(&kernel, cpu);
  ap_leave();
  for (;;) hlt();
}
