// Unit-test entry: virtio devices on a VM's PCI bus, as a guest's drivers
// find and drive them (vmm/devices/virtio/, vmm/storage/). build() puts on
// a bus of its own, reached through ECAM at ECAM_BASE: the host bridge at
// 00:00.0, a virtio-blk disk over a RAM disk at 00:03.0, a read-only one at
// 00:04.0 and a virtio-rng at 00:05.0, each its own VirtioPci function,
// with the guest's RAM and both RAM disks in fake physical memory. The
// firmware's BAR placement is done here; everything else the test does
// through configuration space and the BARs. Interrupt lines and MSI-X
// messages are recorded. Each load() of this module is a fresh machine.
// buildMultiqueue() adds, at 00:06.0, a disk of two request queues (a VM
// of two vCPUs') over the same RAM disk, capped at so many operations a
// second, whose held-back request the test resumes itself; or, `atDisk`,
// over a disk whose batches stay at the disk until the test ends them.

import { IoBudget } from "../../../vmm/storage/budget";
import { BootModule } from "../../../kernel/boot/bootinfo";
import { setTscPerMillisecond } from "../../../kernel/time/tsc";
import { GuestMemory } from "../../../vmm/core/guestmemory";
import { Bus } from "../../../vmm/devices/bus";
import { Ecam } from "../../../vmm/devices/pci/ecam";
import { hostBridge } from "../../../vmm/devices/pci/hostbridge";
import { BarWindows, PciBus } from "../../../vmm/devices/pci/pcibus";
import { VirtioBlock } from "../../../vmm/devices/virtio/block";
import { VirtioEntropy } from "../../../vmm/devices/virtio/entropy";
import { VirtioPci } from "../../../vmm/devices/virtio/pcitransport";
import {
  ECAM_BASE,
  ECAM_SIZE,
  PCI_IO_BASE,
  PCI_IO_END,
  PCI_MEMORY_BASE,
  PCI_MEMORY_END,
} from "../../../vmm/platform/pc/pcimap";
import { DiskBacking } from "../../../vmm/storage/backing";
import { IoBatch } from "../../../vmm/storage/iobatch";
import { RamDisk } from "../../../vmm/storage/ramdisk";
import { Segments } from "../../../vmm/storage/segments";
import { DiskMeter, VmDisk } from "../../../vmm/storage/vmdisk";
import { Lines, messages, Routing } from "./pcirecorders";
export { messageAddress, messageCount, messageData } from "./pcirecorders";

const DISK_SLOT: u32 = 3, READ_ONLY_SLOT: u32 = 4, RNG_SLOT: u32 = 5, MULTIQUEUE_SLOT: u32 = 6;
const DISK_SERIAL = "typervisor-disk0"; // 16 bytes: NUL-padded to 20
const READ_ONLY_SERIAL = "a-read-only-disk-image.img"; // 26 bytes: cut at 20

const space = new Bus();
let vmDisks: VmDisk[] = [];
let multiqueue: VirtioBlock | null = null;
let backing: RamDisk | null = null;
const lines = new Lines();
const ram = new GuestMemory();
const pci = new PciBus(space, lines, new Routing());
space.mmio.map(ECAM_BASE, ECAM_SIZE, new Ecam(pci));

// The guest's RAM: `ramSize` bytes at guest-physical 0, host-physical
// `ramHpa`; the disks: the bytes [start, end) of host memory each, as a
// boot module's; the rng draws from RDSEED if `seed`, else RDRAND.
export function build(
  ramHpa: u64,
  ramSize: u64,
  diskStart: u64,
  diskEnd: u64,
  readOnlyStart: u64,
  readOnlyEnd: u64,
  seed: bool,
): void {
  ram.add(0, ramHpa, ramSize);
  const disk = new RamDisk(new BootModule(diskStart, diskEnd, "disk"), false, DISK_SERIAL);
  backing = disk;
  const readOnly = new RamDisk(new BootModule(readOnlyStart, readOnlyEnd, "ro"), true, READ_ONLY_SERIAL);
  pci.attach(0, 0, hostBridge());
  vmDisks = [new VmDisk(disk, new IoBudget(0, 0)), new VmDisk(readOnly, new IoBudget(0, 0))];
  pci.attach(DISK_SLOT, 0, new VirtioPci(new VirtioBlock(vmDisks[0], 1), ram, messages));
  pci.attach(READ_ONLY_SLOT, 0, new VirtioPci(new VirtioBlock(vmDisks[1], 1), ram, messages));
  pci.attach(RNG_SLOT, 0, new VirtioPci(new VirtioEntropy(seed), ram, messages));
  pci.assignResources(new BarWindows(PCI_MEMORY_BASE, PCI_MEMORY_END, PCI_IO_BASE, PCI_IO_END));
}

// A disk whose requests stay at the disk until end(): the data moves at
// once, as the RAM disk moves it, and the commands count as in flight.
class HeldDisk extends DiskBacking {
  private batches: IoBatch[] = [];
  private tags: i32[] = [];
  constructor(private ram: RamDisk) {
    super(ram.sectors, false, "held");
  }
  get kind(): string {
    return "held";
  }
  begin(offset: u64, data: Segments, write: bool, batch: IoBatch, tag: i32): bool {
    if (!this.ram.begin(offset, data, write, batch, tag)) return false;
    batch.started();
    this.batches.push(batch);
    this.tags.push(tag);
    return true;
  }
  poll(): void {}
  // A wait: the disk ends what it has.
  finish(batch: IoBatch): u64 {
    this.end();
    return batch.take();
  }
  flush(): bool {
    return true;
  }
  discard(offset: u64, length: u64): bool {
    return this.ram.discard(offset, length);
  }
  get count(): i32 {
    return this.tags.length;
  }
  end(): void {
    for (let i = 0; i < this.tags.length; i++) this.batches[i].ended(this.tags[i], true);
    this.batches.length = 0;
    this.tags.length = 0;
  }
}
let held: HeldDisk | null = null;

// After build(): the disk of two queues, capped at `iops`, the TSC
// running at `tscPerMs` ticks a millisecond.
export function buildMultiqueue(iops: u32, tscPerMs: u64, atDisk: bool): void {
  setTscPerMillisecond(tscPerMs);
  held = atDisk ? new HeldDisk(backing!) : null;
  const disk: DiskBacking = atDisk ? held! : backing!;
  multiqueue = new VirtioBlock(new VmDisk(disk, new IoBudget(iops, 0)), 2);
  pci.attach(MULTIQUEUE_SLOT, 0, new VirtioPci(multiqueue!, ram, messages));
  pci.assignResources(new BarWindows(PCI_MEMORY_BASE, PCI_MEMORY_END, PCI_IO_BASE, PCI_IO_END));
}
// When its held-back request may go (NOT_DUE if none), and its going.
export function multiqueueResumeAt(): u64 {
  return multiqueue!.resume.dueAt;
}
export function multiqueueResume(): void {
  multiqueue!.resume.run();
}
// A vCPU of the VM halts: the device's look ahead of the clock's.
export function multiqueueHalt(): void {
  multiqueue!.resume.lookOnHalt();
}
// The held disk ends the requests it has; how many it has.
export function endHeld(): void {
  held!.end();
}
export function heldRequests(): i32 {
  return held!.count;
}

// The counters the management API reads of the disk (0) or the read-only
// disk (1): "name=value" each, separated by commas.
export function diskTotals(which: i32): string {
  const totals = new DiskMeter(vmDisks[which]).totals(), parts: string[] = [];
  for (let i = 0; i < totals.length; i++) parts.push(totals[i].name + "=" + totals[i].value.toString());
  return parts.join(",");
}

export function mmioRead(address: u64, size: u8): u64 {
  return space.mmio.read(address, size);
}
export function mmioWrite(address: u64, size: u8, value: u64): void {
  space.mmio.write(address, size, value);
}
export function ioWrite(port: u32, size: u8, value: u64): void {
  space.io.write(port, size, value);
}
export function lineLevel(line: u32): i32 {
  return lines.levels[line];
}
