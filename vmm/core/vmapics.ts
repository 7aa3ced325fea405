// The local APICs of one VM: the bus their IPIs travel on.
//
// Every vCPU has a LocalApic (devices/apic/lapic.ts) with its APIC ID. An
// IPI a guest writes into its ICR arrives here already resolved to APIC IDs;
// a fixed or lowest-priority one is accepted into each target's IRR (a halted
// target wakes at the scheduler's next look, Vm.wakeIfPending()), an NMI
// sets the target vCPU's NMI latch, INIT and STARTUP start application
// processors (SDM Vol. 3A 9.4.4). The VM's NMI line (the board's NMI
// button, its watchdog) reaches every APIC's LINT1 pin (nmiLine()). Each vCPU
// reaches its own APIC's registers through its MMIO window (emul/mmio.ts) or
// its MSRs (emul/exits.ts), never through the VM's bus: on a PC the APIC is
// inside the CPU, and accesses to its window never reach the system bus
// (11.4.1).

import { rdtsc } from "../../kernel/arch/shim";
import { IoApic, IoApicSink } from "../devices/apic/ioapic";
import {
  ApicBus,
  DELIVERY_FIXED,
  DELIVERY_INIT,
  DELIVERY_LOWEST_PRIORITY,
  DELIVERY_NMI,
  DELIVERY_STARTUP,
  LocalApic,
} from "../devices/apic/lapic";
import { tscPerCrystalTick } from "../vcpustate/tsc";
import { Activity, Vcpu } from "./vcpu";

// How the scheduler learns at once that something changed for a vCPU that
// it must see: an interrupt in its APIC, INIT or STARTUP, its VM stopped. A
// vCPU running on another CPU is interrupted; a halted one may wake.
export abstract class VcpuSignal {
  abstract notify(vcpu: Vcpu): void;
  // When it returns, `vcpu` is in no guest, and enters its guest again only
  // after its CPU looks at what changed.
  abstract evict(vcpu: Vcpu): void;
}

export class VmApics extends ApicBus {
  // Whether a vCPU of the VM has turned KVM's PV EOI on.
  private pvEoiUsed: bool = false;
  // One per vCPU, indexed by APIC ID, which is the vCPU's index in the VM.
  private readonly all: LocalApic[] = [];
  // The scheduler's, once it runs the VM.
  signal: VcpuSignal | null = null;
  // The I/O APIC that level-triggered EOIs go to (the PC platform's), or null.
  ioapic: IoApic | null = null;

  // `vcpus`: the VM's, indexed by APIC ID; the first is the bootstrap
  // processor. Their timers count the crystal clock CPUID 0x15 reports.
  constructor(private vcpus: Vcpu[]) {
    super();
    for (let i = 0; i < vcpus.length; i++) {
      const apic = new LocalApic(<u32>i, i == 0, this);
      apic.setTscPerBusTick(tscPerCrystalTick());
      this.all.push(apic);
      vcpus[i].storeMemo.apic = apic;
    }
  }

  // A reset of the machine: every APIC in its power-up state.
  powerOn(): void {
    for (let i = 0; i < this.all.length; i++) this.all[i].powerOn();
  }

  // A vCPU's APIC ID is its index among the VM's vCPUs, each with an APIC
  // here: the look-ups by it, on every exit's way, are unchecked.
  @inline
  of(vcpu: Vcpu): LocalApic {
    return unchecked(this.all[vcpu.apicId]);
  }

  // The APIC of `vcpu` with its timer brought up to now: what every guest
  // access goes through, since the timer's registers count from the last
  // update. The timer counts in the host's TSC; a TSC deadline, which the
  // guest writes in its own, is converted at the MSR (emul/exits.ts).
  now(vcpu: Vcpu): LocalApic {
    const apic = this.of(vcpu);
    apic.advance(rdtsc());
    return apic;
  }

  // The vector `vcpu`'s APIC would deliver now, or -1. Asked before every
  // entry, so it reads the clock only while the timer is armed: a disarmed
  // timer has nothing to bring up to date.
  pendingVector(vcpu: Vcpu): i32 {
    const apic = this.of(vcpu);
    if (apic.nextDeadline() != u64.MAX_VALUE) apic.advance(rdtsc());
    return apic.pendingVector();
  }

  // An exit's first look at `vcpu`'s APIC: an interrupt its guest ended
  // through the PV EOI word (devices/apic/pveoi.ts) is ended here.
  @inline
  takePvEoi(vcpu: Vcpu): void {
    if (!this.pvEoiUsed) return;
    const apic = this.of(vcpu);
    if (apic.pvEoi.takeEnded()) apic.endOfInterrupt();
  }

  // Before an entry: the guest may end the interrupt in service through
  // its PV EOI word if nothing but the ISR bit depends on its EOI.
  @inline
  offerPvEoi(vcpu: Vcpu): void {
    if (!this.pvEoiUsed) return;
    const apic = this.of(vcpu);
    if (apic.pvEoi.enabled && apic.quietEoi) apic.pvEoi.arm();
  }

  // The guest's WRMSR of MSR_KVM_PV_EOI_EN (devices/apic/pveoi.ts), its
  // word at host-physical `host` (negative: not in RAM); false for #GP.
  // Until a vCPU enables it, exits and entries do not look at it.
  writePvEoi(vcpu: Vcpu, value: u64, host: i64): bool {
    const pvEoi = this.of(vcpu).pvEoi;
    if (!pvEoi.write(value, host)) return false;
    if (pvEoi.enabled) this.pvEoiUsed = true;
    return true;
  }

  apics(): LocalApic[] {
    return this.all;
  }

  endOfLevelInterrupt(vector: u8): void {
    const ioapic = this.ioapic;
    if (ioapic !== null) ioapic.endOfInterrupt(vector);
  }

  deliverIpi(source: LocalApic, mode: u32, vector: u8, destinations: u32[]): void {
    this.deliver(mode, vector, destinations, false);
  }

  // A message from the I/O APIC (devices/apic/ioapic.ts), to the APICs its
  // destination names, read in xAPIC form (11.6.2), each taken as found.
  deliverExternal(destination: u8, logical: bool, mode: u32, vector: u8, levelTriggered: bool): void {
    const all = this.all;
    for (let i = 0; i < all.length; i++) {
      if (!unchecked(all[i]).isDestination(destination, logical, false)) continue;
      if (this.deliverTo(<u32>i, mode, vector, levelTriggered)) return;
    }
  }

  // A message-signalled interrupt: a memory write into the local APICs'
  // range at FEE00000h (SDM Vol. 3A 11.11). The address holds the
  // destination (bits 19:12) and destination mode (bit 2, 1 = logical);
  // the data the vector (7:0) and delivery mode (10:8). Bit 3, the
  // redirection hint, only allows lowest-priority choice among the
  // destinations, which deliver() makes anyway; the trigger mode bit is
  // not heeded, as no EOI goes back to a message's sender.
  deliverMessage(address: u64, data: u32): void {
    const destination = <u8>(address >> 12), logical = (address & (1 << 2)) != 0;
    this.deliverExternal(destination, logical, (data >> 8) & 7, <u8>data, false);
  }

  // An edge on the VM's NMI line, which on a PC is wired to the LINT1 pin
  // of every processor's local APIC (MultiProcessor Specification 1.4,
  // 5.1; the MADT's local APIC NMI structure says so, ACPI 5.2.12.7).
  nmiLine(): void {
    for (let i = 0; i < this.all.length; i++) this.all[i].lint1Pulse();
  }

  nmi(target: LocalApic): void {
    this.raiseNmi(this.vcpus[target.id]);
  }

  private raiseNmi(target: Vcpu): void {
    target.nmiPending = true;
    this.notify(target);
  }

  private deliver(mode: u32, vector: u8, destinations: u32[], levelTriggered: bool): void {
    for (let i = 0; i < destinations.length; i++) {
      if (this.deliverTo(unchecked(destinations[i]), mode, vector, levelTriggered)) return;
    }
  }

  // Delivers to APIC `id`; true if no other destination gets it: lowest
  // priority goes to the first (the SDM leaves the choice among equals to
  // the platform, 11.6.2.4). SMI messages are dropped: a VM has no system
  // management mode.
  private deliverTo(id: u32, mode: u32, vector: u8, levelTriggered: bool): bool {
    const vcpus = this.vcpus;
    if (id >= <u32>vcpus.length) return false; // no such APIC: the IPI is lost, as on a bus
    const target = unchecked(vcpus[id]);
    if (mode == DELIVERY_FIXED || mode == DELIVERY_LOWEST_PRIORITY) {
      unchecked(this.all[id]).accept(vector, levelTriggered);
      this.notify(target);
      return mode == DELIVERY_LOWEST_PRIORITY;
    }
    if (mode == DELIVERY_NMI) this.raiseNmi(target);
    else if (mode == DELIVERY_INIT) this.init(target);
    else if (mode == DELIVERY_STARTUP) this.startup(target, vector);
    return false;
  }

  // INIT: the vCPU stops and waits for a STARTUP IPI (9.4.4, 11.6.1); it is
  // not run again before one comes, which resets it.
  init(target: Vcpu): void {
    target.activity = Activity.WaitingForSipi;
    target.pendingStartup = -1;
    this.notify(target);
  }

  // STARTUP starts a waiting vCPU (Vcpu.startAt(), which its own CPU
  // applies before it next enters); it is ignored otherwise.
  startup(target: Vcpu, vector: u8): void {
    if (target.activity != Activity.WaitingForSipi) return;
    target.pendingStartup = vector;
    target.activity = Activity.Runnable;
    this.notify(target);
  }

  notify(vcpu: Vcpu): void {
    const signal = this.signal;
    if (signal !== null) signal.notify(vcpu);
  }

  evict(vcpu: Vcpu): void {
    const signal = this.signal;
    if (signal !== null) signal.evict(vcpu);
  }
}

// The I/O APIC's messages reach the VM's local APICs.
export class IoApicDelivery extends IoApicSink {
  constructor(private apics: VmApics) {
    super();
  }
  deliver(destination: u8, logical: bool, mode: u32, vector: u8, levelTriggered: bool): void {
    this.apics.deliverExternal(destination, logical, mode, vector, levelTriggered);
  }
}
