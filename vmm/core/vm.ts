// A virtual machine: its RAM, its device bus, its vCPUs with their local
// APICs, its console line, and its life cycle.
//
// A VM runs until its guest shuts it down or misbehaves; then stop() records
// the reason, prints it with the vCPUs' state, and the scheduler does not
// run it again unless the management API powers it on (powerOnBy()).
// Nothing a guest does stops the hypervisor or another VM. A reset by the
// guest restarts it from its image, if it has one and its configuration
// does not say otherwise (restart()).

import { thisCpu } from "../../kernel/arch/shim";
import * as log from "../../kernel/console/log";
import { println } from "../../kernel/console/console";
import { WRITE_BACK } from "../../kernel/mm/hostpaging";
import { FrameAllocator } from "../../kernel/mm/frames";
import { PageTable } from "../../kernel/mm/pagetable";
import { PAGE_SIZE } from "../../kernel/mm/range";
import { LAPIC_SIZE } from "../devices/apic/lapic";
import { Bus } from "../devices/bus";
import { NullDevice } from "../devices/io/null";
import { MachineControl } from "../devices/machine";
import { BootOverride } from "./bootoverride";
import { CpuShare } from "./cpushare";
import { EntryState } from "./entrystate";
import { ExitStats } from "./exitstats";
import { GuestMemory, RamMapper } from "./guestmemory";
import { Meter } from "./meter";
import { FastPorts } from "./fastports";
import { Activity, Vcpu } from "./vcpu";
import { VmConsole } from "./vmconsole";
import { VmApics } from "./vmapics";

export const enum VmState {
  Running,
  Stopped,
}

// An interrupt controller's output wired to the boot vCPU's INTR (on the PC
// platform the 8259 pair, platform/pc/pcinterrupts.ts): it reaches the vCPU
// when its local APIC passes ExtINT (LocalApic.passesExtInt()). The
// platform's timers stand behind it: bringing the pin up to the present
// brings them, and the interrupts they send through the I/O APIC too.
export abstract class InterruptPin {
  // Brought up to the present: is an interrupt requested?
  abstract asserted(): bool;
  // The INTA cycle: the vector, taken out of the request.
  abstract acknowledge(): u8;
  // The TSC at which a platform timer next raises an interrupt line, to the
  // pin or to the I/O APIC, without a guest action; or u64.MAX_VALUE.
  abstract nextEvent(): u64;
  // Whether nothing changed since the VMM last looked: no interrupt is
  // requested and nextEvent() is still the one it worked out (no guest
  // access to a timer since).
  abstract settled(): bool;
  // A vCPU halts: the platform's deferred work may look early
  // (Deferred.lookOnHalt()). Nothing by default.
  lookOnHalt(): void {}
}

// The scheduler's looks at the clocks (decide() in sched/scheduler.ts),
// counted: within one look a pin may keep what it worked out of its
// devices' deferred work (platform/pc/pcinterrupts.ts), which the look
// asks several times.
let clockLooks: u32 = 0;
export function newClockLook(): void {
  clockLooks++;
}
export function clockLook(): u32 {
  return clockLooks;
}

// What may hold the VM's NMI line shut: on a PC, bit 7 of the RTC's index
// register (platform/pc/platform.ts).
export abstract class NmiGate {
  abstract get closed(): bool;
}

// The board's power button (platform/pc/platform.ts: ACPI's fixed one).
export abstract class PowerButton {
  abstract press(): void;
}

// What a VM is built from, loaded again when its guest resets the machine
// (setup/kernelvms.ts): RAM as the firmware and the boot loader leave it,
// fresh devices on a fresh bus, from the boot source `bootOverride` picks.
// Returns the boot vCPU's entry state, or null with `failure` set.
export abstract class VmImage {
  failure: string = "";
  constructor(readonly bootOverride: BootOverride) {}
  abstract reload(vm: Vm): EntryState | null;
}

// Something outside the VM that is told when it stops, after the VM's own
// report: a NIC's port on the host's switch prints its counters and takes
// no more frames for it (setup/kernelvms.ts); and when it is destroyed,
// when what the VM held outside itself goes back (the port leaves the
// switch, a partition may be some other VM's disk).
export abstract class StopListener {
  abstract stopped(vm: Vm): void;
  destroyed(vm: Vm): void {}
}

// A VM's console device as the keyboard side sees it (sched/consolefocus.ts).
export abstract class ConsoleInput {
  abstract get canReceive(): bool;
  abstract put(byte: u8): void;
}

const MAX_PENDING = 16;

export class Vm extends MachineControl {
  readonly memory: GuestMemory;
  // Its devices; a restart replaces them all (freshBus()).
  private devices: Bus = new Bus();
  // What a restart or a power-on loads again, or null: a reset then stops
  // the VM, and it cannot be powered on again.
  image: VmImage | null = null;
  // Whether the guest's own reset restarts it (else it stops the VM).
  restartOnReset: bool = true;
  // The state the boot vCPU starts in after a restart (Vcpu.applyPending()).
  bootState: EntryState | null = null;
  state: VmState = VmState.Running;
  // Indexed by APIC ID: the boot vCPU is vcpus[0], the application
  // processors wait for INIT and STARTUP.
  readonly vcpus: Vcpu[];
  readonly apics: VmApics;
  // The device what is typed on the console reaches, or null.
  input: ConsoleInput | null = null;
  readonly exitStats: ExitStats = new ExitStats();
  // The port I/O the exit fast path finishes (fastports.ts).
  readonly fastPorts: FastPorts = new FastPorts();
  readonly share: CpuShare = new CpuShare();
  stopReason: string = "";
  // How many times a running VM was reset, by its guest or from outside,
  // and why the last time.
  resets: u32 = 0;
  resetReason: string = "";
  // It stopped because its guest misbehaved or the VMM could not go on (stop()).
  faulted: bool = false;
  exitStatus: i64 = -1;
  // Held by the management API (vmm/api): the scheduler runs none of its
  // vCPUs until it is resumed.
  paused: bool = false;
  // The platform's interrupt controller, or null (flat-binary VMs).
  intr: InterruptPin | null = null;
  // What may hold its NMI line shut, or null.
  nmiGate: NmiGate | null = null;
  // Its power button, or null (flat-binary VMs have none).
  powerButton: PowerButton | null = null;
  // The nested page tables (EPT or NPT), and how often they changed since
  // the VM was made: each vCPU flushes what it cached before it enters
  // after a change (Vcpu.nestedSeen).
  nested: PageTable | null = null;
  nestedGeneration: u32 = 0;
  // Guest accesses that found neither RAM nor a device (emul/mmio.ts).
  unclaimedAccesses: u32 = 0;
  // The 64 KiB pages its exits made the hypervisor's heap grow by (emul/exits.ts).
  heapPages: i32 = 0;
  // The hypervisor's own memory that making it took beyond its RAM
  // (setup/footprint.ts), and how much of it were nested tables.
  footprintBytes: u64 = 0;
  nestedBytesAtCreation: u64 = 0;
  readonly stopListeners: StopListener[] = [];
  // Its disks' and NICs' counters, for the management API.
  readonly meters: Meter[] = [];
  // Pages of RAM left out of the nested tables because a vCPU's local APIC
  // window lies on them, so that accesses there exit (emul/mmio.ts).
  private hiddenRam: u64[] = [];
  // External interrupt vectors raised directly (the test device), oldest first.
  private pending: StaticArray<u8> = new StaticArray<u8>(MAX_PENDING);
  private pendingCount: i32 = 0;
  // What the guest writes to its console, a line at a time.
  readonly console: VmConsole;

  // `vcpus`: at least one; the first is the boot vCPU.
  constructor(public id: u32, public name: string, vcpus: Vcpu[], memory: GuestMemory = new GuestMemory()) {
    super();
    this.memory = memory;
    for (let i = 0; i < vcpus.length; i++) {
      vcpus[i].apicId = <u32>i;
      if (i > 0) vcpus[i].activity = Activity.WaitingForSipi;
    }
    this.vcpus = vcpus;
    this.apics = new VmApics(vcpus);
    this.console = new VmConsole(name);
    this.fastPorts.io = this.bus.io;
    for (let i = 0; i < vcpus.length; i++) vcpus[i].fastPorts = this.fastPorts;
  }

  get bus(): Bus {
    return this.devices;
  }
  // An empty bus for a restart's fresh devices.
  freshBus(): void {
    this.devices = new Bus();
    this.fastPorts.io = this.devices.io;
  }

  // Makes `port` a quiet port: a NullDevice on the bus, and the exit fast
  // path's to answer (fastports.ts).
  addQuietPort(port: u16): void {
    this.bus.io.map(port, 1, new NullDevice());
    this.fastPorts.addQuiet(port);
  }

  get running(): bool {
    return this.state != VmState.Stopped;
  }
  get exits(): u64 {
    let total: u64 = 0;
    for (let i = 0; i < this.vcpus.length; i++) total += this.vcpus[i].exits;
    return total;
  }

  // The board's NMI button (the console's Ctrl-T n, the test device): an
  // edge on the VM's NMI line, which reaches every local APIC's LINT1; false
  // if the platform holds the line shut.
  pressNmiButton(): bool {
    const gate = this.nmiGate;
    if (gate !== null && gate.closed) return false;
    this.apics.nmiLine();
    return true;
  }

  // The board's power button (the management API's vm.shutdown): the
  // guest's OS hears of it and, as a rule, shuts down cleanly; false if the
  // VM has no button.
  pressPowerButton(): bool {
    const button = this.powerButton;
    if (button === null) return false;
    button.press();
    return true;
  }

  // What the VM costs the hypervisor beyond its RAM now: its footprint at
  // creation, and the nested tables made since as the guest touched RAM.
  get hypervisorBytes(): u64 {
    const nested = this.nested;
    return this.footprintBytes + (nested !== null ? nested.bytes - this.nestedBytesAtCreation : 0);
  }

  // External interrupts go to the boot vCPU: the test device's vectors,
  // then the interrupt controller's.
  raiseInterrupt(vector: u8): void {
    if (this.pendingCount < MAX_PENDING) this.pending[this.pendingCount++] = vector;
    this.apics.notify(this.vcpus[0]);
  }

  // Whether `vcpu` may run on without the look before an entry: nothing
  // waits in its VM's interrupt pin, and the pin's timers have kept the
  // deadline its CPU's alarm was set for. Its local APIC needs no look:
  // what reaches it from elsewhere notifies its CPU (VmApics.notify()),
  // and only the guest's own APIC accesses, its timer or an EOI, change it.
  interruptsSettled(vcpu: Vcpu): bool {
    const intr = this.intr;
    return vcpu.apicId != 0 || (this.pendingCount == 0 && (intr === null || intr.settled()));
  }

  // Whether an external interrupt waits for the boot vCPU; brings the
  // platform's timers up to the present first.
  pollExternalInterrupt(): bool {
    if (this.pendingCount > 0) return true;
    const intr = this.intr;
    return intr !== null && intr.asserted() && this.apics.of(this.vcpus[0]).passesExtInt();
  }

  takeInterrupt(): u8 {
    if (this.pendingCount == 0) return this.intr!.acknowledge();
    const v = this.pending[0];
    for (let i = 1; i < this.pendingCount; i++) this.pending[i - 1] = this.pending[i];
    this.pendingCount--;
    return v;
  }

  // Whether an interrupt waits for `vcpu`: an external one for the boot
  // vCPU, or one from its local APIC.
  hasInterruptFor(vcpu: Vcpu): bool {
    return (vcpu.apicId == 0 && this.pollExternalInterrupt()) || this.apics.pendingVector(vcpu) >= 0;
  }

  // Whether something waiting would end `vcpu`'s halt: an interrupt, if it
  // halted with interrupts enabled, or an NMI, unless NMIs were blocked
  // (SDM Vol. 2A "HLT").
  canWake(vcpu: Vcpu): bool {
    return (vcpu.awaitsInterrupt && this.hasInterruptFor(vcpu)) || (vcpu.awaitsNmi && vcpu.nmiPending);
  }

  // A halted vCPU that something woke runs again.
  wakeIfPending(vcpu: Vcpu): void {
    if (this.canWake(vcpu)) vcpu.activity = Activity.Runnable;
  }

  // A key typed on the console could wake it: it has a console device and
  // a vCPU halted with interrupts enabled, whose sleep a UART interrupt ends.
  get waitsForInput(): bool {
    if (this.input === null) return false;
    for (let i = 0; i < this.vcpus.length; i++) if (unchecked(this.vcpus[i]).awaitsInterrupt) return true;
    return false;
  }

  // The earliest TSC at which a halted vCPU may wake by itself (a timer), or u64.MAX_VALUE.
  nextWakeUp(): u64 {
    let earliest = u64.MAX_VALUE;
    for (let i = 0; i < this.vcpus.length; i++) {
      const vcpu = this.vcpus[i];
      if (vcpu.awaitsInterrupt) earliest = min(earliest, this.nextTimerInterrupt(vcpu));
    }
    return earliest;
  }

  // The TSC at which `vcpu`'s next timer interrupt is due, or u64.MAX_VALUE:
  // its local APIC's timer, and for the boot vCPU the platform's timers
  // behind the external pin (the PIT's IRQ0, the HPET's next interrupt).
  nextTimerInterrupt(vcpu: Vcpu): u64 {
    const intr = this.intr;
    const external = intr !== null && vcpu.apicId == 0 ? intr.nextEvent() : u64.MAX_VALUE;
    return min(external, this.apics.of(vcpu).nextDeadline());
  }

  // The nested tables changed: no vCPU may go on using what it cached of
  // them. Those in a guest on another CPU are made to leave it before this
  // returns, and every vCPU flushes at its next entry.
  nestedTablesChanged(): void {
    this.nestedGeneration++;
    for (let i = 0; i < this.vcpus.length; i++) this.apics.evict(this.vcpus[i]);
  }

  // A chunk of RAM just made ready (GuestMemory) goes into the nested tables,
  // less any page under an APIC window. Mapping what was absent needs no
  // flush: no CPU caches a translation that faulted (SDM Vol. 3C 28.3.2 and
  // 28.3.3.1 for EPT; APM Vol. 2 15.25 for nested paging). But another vCPU
  // running meanwhile could catch the whole chunk before an APIC window's
  // page leaves it again: then they all flush.
  mapRam(gpa: u64, hpa: u64, size: u64): void {
    const nested = this.nested;
    if (nested === null) return;
    nested.map(gpa, hpa, size, WRITE_BACK);
    let hidden = false;
    for (let i = 0; i < this.hiddenRam.length; i++) {
      const page = this.hiddenRam[i];
      if (page < gpa || page - gpa >= size) continue;
      nested.unmap(page);
      hidden = true;
    }
    if (hidden) this.nestedTablesChanged();
  }

  // After IA32_APIC_BASE moved a vCPU's APIC: the RAM pages under an APIC
  // window (in xAPIC mode) leave the nested tables, the others come back.
  apicWindowsChanged(): void {
    const nested = this.nested;
    if (nested === null) return;
    const wanted: u64[] = [];
    for (let i = 0; i < this.vcpus.length; i++) {
      const apic = this.apics.of(this.vcpus[i]), base = apic.mmioBase;
      if (apic.xapicMode && this.memory.contains(base, LAPIC_SIZE) && !wanted.includes(base)) wanted.push(base);
    }
    let changed = false;
    for (let i = 0; i < this.hiddenRam.length; i++) {
      const page = this.hiddenRam[i];
      if (wanted.includes(page)) continue;
      nested.map(page, <u64>this.memory.translate(page, PAGE_SIZE), PAGE_SIZE, WRITE_BACK);
      changed = true;
    }
    for (let i = 0; i < wanted.length; i++) {
      if (this.hiddenRam.includes(wanted[i])) continue;
      nested.unmap(wanted[i]);
      changed = true;
    }
    this.hiddenRam = wanted;
    if (changed) this.nestedTablesChanged();
  }

  // The guest powered its machine off (ACPI S5).
  powerOff(): void {
    this.finish("powered off", false, null);
  }

  // The guest reset its machine: a restart, or a stop without an image.
  reset(how: string): void {
    const what = "the guest reset the machine through " + how;
    if (this.image === null || !this.restartOnReset) {
      this.stop(what);
      return;
    }
    this.restartAfterReset(what);
  }

  // A PC's reset, as its firmware and boot loader would follow it: no vCPU
  // runs while RAM and the devices are made anew from the image; then the
  // local APICs are in their power-up state (SDM Vol. 3A 11.4.7.1), the
  // boot vCPU starts the kernel again, and the others wait for INIT and
  // STARTUP. What each vCPU's VMCS or VMCB holds is reset by its own CPU
  // before it next enters (Vcpu.applyPending()). A pending NMI or external
  // interrupt is lost, as a reset loses it.
  private restart(): void {
    const vcpus = this.vcpus;
    for (let i = 0; i < vcpus.length; i++) this.apics.evict(vcpus[i]);
    this.console.flush();
    this.pendingCount = 0;
    const state = this.image!.reload(this);
    if (state === null) {
      this.stop("the restart failed: " + this.image!.failure);
      return;
    }
    this.bootState = state;
    this.apics.powerOn();
    this.apicWindowsChanged();
    for (let i = 0; i < vcpus.length; i++) {
      const vcpu = vcpus[i];
      vcpu.nmiPending = false;
      vcpu.pendingStartup = -1;
      vcpu.pendingPowerOn = true;
      vcpu.activity = i == 0 ? Activity.Runnable : Activity.WaitingForSipi;
      this.apics.notify(vcpu);
    }
  }

  // The management API holds the VM or lets it go; a vCPU in a guest on
  // another CPU leaves it when held.
  setPaused(paused: bool): void {
    this.paused = paused;
    for (let i = 0; i < this.vcpus.length; i++) this.apics.notify(this.vcpus[i]);
  }

  // Powered off from outside (the management API): `who` says by whom.
  powerOffBy(who: string): void {
    this.finish("powered off by " + who, false, null);
  }

  // Powered on again from outside after it stopped: its image loaded
  // afresh, as a reset would (restart()), under the same name and with the
  // same RAM, disks and NICs. False if it runs or has no image.
  powerOnBy(who: string): bool {
    if (this.image === null || this.running) return false;
    this.state = VmState.Running;
    this.stopReason = "";
    this.faulted = false;
    this.exitStatus = -1;
    this.paused = false;
    log.info("vm " + this.name + ": powered on by " + who);
    this.restart();
    return this.running;
  }

  // Reset from outside, as the guest's own reset would (restart()); false
  // if the VM has no image to restart from.
  restartBy(who: string): bool {
    if (this.image === null || !this.running) return false;
    this.restartAfterReset("reset by " + who);
    return true;
  }

  // A running VM's reset, counted for the management API's events.
  private restartAfterReset(why: string): void {
    log.info("vm " + this.name + ": " + why + "; restarting");
    this.resets++;
    this.resetReason = why;
    this.restart();
  }

  // Everything the VM holds goes back: its RAM to `frames`, the pages of
  // its nested tables and vCPUs to the hypervisor, its disks and NICs to
  // the host (StopListener.destroyed()). Only for a stopped VM that no CPU
  // is in and none has a vCPU of bound (sched/scheduler.ts retireVm()).
  dispose(frames: FrameAllocator): void {
    for (let i = 0; i < this.stopListeners.length; i++) this.stopListeners[i].destroyed(this);
    for (let i = 0; i < this.vcpus.length; i++) this.vcpus[i].dispose();
    const nested = this.nested;
    if (nested !== null) nested.free();
    this.nested = null;
    this.memory.giveBack(frames);
  }

  // The guest asked to exit with a status (hypercall or debug-exit port).
  exitWith(status: i64): void {
    this.exitStatus = status;
    this.finish("exited with status " + status.toString(), false, null);
  }

  // The guest misbehaved, or the VMM cannot go on with it. The report shows
  // the state of `culprit`, the vCPU whose exit caused it, or of every vCPU
  // this CPU can look at (not one in a guest on another CPU).
  stop(reason: string, culprit: Vcpu | null = null): void {
    this.finish(reason, true, culprit);
  }

  private finish(reason: string, dump: bool, culprit: Vcpu | null): void {
    if (this.state == VmState.Stopped) return;
    this.console.flush();
    this.state = VmState.Stopped;
    this.stopReason = reason;
    this.faulted = dump;
    // vCPUs running on other CPUs leave their guests.
    for (let i = 0; i < this.vcpus.length; i++) this.apics.notify(this.vcpus[i]);
    if (dump) {
      log.error("vm " + this.name + ": stopped: " + reason);
      for (let i = 0; i < this.vcpus.length; i++) {
        const vcpu = this.vcpus[i];
        if (culprit !== null ? vcpu !== culprit : !vcpu.canInspectOn(thisCpu())) continue;
        if (this.vcpus.length > 1) println("  vcpu " + vcpu.apicId.toString() + ":");
        vcpu.dumpState();
      }
    } else {
      log.info("vm " + this.name + ": " + reason);
    }
    println("vm " + this.name + ": stopped after " + this.exits.toString() + " exits");
    this.exitStats.report(this.name, this.exits);
    for (let i = 0; i < this.vcpus.length; i++) {
      const vcpu = this.vcpus[i];
      println("vm " + this.name + ": vcpu " + i.toString() + " cpu time " + vcpu.runState.describe());
      if (vcpu.rflagsRepairs != 0) {
        log.warn(
          "vm " + this.name + ": vcpu " + i.toString() + ": RFLAGS saved with reserved bits, repaired after "
            + vcpu.rflagsRepairs.toString() + " exits (an emulator's bug, docs/smp.md)",
        );
      }
    }
    for (let i = 0; i < this.stopListeners.length; i++) this.stopListeners[i].stopped(this);
  }
}

// Hands GuestMemory's ready chunks to their VM's nested tables.
export class NestedRam extends RamMapper {
  constructor(private vm: Vm) {
    super();
  }

  mapRam(gpa: u64, hpa: u64, size: u64): void {
    this.vm.mapRam(gpa, hpa, size);
  }
}
