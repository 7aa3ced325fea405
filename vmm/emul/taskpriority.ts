// CR8: the local APIC's task-priority register, seen as a control register.
//
// In 64-bit mode MOV to and from CR8 reads and writes the TPR's priority
// class, bits 7:4 (Intel SDM Vol. 3A 11.8.6.5), so that an OS raises and
// lowers its priority without touching the APIC's page: Windows does it at
// every IRQL change. Both backends make each CR8 access exit, and
// emulateTaskPriority() carries it out on the vCPU's own APIC, whose
// interrupt selection then masks by it. A backend that cannot name the
// register (AMD-V without decode assists) leaves the instruction to be
// decoded here: [REX] 0F 20 or 0F 22 with a register ModRM (Vol. 2B "MOV—
// Move to/from Control Registers"), or AMD's LOCK MOV CR0, which is CR8
// outside 64-bit mode (APM Vol. 3 "MOV CRn").

import { Reg, VECTOR_GP } from "../../kernel/arch/x86";
import * as log from "../../kernel/console/log";
import { Exit, Next } from "../core/exit";
import { Vcpu } from "../core/vcpu";
import { Vm } from "../core/vm";
import { isSegmentOverride } from "./decoder";
import { fetchInstruction } from "./mmio";

const REX_R: u8 = 4, REX_B: u8 = 1;
const LOCK: u8 = 0xf0;
const CR8: u32 = 8;

export function emulateTaskPriority(vm: Vm, vcpu: Vcpu, exit: Exit): Next {
  const register = exit.register >= 0 ? exit.register : decodeMovCr8(vm, vcpu, exit);
  if (register < 0) {
    vm.stop("cannot decode the CR8 access at rip " + log.hex(vcpu.rip), vcpu);
    return Next.Stopped;
  }
  const apic = vm.apics.now(vcpu);
  if (exit.isWrite) {
    const value = vcpu.gpr(<Reg>register);
    // Bits 63:4 of the source must be 0.
    if (value > 15) {
      vcpu.injectException(VECTOR_GP, true, 0);
      return Next.Resume;
    }
    apic.taskPriority = <u32>value << 4;
  } else {
    vcpu.setGpr(<Reg>register, <u64>(apic.taskPriority >> 4));
  }
  vcpu.skipInstruction();
  return Next.Resume;
}

// The general register of the MOV to or from CR8 at RIP, with the
// instruction's length in exit.instructionLength; -1 if it is no such MOV.
function decodeMovCr8(vm: Vm, vcpu: Vcpu, exit: Exit): i32 {
  const bytes = exit.instructionBytes;
  const codeBits = vcpu.codeBits;
  const available = exit.fetchedBytes > 0 ? <i32>exit.fetchedBytes : fetchInstruction(vm, vcpu, codeBits, bytes);
  const mode64 = codeBits == 64;
  let rex: u8 = 0, lock = false, at = 0;
  // Prefixes: REX (64-bit mode, right before the opcode), LOCK, and the
  // others, which change nothing here.
  for (; at < available; at++) {
    const b = bytes[at];
    if (mode64 && (b & 0xf0) == 0x40) {
      rex = b;
      continue;
    }
    if (b == LOCK) lock = true;
    else if (!(b == 0x66 || b == 0x67 || b == 0xf2 || b == 0xf3 || isSegmentOverride(b))) break;
    // A REX prefix counts only right before the opcode (SDM Vol. 2A 2.2.1).
    rex = 0;
  }
  if (at + 3 > available || bytes[at] != 0x0f || bytes[at + 1] != (exit.isWrite ? 0x22 : 0x20)) return -1;
  const modrm = bytes[at + 2];
  const cr = ((<u32>modrm >> 3) & 7) | ((rex & REX_R) != 0 ? 8 : 0) | (lock ? 8 : 0);
  if ((modrm >> 6) != 3 || cr != CR8) return -1;
  exit.instructionLength = <u32>(at + 3);
  return <i32>(modrm & 7) | ((rex & REX_B) != 0 ? 8 : 0);
}
