// The shim: every privileged operation the kernel can perform.
//
// The kernel is AssemblyScript compiled to wasm, so by construction it can
// only touch its own linear memory. Everything else (port I/O, MSRs, control
// registers, physical memory, the linear memory's own page mapping) is one of
// the imports below, implemented as a one-line C wrapper in linker/shim.c and
// inlined by clang. In unit tests, Node supplies the same imports as stubs.

// Port I/O (Intel SDM Vol. 1 18.2).
@external("shim", "inb") export declare function inb(port: u16): u8;
@external("shim", "inw") export declare function inw(port: u16): u16;
@external("shim", "inl") export declare function inl(port: u16): u32;
@external("shim", "outb") export declare function outb(port: u16, value: u8): void;
@external("shim", "outw") export declare function outw(port: u16, value: u16): void;
@external("shim", "outl") export declare function outl(port: u16, value: u32): void;

// MSRs, CPUID (writes EAX, EBX, ECX, EDX to `out` in linear memory), control registers.
@external("shim", "rdmsr") export declare function rdmsr(msr: u32): u64;
@external("shim", "wrmsr") export declare function wrmsr(msr: u32, value: u64): void;
@external("shim", "cpuid") export declare function cpuid(leaf: u32, subleaf: u32, out: usize): void;
@external("shim", "read_cr0") export declare function readCr0(): u64;
@external("shim", "read_cr2") export declare function readCr2(): u64;
@external("shim", "read_cr3") export declare function readCr3(): u64;
@external("shim", "read_cr4") export declare function readCr4(): u64;
@external("shim", "write_cr0") export declare function writeCr0(value: u64): void;
@external("shim", "write_cr3") export declare function writeCr3(value: u64): void;
@external("shim", "write_cr4") export declare function writeCr4(value: u64): void;
@external("shim", "rdtsc") export declare function rdtsc(): u64;
// The TSC as boot/entry.S read it among its first instructions.
@external("shim", "boot_tsc") export declare function firstInstructionTsc(): u64;
@external("shim", "invlpg") export declare function invlpg(virt: u64): void;
@external("shim", "pause") export declare function pause(): void;
// MFENCE: stores before it are visible to other CPUs before loads after it
// (SDM Vol. 3A 9.2.2: the one reordering x86 allows is a load passing an
// earlier store to another address).
@external("shim", "memory_fence") export declare function memoryFence(): void;
// RDSEED (seed != 0) or RDRAND: 1 and 8 random bytes at `out`, or 0 when
// the CPU had none ready (CF clear, SDM Vol. 2B "RDRAND", "RDSEED").
@external("shim", "hw_random") export declare function hwRandom(seed: u32, out: usize): u32;
// XCR0 and the XSAVE state (the area is in linear memory, 64-byte aligned).
@external("shim", "read_dr") export declare function readDr(n: u32): u64; // DR0-DR3, DR6, DR7
@external("shim", "write_dr") export declare function writeDr(n: u32, value: u64): void;
@external("shim", "xsetbv") export declare function xsetbv(xcr: u32, value: u64): void;
@external("shim", "xgetbv") export declare function xgetbv(xcr: u32): u64;
@external("shim", "xsave") export declare function xsave(area: usize, mask: u64): void;
@external("shim", "xrstor") export declare function xrstor(area: usize, mask: u64): void;
// PKRU (with CR4.PKE set).
@external("shim", "rdpkru") export declare function rdpkru(): u32;
@external("shim", "wrpkru") export declare function wrpkru(value: u32): void;
// STI; NOP; CLI: lets pending interrupts be taken at this one point.
@external("shim", "interrupt_window") export declare function interruptWindow(): void;

// Raw physical memory (identity-mapped by the host page tables).
@external("shim", "phys_read8") export declare function physRead8(addr: u64): u8;
@external("shim", "phys_read16") export declare function physRead16(addr: u64): u16;
@external("shim", "phys_read32") export declare function physRead32(addr: u64): u32;
@external("shim", "phys_read64") export declare function physRead64(addr: u64): u64;
@external("shim", "phys_write8") export declare function physWrite8(addr: u64, value: u8): void;
@external("shim", "phys_write16") export declare function physWrite16(addr: u64, value: u16): void;
@external("shim", "phys_write32") export declare function physWrite32(addr: u64, value: u32): void;
@external("shim", "phys_write64") export declare function physWrite64(addr: u64, value: u64): void;
// `bytes` at `addr` set to 0, and `bytes` copied from `from` to `to`, by the CPU's string instructions.
@external("shim", "phys_zero") export declare function physZero(addr: u64, bytes: u64): void;
@external("shim", "phys_copy") export declare function physCopy(to: u64, from: u64, bytes: u64): void;

// Where the linear memory lives: its physical frames, its virtual window,
// and the physical pool it grows into.
@external("shim", "linear_to_phys") export declare function linearToPhys(offset: usize): u64;
@external("shim", "linear_base") export declare function linearBase(): u64;
@external("shim", "linear_window_pdpt") export declare function linearWindowPdpt(): u64;
@external("shim", "linear_grant") export declare function linearGrant(phys: u64, bytes: u64): void;

// The image, the interrupt entry stubs, the IDT register.
@external("shim", "image_start") export declare function imageStart(): u64;
@external("shim", "image_end") export declare function imageEnd(): u64;
// The screen's 128 ASCII glyphs, 16 bytes each (build/font.S, from tools/build/font.ts).
@external("shim", "font_glyphs") export declare function fontGlyphs(): u64;
// The lowest address of the boot CPU's stack: the page below it is a guard.
@external("shim", "boot_stack_bottom") export declare function bootStackBottom(): u64;
@external("shim", "isr_stub") export declare function isrStub(vector: u32): u64;
@external("shim", "lidt") export declare function lidt(offset: usize, limit: u32): void;

// Stopping the machine.
@external("shim", "set_emulator_exit") export declare function setEmulatorExit(on: bool): void;
@external("shim", "halt") export declare function halt(status: u32): void;
@external("shim", "backtrace") export declare function backtrace(rbp: u64): void;
// backtrace(0) walks from its caller's frame. printSymbol prints " name+0xoffset" for a code
// address, from the image's symbol table (" ?" outside any function).
@external("shim", "print_symbol") export declare function printSymbol(address: u64): void;

// Application processors: copy the start-up trampoline for CPU `cpu` with
// this stack (`bytes` long, ending at `stackTop`) and return the STARTUP
// IPI's page number (0 if refused); then wait until that CPU is up (returns
// 2) or the spins run out.
@external("shim", "ap_prepare") export declare function apPrepare(cpu: u32, stackTop: u64, bytes: u64): u8;
@external("shim", "ap_wait") export declare function apWait(spins: u32): u32;
// The number of the CPU that runs this code (linker/percpu.c).
@external("shim", "this_cpu") export declare function thisCpu(): u32;
// Spins until the word at `flag` (linear memory) is 0: another CPU clears
// it as it leaves its guest (vmm/core/entryblock.ts).
@external("shim", "wait_for_guest_exit") export declare function waitForGuestExit(flag: usize): void;
// TSC ticks CPU `cpu` has spent waiting for the hypervisor lock (linker/percpu.c).
@external("shim", "lock_waited") export declare function lockWaited(cpu: u32): u64;
// The hypervisor lock if nobody holds or waits for it (true), and its
// release: for the exit fast path, which must never wait in a guest's exit.
@external("shim", "hv_trylock") export declare function hvTryLock(): bool;
@external("shim", "hv_unlock") export declare function hvUnlock(): void;

// Intel VT-x. The VMX instructions return 0 (VMsucceed), 1 (VMfailInvalid:
// no current VMCS) or 2 (VMfailValid: the VMCS's VM-instruction error field
// says why); addresses are physical. vmread/vmwrite act on the current VMCS.
@external("shim", "vmxon") export declare function vmxon(region: u64): u32;
@external("shim", "vmclear") export declare function vmclear(vmcs: u64): u32;
@external("shim", "vmptrld") export declare function vmptrld(vmcs: u64): u32;
@external("shim", "vmread") export declare function vmread(field: u32): u64;
@external("shim", "vmwrite") export declare function vmwrite(field: u32, value: u64): u32;
@external("shim", "invept") export declare function invept(type: u32, eptp: u64): u32;
@external("shim", "invvpid") export declare function invvpid(type: u32, vpid: u16, address: u64): u32;
// This CPU's GDTR, IDTR and TR, for the VMCS host-state area.
@external("shim", "gdtr_base") export declare function gdtrBase(): u64;
@external("shim", "idtr_base") export declare function idtrBase(): u64;
@external("shim", "tr_selector") export declare function trSelector(): u16;
@external("shim", "tr_base") export declare function trBase(): u64;

// The hypervisor's own TCP/IP stack, lwIP in a second wasm instance with a
// memory of its own (linker/ipstack.c, docs/lwip.md). Frames are named by
// offset and length in this memory; the glue checks both before it copies.
// ip_start brings up its interface (false: it did not start); ip_output
// takes the oldest frame it sent (its length, 0: none); ip_failed says
// whether a trap inside lwIP has stopped it.
@external("shim", "ip_start")
export declare function ipStart(mac: u64, address: u32, netmask: u32, gateway: u32, seed: u32): bool;
@external("shim", "ip_input") export declare function ipInput(frame: usize, length: i32): void;
@external("shim", "ip_poll") export declare function ipPoll(nowMs: u32): void;
@external("shim", "ip_output") export declare function ipOutput(buffer: usize, capacity: i32): i32;
@external("shim", "ip_failed") export declare function ipFailed(): bool;
// The management address and netmask now (0: DHCP has bound none yet).
@external("shim", "ip_address") export declare function ipAddress(): u32;
@external("shim", "ip_netmask") export declare function ipNetmask(): u32;
// ICMP echoes from the management address (linker/lwip/ping.c): send one,
// take the sequence number of a reply (0xffffffff: none).
@external("shim", "ip_ping_send") export declare function ipPingSend(address: u32, sequence: u32): bool;
@external("shim", "ip_ping_take") export declare function ipPingTake(): u32;
// The management API over HTTP (linker/lwip/http.c): ip_http_take moves
// the next request's record here (its length, 0: none); ip_http_reply
// answers request `slot` with a status, `fields` bytes of header fields
// (each ending CRLF, then an empty line; 0: none) and the body; ip_http_stream
// adds to the event stream of `slot`, false once it streams no more.
@external("shim", "ip_http_listen") export declare function ipHttpListen(port: u32): bool;
@external("shim", "ip_http_take") export declare function ipHttpTake(buffer: usize, capacity: i32): i32;
@external("shim", "ip_http_reply")
export declare function ipHttpReply(slot: u32, status: u32, fields: i32, body: usize, length: i32): void;
@external("shim", "ip_http_stream")
export declare function ipHttpStream(slot: u32, text: usize, length: i32): bool;
