// The panic path: report a fatal error and stop the machine cleanly.
//
// A panic prints its reason on the console and halts the CPU (leaving the
// emulator with a status when the kernel was started with exit=emulator).
// Nothing here allocates, so it works even when the heap is the problem.

import { flushConsole, print, println, printDec } from "./console";
import { screenStopped } from "./screen";
import { backtrace, halt, thisCpu } from "../arch/shim";

// Exit statuses seen by the emulator with exit=emulator (QEMU reports (s << 1) | 1).
export const enum ExitStatus {
  Shutdown = 0,
  Panic = 1,
  Trap = 3,
  Exception = 4,
}

// What the VMM adds to the report of a failure on a CPU: the vCPU that CPU
// was running, and what that vCPU's guest did last (vmm/sched/scheduler.ts).
export abstract class FaultWitness {
  abstract report(cpu: u32): void;
}
let witness: FaultWitness | null = null;

export function setFaultWitness(w: FaultWitness): void {
  witness = w;
}

// Once per failure: the C side's wasm traps call it too (linker/runtime.c).
let witnessed = false;
export function reportFaultWitness(cpu: u32): void {
  screenStopped();
  if (witness === null || witnessed) return;
  witnessed = true;
  witness!.report(cpu);
}

export function stop(status: ExitStatus): void {
  if (status != ExitStatus.Shutdown) reportFaultWitness(thisCpu());
  flushConsole();
  halt(status);
  unreachable();
}

export function panic(reason: string): void {
  screenStopped();
  print("\n*** typervisor panic: ");
  println(reason);
  println("*** the hypervisor has stopped.");
  stop(ExitStatus.Panic);
}

// AssemblyScript's abort() (a failed runtime check such as an array index out
// of range, or out of memory) is a wasm trap with a source location.
export function wasmAbort(message: string | null, file: string | null, line: u32, column: u32): void {
  screenStopped();
  print("\n*** wasm trap: abort: ");
  print(message !== null ? message : "(no message)");
  print(" at ");
  print(file !== null ? file : "?");
  print(":");
  printDec(line);
  print(":");
  printDec(column);
  println("");
  backtrace(0); // from here: the first frame is the function whose check failed
  stop(ExitStatus.Trap);
}
