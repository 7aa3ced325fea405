// Exceptions: what the CPU reports when the hypervisor itself goes wrong.
//
// boot/isr.S saves the registers in a trap frame on the stack and the C shim
// passes its address here, after stopping the other CPUs; interrupts (32
// and up) never come here (irq.ts). A CPU exception in the hypervisor is
// fatal: we print which CPU, which exception, the registers and a
// backtrace, and stop. A page fault
// inside the linear memory's window is a wasm out-of-bounds access (the guard
// region at work) and is reported as a wasm trap. Nothing here allocates: the
// fault may have happened inside the allocator.

import { physRead64, readCr2, readCr3, linearBase, backtrace, printSymbol } from "../arch/shim";
import { EXCEPTION_NAMES, VECTOR_DF, VECTOR_PF } from "../arch/x86";
import { stackGuard } from "../mm/hostpaging";
import { print, println, printHex } from "../console/console";
import { stop, ExitStatus } from "../console/panic";
import { screenStopped } from "../console/screen";

// Trap frame layout (u64 slots), matching the push order in boot/isr.S.
const FRAME_REGISTER_NAMES: string[] = [
  "r15",
  "r14",
  "r13",
  "r12",
  "r11",
  "r10",
  "r9",
  "r8",
  "rbp",
  "rdi",
  "rsi",
  "rdx",
  "rcx",
  "rbx",
  "rax",
];
const SLOT_RBP = 8;
const SLOT_VECTOR = 15;
const SLOT_ERROR = 16;
const SLOT_RIP = 17;
const SLOT_CS = 18;
const SLOT_RFLAGS = 19;
const SLOT_RSP = 20;

// A wasm address is a 32-bit index plus a 32-bit offset: 8 GiB of reach.
const LINEAR_REACH: u64 = <u64>8 << 30;

function slot(frame: u64, index: i32): u64 {
  return physRead64(frame + <u64>index * 8);
}

// An exception in the hypervisor on CPU `cpu` (the shim has stopped the others).
export function onTrap(frame: u64, cpu: u32): void {
  const vector = slot(frame, SLOT_VECTOR);
  screenStopped();
  print("\n*** cpu ");
  printHex(cpu, 1);
  print(":");
  if (vector == <u64>VECTOR_PF) {
    const address = readCr2();
    const base = linearBase();
    if (address >= base && address - base < LINEAR_REACH) {
      print("\n*** wasm trap: out-of-bounds memory access at linear address 0x");
      printHex(address - base);
      print(" (rip 0x");
      printHex(slot(frame, SLOT_RIP));
      println(")");
      printBacktrace(frame);
      stop(ExitStatus.Trap);
    }
  }
  // An overflow faults on the guard page; pushing the #PF frame faults
  // again, so it arrives as a double fault, on the IST stack.
  if (vector == <u64>VECTOR_DF || vector == <u64>VECTOR_PF) {
    const address = readCr2();
    if (address >= stackGuard() && address - stackGuard() < 4096) println("\n*** hypervisor stack overflow");
  }
  print("\n*** CPU exception ");
  printHex(vector, 2);
  print(" (");
  print(vector < <u64>EXCEPTION_NAMES.length ? EXCEPTION_NAMES[<i32>vector] : "reserved");
  print(") error code 0x");
  printHex(slot(frame, SLOT_ERROR));
  println(" in the hypervisor");
  dumpRegisters(frame);
  printBacktrace(frame);
  stop(ExitStatus.Exception);
}

// The faulting instruction's function, then its callers (the shim walks the
// frame pointers), each line "    at 0x<address> <function>+0x<offset>".
function printBacktrace(frame: u64): void {
  const rip = slot(frame, SLOT_RIP);
  print("    at 0x");
  printHex(rip, 16);
  printSymbol(rip);
  println("");
  backtrace(slot(frame, SLOT_RBP));
}

function dumpRegisters(frame: u64): void {
  printPair("rip", slot(frame, SLOT_RIP));
  printPair("rsp", slot(frame, SLOT_RSP));
  printPair("rflags", slot(frame, SLOT_RFLAGS));
  printPair("cs", slot(frame, SLOT_CS));
  println("");
  for (let i = FRAME_REGISTER_NAMES.length - 1; i >= 0; i--) {
    printPair(FRAME_REGISTER_NAMES[i], slot(frame, i));
    if (i % 4 == 3) println("");
  }
  println("");
  printPair("cr2", readCr2());
  printPair("cr3", readCr3());
  println("");
}

function printPair(name: string, value: u64): void {
  print("  ");
  print(name);
  print("=");
  printHex(value, 16);
}
