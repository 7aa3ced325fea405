// A vCPU's general-purpose registers and x87/SSE state, in the block the
// world-switch stubs (boot/svm.S, boot/vmx.S) save and restore at every exit.
//
// 16 GPRs in their encoding order (kernel/arch/x86.ts Reg), then the
// guest's x87/SSE state in FXSAVE format (512 bytes, 16-byte aligned), so
// the hypervisor's own SSE use never leaks into the guest, then CR2 and the
// RFLAGS of the last entry. The
// layout is shared with boot/guest-regs.h. Under both backends RSP lives
// in the VMCB or VMCS, not here, and AMD-V keeps RAX and CR2 in the VMCB
// as well.

import { Reg } from "../../kernel/arch/x86";
import { allocPages, freePage } from "../../kernel/mm/linearpages";
import { allOnes } from "../devices/bus";

export const REGS_FXSAVE_OFFSET: usize = 128;
// VT-x only: VM entry and exit leave CR2 alone (the guest-state area holds
// CR0, CR3 and CR4 but no CR2, SDM Vol. 3C 25.4.1), so boot/vmx.S loads
// the guest's from here before an entry and saves it after an exit;
// otherwise one VM would read, and could plant, another's fault address.
const REGS_CR2_OFFSET: usize = REGS_FXSAVE_OFFSET + 512;
// AMD-V only: the RFLAGS boot/svm.S entered the guest with last, for the
// repair of what QEMU 7.2 at times saves at the exit (hw/svm/rflagsrepair.ts).
export const REGS_ENTERED_RFLAGS_OFFSET: usize = REGS_CR2_OFFSET + 8;

// RAX after an IN of `size` bytes (1, 2 or 4) that read `value`: AL and AX
// merge into it; EAX, like every 32-bit register write, clears the upper
// half (SDM Vol. 1 3.4.1.1).
export function raxAfterIn(rax: u64, size: u8, value: u64): u64 {
  if (size == 4) return value;
  const mask: u64 = size == 2 ? 0xffff : 0xff;
  return (rax & ~mask) | (value & mask);
}

export class GuestRegisters {
  readonly base: usize;
  constructor() {
    this.base = allocPages(1);
    this.powerOn();
  }

  // Its page back (a destroyed vCPU's).
  free(): void {
    freePage(this.base);
  }

  // Every register 0, CR2 too, and x87/SSE as FNINIT leaves them: a valid
  // FXSAVE image, default x87 control word and MXCSR (SDM Vol. 1 10.5.1).
  powerOn(): void {
    memory.fill(this.base, 0, REGS_ENTERED_RFLAGS_OFFSET + 8);
    store<u16>(this.base + REGS_FXSAVE_OFFSET, 0x37f);
    store<u32>(this.base + REGS_FXSAVE_OFFSET + 24, 0x1f80);
  }
  @inline
  get(r: Reg): u64 {
    return load<u64>(this.address(r));
  }
  @inline
  set(r: Reg, v: u64): void {
    store<u64>(this.address(r), v);
  }
  // Where the block keeps register `r`.
  @inline
  address(r: Reg): usize {
    return this.base + (<usize>r << 3);
  }

  get cr2(): u64 {
    return load<u64>(this.base + REGS_CR2_OFFSET);
  }
  set cr2(v: u64) {
    store<u64>(this.base + REGS_CR2_OFFSET, v);
  }

  // A register operand's value: AH, CH, DH and BH are bits 15:8 of RAX..RBX.
  readOperand(register: Reg, highByte: bool): u64 {
    const value = this.get(register);
    return highByte ? (value >> 8) & 0xff : value;
  }

  // A register write of `size` bytes with x86 semantics (SDM Vol. 1 3.4.1.1):
  // 8- and 16-bit results replace only their bits, a 32-bit result clears the
  // upper half in 64-bit mode, and a high-byte register is bits 15:8.
  writeOperand(register: Reg, highByte: bool, size: u8, value: u64, mode64: bool): void {
    const old = this.get(register), mask = allOnes(size);
    let result: u64;
    if (highByte) result = (old & ~(<u64>0xff00)) | ((value & 0xff) << 8);
    else if (size == 8 || (size == 4 && mode64)) result = value & mask;
    else result = (old & ~mask) | (value & mask);
    this.set(register, result);
  }

  // EDX:EAX, the pair RDMSR, WRMSR, XSETBV and RDTSC use for a 64-bit value
  // (SDM Vol. 2B "RDMSR"): the low halves of RDX and RAX.
  edxEax(): u64 {
    return (this.get(Reg.Rdx) << 32) | (this.get(Reg.Rax) & 0xffff_ffff);
  }
  // Writing it clears the upper halves of RAX and RDX, as RDMSR does.
  setEdxEax(value: u64): void {
    this.set(Reg.Rax, value & 0xffff_ffff);
    this.set(Reg.Rdx, value >> 32);
  }
}
