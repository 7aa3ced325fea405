// An AHCI host bus adapter of the host (Serial ATA AHCI 1.3.1), driven by
// polling. start() takes the HBA from the firmware (10.6.3, BIOS/OS
// handoff, where the HBA offers it), switches it to AHCI mode (GHC.AE),
// stops every implemented port (10.1.2), resetting the whole HBA only if a
// port will not stop (10.4.3), and then opens each port whose link is up
// and whose device says it is an ATA disk: ATAPI drives, port multipliers
// and enclosure bridges are logged and left alone. The ports' commands are
// then run one at a time, under the hypervisor's lock (port.ts, disk.ts);
// no interrupt is used.

import { pause, physRead32, physWrite32, rdtsc } from "../../../kernel/arch/shim";
import * as log from "../../../kernel/console/log";
import { PciFunction } from "../../../kernel/pci/functions";
import { tscPerMillisecond } from "../../../kernel/time/tsc";
import { BlockDevice } from "../blockdevice";
import { AhciDisk } from "./disk";
import { AhciPort, ATA_SIGNATURE, waitClear } from "./port";

// The HBA's registers are at ABAR, BAR5 (2.1.11).
export const AHCI_BAR: i32 = 5;
// Generic host control registers (3.1).
const CAP: u64 = 0x00, GHC: u64 = 0x04, PI: u64 = 0x0c, CAP2: u64 = 0x24, BOHC: u64 = 0x28;
// CAP (3.1.1): 64-bit addressing; native command queuing; staggered
// spin-up (ports spin up only when PxCMD.SUD says); the number of command
// slots less one in bits 12-8.
const CAP_S64A: u32 = 1 << 31, CAP_SNCQ: u32 = 1 << 30, CAP_SSS: u32 = 1 << 27;
const CAP_NCS_SHIFT: u32 = 8, CAP_NCS_MASK: u32 = 0x1f;
// GHC (3.1.2): HBA reset; AHCI enable (the HBA is driven through these registers, not as IDE).
const GHC_HR: u32 = 1 << 0, GHC_AE: u32 = 1 << 31;
// CAP2 (3.1.10): BIOS/OS handoff.
const CAP2_BOH: u32 = 1 << 0;
// BOHC (3.1.11): BIOS owned semaphore, OS owned semaphore, BIOS busy.
const BOHC_BOS: u32 = 1 << 0, BOHC_OOS: u32 = 1 << 1, BOHC_BB: u32 = 1 << 4;
const PORT_REGISTERS: u64 = 0x100, PORT_STRIDE: u64 = 0x80; // port i's at 100h + 80h x i (3.3)

// 10.6.3: the BIOS has 25 ms to clear BOS or set BB, and BB asks for 2 s more.
const HANDOFF_MS: u64 = 25, BIOS_BUSY_MS: u64 = 2000;
const RESET_MS: u64 = 1000; // GHC.HR not clearing within 1 s means a hung HBA (10.4.3)
const LINK_MS: u64 = 1000; // for the links to come back after a reset

export class AhciController {
  readonly name: string;
  private wide: bool = false;
  private slots: u32 = 1;
  private queuing: bool = false;

  // `registers`: the physical address ABAR decodes.
  constructor(readonly fn: PciFunction, private registers: u64) {
    this.name = "ahci " + fn.name;
  }

  // Opens the ATA disk on each port that has one and hands it to
  // `found`, port by port, so that the log follows the ports; a failure is logged.
  start(found: (disk: BlockDevice) => void): void {
    if ((this.read(CAP2) & CAP2_BOH) != 0 && !this.takeFromBios()) return;
    this.write(GHC, this.read(GHC) | GHC_AE); // 10.1.2 step 1, before any other register
    const cap = this.read(CAP);
    this.wide = (cap & CAP_S64A) != 0;
    this.slots = ((cap >> CAP_NCS_SHIFT) & CAP_NCS_MASK) + 1;
    this.queuing = (cap & CAP_SNCQ) != 0;
    const ports = this.ports(), staggered = (cap & CAP_SSS) != 0;
    let stopped = true;
    for (let i = 0; i < ports.length; i++) stopped = ports[i].stop() && stopped;
    if (!stopped && !this.reset()) return;
    if (!stopped || staggered) awaitLinks(ports, staggered);
    for (let i = 0; i < ports.length; i++) {
      const disk = this.open(ports[i]);
      if (disk !== null) found(disk);
    }
  }

  // The implemented ports (PI, 3.1.4).
  private ports(): AhciPort[] {
    const implemented = this.read(PI), out: AhciPort[] = [];
    for (let i: u32 = 0; i < 32; i++) {
      if ((implemented & (1 << i)) == 0) continue;
      const base = this.registers + PORT_REGISTERS + <u64>i * PORT_STRIDE;
      out.push(new AhciPort(this.fn, this.name, i, base));
    }
    return out;
  }

  // The disk on idle port `p`, or null: nothing there, or not an ATA disk (logged).
  private open(p: AhciPort): AhciDisk | null {
    if (!p.linkUp) return null;
    if (!p.allocate(this.wide)) {
      log.warn(p.name + ": its command list lies above 4 GiB, beyond the HBA; not used");
      return null;
    }
    if (!p.receive()) {
      p.fail("the device stays busy");
      return null;
    }
    const signature = p.signature;
    if (signature != ATA_SIGNATURE) {
      log.info(p.name + ": " + deviceKind(signature) + ", not a disk; not used");
      p.stop();
      return null;
    }
    p.start();
    const disk = new AhciDisk(p, this.wide, this.slots, this.queuing);
    const problem = disk.identify();
    if (problem === null) return disk;
    if (p.failure === null) log.warn(p.name + ": " + problem + "; not used");
    p.stop();
    return null;
  }

  // Asks for the HBA (10.6.3): set OOS, then wait for the BIOS to clear
  // BOS, longer if it says it is busy cleaning up (BB). False (logged) if
  // it keeps the HBA.
  private takeFromBios(): bool {
    this.write(BOHC, this.read(BOHC) | BOHC_OOS);
    if (waitClear(this.registers + BOHC, BOHC_BOS, HANDOFF_MS)) return true;
    if ((this.read(BOHC) & BOHC_BB) != 0 && waitClear(this.registers + BOHC, BOHC_BOS | BOHC_BB, BIOS_BUSY_MS)) {
      return true;
    }
    log.error(this.name + ": the firmware does not hand the controller over; not used");
    return false;
  }

  // Resets the whole HBA (10.4.3), which stops every port, and switches it
  // to AHCI mode again. False (logged) if the reset does not finish.
  private reset(): bool {
    this.write(GHC, this.read(GHC) | GHC_HR);
    if (!waitClear(this.registers + GHC, GHC_HR, RESET_MS)) {
      log.error(this.name + ": a port does not stop, and the reset does not finish; not used");
      return false;
    }
    this.write(GHC, this.read(GHC) | GHC_AE);
    log.info(this.name + ": a port does not stop; controller reset");
    return true;
  }

  private read(reg: u64): u32 {
    return physRead32(this.registers + reg);
  }
  private write(reg: u64, v: u32): void {
    physWrite32(this.registers + reg, v);
  }
}

// Lets the links come up, after a reset or where the HBA spins devices up
// only when told (staggered spin-up: PxCMD.SUD), for at most LINK_MS in all.
function awaitLinks(ports: AhciPort[], staggered: bool): void {
  const deadline = rdtsc() + LINK_MS * tscPerMillisecond();
  for (let i = 0; i < ports.length; i++) {
    if (staggered) ports[i].spinUp();
    while (!ports[i].linkUp && rdtsc() < deadline) pause();
  }
}

// What a PxSIG other than an ATA disk's says the device is (3.3.9).
function deviceKind(signature: u32): string {
  if (signature == 0xeb14_0101) return "an ATAPI device";
  if (signature == 0x9669_0101) return "a port multiplier";
  if (signature == 0xc33c_0101) return "an enclosure bridge";
  return "signature " + log.hex(signature);
}
