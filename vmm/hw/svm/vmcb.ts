// The VMCB (virtual machine control block): layout and field accessors.
// AMD APM Vol. 2 Appendix B "Layout of VMCB": a control area at offset 0
// (Table B-1) and the guest state save area at 0x400 (Table B-2).

import { allocPage, physOf } from "../../../kernel/mm/linearpages";

// Control area.
export const INTERCEPT_CR: usize = 0x000; // bits 0-15 reads, 16-31 writes of CR0-15
export const INTERCEPT_EXCEPTIONS: usize = 0x008;
export const INTERCEPT_MISC1: usize = 0x00c;
export const INTERCEPT_MISC2: usize = 0x010;
export const PAUSE_FILTER_COUNT: usize = 0x03e;
export const IOPM_BASE: usize = 0x040;
export const MSRPM_BASE: usize = 0x048;
export const TSC_OFFSET: usize = 0x050;
export const GUEST_ASID: usize = 0x058;
export const TLB_CONTROL: usize = 0x05c;
export const VINTR: usize = 0x060; // V_TPR, V_IRQ (bit 8), V_INTR_PRIO (bits 16-19), V_INTR_MASKING (bit 24)
export const VINTR_VECTOR: usize = 0x064; // V_INTR_VECTOR (bits 0-7)
export const INTERRUPT_SHADOW: usize = 0x068;
export const EXIT_CODE: usize = 0x070;
export const EXIT_INFO1: usize = 0x078;
export const EXIT_INFO2: usize = 0x080;
export const EXIT_INT_INFO: usize = 0x088;
export const NP_ENABLE: usize = 0x090;
export const EVENT_INJECTION: usize = 0x0a8;
export const NESTED_CR3: usize = 0x0b0;
export const CLEAN_BITS: usize = 0x0c0;
export const NEXT_RIP: usize = 0x0c8;
export const BYTES_FETCHED: usize = 0x0d0; // decode assists: count, then up to 15 bytes
export const GUEST_INSTRUCTION_BYTES: usize = 0x0d1;

// Guest state save area.
export const SEGMENTS: usize = 0x400; // ES CS SS DS FS GS GDTR LDTR IDTR TR, 16 bytes each
export const CPL: usize = 0x4cb;
export const EFER: usize = 0x4d0;
export const CR4: usize = 0x548;
export const CR3: usize = 0x550;
export const CR0: usize = 0x558;
export const DR7: usize = 0x560;
export const DR6: usize = 0x568;
export const RFLAGS: usize = 0x570;
export const RIP: usize = 0x578;
export const RSP: usize = 0x5d8;
export const RAX: usize = 0x5f8;
export const CR2: usize = 0x640;
export const G_PAT: usize = 0x668;

// INTERCEPT_MISC1 bits.
export const INTERCEPT_INTR: u32 = 1 << 0;
export const INTERCEPT_NMI: u32 = 1 << 1;
export const INTERCEPT_INIT: u32 = 1 << 3;
export const INTERCEPT_VINTR: u32 = 1 << 4;
export const INTERCEPT_RDPMC: u32 = 1 << 15;
export const INTERCEPT_CPUID: u32 = 1 << 18;
export const INTERCEPT_IRET: u32 = 1 << 20;
export const INTERCEPT_INTN: u32 = 1 << 21;
export const INTERCEPT_INVD: u32 = 1 << 22;
export const INTERCEPT_PAUSE: u32 = 1 << 23;
export const INTERCEPT_HLT: u32 = 1 << 24;
export const INTERCEPT_INVLPGA: u32 = 1 << 26;
export const INTERCEPT_IOIO: u32 = 1 << 27;
export const INTERCEPT_MSR: u32 = 1 << 28;
export const INTERCEPT_SHUTDOWN: u32 = 1 << 31;
// INTERCEPT_MISC2 bits: VMRUN must be intercepted (APM 15.5.1), and we
// intercept every other SVM instruction too: no nested virtualization.
export const INTERCEPT_SVM_INSTRUCTIONS: u32 = 0x7f; // VMRUN VMMCALL VMLOAD VMSAVE STGI CLGI SKINIT
export const INTERCEPT_MONITOR: u32 = 1 << 10;
export const INTERCEPT_MWAIT: u32 = 1 << 11;
export const INTERCEPT_XSETBV: u32 = 1 << 13;

// VMCB clean bits (APM 15.15.3): a set bit lets the CPU reuse its cached
// copy of that group of fields.
export const CLEAN_INTERCEPTS: u32 = 1 << 0;
export const CLEAN_ASID: u32 = 1 << 2;
export const CLEAN_TPR: u32 = 1 << 3;
export const CLEAN_CONTROL_REGISTERS: u32 = 1 << 5; // CR0, CR3, CR4, EFER
export const CLEAN_DEBUG_REGISTERS: u32 = 1 << 6; // DR6, DR7
export const CLEAN_CR2: u32 = 1 << 9;
export const CLEAN_ALL: u32 = 0xfff;

// Exit codes (APM Vol. 2 Appendix C).
export const EXIT_EXCEPTION_BASE: u64 = 0x40;
export const EXIT_INTR: u64 = 0x60;
export const EXIT_NMI: u64 = 0x61;
export const EXIT_INIT: u64 = 0x63;
export const EXIT_VINTR: u64 = 0x64;
export const EXIT_CPUID: u64 = 0x72;
export const EXIT_IRET: u64 = 0x74;
export const EXIT_SWINT: u64 = 0x75; // INTn
export const EXIT_CR8_READ: u64 = 0x08; // CRn reads are 0x00-0x0f, writes 0x10-0x1f
export const EXIT_CR8_WRITE: u64 = 0x18;
export const INTERCEPT_CR8: u32 = (1 << 8) | (1 << (16 + 8)); // reads and writes of CR8
// EXITINFO1 of a CR access with decode assists: bit 63 says a MOV CRn made
// it, bits 3:0 name its general register (APM Vol. 2 15.8.1).
export const CR_ACCESS_MOV: u64 = <u64>1 << 63;
export const EXIT_HLT: u64 = 0x78;
export const EXIT_INVLPGA: u64 = 0x7a;
export const EXIT_IOIO: u64 = 0x7b;
// EXITINFO1 of an IOIO exit (APM Vol. 2 15.10.2): IN rather than OUT, a
// string instruction, a REP prefix, the operand size in bytes as a one-hot
// field (bits 6:4: 1, 2 or 4) and the port (bits 31:16). EXITINFO2 holds
// the next instruction's RIP.
export const IOIO_IN: u64 = 1 << 0;
export const IOIO_STRING: u64 = 1 << 2;
export const IOIO_REP: u64 = 1 << 3;
export const IOIO_SIZE_SHIFT: u64 = 4;
export const IOIO_SIZE_MASK: u64 = 7;
export const IOIO_PORT_SHIFT: u64 = 16;
export const EXIT_MSR: u64 = 0x7c;
export const EXIT_SHUTDOWN: u64 = 0x7f;
export const EXIT_RDPMC: u64 = 0x6f;
export const EXIT_PAUSE: u64 = 0x77;
export const EXIT_VMRUN: u64 = 0x80;
export const EXIT_VMMCALL: u64 = 0x81;
export const EXIT_SKINIT: u64 = 0x86;
export const EXIT_MONITOR: u64 = 0x8a;
export const EXIT_MWAIT: u64 = 0x8b;
export const EXIT_MWAIT_ARMED: u64 = 0x8c;
export const EXIT_XSETBV: u64 = 0x8d;
export const EXIT_NPF: u64 = 0x400;
export const EXIT_INVALID: u64 = 0xffff_ffff; // -1, compared on the low 32 bits

// EVENTINJ (APM 15.20): vector, type, error-code-valid, valid; EXITINTINFO
// has the same form (15.7.2).
export const EVENT_VECTOR_MASK: u64 = 0xff;
export const EVENT_TYPE_MASK: u64 = 7 << 8;
export const EVENT_TYPE_INTR: u64 = 0 << 8;
export const EVENT_TYPE_NMI: u64 = 2 << 8;
export const EVENT_TYPE_EXCEPTION: u64 = 3 << 8;
export const EVENT_TYPE_SOFTWARE_INTERRUPT: u64 = 4 << 8; // INTn
export const EVENT_ERROR_VALID: u64 = 1 << 11;
export const EVENT_VALID: u64 = 1 << 31;

export class Vmcb {
  readonly base: usize = allocPage();
  readonly phys: u64 = physOf(this.base);

  @inline
  get32(offset: usize): u32 {
    return load<u32>(this.base + offset);
  }
  @inline
  set32(offset: usize, v: u32): void {
    store<u32>(this.base + offset, v);
  }
  @inline
  get64(offset: usize): u64 {
    return load<u64>(this.base + offset);
  }
  @inline
  set64(offset: usize, v: u64): void {
    store<u64>(this.base + offset, v);
  }

  // Marks field groups (CLEAN_ bits) as changed since the last VMRUN.
  dirty(bits: u32): void {
    this.set32(CLEAN_BITS, this.get32(CLEAN_BITS) & ~bits);
  }

  // A segment in VMCB form: the attribute word packs descriptor bits 40-47
  // (type, S, DPL, P) and 52-55 (AVL, L, D/B, G).
  setSegment(index: i32, selector: u16, attributes: u16, limit: u32, base: u64): void {
    const at = this.base + SEGMENTS + <usize>index * 16;
    store<u16>(at, selector);
    store<u16>(at + 2, attributes);
    store<u32>(at + 4, limit);
    store<u64>(at + 8, base);
  }
  // Copies the instruction bytes the CPU fetched at a #NPF or #PF exit
  // (decode assists, APM 15.8.4) and returns how many there are.
  fetchedInstruction(into: StaticArray<u8>): u8 {
    const count = <u8>min<u32>(load<u8>(this.base + BYTES_FETCHED), <u32>into.length);
    for (let i = 0; i < <i32>count; i++) into[i] = load<u8>(this.base + GUEST_INSTRUCTION_BYTES + <usize>i);
    return count;
  }
  segmentSelector(index: i32): u16 {
    return load<u16>(this.base + SEGMENTS + <usize>index * 16);
  }
  segmentAttributes(index: i32): u16 {
    return load<u16>(this.base + SEGMENTS + <usize>index * 16 + 2);
  }
  segmentBase(index: i32): u64 {
    return load<u64>(this.base + SEGMENTS + <usize>index * 16 + 8);
  }
}

// Save-area segment slots, in VMCB order (setSegment's index).
export const enum SaveSeg {
  Es,
  Cs,
  Ss,
  Ds,
  Fs,
  Gs,
  Gdtr,
  Ldtr,
  Idtr,
  Tr,
}
