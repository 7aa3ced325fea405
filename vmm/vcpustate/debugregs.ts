// A vCPU's debug registers: the breakpoint addresses DR0-DR3 and, under
// VT-x, the status register DR6; and the I/O breakpoints, which only the
// VMM can see hit, since every IN and OUT exits.
//
// Neither backend switches these on its own: a VMCS holds only DR7 (through
// the debug-controls entry and exit controls), a VMCB DR6 and DR7 (SDM Vol.
// 3C 26.3.2.1, 27.3.1; APM Vol. 2 15.5.1). The hypervisor never uses
// breakpoints, so a guest owns the real registers for its whole slice and
// reads and writes them without exits: MOV DR is not intercepted. enter()
// makes them the vCPU's when its slice starts, so no VM sees another's
// breakpoints; DR7 and (AMD-V) DR6 stay in the VMCS/VMCB, where the CPU
// switches them at every entry and exit.

import { readDr, writeDr } from "../../kernel/arch/shim";
import { CR4_DE, DR6_RESET } from "../../kernel/arch/x86";

// DR7's LEN field: 00b 1 byte, 01b 2, 10b 8, 11b 4 (SDM Vol. 3B 18.2.5).
const BREAKPOINT_LENGTHS: StaticArray<u64> = [1, 2, 8, 4];

// Whose values each CPU's debug registers hold.
const owners: (DebugRegisters | null)[] = [];

export class DebugRegisters {
  private readonly breakpoints: StaticArray<u64> = new StaticArray<u64>(4);
  private status: u64 = DR6_RESET;

  // `switchesDr6`: false where the backend's VMCB already holds DR6.
  constructor(private switchesDr6: bool) {}

  // Makes them `cpu`'s (the CPU that runs the vCPU's slice), saving the
  // previous owner's values first; a vCPU whose slices follow one another
  // on a CPU keeps them loaded and pays nothing.
  enter(cpu: u32): void {
    while (<u32>owners.length <= cpu) owners.push(null);
    const previous = owners[cpu];
    if (previous === this) return;
    if (previous !== null) previous.save();
    for (let i: u32 = 0; i < 4; i++) writeDr(i, this.breakpoints[i]);
    if (this.switchesDr6) writeDr(6, this.status);
    owners[cpu] = this;
  }

  // The CPU that holds its values, which must release() them before
  // another CPU may load them; -1 if none.
  ownerCpu(): i32 {
    for (let i = 0; i < owners.length; i++) if (owners[i] === this) return i;
    return -1;
  }

  // The DR6 bits B0-B3 of the I/O breakpoints that an access to ports
  // `port` to `port + size - 1` meets, under the guest's DR7 and CR4 (SDM
  // Vol. 3B 18.2.4, 18.2.5: R/W 10b is an I/O breakpoint with CR4.DE set;
  // LEN is 1, 2, 8 or 4 bytes, the address aligned to it). Whether DR7
  // enables each one, the caller decides: DR6 reports them all. Called on
  // the CPU that holds the registers (the vCPU's, while it handles an exit).
  ioBreakpointsMet(dr7: u64, cr4: u64, port: u64, size: u8): u64 {
    if ((cr4 & CR4_DE) == 0) return 0;
    let met: u64 = 0;
    for (let i: u32 = 0; i < 4; i++) {
      const field = <u32>(dr7 >> (16 + 4 * i)) & 0xf;
      if ((field & 3) != 0b10) continue;
      const length: u64 = BREAKPOINT_LENGTHS[field >> 2];
      const start = readDr(i) & ~(length - 1);
      if (port < start + length && start < port + <u64>size) met |= <u64>1 << i;
    }
    return met;
  }

  // `cpu` lets go of them, saving them, so that another CPU can load them.
  release(cpu: u32): void {
    if (cpu >= <u32>owners.length || owners[cpu] !== this) return;
    this.save();
    owners[cpu] = null;
  }

  private save(): void {
    for (let i: u32 = 0; i < 4; i++) this.breakpoints[i] = readDr(i);
    if (this.switchesDr6) this.status = readDr(6);
  }
}
