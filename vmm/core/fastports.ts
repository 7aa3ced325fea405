// The ports of a VM that a backend's exit fast path answers itself, on the
// guest's CPU and without the hypervisor lock (fastExit() in
// hw/svm/svmvcpu.ts and hw/vmx/vmxvcpu.ts):
// - quiet ports, of a device without state: writes are dropped and reads
//   give zero, whichever CPU asks and whenever. The POST port 0x80 is one:
//   firmware writes its progress codes there and kernels write it as an I/O
//   delay (Linux's outb_p()). The set is the VM's for its whole life.
// - mirrored ports: a byte read gives what the device last published, while
//   a read would change nothing in it (devices/readmirror.ts). A UART's line
//   status is one: a kernel's console reads it before every character.
//   Writes, and the reads a device does not publish, go to the device.
// The bus maps the same ports (Vm.addQuietPort(), the devices) for the
// accesses the fast path leaves to the generic handler: string I/O,
// single-stepping and I/O breakpoints.

import { ReadMirror } from "../devices/readmirror";

// Fast ports are legacy ISA ports, below 400h.
export const FAST_PORT_LIMIT: u32 = 0x400;
// A mirrored port's entry: this bit, and the byte a read gives.
const MIRRORED: u16 = 0x100;

export class FastPorts {
  private quiet: StaticArray<u32> = new StaticArray<u32>(<i32>(FAST_PORT_LIMIT / 32));
  private mirrors: StaticArray<u16> = new StaticArray<u16>(<i32>FAST_PORT_LIMIT);

  add(port: u16): void {
    assert(<u32>port < FAST_PORT_LIMIT, "a quiet port is an ISA port");
    this.quiet[port >> 5] |= 1 << (port & 31);
  }

  // What a device publishes reads of `port` through.
  mirror(port: u16): ReadMirror {
    assert(<u32>port < FAST_PORT_LIMIT, "a mirrored port is an ISA port");
    return new MirroredPort(this.mirrors, port);
  }

  @inline
  isQuiet(port: u32): bool {
    return port < FAST_PORT_LIMIT && ((unchecked(this.quiet[port >> 5]) >> (port & 31)) & 1) != 0;
  }

  // What an IN of `size` bytes from `port` gives, or -1 if the device must answer it.
  @inline
  read(port: u32, size: u8): i32 {
    if (port >= FAST_PORT_LIMIT) return -1;
    if (((unchecked(this.quiet[port >> 5]) >> (port & 31)) & 1) != 0) return 0;
    const entry = unchecked(this.mirrors[port]);
    return size == 1 && (entry & MIRRORED) != 0 ? <i32>(entry & 0xff) : -1;
  }
}

// One port's entry, as its device sees it. A 16-bit store: the fast path
// on another CPU reads the flag and the byte together.
class MirroredPort extends ReadMirror {
  constructor(private mirrors: StaticArray<u16>, private port: u16) {
    super();
  }
  publish(value: u8): void {
    unchecked(this.mirrors[this.port] = MIRRORED | <u16>value);
  }
  withdraw(): void {
    unchecked(this.mirrors[this.port] = 0);
  }
}
