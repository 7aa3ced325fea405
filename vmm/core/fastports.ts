// The port I/O a backend's exit fast path finishes itself, on the guest's
// CPU, without returning to the scheduler (fastExit() in hw/svm/svmvcpu.ts
// and hw/vmx/vmxvcpu.ts). Two kinds:
//
// - Quiet ports, answered by a device without state: writes are dropped and
//   reads give zero, whichever CPU asks and whenever, so no lock is needed.
//   The POST port 0x80 is one: firmware writes its progress codes there and
//   kernels write it as an I/O delay (Linux's outb_p()).
// - Quick accesses to devices with state (devices/bus.ts, "quickly"): a
//   register read or written with no effect beyond the device, such as a
//   UART's scratch register or the PCI configuration address. They run under the
//   hypervisor lock, taken only if nobody holds or waits for it.
//
// Anything else (an access a device declines, a busy lock, string I/O,
// single-stepping, I/O breakpoints) takes the generic handler, where the bus
// maps the same devices (Vm.addQuietPort() maps a NullDevice on the quiet
// ports). One FastPorts serves a VM's vCPUs for its whole life; a restart
// gives it the fresh bus's port space (Vm.freshBus()).

import { hvTryLock, hvUnlock } from "../../kernel/arch/shim";
import { AddressSpace, DECLINED } from "../devices/bus";
import { raxAfterIn } from "./registers";

// Quiet ports are legacy ISA ports, below 400h.
export const QUIET_PORT_LIMIT: u32 = 0x400;

export class FastPorts {
  private quiet: StaticArray<u32> = new StaticArray<u32>(<i32>(QUIET_PORT_LIMIT / 32));
  // The VM's port space (Vm.bus.io).
  io: AddressSpace = new AddressSpace();

  addQuiet(port: u16): void {
    assert(<u32>port < QUIET_PORT_LIMIT, "a quiet port is an ISA port");
    this.quiet[port >> 5] |= 1 << (port & 31);
  }

  // Finishes an IN or OUT of `size` bytes at a quiet `port`, with the
  // guest's RAX at `rax` (in the VMCB or the register block); false if the
  // port is not quiet.
  @inline
  quietAccess(port: u32, size: u8, isIn: bool, rax: usize): bool {
    if (port >= QUIET_PORT_LIMIT || ((unchecked(this.quiet[port >> 5]) >> (port & 31)) & 1) == 0) return false;
    if (isIn) store<u64>(rax, raxAfterIn(load<u64>(rax), size, 0));
    return true;
  }

  // Whether a quick access to `port` may be tried (AddressSpace.mayBeQuick()).
  // Asked without the lock: a hint, which quickAccess() checks under it.
  @inline
  mayBeQuick(port: u32, isIn: bool): bool {
    return this.io.mayBeQuick(port, isIn);
  }

  // Finishes the IN or OUT as a quick access to its device, if the lock is
  // free and the device takes it; false if not.
  @inline
  quickAccess(port: u32, size: u8, isIn: bool, rax: usize): bool {
    return isIn ? this.quickIn(port, size, rax) : this.quickOut(port, size, load<u64>(rax));
  }

  // Out of line, one for each direction: the exits above need no lock and
  // no call.
  private quickIn(port: u32, size: u8, rax: usize): bool {
    if (!hvTryLock()) return false;
    const value = this.io.quickRead(port, size);
    hvUnlock();
    if (value == DECLINED) return false;
    store<u64>(rax, raxAfterIn(load<u64>(rax), size, value));
    return true;
  }
  private quickOut(port: u32, size: u8, value: u64): bool {
    if (!hvTryLock()) return false;
    const done = this.io.quickWrite(port, size, value);
    hvUnlock();
    return done;
  }
}
