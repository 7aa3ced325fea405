// Emulated MMIO: a guest access to a device address, carried out on the VM's bus.
//
// Device windows are left out of the nested page tables, so a guest load or
// store there ends in an EPT violation (SDM Vol. 3C 29.3.3) or a nested page
// fault (APM Vol. 2 15.25.6) that reports the guest-physical address.
// emulateMmio() finishes the instruction in its place: it reads the
// instruction, decodes it, performs the access where it goes (mmiotarget.ts),
// updates the register and the status flags the way the CPU would, and
// moves RIP past it. An exit at an address in RAM may be the guest's
// first touch of a chunk not yet ready (core/guestmemory.ts): then the
// access is tried again once the chunk is.

import { MAX_INSTRUCTION_LENGTH, Reg, RFLAGS_CF, RFLAGS_STATUS, Seg } from "../../kernel/arch/x86";
import * as log from "../../kernel/console/log";
import { PAGE_SIZE } from "../../kernel/mm/range";
import { Exit, Next } from "../core/exit";
import { Vcpu } from "../core/vcpu";
import { Vm } from "../core/vm";
import { AluOp, AluResult } from "./alu";
import { BitOp, Extension, MmioInstruction, Operation } from "./decoder";
import { GuestPageWalker, WalkResult } from "./guestpaging";
import { GuestLocation } from "./mmiotarget";
import { StringStep } from "./mmiostring";

// Reused for every exit: exits are handled one at a time, under the
// hypervisor lock (docs/smp.md).
const instruction = new MmioInstruction();
const walker = new GuestPageWalker();
const device = new GuestLocation();
const alu = new AluResult();
const strings = new StringStep();
// The pages the last fetchInstruction() read from: with one, the walker
// still holds the walk to the instruction.
let fetchedPages = 0;

export function emulateMmio(vm: Vm, vcpu: Vcpu, exit: Exit): Next {
  device.at(vm, vcpu, exit.gpa);
  // The first touch of a chunk of RAM: it is ready now, try again. Asked
  // only where the access goes to RAM, which at() has found already.
  if (device.isRam && vm.memory.prepareForGuest(exit.gpa)) return Next.Resume;
  device.noteIfUnclaimed(exit.isWrite);
  const bytes = exit.instructionBytes, codeBits = vcpu.codeBits;
  const available = exit.fetchedBytes > 0 ? <i32>exit.fetchedBytes : fetchInstruction(vm, vcpu, codeBits, bytes);
  if (available == 0) {
    vm.stop(
      "MMIO access to " + log.hex(exit.gpa) + ": cannot read the instruction at rip " + log.hex(vcpu.rip) + " ("
        + walkFailure() + ")",
      vcpu,
    );
    return Next.Stopped;
  }
  if (!instruction.decode(bytes, available, codeBits)) {
    return cannotEmulate(vm, vcpu, exit, available, instruction.failure);
  }
  // The CPU reported the access: an instruction that cannot make it is not
  // the one that exited (its bytes changed since). A read-modify-write may
  // report either (SDM Vol. 3C 29.3.3.2 sets both bits for some).
  if (exit.isWrite ? !instruction.isWrite : !instruction.isRead) {
    return cannotEmulate(vm, vcpu, exit, available, "the instruction's direction differs from the exit's");
  }
  // RSP lives in the VMCB or VMCS, not in the register block.
  const string = instruction.isString;
  const usesRegister = !instruction.hasImmediate && !string;
  if (usesRegister && instruction.register == Reg.Rsp && !instruction.highByte) {
    return cannotEmulate(vm, vcpu, exit, available, "RSP as the register operand is not supported");
  }
  exit.instructionLength = instruction.length;
  if (string) {
    strings.run(vm, vcpu, instruction, exit);
    if (strings.failure.length > 0) return cannotEmulate(vm, vcpu, exit, available, strings.failure);
    if (strings.complete) vcpu.skipInstruction();
  } else {
    perform(vcpu, codeBits == 64);
    if (device.isApic && instruction.operation == Operation.Mov && instruction.isWrite && exit.fetchedBytes == 0) {
      rememberStore(vm, vcpu);
    }
    vcpu.skipInstruction();
  }
  return vm.running ? Next.Resume : Next.Stopped;
}

// A MOV to the vCPU's local APIC, fetched from one page: the vCPU's memo,
// for the exit fast path to recognise it again (core/storememo.ts).
function rememberStore(vm: Vm, vcpu: Vcpu): void {
  const host = vm.memory.translate(walker.physical, 16), memo = vcpu.storeMemo;
  if (fetchedPages != 1 || host < 0) return;
  if (!memo.begin(vcpu.rip, vcpu.cr3, vcpu.fetchMode, vcpu.segmentBase(Seg.Cs), <u64>host)) return;
  for (let i = 0; i < walker.trailLength; i++) {
    memo.addEntry(walker.trailAt[i], walker.trailWidth[i], walker.trailValue[i]);
  }
  const register = instruction.hasImmediate ? -1 : <i32>instruction.register;
  memo.finish(instruction.length, instruction.accessSize, register, instruction.highByte, instruction.immediate);
}

// Carries out the decoded instruction on `device`: every form but the
// string ones, which touch one element per exit at most.
function perform(vcpu: Vcpu, mode64: bool): void {
  const regs = vcpu.regs, size = instruction.accessSize, register = instruction.register;
  const high = instruction.highByte;
  const operand = instruction.hasImmediate ? instruction.immediate : regs.readOperand(register, high);
  const operation = instruction.operation;
  if (operation == Operation.Mov) {
    if (instruction.isWrite) {
      device.write(size, operand);
      return;
    }
    const value = extend(device.read(size), size, instruction.extension);
    regs.writeOperand(register, high, instruction.registerSize, value, mode64);
    return;
  }
  const value = device.read(size);
  if (operation == Operation.Xchg) {
    device.write(size, operand);
    regs.writeOperand(register, high, size, value, mode64);
  } else if (operation == Operation.BitTest) {
    // The bit's number modulo the operand's width: the CPU reported the
    // operand that holds it (SDM Vol. 2A "BT", bit offsets beyond it).
    const bit: u64 = <u64>1 << (operand & (<u64>size * 8 - 1));
    const op = instruction.bitOp;
    if (op != BitOp.Bt) {
      device.write(size, op == BitOp.Bts ? value | bit : op == BitOp.Btr ? value & ~bit : value ^ bit);
    }
    // CF is the bit's old value; the other status flags are undefined and stay.
    setFlags(vcpu, RFLAGS_CF, (value & bit) != 0 ? RFLAGS_CF : 0);
  } else {
    const op = operation == Operation.Test ? AluOp.And : instruction.aluOp;
    const toMemory = instruction.toMemory || operation == Operation.Test;
    alu.compute(op, toMemory ? value : operand, toMemory ? operand : value, (vcpu.rflags & RFLAGS_CF) != 0, size);
    if (operation == Operation.Alu && op != AluOp.Cmp) {
      if (toMemory) device.write(size, alu.value);
      else regs.writeOperand(register, high, size, alu.value, mode64);
    }
    setFlags(vcpu, RFLAGS_STATUS, alu.flags);
  }
}

// Replaces the RFLAGS bits in `mask` with those of `flags`.
function setFlags(vcpu: Vcpu, mask: u64, flags: u64): void {
  vcpu.rflags = (vcpu.rflags & ~mask) | (flags & mask);
}

// Widens a `size`-byte value for MOVZX (zero) or MOVSX (sign).
function extend(value: u64, size: u8, extension: Extension): u64 {
  if (extension != Extension.Sign) return value;
  return size == 1 ? <u64><i64><i8>value : <u64><i64><i16>value;
}

// Reads up to 15 bytes at CS:RIP into `into` for code of `codeBits`, page
// by page, since each page translates on its own; stops at the first one
// not in RAM. Returns the count.
export function fetchInstruction(vm: Vm, vcpu: Vcpu, codeBits: u32, into: StaticArray<u8>): i32 {
  // Outside 64-bit mode, linear addresses wrap at 4 GiB and CS's base
  // counts (SDM Vol. 3A 3.4.4); in 64-bit mode the base is 0.
  const mode64 = codeBits == 64;
  const addressMask: u64 = mode64 ? ~(<u64>0) : 0xffff_ffff;
  let linear = mode64 ? vcpu.rip : (vcpu.segmentBase(Seg.Cs) + vcpu.rip) & addressMask;
  const cr0 = vcpu.cr0, cr3 = vcpu.cr3, cr4 = vcpu.cr4, efer = vcpu.efer;
  let count = 0;
  fetchedPages = 0;
  while (count < MAX_INSTRUCTION_LENGTH) {
    if (walker.translate(vm.memory, linear, cr0, cr3, cr4, efer) != WalkResult.Translated) return count;
    fetchedPages++;
    const rest = PAGE_SIZE - (linear & (PAGE_SIZE - 1));
    const inPage = <i32>min<u64>(rest, <u64>(MAX_INSTRUCTION_LENGTH - count));
    // One lookup and one copy for the page's bytes, not one per byte.
    const to = changetype<usize>(into) + <usize>count;
    if (!vm.memory.copyLinear(walker.physical, to, <u64>inPage, false)) return count;
    count += inPage;
    linear = (linear + <u64>inPage) & addressMask;
  }
  return count;
}

function walkFailure(): string {
  const entry = log.hex(walker.failedEntry);
  return walker.lastResult == WalkResult.NotPresent
    ? "the page-table entry at " + entry + " is not present"
    : walker.lastResult == WalkResult.TableOutsideRam
    ? "a page table at " + entry + " is outside RAM"
    : "the code at " + log.hex(walker.physical) + " is not in RAM";
}

function cannotEmulate(vm: Vm, vcpu: Vcpu, exit: Exit, available: i32, why: string): Next {
  let text = "";
  for (let i = 0; i < available; i++) {
    text += (i > 0 ? " " : "") + (<u32>exit.instructionBytes[i]).toString(16).padStart(2, "0");
  }
  vm.stop(
    "cannot emulate the MMIO access to " + log.hex(exit.gpa) + " by the instruction at rip " + log.hex(vcpu.rip) + " ("
      + text + "): " + why,
    vcpu,
  );
  return Next.Stopped;
}
