// The ports of a VM that a device without state answers: writes are
// dropped and reads give zero, whichever CPU asks and whenever. The POST
// port 0x80 is one: firmware writes its progress codes there and kernels
// write it as an I/O delay (Linux's outb_p()).
//
// Since an access changes nothing, a backend's exit fast path finishes an
// IN or OUT to a quiet port itself, on the guest's CPU and without the
// hypervisor lock (fastExit() in hw/svm/svmvcpu.ts and hw/vmx/vmxvcpu.ts).
// The bus maps the same ports (Vm.addQuietPort()) for the accesses the
// fast path leaves to the generic handler: string I/O, single-stepping and
// I/O breakpoints. The set is the VM's for its whole life: a restart maps
// the same ports again on its fresh bus.

// Quiet ports are legacy ISA ports, below 400h.
export const QUIET_PORT_LIMIT: u32 = 0x400;

export class QuietPorts {
  private bits: StaticArray<u32> = new StaticArray<u32>(<i32>(QUIET_PORT_LIMIT / 32));

  add(port: u16): void {
    assert(<u32>port < QUIET_PORT_LIMIT, "a quiet port is an ISA port");
    this.bits[port >> 5] |= 1 << (port & 31);
  }

  @inline
  has(port: u32): bool {
    return port < QUIET_PORT_LIMIT && ((unchecked(this.bits[port >> 5]) >> (port & 31)) & 1) != 0;
  }
}
