// An Intel 8254x Gigabit Ethernet controller of the host (82540EM, what
// QEMU and Bochs emulate as "e1000", and its close relatives), driven by
// polling. start() follows the 8254x SDM's initialization (chapter 14):
// mask interrupts and reset the device, learn its MAC address, set the
// link up (14.3), then the receive (14.4) and transmit (14.5) rings with
// their controls. Frames then move only when the driver asks: transmit()
// queues one, receive() takes one the controller has received; no
// interrupt is ever unmasked.
//
// The receiver is promiscuous (unicast and multicast) and accepts
// broadcasts, because the controller is a switch's uplink: frames for the
// VMs behind it carry their addresses, not the controller's. 802.1Q tags
// are left in the frames both ways (CTRL.VME and RCTL.VFE stay 0), for
// the switch to handle.

import { pause, physRead32, physWrite32, rdtsc } from "../../../kernel/arch/shim";
import { driverRegisters } from "../../../kernel/pci/driverregisters";
import { PciFunction } from "../../../kernel/pci/functions";
import { tscPerMillisecond } from "../../../kernel/time/tsc";
import { formatMac, isGroup } from "../ethernet";
import { HostNic } from "../hostnic";
import { ReceiveRing } from "./receivering";
import {
  ALL_INTERRUPTS,
  CTRL,
  CTRL_ASDE,
  CTRL_ILOS,
  CTRL_LRST,
  CTRL_PHY_RST,
  CTRL_RST,
  CTRL_SLU,
  CTRL_VME,
  EERD,
  EERD_ADDR_SHIFT,
  EERD_DATA_SHIFT,
  EERD_DONE,
  EERD_START,
  FCAH,
  FCAL,
  FCT,
  FCTTV,
  IMC,
  MTA,
  MTA_DWORDS,
  RAH0,
  RAH_AV,
  RAL0,
  RCTL,
  RCTL_BAM,
  RCTL_EN,
  RCTL_MPE,
  RCTL_SECRC,
  RCTL_UPE,
  RDBAH,
  RDBAL,
  RDH,
  RDLEN,
  RDT,
  STATUS,
  STATUS_LU,
  TCTL,
  TCTL_COLD,
  TCTL_CT,
  TCTL_EN,
  TCTL_PSP,
  TDBAH,
  TDBAL,
  TDH,
  TDLEN,
  TDT,
  TIPG,
  TIPG_COPPER,
} from "./registers";
import { TransmitRing } from "./transmitring";

// Vendor 8086h and the device IDs of the 82540EP/EM and 82545GM/EM copper
// parts, which share the registers and descriptors used here.
const INTEL: u16 = 0x8086;
const DEVICE_IDS: u16[] = [0x100e, 0x1015, 0x1016, 0x1017, 0x101e, 0x100f, 0x1026];
// An 8254x's registers: memory BAR0 (a 64-bit BAR on some parts).
const E1000_BAR: i32 = 0;
// Far longer than a reset or an EEPROM read takes.
const WAIT_MS: u64 = 10;
// The EEPROM's first three words hold the Ethernet address (5.6.1).
const EEPROM_ADDRESS_WORDS: u32 = 3;

export function isE1000(f: PciFunction): bool {
  return f.vendor == INTEL && DEVICE_IDS.includes(f.device);
}

export class E1000 extends HostNic {
  // The physical address BAR0 decodes, and the rings: set by start().
  private registers: u64 = 0;
  private rx!: ReceiveRing;
  private tx!: TransmitRing;

  constructor(fn: PciFunction) {
    super("e1000", fn);
  }

  // Resets and configures the controller, its receiver and transmitter on;
  // false (logged) if it cannot. The address is the EEPROM's.
  start(): bool {
    this.registers = driverRegisters(this.fn, E1000_BAR, this.name);
    if (this.registers == 0) return false;
    this.rx = new ReceiveRing(this.registers + RDT);
    this.tx = new TransmitRing(this.registers + TDT);
    // Interrupts masked before the reset and after it (a reset unmasks none,
    // but the firmware may have left some on).
    this.write(IMC, ALL_INTERRUPTS);
    this.write(CTRL, this.read(CTRL) | CTRL_RST);
    // The device answers no access for about 1 µs after RST is set (13.4.1).
    this.delay(tscPerMillisecond() / 1000 + 1);
    if (!this.waitFor(CTRL, CTRL_RST, 0)) return this.fail("still in reset after " + WAIT_MS.toString() + " ms");
    this.write(IMC, ALL_INTERRUPTS);
    if (!this.readMac()) return false;

    // General configuration (14.3): link up with the speed and duplex the
    // PHY negotiates; no link or PHY reset, loss of signal as it is, no
    // 802.1Q handling; no flow control.
    const ctrl = this.read(CTRL) & ~(CTRL_LRST | CTRL_PHY_RST | CTRL_ILOS | CTRL_VME);
    this.write(CTRL, ctrl | CTRL_SLU | CTRL_ASDE);
    this.write(FCAL, 0);
    this.write(FCAH, 0);
    this.write(FCT, 0);
    this.write(FCTTV, 0);

    // Receive (14.4): the address filter holds the controller's own
    // address, the multicast table nothing (the receiver is promiscuous
    // anyway); the ring; then the receiver.
    const filter = byteSwapped48(this.mac);
    this.write(RAL0, <u32>filter);
    this.write(RAH0, <u32>(filter >> 32) | RAH_AV);
    for (let i = 0; i < MTA_DWORDS; i++) this.write(MTA + 4 * <u64>i, 0);
    const rx = this.rx;
    this.write(RDBAL, <u32>rx.ringPhys);
    this.write(RDBAH, <u32>(rx.ringPhys >> 32));
    this.write(RDLEN, rx.ringBytes);
    this.write(RDH, 0);
    this.write(RDT, rx.initialTail);
    this.write(RCTL, RCTL_EN | RCTL_UPE | RCTL_MPE | RCTL_BAM | RCTL_SECRC);

    // Transmit (14.5): the ring, empty, then the transmitter.
    const tx = this.tx;
    this.write(TDBAL, <u32>tx.ringPhys);
    this.write(TDBAH, <u32>(tx.ringPhys >> 32));
    this.write(TDLEN, tx.ringBytes);
    this.write(TDH, 0);
    this.write(TDT, 0);
    this.write(TCTL, TCTL_EN | TCTL_PSP | TCTL_CT | TCTL_COLD);
    this.write(TIPG, TIPG_COPPER);
    return true;
  }

  get linkUp(): bool {
    return (this.read(STATUS) & STATUS_LU) != 0;
  }

  // The controller appends the FCS.
  transmit(frame: Uint8Array, length: i32): bool {
    return this.failure === null && this.tx.send(frame, length);
  }

  receive(into: Uint8Array): i32 {
    return this.rx.take(into);
  }

  doneReceiving(): void {
    this.rx.release();
  }

  // The address in RAL0/RAH0 if the EEPROM's automatic load put it there
  // (RAH.AV), or else the EEPROM's first three words, read through EERD.
  private readMac(): bool {
    const high = this.read(RAH0);
    if ((high & RAH_AV) != 0) {
      this.mac = (<u64>(high & 0xffff) << 32) | <u64>this.read(RAL0);
    } else {
      for (let word: u32 = 0; word < EEPROM_ADDRESS_WORDS; word++) {
        this.write(EERD, (word << EERD_ADDR_SHIFT) | EERD_START);
        if (!this.waitFor(EERD, EERD_DONE, EERD_DONE)) {
          return this.fail("EEPROM word " + word.toString() + " not read within " + WAIT_MS.toString() + " ms");
        }
        this.mac |= <u64>(this.read(EERD) >> EERD_DATA_SHIFT) << (16 * <u64>word);
      }
    }
    // Both registers and the EEPROM hold the first octet in the lowest byte.
    this.mac = byteSwapped48(this.mac);
    if (this.mac == 0 || isGroup(this.mac)) return this.fail("has no unicast address (" + formatMac(this.mac) + ")");
    return true;
  }

  // Whether `reg` & `mask` became `want` within WAIT_MS.
  private waitFor(reg: u64, mask: u32, want: u32): bool {
    const deadline = rdtsc() + WAIT_MS * tscPerMillisecond();
    while ((this.read(reg) & mask) != want) {
      if (rdtsc() > deadline) return false;
      pause();
    }
    return true;
  }

  private delay(ticks: u64): void {
    const until = rdtsc() + ticks;
    while (rdtsc() < until) pause();
  }

  private read(reg: u64): u32 {
    return physRead32(this.registers + reg);
  }
  private write(reg: u64, v: u32): void {
    physWrite32(this.registers + reg, v);
  }
}

// The 48-bit value with its six bytes in the opposite order.
function byteSwapped48(v: u64): u64 {
  let out: u64 = 0;
  for (let i = 0; i < 6; i++) out = (out << 8) | ((v >> (8 * <u64>i)) & 0xff);
  return out;
}
