// Unit-test entry: virtio-net NICs (vmm/devices/virtio/net.ts) of four
// VMs on one virtual switch (vmm/net/). Each NIC is its own VirtioPci
// function on one PCI bus reached through ECAM, but each has its own VM's
// RAM, so frames cross from one VM's memory to another's as on the host:
// slot 11 is VM a's NIC on VLAN 10, slot 12 VM b's on VLAN 10, slot 13 VM
// c's on VLAN 20, slot 14 VM d's on VLAN 10, d a VM of two vCPUs whose
// NIC has two queue pairs. MSI-X messages are recorded; the TSC is the test's.

import { setTscPerMillisecond } from "../../../kernel/time/tsc";
import { GuestMemory } from "../../../vmm/core/guestmemory";
import { Bus } from "../../../vmm/devices/bus";
import { Ecam } from "../../../vmm/devices/pci/ecam";
import { hostBridge } from "../../../vmm/devices/pci/hostbridge";
import { BarWindows, PciBus } from "../../../vmm/devices/pci/pcibus";
import { VirtioNet } from "../../../vmm/devices/virtio/net";
import { VirtioPci } from "../../../vmm/devices/virtio/pcitransport";
import { VmPort } from "../../../vmm/net/port";
import { VirtualSwitch } from "../../../vmm/net/switch";
import {
  ECAM_BASE,
  ECAM_SIZE,
  PCI_IO_BASE,
  PCI_IO_END,
  PCI_MEMORY_BASE,
  PCI_MEMORY_END,
} from "../../../vmm/platform/pc/pcimap";
import { Lines, messages, Routing } from "./pcirecorders";
export { messageAddress, messageCount, messageData } from "./pcirecorders";

const FIRST_SLOT: u32 = 11;

const space = new Bus();
const pci = new PciBus(space, new Lines(), new Routing());
space.mmio.map(ECAM_BASE, ECAM_SIZE, new Ecam(pci));
const net = new VirtualSwitch();
const ports: VmPort[] = [];
const nics: VirtioNet[] = [];

// NIC i (0 to 3) with address macBase + i, its VM's RAM `ramSize` bytes at
// host-physical ramHpa + i * ramSize; NIC 0 capped at `bytesPerSecond` (0: none).
export function build(ramHpa: u64, ramSize: u64, macBase: u64, bytesPerSecond: u64): void {
  pci.attach(0, 0, hostBridge());
  const vlans: u16[] = [10, 10, 20, 10];
  for (let i = 0; i < 4; i++) {
    const ram = new GuestMemory();
    ram.add(0, ramHpa + <u64>i * ramSize, ramSize);
    const port = new VmPort(macBase + <u64>i, [vlans[i]], false, i == 0 ? bytesPerSecond : 0);
    net.connect(port);
    const nic = new VirtioNet(port, net, i == 3 ? 2 : 1);
    pci.attach(FIRST_SLOT + <u32>i, 0, new VirtioPci(nic, ram, messages));
    ports.push(port);
    nics.push(nic);
  }
  pci.assignResources(new BarWindows(PCI_MEMORY_BASE, PCI_MEMORY_END, PCI_IO_BASE, PCI_IO_END));
}

// The TSC's rate, measured against the PIT as at boot (the test's FakeTsc).
export function calibrate(tscPerMs: u64): void {
  setTscPerMillisecond(tscPerMs);
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
export function dropped(nic: i32, why: i32): u64 {
  return ports[nic].drops[why];
}
// When NIC i's held-back frame may go (NOT_DUE if none), and its going.
export function resumeAt(nic: i32): u64 {
  return nics[nic].resume.dueAt;
}
export function resume(nic: i32): void {
  nics[nic].resume.run();
}
