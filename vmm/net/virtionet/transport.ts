// virtio over PCI from the driver's side (virtio 1.2, 4.1): where a
// modern virtio function keeps its registers, and the common configuration
// through which a driver resets it, negotiates features and sets up its
// virtqueues.
//
// Vendor-specific PCI capabilities (4.1.4) say where each structure lies:
// which memory BAR, at what offset, how long. The driver needs three of
// them: the common configuration (4.1.4.3), the notification area
// (4.1.4.4) and the device's own configuration (4.1.4.6). The ISR status
// (4.1.4.5) is for interrupts, which a polling driver leaves off.

import {
  pause,
  physRead16,
  physRead32,
  physRead8,
  physWrite16,
  physWrite32,
  physWrite8,
  rdtsc,
} from "../../../kernel/arch/shim";
import { driverRegisters } from "../../../kernel/pci/driverregisters";
import { PciFunction } from "../../../kernel/pci/functions";
import { tscPerMillisecond } from "../../../kernel/time/tsc";
import {
  CAP_BAR,
  CAP_MULTIPLIER,
  CAP_OFFSET,
  CAP_SIZE,
  COMMON_CFG,
  COMMON_CFG_BYTES,
  CONFIG_GENERATION,
  DEVICE_CFG,
  DEVICE_FEATURE,
  DEVICE_FEATURE_SELECT,
  DEVICE_STATUS,
  DRIVER_FEATURE,
  DRIVER_FEATURE_SELECT,
  NOTIFY_CAP_BYTES,
  NOTIFY_CFG,
  QUEUE_DESC,
  QUEUE_DEVICE,
  QUEUE_DRIVER,
  QUEUE_ENABLE,
  QUEUE_NOTIFY_OFF,
  QUEUE_SELECT,
  QUEUE_SIZE,
  VENDOR_SPECIFIC,
} from "../../devices/virtiospec";

// A capability's first dword: its ID, next pointer, cap_len, then cfg_type
// in the top byte (4.1.4).
const CAP_HEADER: u32 = 0;
const BAR_COUNT: u32 = 6;

// Far longer than a reset takes.
const RESET_WAIT_MS: u64 = 10;

export class VirtioTransport {
  // The physical addresses of the three structures; the notification
  // area's multiplier and length (4.1.4.4); the device configuration's length.
  private common: u64 = 0;
  private notifyBase: u64 = 0;
  private notifyMultiplier: u32 = 0;
  private notifyBytes: u32 = 0;
  private deviceConfig: u64 = 0;
  deviceConfigBytes: u32 = 0;

  constructor(private fn: PciFunction) {}

  get located(): bool {
    return this.common != 0;
  }

  // Finds the three structures and turns on the BARs that hold them: null,
  // or what is wrong. The first capability of each type is used (4.1.4.1).
  // `name`: the device's, for the log.
  locate(name: string): string | null {
    const caps = this.fn.capabilities(VENDOR_SPECIFIC);
    for (let i = caps.length - 1; i >= 0; i--) {
      const at = caps[i], header = this.fn.read32(at + CAP_HEADER);
      const type = header >> 24, capLength = (header >> 16) & 0xff;
      if (type != COMMON_CFG && type != NOTIFY_CFG && type != DEVICE_CFG) continue;
      if (type == NOTIFY_CFG && capLength < NOTIFY_CAP_BYTES) continue; // too short to hold its multiplier
      const bar = this.fn.read32(at + CAP_BAR) & 0xff;
      if (bar >= BAR_COUNT) continue; // a reserved BAR number: such a capability is ignored (4.1.4)
      const base = driverRegisters(this.fn, <i32>bar, name);
      if (base == 0) return "BAR" + bar.toString() + " is out of reach";
      const address = base + <u64>this.fn.read32(at + CAP_OFFSET), length = this.fn.read32(at + CAP_SIZE);
      if (type == COMMON_CFG && length >= COMMON_CFG_BYTES) this.common = address;
      if (type == NOTIFY_CFG) {
        this.notifyBase = address;
        this.notifyBytes = length;
        this.notifyMultiplier = this.fn.read32(at + CAP_MULTIPLIER);
      }
      if (type == DEVICE_CFG) {
        this.deviceConfig = address;
        this.deviceConfigBytes = length;
      }
    }
    if (this.common == 0) return "no common configuration capability";
    if (this.notifyBase == 0) return "no notification capability";
    if (this.deviceConfig == 0) return "no device configuration capability";
    return null;
  }

  // Resets the device (4.1.4.3.2: write 0, then wait until device_status
  // reads 0); false if it stays busy.
  reset(): bool {
    physWrite8(this.common + DEVICE_STATUS, 0);
    const deadline = rdtsc() + RESET_WAIT_MS * tscPerMillisecond();
    while (this.status != 0) {
      if (rdtsc() > deadline) return false;
      pause();
    }
    return true;
  }

  get status(): u8 {
    return physRead8(this.common + DEVICE_STATUS);
  }

  addStatus(bits: u8): void {
    physWrite8(this.common + DEVICE_STATUS, this.status | bits);
  }

  // The 64 feature bits the device offers, 32 at a time (4.1.4.3).
  deviceFeatures(): u64 {
    physWrite32(this.common + DEVICE_FEATURE_SELECT, 0);
    const low = physRead32(this.common + DEVICE_FEATURE);
    physWrite32(this.common + DEVICE_FEATURE_SELECT, 1);
    return (<u64>physRead32(this.common + DEVICE_FEATURE) << 32) | <u64>low;
  }

  setDriverFeatures(features: u64): void {
    physWrite32(this.common + DRIVER_FEATURE_SELECT, 0);
    physWrite32(this.common + DRIVER_FEATURE, <u32>features);
    physWrite32(this.common + DRIVER_FEATURE_SELECT, 1);
    physWrite32(this.common + DRIVER_FEATURE, <u32>(features >> 32));
  }

  // The largest size queue `index` may have; 0 if it does not exist.
  maxQueueSize(index: u16): u16 {
    physWrite16(this.common + QUEUE_SELECT, index);
    return physRead16(this.common + QUEUE_SIZE);
  }

  // Gives queue `index` its size and its three areas, and enables it
  // (4.1.5.1.3); the address where the driver notifies it, or 0 if the
  // device gives one outside its notification area.
  setUpQueue(index: u16, size: u16, descriptors: u64, driverArea: u64, deviceArea: u64): u64 {
    const c = this.common;
    physWrite16(c + QUEUE_SELECT, index);
    physWrite16(c + QUEUE_SIZE, size);
    // 64-bit fields, as two 32-bit writes (4.1.3.1).
    physWrite32(c + QUEUE_DESC, <u32>descriptors);
    physWrite32(c + QUEUE_DESC + 4, <u32>(descriptors >> 32));
    physWrite32(c + QUEUE_DRIVER, <u32>driverArea);
    physWrite32(c + QUEUE_DRIVER + 4, <u32>(driverArea >> 32));
    physWrite32(c + QUEUE_DEVICE, <u32>deviceArea);
    physWrite32(c + QUEUE_DEVICE + 4, <u32>(deviceArea >> 32));
    const offset = <u64>physRead16(c + QUEUE_NOTIFY_OFF) * <u64>this.notifyMultiplier;
    // A notification is a 16-bit write at queue_notify_off times the multiplier (4.1.4.4).
    if (offset + 2 > <u64>this.notifyBytes) return 0;
    physWrite16(c + QUEUE_ENABLE, 1);
    return this.notifyBase + offset;
  }

  // Copies `bytes` bytes of the device configuration from `offset` into
  // `into`, again until config_generation says no change came in between
  // (4.1.4.3, 2.5.1).
  readDeviceConfig(offset: u32, into: StaticArray<u8>): void {
    let generation: u8;
    do {
      generation = physRead8(this.common + CONFIG_GENERATION);
      for (let i = 0; i < into.length; i++) into[i] = physRead8(this.deviceConfig + <u64>offset + <u64>i);
    } while (physRead8(this.common + CONFIG_GENERATION) != generation);
  }

  deviceConfig16(offset: u32): u16 {
    return physRead16(this.deviceConfig + <u64>offset);
  }
}
