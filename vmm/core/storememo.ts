// A vCPU's memo of the last MMIO store the generic handler read and decoded
// (emul/mmio.ts): a plain MOV to memory, at one RIP, under one CR3. A guest
// ends each interrupt with the same instruction of its handler, a MOV to the
// local APIC's EOI register, and reading it again costs the guest page walk,
// the fetch and the decoder, over a thousand instructions. The backends'
// exit fast path instead checks that the memo still holds (matches()): the
// same RIP and modes, the same page-table entries where the walk read them,
// the same bytes at the code's address. Those say the CPU fetched the same
// instruction, whatever the guest did to its tables or code meanwhile; the
// CPU has already checked its right to (the exit came after the fetch).
// The store then goes to the vCPU's own local APIC as a quick access
// (devices/bus.ts; LocalApic.quickStore() takes an EOI that changes
// nothing else), under the hypervisor lock.

import { hvTryLock, hvUnlock, physRead64 } from "../../kernel/arch/shim";
import { Reg } from "../../kernel/arch/x86";
import { PAGE_SIZE } from "../../kernel/mm/range";
import { LAPIC_SIZE, LocalApic } from "../devices/apic/lapic";
import { allOnes } from "../devices/bus";
import { GuestRegisters } from "./registers";

// 5-level paging reads five entries.
export const MAX_WALK_ENTRIES = 5;
// The instruction's bytes are compared as two words, within one page.
const CODE_BYTES: u64 = 16;

export class StoreMemo {
  // The vCPU's local APIC, which its VM gives it (VmApics).
  apic: LocalApic | null = null;
  private valid: bool = false;
  private rip: u64 = 0;
  private cr3: u64 = 0;
  private fetchMode: u64 = 0;
  private csBase: u64 = 0;
  // The page-table entries the walk to the code read, three words each: the
  // aligned word that holds it (host-physical), the mask of its bytes in
  // that word, and their value. An aligned word never crosses a page.
  private entries: i32 = 0;
  private walk: StaticArray<u64> = new StaticArray<u64>(MAX_WALK_ENTRIES * 3);
  // The instruction's bytes (host-physical), as two words masked to its length.
  private codeAt: u64 = 0;
  private code: StaticArray<u64> = new StaticArray<u64>(2);
  private codeMask: StaticArray<u64> = new StaticArray<u64>(2);
  // What it stores: a register (AH to BH with highByte) or, if register < 0, an immediate.
  length: u32 = 0;
  private size: u8 = 0;
  private register: i32 = -1;
  private highByte: bool = false;
  private immediate: u64 = 0;

  // Forgets the memo, then notes the modes (Vcpu.fetchMode) and the code
  // of a store the generic handler decoded: `codeAt` the host-physical
  // address of the instruction's first byte. No memo where its 16 bytes
  // cross a page.
  begin(rip: u64, cr3: u64, fetchMode: u64, csBase: u64, codeAt: u64): bool {
    this.valid = false;
    if ((codeAt & (PAGE_SIZE - 1)) > PAGE_SIZE - CODE_BYTES) return false;
    this.rip = rip;
    this.cr3 = cr3;
    this.fetchMode = fetchMode;
    this.csBase = csBase;
    this.codeAt = codeAt;
    this.entries = 0;
    return true;
  }

  // After begin(): one page-table entry the walk read, in order, `width`
  // bytes (4 or 8) at host-physical `at`.
  addEntry(at: u64, width: u8, value: u64): void {
    const i = this.entries++ * 3, shift = (at & 4) * 8;
    const mask = width == 8 ? ~(<u64>0) : <u64>0xffff_ffff << shift;
    this.walk[i] = at & ~(<u64>7);
    this.walk[i + 1] = mask;
    this.walk[i + 2] = (value << shift) & mask;
  }

  // After begin(): the decoded MOV of `size` bytes, `length` long, storing
  // `register` (-1: `immediate`). The memo holds from now on.
  finish(length: u32, size: u8, register: i32, highByte: bool, immediate: u64): void {
    for (let i = 0; i < 2; i++) {
      const bytes = <u64>min<i32>(max<i32>(<i32>length - i * 8, 0), 8);
      const mask = bytes == 8 ? ~(<u64>0) : (<u64>1 << (bytes * 8)) - 1;
      this.codeMask[i] = mask;
      this.code[i] = physRead64(this.codeAt + <u64>i * 8) & mask;
    }
    this.length = length;
    this.size = size;
    this.register = register;
    this.highByte = highByte;
    this.immediate = immediate;
    this.valid = true;
  }

  // Whether the CPU executed the remembered instruction again: the same
  // RIP and modes, the walk's entries and the code's bytes unchanged.
  matches(rip: u64, cr3: u64, fetchMode: u64, csBase: u64): bool {
    if (!this.valid || rip != this.rip || cr3 != this.cr3 || fetchMode != this.fetchMode || csBase != this.csBase) {
      return false;
    }
    const walk = this.walk;
    for (let i = 0, end = this.entries * 3; i < end; i += 3) {
      if ((physRead64(unchecked(walk[i])) & unchecked(walk[i + 1])) != unchecked(walk[i + 2])) return false;
    }
    return (physRead64(this.codeAt) & unchecked(this.codeMask[0])) == unchecked(this.code[0])
      && (physRead64(this.codeAt + 8) & unchecked(this.codeMask[1])) == unchecked(this.code[1]);
  }

  // After matches(): the store to guest-physical `gpa`, if it goes to the
  // vCPU's local APIC in xAPIC mode (as emul/mmiotarget.ts sends it) and
  // the APIC takes it quickly, with the lock free.
  storeToApic(regs: GuestRegisters, gpa: u64): bool {
    const apic = this.apic;
    if (apic === null) return false;
    const offset = gpa - apic.mmioBase;
    if (offset >= LAPIC_SIZE || !apic.xapicMode) return false;
    const value = this.register < 0 ? this.immediate : regs.readOperand(<Reg>this.register, this.highByte);
    if (!hvTryLock()) return false;
    const done = apic.quickStore(offset, this.size, value & allOnes(this.size));
    hvUnlock();
    return done;
  }
}
