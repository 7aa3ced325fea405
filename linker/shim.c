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
 * Entry points: kmain() from boot/entry.S, trap_entry() from boot/isr.S,
 * ap_main() from boot/ap.S. Every CPU then runs cpu_loop(), the only place
 * that enters guests (docs/smp.md).
 */
#include "../boot/layout.h" /* LINEAR_BASE, used by the generated code */
#include "kernel.c"
#include "console.h"
#include "cpu.h"
#include "percpu.h"
#include "ipstack.h"

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
void w2c_shim_memory_fence(w2c_shim* s) { __asm__ volatile("mfence" ::: "memory"); }
u32 w2c_shim_hw_random(w2c_shim* s, u32 seed, u32 out) {
  u64 v;
  uint8_t ok;
  if (seed) __asm__ volatile("rdseed %0; setc %1" : "=r"(v), "=qm"(ok) :: "cc");
  else __asm__ volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok) :: "cc");
  if (ok) *(u64*)linear(out) = v;
  return ok;
}
/* Forced inline: with a register number known only at run time each is a
 * switch, which the cost model keeps out of a caller as large as cpuNext(). */
__attribute__((always_inline)) u64 w2c_shim_read_dr(w2c_shim* s, u32 n) { return read_dr(n); }
__attribute__((always_inline)) void w2c_shim_write_dr(w2c_shim* s, u32 n, u64 v) { write_dr(n, v); }
void w2c_shim_xsetbv(w2c_shim* s, u32 xcr, u64 v) { xsetbv(xcr, v); }
u64 w2c_shim_xgetbv(w2c_shim* s, u32 xcr) { return xgetbv(xcr); }
void w2c_shim_xsave(w2c_shim* s, u32 area, u64 mask) { xsave(linear(area), mask); }
void w2c_shim_xrstor(w2c_shim* s, u32 area, u64 mask) { xrstor(linear(area), mask); }
u32 w2c_shim_rdpkru(w2c_shim* s) { return rdpkru(); }
void w2c_shim_wrpkru(w2c_shim* s, u32 v) { wrpkru(v); }
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
/* Bulk: a guest's RAM zeroed, a kernel copied into it, by runtime.c's
 * memset and memcpy: the CPU's string instructions, 8 bytes a step. */
void w2c_shim_phys_zero(w2c_shim* s, u64 a, u64 bytes) { memset((void*)(uintptr_t)a, 0, bytes); }
void w2c_shim_phys_copy(w2c_shim* s, u64 to, u64 from, u64 bytes) {
  memcpy((void*)(uintptr_t)to, (const void*)(uintptr_t)from, bytes);
}

/* The linear memory's place in physical and virtual memory. */
u64 w2c_shim_linear_to_phys(w2c_shim* s, u32 offset) { return linear_to_phys(offset); }
u64 w2c_shim_linear_base(w2c_shim* s) { return LINEAR_BASE; }
u64 w2c_shim_linear_window_pdpt(w2c_shim* s) { return linear_window_pdpt(); }
void w2c_shim_linear_grant(w2c_shim* s, u64 phys, u64 bytes) { linear_grant(phys, bytes); }

/* The image, and the interrupt stubs the kernel builds its IDT from. */
u64 w2c_shim_image_start(w2c_shim* s) { extern char __image_start[]; return (uintptr_t)__image_start; }
u64 w2c_shim_image_end(w2c_shim* s) { extern char __image_end[]; return (uintptr_t)__image_end; }
u64 w2c_shim_font_glyphs(w2c_shim* s) { extern const char tv_font[]; return (uintptr_t)tv_font; }
u64 w2c_shim_boot_tsc(w2c_shim* s) { extern u64 boot_tsc; return boot_tsc; }
u64 w2c_shim_boot_stack_bottom(w2c_shim* s) { extern char boot_stack[]; return (uintptr_t)boot_stack; }
u64 w2c_shim_isr_stub(w2c_shim* s, u32 vector) { extern char isr_stubs[]; return (uintptr_t)isr_stubs + (vector & 255) * ISR_STUB_SIZE; }
void w2c_shim_lidt(w2c_shim* s, u32 offset, u32 limit) { idt_load(LINEAR_BASE + offset, limit); }

/* Other processors: prepare one to start, then wait for it (linker/percpu.c);
 * how long a CPU has waited for the hypervisor lock. */
u32 w2c_shim_ap_prepare(w2c_shim* s, u32 cpu, u64 stack_top, u64 bytes) { return ap_prepare(cpu, stack_top, bytes); }
u32 w2c_shim_ap_wait(w2c_shim* s, u32 spins) { return ap_wait(spins); }
u64 w2c_shim_lock_waited(w2c_shim* s, u32 cpu) { return lock_waited(cpu); }
/* The hypervisor lock for the exit fast path, which holds it only for a few
 * loads and stores and never waits for it (percpu.h). */
__attribute__((always_inline)) u32 w2c_shim_hv_trylock(w2c_shim* s) { return hv_trylock(); }
__attribute__((always_inline)) void w2c_shim_hv_unlock(w2c_shim* s) { hv_unlock(); }
u32 w2c_shim_this_cpu(w2c_shim* s) { return this_cpu(); }
/* Spins until another CPU has left its guest (its entry block's in_guest flag). */
__attribute__((always_inline)) void w2c_shim_wait_for_guest_exit(w2c_shim* s, u32 flag) {
  while (__atomic_load_n((volatile uint32_t*)linear(flag), __ATOMIC_ACQUIRE)) {
    if (tv_stopping) halt_this_cpu();
    cpu_pause();
  }
}

/* The exit fast path the stubs call after every exit with the vCPU:
 * FAST_EXIT_DONE means "finished, enter again", FAST_EXIT_LANE "try the
 * lane" (boot/layout.h). It touches only the vCPU's own state, but for the
 * quick accesses it makes under the hypervisor lock (vmm/hw/svm/svmvcpu.ts
 * fastExit()). Its first part finishes what needs no call; a quick port
 * access or a replayed store continues in a function of its own, so that
 * the first part (CPUID's) saves no registers for the calls of the others. */
#define FAST_PATH(backend)                                                                 \
  __attribute__((noinline, flatten)) uint32_t backend##_fast_quick_io(uint32_t vcpu) {     \
    return w2c_kernel_##backend##FastQuickIo(&kernel, vcpu);                               \
  }                                                                                        \
  __attribute__((noinline, flatten)) uint32_t backend##_fast_store(uint32_t vcpu) {        \
    return w2c_kernel_##backend##FastStore(&kernel, vcpu);                                 \
  }                                                                                        \
  __attribute__((flatten)) uint32_t backend##_fast_exit(uint32_t vcpu) {                   \
    uint32_t next = w2c_kernel_##backend##FastExit(&kernel, vcpu);                         \
    return next == FAST_EXIT_QUICK_IO ? backend##_fast_quick_io(vcpu)                      \
           : next == FAST_EXIT_STORE  ? backend##_fast_store(vcpu)                         \
                                      : next;                                              \
  }

/* AMD-V: one trip into the guest (boot/svm.S), and its exit fast path. */
void svm_run(uint64_t guest_vmcb, uint64_t host_vmcb, void* regs, uint32_t vcpu);
FAST_PATH(svm)

/* The lane both stubs offer an exit the fast path left to it, with the
 * guest's FPU state saved: under the hypervisor lock, if it is free, the
 * scheduler's cpuLane() may finish it and let the guest run on (nonzero)
 * without the return to cpu_loop(). A busy lock sends the exit the long
 * way: another CPU may hold it while waiting for this one to leave its
 * guest (evict()). */
uint32_t lane_exit(uint32_t vcpu) {
  if (!hv_trylock()) return 0;
  uint32_t resume = w2c_kernel_cpuLane(&kernel, vcpu);
  hv_unlock();
  return resume;
}

/*
 * Intel VT-x: the VMX instructions, each import the instruction itself in
 * inline assembly (clang inlines them into the compiled AssemblyScript); the
 * descriptor-table registers the VMCS host state needs; one trip into the
 * guest (boot/vmx.S). A VMX instruction reports in RFLAGS (Intel SDM Vol. 3C
 * 30.2 "Conventions"): CF=1 VMfailInvalid (no current VMCS), ZF=1
 * VMfailValid (the VM-instruction error field says why), both clear VMsucceed;
 * the imports return 0, 1 or 2 for these. Operands of VMXON, VMCLEAR and
 * VMPTRLD are a 64-bit physical address in memory; INVEPT and INVVPID take a
 * 128-bit descriptor in memory and the type in a register (SDM 30.3).
 */
#define VMX_STATUS(cf, zf) ((cf) ? 1u : (zf) ? 2u : 0u)
u32 w2c_shim_vmxon(w2c_shim* s, u64 pa) { uint8_t cf, zf; __asm__ volatile("vmxon %2" : "=@ccc"(cf), "=@ccz"(zf) : "m"(pa) : "memory"); return VMX_STATUS(cf, zf); }
u32 w2c_shim_vmclear(w2c_shim* s, u64 pa) { uint8_t cf, zf; __asm__ volatile("vmclear %2" : "=@ccc"(cf), "=@ccz"(zf) : "m"(pa) : "memory"); return VMX_STATUS(cf, zf); }
u32 w2c_shim_vmptrld(w2c_shim* s, u64 pa) { uint8_t cf, zf; __asm__ volatile("vmptrld %2" : "=@ccc"(cf), "=@ccz"(zf) : "m"(pa) : "memory"); return VMX_STATUS(cf, zf); }
u64 w2c_shim_vmread(w2c_shim* s, u32 field) { uint64_t v; __asm__ volatile("vmread %1, %0" : "=r"(v) : "r"((uint64_t)field) : "cc", "memory"); return v; }
u32 w2c_shim_vmwrite(w2c_shim* s, u32 field, u64 v) { uint8_t cf, zf; __asm__ volatile("vmwrite %3, %2" : "=@ccc"(cf), "=@ccz"(zf) : "r"((uint64_t)field), "r"(v) : "memory"); return VMX_STATUS(cf, zf); }
u32 w2c_shim_invept(w2c_shim* s, u32 type, u64 eptp) {
  struct { uint64_t eptp, zero; } d = {eptp, 0};
  uint8_t cf, zf; __asm__ volatile("invept %2, %3" : "=@ccc"(cf), "=@ccz"(zf) : "m"(d), "r"((uint64_t)type) : "memory"); return VMX_STATUS(cf, zf);
}
u32 w2c_shim_invvpid(w2c_shim* s, u32 type, u32 vpid, u64 address) {
  struct { uint64_t vpid, address; } d = {vpid & 0xffff, address};
  uint8_t cf, zf; __asm__ volatile("invvpid %2, %3" : "=@ccc"(cf), "=@ccz"(zf) : "m"(d), "r"((uint64_t)type) : "memory"); return VMX_STATUS(cf, zf);
}
u64 w2c_shim_gdtr_base(w2c_shim* s) { struct descriptor_pointer p; __asm__ volatile("sgdt %0" : "=m"(p)); return p.base; }
u64 w2c_shim_idtr_base(w2c_shim* s) { struct descriptor_pointer p; __asm__ volatile("sidt %0" : "=m"(p)); return p.base; }
u32 w2c_shim_tr_selector(w2c_shim* s) { uint16_t sel; __asm__ volatile("str %0" : "=r"(sel)); return sel; }
/* The base of this CPU's TSS, from its 16-byte descriptor (SDM Vol. 3A 8.2.3 "TSS Descriptor in 64-bit mode"). */
u64 w2c_shim_tr_base(w2c_shim* s) {
  const uint64_t* d = (const uint64_t*)(uintptr_t)(w2c_shim_gdtr_base(s) + (w2c_shim_tr_selector(s) & ~7));
  return (d[0] >> 16 & 0xffffff) | (d[0] >> 56 & 0xff) << 24 | d[1] << 32;
}
uint32_t vmx_run(void* regs, uint32_t launched, uint32_t vcpu);
/* Its exit fast path, called by vmx_run after every VM exit. */
FAST_PATH(vmx)

/* Stopping. */
void w2c_shim_set_emulator_exit(w2c_shim* s, u32 on) { tv_emulator_exit = on; }
void w2c_shim_halt(w2c_shim* s, u32 status) { tv_halt(status); }
/* rbp 0: from the caller's frame (this is inlined into it). */
__attribute__((always_inline)) void w2c_shim_backtrace(w2c_shim* s, u64 rbp) {
  if (!rbp) __asm__("mov %%rbp, %0" : "=r"(rbp));
  tv_backtrace(rbp);
}
void w2c_shim_print_symbol(w2c_shim* s, u64 address) { tv_print_symbol(address, 0); }

/* The hypervisor's own TCP/IP stack (ipstack.c): frames are checked against the kernel's memory there. */
u32 w2c_shim_ip_start(w2c_shim* s, u64 mac, u32 address, u32 netmask, u32 gateway, u32 seed) {
  return ip_stack_start(mac, address, netmask, gateway, seed);
}
void w2c_shim_ip_input(w2c_shim* s, u32 frame, u32 length) { ip_stack_input(&kernel.w2c_memory, frame, length); }
void w2c_shim_ip_poll(w2c_shim* s, u32 now_ms) { ip_stack_poll(now_ms); }
u32 w2c_shim_ip_output(w2c_shim* s, u32 buffer, u32 capacity) { return ip_stack_output(&kernel.w2c_memory, buffer, capacity); }
u32 w2c_shim_ip_failed(w2c_shim* s) { return ip_stack_failed(); }
u32 w2c_shim_ip_http_listen(w2c_shim* s, u32 port) { return ip_http_listen(port); }
u32 w2c_shim_ip_http_take(w2c_shim* s, u32 buffer, u32 capacity) { return ip_http_take(&kernel.w2c_memory, buffer, capacity); }
void w2c_shim_ip_http_reply(w2c_shim* s, u32 slot, u32 status, u32 fields, u32 body, u32 length) {
  ip_http_reply(&kernel.w2c_memory, slot, status, fields, body, length);
}
u32 w2c_shim_ip_address(w2c_shim* s) { return ip_address(); }
u32 w2c_shim_ip_netmask(w2c_shim* s) { return ip_netmask(); }
u32 w2c_shim_ip_ping_send(w2c_shim* s, u32 address, u32 sequence) { return ip_ping_send(address, sequence); }
u32 w2c_shim_ip_ping_take(w2c_shim* s) { return ip_ping_take(); }
u32 w2c_shim_ip_http_stream(w2c_shim* s, u32 slot, u32 text, u32 length) {
  return ip_http_stream(&kernel.w2c_memory, slot, text, length);
}

/*
 * What the kernel tells a CPU to do next, in its linear memory
 * (vmm/core/entryblock.ts has the same layout): idle, enter a guest, or
 * stop. The CPU stamps the TSC around the guest's run.
 */
enum { ACTION_IDLE, ACTION_SVM, ACTION_VMX, ACTION_STOP };
struct entry_block {
  uint32_t action;
  uint32_t vcpu;       /* the vCPU object, for the fast path */
  uint32_t regs;       /* its register block */
  uint32_t launched;   /* VT-x: VMRESUME rather than VMLAUNCH */
  uint64_t guest_vmcb; /* AMD-V: physical addresses */
  uint64_t host_vmcb;
  uint64_t entered_tsc;
  uint64_t exited_tsc;
  uint32_t vmx_status; /* VT-x: vmx_run()'s result */
  uint32_t in_guest;   /* set by the kernel with an entry; cleared here after the run */
};

/*
 * Every CPU's life once the VMs exist. The kernel runs only under the lock
 * and never while a guest runs: cpuNext() handles what happened (the exit
 * of the guest that ran, or a wake-up) and says what to do next; the CPU
 * then releases the lock and does it. Idling is HLT with interrupts on:
 * the alarm or another CPU's kick (a fixed IPI) ends it. A guest's run ends
 * with the same interrupts pending, which cpuNext() lets in.
 */
static void cpu_loop(uint32_t cpu) {
  hv_lock(cpu);
  for (;;) {
    struct entry_block* e = linear(w2c_kernel_cpuNext(&kernel, cpu));
    hv_unlock();
    if (e->action == ACTION_STOP) return;
    if (e->action == ACTION_IDLE) {
      __asm__ volatile("sti; hlt; cli" ::: "memory");
    } else {
      e->entered_tsc = rdtsc();
      if (e->action == ACTION_SVM) svm_run(e->guest_vmcb, e->host_vmcb, linear(e->regs), e->vcpu);
      else e->vmx_status = vmx_run(linear(e->regs), e->launched, e->vcpu);
      e->exited_tsc = rdtsc();
      __atomic_store_n(&e->in_guest, 0, __ATOMIC_RELEASE);
    }
    if (tv_stopping) halt_this_cpu();
    hv_lock(cpu);
  }
}

void tv_console_flush(void) { w2c_kernel_flushConsole(&kernel); }
void tv_screen_echo(char c) { w2c_kernel_screenEcho(&kernel, (u8)c); }
void tv_fault_witness(uint32_t cpu) { w2c_kernel_reportFaultWitness(&kernel, cpu); }

void kmain(uint32_t magic, uint32_t info) {
  extern char boot_stack[], boot_stack_top[];
  tss_install(0);
  set_stack(0, (uintptr_t)boot_stack, (uintptr_t)boot_stack_top);
  wasm2c_kernel_instantiate(&kernel, NULL);
  if (w2c_kernel_boot(&kernel, magic, info)) {
    let_cpus_go();
    cpu_loop(0);
  }
  w2c_kernel_shutdown(&kernel);
  tv_halt(0);
}

/*
 * Every interrupt and exception. Interrupts (the alarm, a kick) need only
 * their EOI: what they mean, the kernel reads from the clock and its own
 * state, so they are taken even where the kernel may not run. An exception
 * is fatal: the other CPUs are stopped, then the kernel reports it. (The
 * kernel installs the IDT itself, so the instance is always ready here.)
 */
void trap_entry(uint64_t* frame) {
  enum { FRAME_VECTOR = 15, FRAME_RIP = 17 };
  uint64_t vector = frame[FRAME_VECTOR];
  if (vector >= FIRST_EXTERNAL_VECTOR) {
    if (vector != SPURIOUS_VECTOR) lapic_eoi();
    return;
  }
  if (tv_stopping) halt_this_cpu(); /* another CPU stopped the machine */
  stop_other_cpus();
  if (in_trap) {
    console_puts("\r\n*** exception in the exception handler: vector 0x");
    console_hex(vector);
    console_puts(" rip 0x");
    console_hex(frame[FRAME_RIP]);
    console_puts("\r\n");
    tv_halt(4);
  }
  in_trap = 1;
  w2c_kernel_onTrap(&kernel, (uintptr_t)frame, this_cpu());
  in_trap = 0;
}

/*
 * An application processor, in long mode on its own stack (boot/ap.S). It
 * reports itself up to the boot processor, which waits in ap_wait(), then
 * waits until the VMs exist and joins the others in cpu_loop().
 */
void ap_main(void) {
  uint32_t cpu = ap_enter();
  ap_leave();
  wait_for_go();
  cpu_loop(cpu);
  halt_this_cpu();
}
