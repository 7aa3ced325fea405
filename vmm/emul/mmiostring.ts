// MOVS and STOS with a device at one end, and INS and OUTS (Intel SDM Vol.
// 2B "MOVS", "STOS", "INS", "OUTS", "REP/REPE/REPZ/REPNE/REPNZ"), for
// mmio.ts and portstring.ts.
//
// A string instruction exits at its first element that touches a device
// (for INS and OUTS, every element: every port exits). The emulator
// performs elements for the guest up to the end of the page on either
// memory side or of the count in rCX, then either completes the
// instruction or leaves RIP on it: a REP instruction may stop between
// iterations and resume, with rSI, rDI and rCX saying where it stands, so
// the CPU carries on with the rest (and exits again). An MMIO exit reports
// the device end's guest-physical address; the memory ends are translated
// through the guest's page tables, with the permissions the MMU would have
// checked: where it would fault, the guest gets the page fault instead,
// with RIP on the instruction and nothing done, as from the CPU.

import { RFLAGS_DF, Reg, Seg } from "../../kernel/arch/x86";
import * as log from "../../kernel/console/log";
import { PAGE_SIZE } from "../../kernel/mm/range";
import { Exit, ExitKind } from "../core/exit";
import { Vcpu } from "../core/vcpu";
import { Vm } from "../core/vm";
import { allOnes } from "../devices/bus";
import { MmioInstruction, Operation } from "./decoder";
import { GuestPageWalker, WalkResult } from "./guestpaging";
import { GuestLocation } from "./mmiotarget";

const walker = new GuestPageWalker();
const source = new GuestLocation(), destination = new GuestLocation();

export class StringStep {
  // After run(): whether the instruction is complete (RIP may move on),
  // or why it cannot be emulated ("" if it can). A page fault injected
  // leaves it incomplete, with no failure.
  complete: bool = false;
  failure: string = "";

  // The memory ends are ES:rDI, written by all but OUTS, and rSI in the
  // source segment, read by MOVS and OUTS; the port is DX's.
  run(vm: Vm, vcpu: Vcpu, instruction: MmioInstruction, exit: Exit): void {
    this.failure = "";
    this.complete = false;
    const regs = vcpu.regs, size = instruction.accessSize, addressSize = <u8>(instruction.addressBits / 8);
    const mask = allOnes(addressSize), operation = instruction.operation;
    const toMemory = operation != Operation.Outs;
    const fromMemory = operation == Operation.Movs || operation == Operation.Outs;
    // DF set: the string runs down (SDM Vol. 1 3.4.3.2).
    const step: u64 = (vcpu.rflags & RFLAGS_DF) != 0 ? <u64>(-<i64>size) : <u64>size;
    const count: u64 = instruction.repeat ? regs.get(Reg.Rcx) & mask : 1;
    const di = regs.get(Reg.Rdi) & mask, si = regs.get(Reg.Rsi) & mask;
    // ES for the destination cannot be overridden; the source's segment can.
    // The source first: an element is read before it is written, so its
    // fault comes first.
    let from = fromMemory ? this.translate(vm, vcpu, instruction.sourceSegment, si, mask, false) : 0;
    if (from < 0) return;
    let to = toMemory ? this.translate(vm, vcpu, Seg.Es, di, mask, true) : 0;
    if (to < 0) return;
    if (exit.kind == ExitKind.Mmio && <u64>(exit.isWrite ? to : from) != exit.gpa) {
      this.failure = "the string's " + (exit.isWrite ? "destination" : "source") + " translates to "
        + log.hex(<u64>(exit.isWrite ? to : from)) + ", not to the address that exited";
      return;
    }
    let n = count;
    if (toMemory) n = min(n, elementsInPage(<u64>to, step, size));
    if (fromMemory) n = min(n, elementsInPage(<u64>from, step, size));
    const io = vm.bus.io, port = regs.get(Reg.Rdx) & 0xffff;
    for (let i: u64 = 0; i < n; i++) {
      let value = regs.get(Reg.Rax);
      if (operation == Operation.Ins) {
        value = io.read(port, size);
      } else if (fromMemory) {
        source.at(vm, vcpu, <u64>from);
        value = source.read(size);
        from += <i64>step;
      }
      if (toMemory) {
        destination.at(vm, vcpu, <u64>to);
        destination.write(size, value);
        to += <i64>step;
      } else {
        io.write(port, size, value);
      }
    }
    // rSI, rDI and rCX are as wide as the address size (Vol. 2B "REP").
    const mode64 = vcpu.codeBits == 64;
    if (toMemory) regs.writeOperand(Reg.Rdi, false, addressSize, di + n * step, mode64);
    if (fromMemory) regs.writeOperand(Reg.Rsi, false, addressSize, si + n * step, mode64);
    if (instruction.repeat) regs.writeOperand(Reg.Rcx, false, addressSize, count - n, mode64);
    this.complete = n == count;
  }

  // The guest-physical address of `segment`:`offset` for a read or a
  // `write`, or -1: with `failure` set, or with a page fault injected. In
  // 64-bit mode only FS and GS have bases (SDM Vol. 3A 3.4.4); elsewhere
  // linear addresses wrap at 4 GiB.
  private translate(vm: Vm, vcpu: Vcpu, segment: Seg, offset: u64, mask: u64, write: bool): i64 {
    const mode64 = vcpu.codeBits == 64;
    const based = !mode64 || segment == Seg.Fs || segment == Seg.Gs;
    let linear = (based ? vcpu.segmentBase(segment) : 0) + (offset & mask);
    if (!mode64) linear &= 0xffff_ffff;
    const cr0 = vcpu.cr0, cr4 = vcpu.cr4;
    if (walker.translate(vm.memory, linear, cr0, vcpu.cr3, cr4, vcpu.efer) == WalkResult.TableOutsideRam) {
      this.failure = "a page table for the string's linear address " + log.hex(linear) + " is outside RAM";
      return -1;
    }
    const fault = walker.pageFaultFor(write, vcpu.cpl, cr0, cr4, vcpu.rflags);
    if (fault >= 0) {
      vcpu.injectPageFault(linear, <u32>fault);
      return -1;
    }
    return <i64>walker.physical;
  }
}

// How many `size`-byte elements, `step` apart, fit from `gpa` to the end of
// its page in the direction of `step`; at least 1.
function elementsInPage(gpa: u64, step: u64, size: u8): u64 {
  const offset = gpa & (PAGE_SIZE - 1);
  const room = <i64>step > 0 ? PAGE_SIZE - offset : offset + <u64>size;
  return max<u64>(1, room / <u64>size);
}
