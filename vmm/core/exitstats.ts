// Where a VM's exits go: how many of each kind reached handleExit(),
// printed when the VM stops. The exits a backend finishes itself (the fast
// path, docs/vm-exit.md; EFER on AMD-V) never reach handleExit() and appear
// as one figure, the rest of Vcpu.exits. Counting costs the exit path one
// load, add and store (sched/scheduler.ts); nothing is allocated.

import { print, println } from "../../kernel/console/console";
import { ExitKind } from "./exit";

// In the order of ExitKind.
const NAMES: string[] = [
  "none",
  "cpuid",
  "hlt",
  "io",
  "msr-read",
  "msr-write",
  "mmio",
  "hypercall",
  "cr",
  "task-priority",
  "xsetbv",
  "external-interrupt",
  "interrupt-window",
  "nmi-window",
  "preemption-timer",
  "pause",
  "monitor-mwait",
  "rdpmc",
  "triple-fault",
  "exception-loop",
  "init",
  "virtualization-instruction",
  "invalid-state",
  "breakpoint",
  "debug-step",
  "unhandled",
];
export const EXIT_KINDS = <i32>ExitKind.Unhandled + 1;

export function exitKindName(kind: ExitKind): string {
  return <i32>kind < EXIT_KINDS ? NAMES[kind] : "?";
}

export class ExitStats {
  private counts: StaticArray<u64> = new StaticArray<u64>(EXIT_KINDS);

  // Counted before the handler runs, so that an exit which stops the VM
  // (and prints the report) is in it.
  @inline
  count(kind: ExitKind): void {
    unchecked(this.counts[kind] += 1);
  }

  // How many exits of `kind` (below EXIT_KINDS) reached handleExit().
  handled(kind: i32): u64 {
    return kind >= 0 && kind < EXIT_KINDS ? this.counts[kind] : 0;
  }

  // "vm NAME: exits handled: io 812, hlt 40; 95 finished in the backend"
  report(name: string, exits: u64): void {
    print("vm " + name + ": exits handled:");
    let handled: u64 = 0;
    for (let i = 0; i < EXIT_KINDS; i++) {
      const n = this.counts[i];
      if (n == 0) continue;
      print((handled == 0 ? " " : ", ") + NAMES[i] + " " + n.toString());
      handled += n;
    }
    println((handled == 0 ? " none" : "") + "; " + (exits - handled).toString() + " finished in the backend");
  }
}
