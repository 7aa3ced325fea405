// The last exits a vCPU brought to the VMM, for the report when the
// hypervisor itself fails while it runs that vCPU (kernel/console/panic.ts):
// what the guest did just before is often the bug's best witness.
//
// Eight entries in a ring, filled by the scheduler for every exit that
// reaches handleExit() (the fast path's are only counted). Nothing here
// allocates after construction: the report may come from a trap inside
// the allocator.

import { print, printDec, printHex } from "../../kernel/console/console";
import { Exit, ExitKind } from "./exit";
import { exitKindName } from "./exitstats";

const ENTRIES = 8;

export class ExitLog {
  private readonly kinds: StaticArray<u8> = new StaticArray<u8>(ENTRIES);
  private readonly codes: StaticArray<u64> = new StaticArray<u64>(ENTRIES);
  private readonly qualifications: StaticArray<u64> = new StaticArray<u64>(ENTRIES);
  private readonly rips: StaticArray<u64> = new StaticArray<u64>(ENTRIES);
  private readonly tscs: StaticArray<u64> = new StaticArray<u64>(ENTRIES);
  private recorded: u32 = 0;

  record(exit: Exit, tsc: u64): void {
    const i = <i32>(this.recorded % ENTRIES);
    unchecked(this.kinds[i] = <u8>exit.kind);
    unchecked(this.codes[i] = exit.code);
    unchecked(this.qualifications[i] = exit.qualification);
    unchecked(this.rips[i] = exit.rip);
    unchecked(this.tscs[i] = tsc);
    this.recorded++;
  }

  // "    io (code 0x7b, qualification 0x3f80000) at rip 0x8123, tsc 912345", oldest first.
  print(): void {
    const n = min(this.recorded, ENTRIES);
    for (let k: u32 = 0; k < n; k++) {
      const i = <i32>((this.recorded - n + k) % ENTRIES);
      print("    ");
      print(exitKindName(<ExitKind>this.kinds[i]));
      print(" (code 0x");
      printHex(this.codes[i]);
      print(", qualification 0x");
      printHex(this.qualifications[i]);
      print(") at rip 0x");
      printHex(this.rips[i]);
      print(", tsc ");
      printDec(this.tscs[i]);
      print("\n");
    }
  }
}
