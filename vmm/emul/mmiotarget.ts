// Where an emulated guest-physical access goes: the vCPU's own local APIC,
// guest RAM, or the VM's bus.
//
// The local APIC's window is the vCPU's own: on a PC the APIC sits inside
// the CPU, and accesses to its page never reach the system bus (Intel SDM
// Vol. 3A 11.4.1), so they go to the vCPU's APIC, wherever IA32_APIC_BASE
// put it. Where that is in RAM, the page is left out of the nested tables
// for every vCPU (Vm.apicWindowsChanged()): the others' accesses there
// reach the RAM. RAM shows up here when an instruction's other operand is
// a device (MOVS between RAM and a device register). The rest goes to the
// VM's bus.

import * as log from "../../kernel/console/log";
import { Vcpu } from "../core/vcpu";
import { Vm } from "../core/vm";
import { LAPIC_SIZE } from "../devices/apic/lapic";
import { allOnes } from "../devices/bus";

const enum Target {
  Apic,
  Ram,
  Bus,
}

// An access where there is neither RAM nor a device reaches no one, as on a
// PC: the bus answers a read with all ones and drops a write, and the guest
// goes on (a kernel probing for hardware does this). The log notes the
// first few, then every power of two, so that probing cannot flood it.
const UNCLAIMED_NOTES: u32 = 4;

export class GuestLocation {
  private vm: Vm | null = null;
  private vcpu: Vcpu | null = null;
  private target: Target = Target.Bus;
  private apicOffset: u64 = 0;
  gpa: u64 = 0;

  // Whether the location is guest RAM; the vCPU's own local APIC.
  get isRam(): bool {
    return this.target == Target.Ram;
  }
  get isApic(): bool {
    return this.target == Target.Apic;
  }

  // Points the location at `gpa` as `vcpu` of `vm` sees it.
  at(vm: Vm, vcpu: Vcpu, gpa: u64): void {
    const apic = vm.apics.of(vcpu), apicOffset = gpa - apic.mmioBase;
    const inApic = apicOffset < LAPIC_SIZE;
    this.vm = vm;
    this.vcpu = vcpu;
    this.gpa = gpa;
    this.apicOffset = apicOffset;
    // RAM is looked up only where the APIC's mode leaves it a say.
    this.target = inApic && apic.xapicMode
      ? Target.Apic
      : vm.memory.contains(gpa, 1)
      ? Target.Ram
      : inApic
      ? Target.Apic
      : Target.Bus;
  }

  // Notes an access that no one will answer, as above.
  noteIfUnclaimed(isWrite: bool): void {
    const vm = this.vm!;
    if (this.target != Target.Bus || vm.bus.mmio.claims(this.gpa)) return;
    const n = ++vm.unclaimedAccesses;
    if (n > UNCLAIMED_NOTES && (n & (n - 1)) != 0) return;
    log.warn(
      "vm " + vm.name + ": " + (isWrite ? "write to " : "read from ") + log.hex(this.gpa)
        + ", where there is neither RAM nor a device (" + n.toString() + " such accesses so far)",
    );
  }

  read(size: u8): u64 {
    const vm = this.vm!;
    if (this.target == Target.Apic) return vm.apics.now(this.vcpu!).read(this.apicOffset, size) & allOnes(size);
    if (this.target == Target.Ram) return vm.memory.load(this.gpa, size);
    return vm.bus.mmio.read(this.gpa, size);
  }

  write(size: u8, value: u64): void {
    const vm = this.vm!;
    if (this.target == Target.Apic) vm.apics.now(this.vcpu!).write(this.apicOffset, size, value & allOnes(size));
    else if (this.target == Target.Ram) vm.memory.store(this.gpa, size, value);
    else vm.bus.mmio.write(this.gpa, size, value);
  }
}
