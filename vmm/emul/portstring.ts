// INS and OUTS: string port I/O, element by element through the VM's port
// bus (SDM Vol. 2A "INS/INSB/INSW/INSD", Vol. 2B "OUTS/OUTSB/OUTSW/OUTSD").
//
// Every port exits, and so does every string instruction on a port. The
// exit says the port, the size and the direction but not, without further
// hardware help, the address size or the source's segment, so the
// instruction at RIP is read and decoded like an MMIO one (mmio.ts), and
// StringStep (mmiostring.ts) moves the elements: a page of memory per exit
// at most, RIP staying on a REP instruction until rCX is done.

import * as log from "../../kernel/console/log";
import { Exit, Next } from "../core/exit";
import { Vcpu } from "../core/vcpu";
import { Vm } from "../core/vm";
import { MmioInstruction, Operation } from "./decoder";
import { fetchInstruction } from "./mmio";
import { StringStep } from "./mmiostring";

const instruction = new MmioInstruction();
const strings = new StringStep();

export function emulatePortString(vm: Vm, vcpu: Vcpu, exit: Exit): Next {
  const codeBits = vcpu.codeBits;
  const available = fetchInstruction(vm, vcpu, codeBits, exit.instructionBytes);
  let why = "";
  if (!instruction.decode(exit.instructionBytes, available, codeBits)) {
    why = instruction.failure;
  } else if (instruction.operation != (exit.isWrite ? Operation.Outs : Operation.Ins)) {
    why = "the instruction at rip is no " + (exit.isWrite ? "OUTS" : "INS");
  } else if (instruction.accessSize != exit.size) {
    why = "the instruction's size differs from the exit's";
  } else {
    exit.instructionLength = instruction.length;
    strings.run(vm, vcpu, instruction, exit);
    why = strings.failure;
  }
  if (why.length > 0) {
    vm.stop(
      "cannot emulate string I/O to port " + log.hex(exit.port) + " at rip " + log.hex(vcpu.rip) + ": " + why,
      vcpu,
    );
    return Next.Stopped;
  }
  if (strings.complete) {
    vcpu.skipInstruction();
    vcpu.noteIoBreakpoints(exit);
  }
  return vm.running ? Next.Resume : Next.Stopped;
}
