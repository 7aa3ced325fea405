// The common configuration structure of a virtio PCI device (virtio 1.2,
// 4.1.4.3): the registers through which a driver reads the device's
// features and accepts some, walks the device status through its
// handshake (3.1.1), and sets up each queue.
//
// A driver may access a field in pieces (a 64-bit queue address as two
// 32-bit halves, 4.1.3.1), so accesses are taken a byte at a time and
// applied to the fields they touch.

import { GuestMemory } from "../../core/guestmemory";
import { VirtioDevice } from "./device";
import {
  COMMON_CFG_BYTES,
  CONFIG_GENERATION,
  CONFIG_MSIX_VECTOR,
  DEVICE_FEATURE,
  DEVICE_FEATURE_SELECT,
  DEVICE_STATUS,
  DRIVER_FEATURE,
  DRIVER_FEATURE_SELECT,
  F_EVENT_IDX,
  F_INDIRECT_DESC,
  F_VERSION_1,
  NUM_QUEUES,
  QUEUE_DESC,
  QUEUE_DEVICE,
  QUEUE_DRIVER,
  QUEUE_ENABLE,
  QUEUE_MSIX_VECTOR,
  QUEUE_NOTIFY_OFF,
  QUEUE_SELECT,
  QUEUE_SIZE,
  STATUS_DEVICE_NEEDS_RESET,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
} from "../virtiospec";
import { Device } from "../bus";
import { PciFunction } from "../pci/function";
import { Virtqueue } from "./virtqueue";

// 4.1.4.3: "no vector" for config_msix_vector and queue_msix_vector.
export const NO_VECTOR: u16 = 0xffff;

export class CommonConfig extends Device {
  readonly queues: Virtqueue[] = [];
  private queueVectors: StaticArray<u16>;
  configVector: u16 = NO_VECTOR;
  // The ISR status (4.1.4.5): why INTx# is asserted.
  isr: u8 = 0;
  private status: u8 = 0;
  private deviceFeatureSelect: u32 = 0;
  private driverFeatureSelect: u32 = 0;
  private driverFeatures: u64 = 0;
  private selected: u32 = 0;
  private generation: u8 = 0;

  constructor(private device: VirtioDevice, memory: GuestMemory, private fn: PciFunction) {
    super("virtio common configuration");
    const vectors = new StaticArray<u16>(<i32>device.queueCount);
    vectors.fill(NO_VECTOR);
    this.queueVectors = vectors;
    for (let i: u32 = 0; i < device.queueCount; i++) this.queues.push(new Virtqueue(memory, device.maxQueueSize));
  }

  get offered(): u64 {
    return this.device.features | this.device.transportFeatures;
  }

  get live(): bool {
    return (this.status & (STATUS_DRIVER_OK | STATUS_DEVICE_NEEDS_RESET)) == STATUS_DRIVER_OK;
  }

  queueVector(index: u32): u16 {
    return this.queueVectors[<i32>index];
  }

  // The device's configuration changed: a new generation (4.1.4.3.1).
  configChanged(): void {
    this.generation++;
  }

  setStatusBits(bits: u8): void {
    this.status |= bits;
  }

  // Queue `index` was notified: the device looks, if the queue is live.
  notify(index: u32): void {
    if (index < <u32>this.queues.length && this.live && this.queues[index].ready) this.device.notified(index);
  }

  read(offset: u64, size: u8): u64 {
    let v: u64 = 0;
    for (let i: u32 = 0; i < <u32>size; i++) {
      const at = <u32>offset + i, start = fieldStart(at);
      if (start < COMMON_CFG_BYTES) v |= ((this.field(start) >> ((at - start) * 8)) & 0xff) << (i * 8);
    }
    return v;
  }

  write(offset: u64, size: u8, value: u64): void {
    let i: u32 = 0;
    while (i < <u32>size) {
      const at = <u32>offset + i, start = fieldStart(at);
      if (start >= COMMON_CFG_BYTES) return;
      // The bytes of this field the access covers, merged into its value.
      const shift = (at - start) * 8, n = min(<u32>size - i, fieldSize(start) - (at - start));
      const mask = n >= 8 ? u64.MAX_VALUE : ((<u64>1 << (n * 8)) - 1) << shift;
      const merged = (this.field(start) & ~mask) | (((value >> (i * 8)) << shift) & mask);
      this.setField(start, merged);
      i += n;
    }
  }

  private field(start: u32): u64 {
    const q = this.selectedQueue();
    if (start == DEVICE_FEATURE_SELECT) return this.deviceFeatureSelect;
    if (start == DEVICE_FEATURE) {
      return this.deviceFeatureSelect < 2
        ? (this.offered >> (this.deviceFeatureSelect * 32)) & 0xffff_ffff
        : 0;
    }
    if (start == DRIVER_FEATURE_SELECT) return this.driverFeatureSelect;
    if (start == DRIVER_FEATURE) {
      return this.driverFeatureSelect < 2
        ? (this.driverFeatures >> (this.driverFeatureSelect * 32)) & 0xffff_ffff
        : 0;
    }
    if (start == CONFIG_MSIX_VECTOR) return this.configVector;
    if (start == NUM_QUEUES) return this.queues.length;
    if (start == DEVICE_STATUS) return this.status;
    if (start == CONFIG_GENERATION) return this.generation;
    if (start == QUEUE_SELECT) return this.selected;
    if (q === null) return 0; // no such queue: its size reads 0 (4.1.4.3.2)
    if (start == QUEUE_SIZE) return q.size;
    if (start == QUEUE_MSIX_VECTOR) return this.queueVectors[<i32>this.selected];
    if (start == QUEUE_ENABLE) return q.ready ? 1 : 0;
    if (start == QUEUE_NOTIFY_OFF) return this.selected;
    if (start == QUEUE_DESC) return q.descAddr;
    if (start == QUEUE_DRIVER) return q.driverAddr;
    return q.deviceAddr;
  }

  private setField(start: u32, v: u64): void {
    if (start == DEVICE_FEATURE_SELECT) this.deviceFeatureSelect = <u32>v;
    else if (start == DRIVER_FEATURE_SELECT) this.driverFeatureSelect = <u32>v;
    else if (start == DRIVER_FEATURE) this.acceptFeatures(<u32>v);
    else if (start == CONFIG_MSIX_VECTOR) this.configVector = this.vectorOrNone(<u16>v);
    else if (start == DEVICE_STATUS) this.writeStatus(<u8>v);
    else if (start == QUEUE_SELECT) this.selected = <u32>(v & 0xffff);
    else this.setQueueField(start, v);
  }

  // Queue registers are the driver's only until it enables the queue (4.1.4.3.2).
  private setQueueField(start: u32, v: u64): void {
    const q = this.selectedQueue();
    if (q === null) return;
    if (start == QUEUE_MSIX_VECTOR) this.queueVectors[<i32>this.selected] = this.vectorOrNone(<u16>v);
    if (q.ready) return;
    if (start == QUEUE_SIZE) q.size = <u16>v;
    else if (start == QUEUE_DESC) q.descAddr = v;
    else if (start == QUEUE_DRIVER) q.driverAddr = v;
    else if (start == QUEUE_DEVICE) q.deviceAddr = v;
    else if (start == QUEUE_ENABLE && v == 1) {
      const error = q.enable();
      if (error !== null) this.device.signals!.needsReset("queue " + this.selected.toString() + ": " + error);
    }
  }

  // Feature bits are the driver's to write until FEATURES_OK (3.1.1).
  private acceptFeatures(half: u32): void {
    if (this.status & STATUS_FEATURES_OK || this.driverFeatureSelect >= 2) return;
    const shift = <u64>this.driverFeatureSelect * 32;
    this.driverFeatures = (this.driverFeatures & ~(<u64>0xffff_ffff << shift)) | (<u64>half << shift);
  }

  // A vector the function has, or "no vector": reading back NO_VECTOR is
  // how the driver learns it asked for one that is not there (4.1.5.1.2).
  private vectorOrNone(vector: u16): u16 {
    return <u32>vector <= this.device.queueCount ? vector : NO_VECTOR;
  }

  // Status bits are only ever added, but for a write of 0, the reset
  // (2.1.1). FEATURES_OK sticks only for features the device offered,
  // VERSION_1 among them (3.1.1 step 5); DRIVER_OK starts the device.
  private writeStatus(v: u8): void {
    if (v == 0) {
      this.reset();
      return;
    }
    const added = v & ~this.status;
    if (added & STATUS_FEATURES_OK) {
      const acceptable = (this.driverFeatures & ~this.offered) == 0 && (this.driverFeatures & F_VERSION_1) != 0;
      if (!acceptable) v &= ~STATUS_FEATURES_OK;
    }
    if (added & STATUS_DRIVER_OK && !(this.status & STATUS_FEATURES_OK)) v &= ~STATUS_DRIVER_OK;
    this.status |= v & ~STATUS_DEVICE_NEEDS_RESET;
    if (added & STATUS_DRIVER_OK && this.status & STATUS_DRIVER_OK) {
      for (let i = 0; i < this.queues.length; i++) {
        this.queues[i].eventIdx = (this.driverFeatures & F_EVENT_IDX) != 0;
        this.queues[i].indirectDesc = (this.driverFeatures & F_INDIRECT_DESC) != 0;
      }
      this.device.start(this.driverFeatures, this.queues);
    }
  }

  private reset(): void {
    this.status = 0;
    this.driverFeatures = 0;
    this.deviceFeatureSelect = 0;
    this.driverFeatureSelect = 0;
    this.selected = 0;
    this.configVector = NO_VECTOR;
    this.queueVectors.fill(NO_VECTOR);
    this.isr = 0;
    this.fn.setIntx(false);
    for (let i = 0; i < this.queues.length; i++) this.queues[i].reset();
    this.device.reset();
  }

  private selectedQueue(): Virtqueue | null {
    return this.selected < <u32>this.queues.length ? this.queues[this.selected] : null;
  }
}

// The field that byte `at` belongs to, by its first byte (COMMON_CFG_BYTES for none).
function fieldStart(at: u32): u32 {
  if (at >= COMMON_CFG_BYTES) return COMMON_CFG_BYTES;
  if (at < CONFIG_MSIX_VECTOR) return at & ~3;
  if (at < DEVICE_STATUS) return at & ~1;
  if (at < QUEUE_SELECT) return at;
  if (at < QUEUE_DESC) return at & ~1;
  return at & ~7;
}

function fieldSize(start: u32): u32 {
  return start < CONFIG_MSIX_VECTOR
    ? 4
    : start < DEVICE_STATUS
    ? 2
    : start < QUEUE_SELECT
    ? 1
    : start < QUEUE_DESC
    ? 2
    : 8;
}
