// virtio over PCI, the modern interface (virtio 1.2, 4.1): how a driver
// finds a virtio device's registers, negotiates features, sets up queues,
// notifies the device and is interrupted.
//
// The function is vendor 1AF4h, device 1040h + the virtio device ID,
// revision 1: a non-transitional device, no legacy I/O interface (4.1.2).
// Vendor-specific capabilities (4.1.4) point into its 64-bit memory BAR 4,
// where the common configuration (commonconfig.ts), the ISR status, the
// device's own configuration and the notification registers each have a
// 4 KiB page; BAR 1 holds the MSI-X table and pending bits. A second
// notification structure, listed before the one in BAR 4, is the port
// of I/O BAR 2, where the driver notifies any queue by writing its index
// (notify_off_multiplier 0, 4.1.4.4). A driver takes the first structure
// of a type it can use (Linux's virtio_pci_find_capability() does), and a
// port write is the cheaper exit: it comes with its port, size and value,
// where a write to memory must have its instruction fetched and decoded
// (vmm/emul/mmio.ts), and it may take the exit's lane (docs/vm-exit.md). Interrupts go
// by MSI-X once the driver enables it, to the vector it chose per queue;
// before that by INTx#, level-triggered, with the ISR status saying why
// (4.1.4.5) until the driver reads it. The function also has plain MSI
// (PCI 3.0, 6.8.1), which virtio does not define: one vector, 64-bit
// addresses, per-vector masking. While the driver has MSI enabled, the
// ISR status is kept as for INTx#, and each interrupt is the one MSI
// message instead of INTx#. A driver that enables both MSI and MSI-X
// (which PCI 3.0, 6.8.1.3 forbids) gets MSI-X alone.

import * as log from "../../../kernel/console/log";
import { GuestMemory } from "../../core/guestmemory";
import { Device, RegisterBlocks } from "../bus";
import { PciFunction } from "../pci/function";
import { Msi } from "../pci/msi";
import { MessageSink, MSIX_ENTRY_SIZE, MsiX } from "../pci/msix";
import { CommonConfig } from "./commonconfig";
import { VirtioDevice, VirtioSignals } from "./device";
import {
  CAP_BAR,
  CAP_BYTES,
  CAP_MULTIPLIER,
  CAP_OFFSET,
  CAP_SIZE,
  CAP_TYPE,
  COMMON_CFG,
  DEVICE_CFG,
  ISR_CFG,
  NOTIFY_CAP_BYTES,
  NOTIFY_CFG,
  STATUS_DEVICE_NEEDS_RESET,
  VENDOR_SPECIFIC,
  VIRTIO_VENDOR,
} from "../virtiospec";

const MODERN_DEVICE_ID: u16 = 0x1040;
const REVISION: u8 = 1;

// The layout of the two BARs.
const MSIX_BAR: u32 = 1, MSIX_BAR_SIZE: u32 = 0x1000, PBA_AT: u32 = 0x800;
const REGISTERS_BAR: u32 = 4, REGISTERS_BAR_SIZE: u64 = 0x4000;
const NOTIFY_PORT_BAR: u32 = 2, NOTIFY_PORT_BAR_SIZE: u32 = 4;
const COMMON_AT: u32 = 0x0000, ISR_AT: u32 = 0x1000, DEVICE_AT: u32 = 0x2000, NOTIFY_AT: u32 = 0x3000;
const PAGE: u32 = 0x1000;
// Each queue its own notification address, 4 bytes apart (4.1.4.4).
const NOTIFY_MULTIPLIER: u32 = 4;

// ISR status bits (4.1.4.5).
const ISR_QUEUE: u8 = 1 << 0;
const ISR_CONFIG: u8 = 1 << 1;

export class VirtioPci extends PciFunction {
  readonly common!: CommonConfig;
  readonly msix!: MsiX;
  readonly msi!: Msi;

  constructor(readonly device: VirtioDevice, memory: GuestMemory, messages: MessageSink) {
    super("virtio-" + device.name, VIRTIO_VENDOR, MODERN_DEVICE_ID + device.type, classOf(device.type), REVISION);
    // One vector per queue and one for configuration changes.
    const vectors = device.queueCount + 1;
    const msixBar = new RegisterBlocks("virtio MSI-X");
    const msix = new MsiX(this, messages, vectors, MSIX_BAR, 0, MSIX_BAR, PBA_AT);
    msixBar.blocks.map(0, <u64>(vectors * MSIX_ENTRY_SIZE), msix.table);
    msixBar.blocks.map(PBA_AT, 8 * <u64>((vectors + 63) / 64), msix.pendingBits);
    this.addMemoryBar(MSIX_BAR, MSIX_BAR_SIZE, false, msixBar);
    this.msix = msix;
    this.msi = new Msi(this, messages, 0, true, true);

    const common = new CommonConfig(device, memory, this);
    const registers = new RegisterBlocks("virtio registers");
    registers.blocks.map(COMMON_AT, PAGE, common);
    registers.blocks.map(ISR_AT, 1, new IsrStatus(this));
    registers.blocks.map(DEVICE_AT, PAGE, new DeviceConfig(device));
    registers.blocks.map(
      NOTIFY_AT,
      <u64>(device.queueCount * NOTIFY_MULTIPLIER),
      new Notifications(common, NOTIFY_MULTIPLIER),
    );
    this.addMemoryBar(REGISTERS_BAR, REGISTERS_BAR_SIZE, true, registers);
    this.addIoBar(NOTIFY_PORT_BAR, NOTIFY_PORT_BAR_SIZE, new Notifications(common, 0));
    this.common = common;
    this.addVirtioCapability(COMMON_CFG, REGISTERS_BAR, COMMON_AT, PAGE);
    this.addVirtioCapability(ISR_CFG, REGISTERS_BAR, ISR_AT, PAGE);
    // Only a device with a configuration has the structure (4.1.4.6): Linux
    // fails its probe on one of length 0.
    if (device.configSize > 0) this.addVirtioCapability(DEVICE_CFG, REGISTERS_BAR, DEVICE_AT, device.configSize);
    // The port first: multiplier 0, every queue's notification at its
    // start, two bytes wide (4.1.4.4: cap.length at least 2).
    this.addVirtioCapability(NOTIFY_CFG, NOTIFY_PORT_BAR, 0, 2);
    const notify = this.addVirtioCapability(
      NOTIFY_CFG,
      REGISTERS_BAR,
      NOTIFY_AT,
      device.queueCount * NOTIFY_MULTIPLIER,
    );
    this.config.set(notify + CAP_MULTIPLIER, 4, NOTIFY_MULTIPLIER);
    this.useInterruptPin(1);
    device.signals = new TransportSignals(this);
  }

  // The ISR status, which a read also clears and with it INTx# (4.1.4.5.1).
  takeIsr(): u8 {
    const isr = this.common.isr;
    this.common.isr = 0;
    this.setIntx(false);
    return isr;
  }

  // Tells the driver: by the MSI-X vector it chose for this, or by the ISR
  // and INTx#, which the function holds back while MSI is enabled and
  // sends MSI's one message instead.
  interrupt(vector: u16, why: u8): void {
    // NO_VECTOR (commonconfig.ts) lies past every table (2048 entries at
    // most): with MSI-X on, nothing is sent.
    if (this.msix.raise(vector)) return;
    this.common.isr |= why;
    this.setIntx(true);
    this.msi.raise(0);
  }

  // INTx# released: the ISR is clear (read, or the device reset), and a
  // message MSI holds pending for it is withdrawn.
  setIntx(asserted: bool): void {
    super.setIntx(asserted);
    if (!asserted) this.msi.withdraw(0);
  }

  interruptForQueue(index: u32): void {
    this.interrupt(this.common.queueVector(index), ISR_QUEUE);
  }

  interruptForConfig(): void {
    this.common.configChanged();
    this.interrupt(this.common.configVector, ISR_CONFIG);
  }

  // A structure of `type` at `offset` in BAR `bar`, `length` bytes long;
  // the notification structure's multiplier is left 0.
  private addVirtioCapability(type: u8, bar: u32, offset: u32, length: u32): u32 {
    const at = this.addCapability(VENDOR_SPECIFIC, type == NOTIFY_CFG ? NOTIFY_CAP_BYTES : CAP_BYTES);
    const c = this.config;
    c.set(at + 2, 1, type == NOTIFY_CFG ? NOTIFY_CAP_BYTES : CAP_BYTES); // cap_len
    c.set(at + CAP_TYPE, 1, type);
    c.set(at + CAP_BAR, 1, bar);
    c.set(at + CAP_OFFSET, 4, offset);
    c.set(at + CAP_SIZE, 4, length);
    return at;
  }
}

// PCI class codes (PCI 3.0, appendix D) as QEMU gives its virtio devices,
// which some guests look at: block as mass storage, console as a
// communication controller, the rest "other".
function classOf(type: u16): u32 {
  if (type == 1) return 0x02_00_00; // network controller, Ethernet
  if (type == 2) return 0x01_00_00; // mass storage, SCSI
  if (type == 3) return 0x07_80_00; // communication controller, other
  return 0xff_00_00;
}

class TransportSignals extends VirtioSignals {
  constructor(private fn: VirtioPci) {
    super();
  }
  usedBuffers(index: u32): void {
    this.fn.interruptForQueue(index);
  }
  configChanged(): void {
    this.fn.interruptForConfig();
  }
  // 2.1.2: the device sets DEVICE_NEEDS_RESET and should say so with a
  // configuration change notification.
  needsReset(reason: string): void {
    log.warn(this.fn.name + ": " + reason + "; the device needs a reset");
    this.fn.common.setStatusBits(STATUS_DEVICE_NEEDS_RESET);
    this.fn.interruptForConfig();
  }
}

class IsrStatus extends Device {
  constructor(private fn: VirtioPci) {
    super("virtio ISR status");
  }
  read(offset: u64, size: u8): u64 {
    return this.fn.takeIsr();
  }
  write(offset: u64, size: u8, value: u64): void {}
}

class DeviceConfig extends Device {
  constructor(private device: VirtioDevice) {
    super("virtio device configuration");
  }
  read(offset: u64, size: u8): u64 {
    return offset < <u64>this.device.configSize ? this.device.readConfig(<u32>offset, size) : 0;
  }
  write(offset: u64, size: u8, value: u64): void {
    if (offset < <u64>this.device.configSize) this.device.writeConfig(<u32>offset, size, <u32>value);
  }
}

// A notification structure (4.1.4.4): the driver writes a queue's index
// at that queue's address, queue_notify_off times the multiplier into
// the structure (4.1.5.2; without VIRTIO_F_NOTIFICATION_DATA the value is
// the index alone). In BAR 4 each queue has an address of its own, which
// says which; at the port (multiplier 0) all share one, and the value does.
class Notifications extends Device {
  constructor(private common: CommonConfig, private multiplier: u32) {
    super("virtio notifications");
  }
  read(offset: u64, size: u8): u64 {
    return 0;
  }
  write(offset: u64, size: u8, value: u64): void {
    this.common.notify(this.multiplier == 0 ? <u32>(value & 0xffff) : <u32>(offset / this.multiplier));
  }
}
