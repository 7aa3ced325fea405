// Emulated MMIO: a guest access to a device address, carried out on the VM's bus.
//
// Device windows are left out of the nested page tables, so a guest load or
// store there ends in an EPT violation (SDM Vol. 3C 29.3.3) or a nested page
// fault (APM Vol. 2 15.25.6) that reports the guest-physical address.
// emulateMmio() finishes the instruction in its place: it reads the
// instruction, decodes it, performs the access on the VM's bus or the
// vCPU's own local APIC, updates the register the way the CPU would, and
// moves RIP past it.

import { MAX_INSTRUCTION_LENGTH, Reg } from "../../kernel/arch/x86";
import * as log from "../../kernel/console/log";
import { PAGE_SIZE } from "../../kernel/mm/range";
import { Exit, Next } from "../core/exit";
import { GuestRegisters } from "../core/registers";
import { Vcpu } from "../core/vcpu";
import { Vm } from "../core/vm";
import { LAPIC_SIZE } from "../devices/apic/lapic";
import { allOnes } from "../devices/bus";
import { Extension, MmioInstruction } from "./decoder";
import { GuestPageWalker, WalkResult } from "./guestpaging";

// Reused for every exit: VMs run on one CPU, one exit at a time.
const instruction = new MmioInstruction();
const walker = new GuestPageWalker();

// The instruction is the bytes the CPU fetched, with AMD decode assists, or
// else read from guest memory through the guest's page tables. The local
// APIC's window is the vCPU's own: on a PC the APIC sits inside the CPU, and
// accesses to its page never reach the system bus (Intel SDM Vol. 3A
// 11.4.1), so they go to the vCPU's APIC, wherever IA32_APIC_BASE put it.
// Where that is in RAM, the page is left out of the nested tables for every
// vCPU (Vm.apicWindowsChanged()): the others' accesses there reach the RAM.
// The rest goes to the VM's bus.
const enum Target {
  Apic,
  Ram,
  Bus,
}

// An access where there is neither RAM nor a device reaches no one, as on a
// PC: the bus answers a read with all ones and drops a write, and the guest
// goes on (a kernel probing for hardware does this). The log notes the
// first few, then every power of two, so that probing cannot flood it.
const UNCLAIMED_NOTES: u32 = 4;
function noteUnclaimed(vm: Vm, gpa: u64, write: bool): void {
  const n = ++vm.unclaimedAccesses;
  if (n > UNCLAIMED_NOTES && (n & (n - 1)) != 0) return;
  log.warn(
    "vm " + vm.name + ": " + (write ? "write to " : "read from ") + log.hex(gpa)
      + ", where there is neither RAM nor a device (" + n.toString() + " such accesses so far)",
  );
}

export function emulateMmio(vm: Vm, vcpu: Vcpu, exit: Exit): Next {
  const apic = vm.apics.of(vcpu), apicOffset = exit.gpa - apic.mmioBase;
  const inRam = vm.memory.contains(exit.gpa, 1);
  const target = apicOffset < LAPIC_SIZE && (apic.xapicMode || !inRam)
    ? Target.Apic
    : inRam
    ? Target.Ram
    : Target.Bus;
  if (target == Target.Bus && !vm.bus.mmio.claims(exit.gpa)) noteUnclaimed(vm, exit.gpa, exit.isWrite);
  const bytes = exit.instructionBytes;
  const available = exit.fetchedBytes > 0 ? <i32>exit.fetchedBytes : fetchInstruction(vm, vcpu, bytes);
  if (available == 0) {
    vm.stop(
      "MMIO access to " + log.hex(exit.gpa) + ": cannot read the instruction at rip " + log.hex(vcpu.rip) + " ("
        + walkFailure() + ")",
      vcpu,
    );
    return Next.Stopped;
  }
  const codeBits = vcpu.codeBits;
  if (!instruction.decode(bytes, available, codeBits)) {
    return cannotEmulate(vm, vcpu, exit, available, instruction.failure);
  }
  // The CPU reported the direction: an instruction that disagrees is not
  // the one that exited (its bytes changed since).
  if (instruction.isWrite != exit.isWrite) {
    return cannotEmulate(vm, vcpu, exit, available, "the instruction's direction differs from the exit's");
  }
  // RSP lives in the VMCB or VMCS, not in the register block.
  if (!instruction.hasImmediate && instruction.register == Reg.Rsp && !instruction.highByte) {
    return cannotEmulate(vm, vcpu, exit, available, "RSP as the register operand is not supported");
  }
  const regs = vcpu.regs;
  if (instruction.isWrite) {
    const value = instruction.hasImmediate
      ? instruction.immediate
      : readRegister(regs, instruction.register, instruction.highByte);
    const size = instruction.accessSize;
    if (target == Target.Apic) vm.apics.now(vcpu).write(apicOffset, size, value & allOnes(size));
    else if (target == Target.Ram) vm.memory.store(exit.gpa, size, value);
    else vm.bus.mmio.write(exit.gpa, size, value);
  } else {
    const size = instruction.accessSize;
    const raw = target == Target.Apic
      ? vm.apics.now(vcpu).read(apicOffset, size) & allOnes(size)
      : target == Target.Ram
      ? vm.memory.load(exit.gpa, size)
      : vm.bus.mmio.read(exit.gpa, size);
    const value = extend(raw, size, instruction.extension);
    writeRegister(regs, instruction.register, instruction.highByte, instruction.registerSize, value, codeBits == 64);
  }
  exit.instructionLength = instruction.length;
  vcpu.skipInstruction();
  return vm.running ? Next.Resume : Next.Stopped;
}

// A register operand's value: AH, CH, DH and BH are bits 15:8 of RAX..RBX.
export function readRegister(regs: GuestRegisters, register: Reg, highByte: bool): u64 {
  const value = regs.get(register);
  return highByte ? (value >> 8) & 0xff : value;
}

// A register write of `size` bytes with x86 semantics (SDM Vol. 1 3.4.1.1):
// 8- and 16-bit results replace only their bits, a 32-bit result clears the
// upper half in 64-bit mode, and a high-byte register is bits 15:8.
export function writeRegister(
  regs: GuestRegisters,
  register: Reg,
  highByte: bool,
  size: u8,
  value: u64,
  mode64: bool,
): void {
  const old = regs.get(register);
  let result: u64;
  if (highByte) result = (old & ~(<u64>0xff00)) | ((value & 0xff) << 8);
  else if (size == 8 || (size == 4 && mode64)) result = value & allOnes(size);
  else result = (old & ~allOnes(size)) | (value & allOnes(size));
  regs.set(register, result);
}

// Widens a `size`-byte value for MOVZX (zero) or MOVSX (sign).
function extend(value: u64, size: u8, extension: Extension): u64 {
  if (extension != Extension.Sign) return value;
  return size == 1 ? <u64><i64><i8>value : <u64><i64><i16>value;
}

// Reads up to 15 bytes at CS:RIP into `into`, page by page, since each page
// translates on its own; stops at the first one not in RAM. Returns the count.
function fetchInstruction(vm: Vm, vcpu: Vcpu, into: StaticArray<u8>): i32 {
  // Outside 64-bit mode, linear addresses wrap at 4 GiB and CS's base
  // counts (SDM Vol. 3A 3.4.4); in 64-bit mode the base is 0.
  const mode64 = vcpu.codeBits == 64;
  const addressMask: u64 = mode64 ? ~(<u64>0) : 0xffff_ffff;
  let linear = mode64 ? vcpu.rip : (vcpu.csBase + vcpu.rip) & addressMask;
  const cr0 = vcpu.cr0, cr3 = vcpu.cr3, cr4 = vcpu.cr4, efer = vcpu.efer;
  let count = 0;
  while (count < MAX_INSTRUCTION_LENGTH) {
    if (walker.translate(vm.memory, linear, cr0, cr3, cr4, efer) != WalkResult.Translated) return count;
    const rest = PAGE_SIZE - (linear & (PAGE_SIZE - 1));
    const inPage = <i32>min<u64>(rest, <u64>(MAX_INSTRUCTION_LENGTH - count));
    const physical = walker.physical;
    if (!vm.memory.contains(physical, <u64>inPage)) return count;
    for (let i = 0; i < inPage; i++) into[count++] = vm.memory.read8(physical + <u64>i);
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
