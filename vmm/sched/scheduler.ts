// The scheduler: which vCPU each host CPU runs, and for how long.
//
// Every CPU has a run queue of the vCPUs whose home it is; placement
// spreads them over the CPUs their VM's affinity allows, and an idle CPU
// takes a runnable vCPU waiting on another one. Each CPU's loop
// (linker/shim.c) calls cpuNext() under the hypervisor lock after every
// guest exit and every idle period: it handles the exit, then continues the
// slice or picks the vCPU furthest behind in virtual time (core/cpushare.ts:
// weights and caps), and says what to do next. A slice
// lasts until the vCPU halts, yields to another, stops, runs SLICE_MS or
// takes SLICE_EXITS exits. Two clocks end a slice of a guest that never
// exits: the CPU's alarm (kernel/cpu/irq.ts), which also rings for the next
// timer interrupt of the vCPU, of the halted vCPUs at home there, and of
// the platform timers of the VMs it keeps time for; and, on VT-x, the
// preemption timer. Anything that changes a vCPU elsewhere (an interrupt,
// INIT, STARTUP, a stop) kicks its CPU (notify()). However many exits a
// vCPU takes, it is not stopped for them: its work costs what it costs,
// and its share (core/cpushare.ts) bounds the CPU time it takes from the
// others. Only a vCPU looping in an exception's delivery, which no
// instruction ever leaves, is stopped (Vcpu.exceptionLoops()).

import { rdtsc, thisCpu, waitForGuestExit } from "../../kernel/arch/shim";
import { crashOnSliceEnd } from "../../kernel/boot/selftest";
import { consolePending, print, printDec, println } from "../../kernel/console/console";
import { FaultWitness, setFaultWitness } from "../../kernel/console/panic";
import * as log from "../../kernel/console/log";
import { idleFrom, idleUntil } from "../../kernel/cpu/idletime";
import { alarmMayHaveRung, setAlarm, startLocalTimer } from "../../kernel/cpu/irq";
import { enableStateSwitching } from "../../kernel/cpu/cpuid";
import { useHostPat } from "../../kernel/mm/hostpaging";
import { FrameAllocator } from "../../kernel/mm/frames";
import { pagesInUseBytes } from "../../kernel/mm/linearpages";
import { cpuCount, kick } from "../../kernel/cpu/smp";
import { tscPerMillisecond } from "../../kernel/time/tsc";
import { Backend } from "../core/backend";
import { Action } from "../core/entryblock";
import { Exit, ExitKind, Next } from "../core/exit";
import { Activity, Vcpu } from "../core/vcpu";
import { VcpuSignal } from "../core/vmapics";
import { newClockLook, Vm } from "../core/vm";
import { handleExit } from "../emul/exits";
import { apiListens, pollApi } from "../api/service";
import { shutdownDue, shutdownRequester } from "../core/hostpower";
import { debuggerListens, debuggerSees, debuggerWatches, pollDebugger, steppedByDebugger } from "../debug/session";
import { announceConsoles, consoleLeaves, pollConsoleInput, pollConsoleOutput } from "./consolefocus";
import { HostCpu, NO_LANE, Slot } from "./hostcpu";
import { reportLockWaits } from "./report";
import { hasManagement, pollManagement, reportManagement } from "../net/ip/management";
import { hasUplink, pollUplink, reportUplink } from "../net/uplink";

const SLICE_EXITS: u64 = 10000;
const SLICE_MS: u64 = 20;
// Garbage is collected every COLLECT_SLICES slices and idle periods, and as
// soon as the heap has grown by COLLECT_GROWTH_PAGES since the last time,
// so that a guest whose exits make garbage (the common ones make none,
// exits.test.ts) cannot make it grow far. Always at the start of a call,
// when no object lives in a local: the "minimal" runtime keeps only what
// globals reach, which is why everything the scheduler holds hangs off
// these globals.
const COLLECT_SLICES: u32 = 4096;
const COLLECT_GROWTH_PAGES: i32 = 16; // 1 MiB
// CPU 0 looks at the console's input once a millisecond (and wakes that
// often while a VM waits for a key): often enough for typing and for the
// host UART's 16-byte FIFO at 115200 baud. The uplink's receive ring is
// polled then too (net/uplink.ts), and COM2 (debug/session.ts, api/service.ts).
const INPUT_POLL_MS: u64 = 1;

let backend: Backend | null = null;
const cpus: HostCpu[] = [];
// The host's VMs: one list, which the management API and the console
// share (vmm.ts); VMs made later join it (admitVm()), destroyed ones leave
// it (retireVm()).
let vms: Vm[] = [];
// Destroyed VMs whose vCPUs some CPU still holds (retire()).
const retiring: Vm[] = [];
let frames: FrameAllocator | null = null;
let slicesSinceCollect: u32 = 0;
let pagesAtCollect: i32 = 0;
let nextInputPoll: u64 = 0;
let allStopped = false;
// The last VM stopped while the management API listens: the host stays up
// for it, and says so once.
let stayingUp = false;
// CPUs halted in their loops for want of work.
let idleCpus = 0;

// A vCPU must see a change at once: its CPU leaves the guest or its idle
// halt and looks (cpuNext()). This CPU looks before it enters a guest
// again, unless the change needs no look (needsNoLook()).
class Kicker extends VcpuSignal {
  notify(vcpu: Vcpu): void {
    const self = thisCpu(), run = vcpu.runState;
    const target = run.runningOn >= 0 ? <u32>run.runningOn : run.homeCpu;
    if (target >= <u32>cpus.length) return;
    if (target == self && needsNoLook(unchecked(cpus[self]), vcpu)) return;
    cpus[target].look = true;
    if (target != self && cpus[target].started) kick(target);
  }

  // A CPU that may be in the vCPU's guest is kicked out of it, and waited
  // for: it cannot enter again before taking the lock this CPU holds.
  evict(vcpu: Vcpu): void {
    const on = vcpu.runState.runningOn;
    if (on < 0 || <u32>on == thisCpu()) return;
    kick(<u32>on);
    waitForGuestExit(cpus[on].entry.inGuestFlag);
  }
}
const kicker = new Kicker();

// A failure of the hypervisor while a CPU ran a vCPU names the vCPU and
// shows its last exits (core/exitlog.ts), without allocating.
class CurrentVcpu extends FaultWitness {
  report(cpu: u32): void {
    if (cpu >= <u32>cpus.length) return;
    const slot = unchecked(cpus[cpu]).current;
    if (slot === null) return;
    print("*** cpu ");
    printDec(cpu);
    print(" was running vm ");
    print(slot.vm.name);
    print(" vcpu ");
    printDec(slot.vcpu.apicId);
    println("; its last exits to the VMM, oldest first:");
    slot.vcpu.exitLog.print();
  }
}

// Takes the VMs in hand; every CPU then enters them through cpuNext().
// `pool` gets a destroyed VM's RAM back.
export function startScheduler(all: Vm[], b: Backend, pool: FrameAllocator): void {
  backend = b;
  vms = all;
  frames = pool;
  // The boot's garbage waits for the first regular collection: collected
  // at once, it would hold up the VMs' first entries (0.25 M instructions).
  pagesAtCollect = memory.size();
  for (let c: u32 = 0; c < cpuCount(); c++) cpus.push(new HostCpu(c));
  setFaultWitness(new CurrentVcpu());
  for (let i = 0; i < all.length; i++) adopt(all[i]);
  announceConsoles(all);
}

// A VM made after the boot (the management API's vm.create) joins the
// others.
export function admitVm(vm: Vm): void {
  vms.push(vm);
  adopt(vm);
}

// The VM's vCPUs get homes; a change to one of them kicks its CPU.
function adopt(vm: Vm): void {
  vm.apics.signal = kicker;
  for (let j = 0; j < vm.vcpus.length; j++) place(new Slot(vm, vm.vcpus[j]));
}

// A stopped VM leaves the host (the management API's vm.destroy): out of
// the list at once, so that nothing looks at it any more; its vCPUs leave
// the run queues as the CPUs let go of them (retire()), and the last CPU to
// do so gives back everything it held (Vm.dispose()).
export function retireVm(vm: Vm): void {
  const at = vms.indexOf(vm);
  if (at < 0 || vm.running) return;
  vms.splice(at, 1);
  consoleLeaves(at);
  retiring.push(vm);
  for (let i = 0; i < cpus.length; i++) {
    cpus[i].look = true;
    if (<u32>i != thisCpu() && cpus[i].started) kick(<u32>i);
  }
}

// This CPU lets go of the retiring VMs' vCPUs: one bound here is released
// (its VMCS cleared on the CPU it is active on, SDM 24.11.1), and one bound
// nowhere and running nowhere leaves its run queue. A VM with no vCPU
// left in a queue is gone.
function retire(c: HostCpu): void {
  for (let i = retiring.length - 1; i >= 0; i--) {
    const vm = retiring[i];
    let held = 0;
    for (let j = 0; j < cpus.length; j++) {
      const queue = cpus[j].queue;
      for (let k = queue.length - 1; k >= 0; k--) {
        const slot = queue[k];
        if (slot.vm !== vm) continue;
        const idle = slot !== cpus[j].current && slot.vcpu.runState.runningOn < 0;
        if (idle && slot.boundTo() == <i32>c.id) slot.unbind(c.id);
        if (idle && slot.boundTo() < 0) queue.splice(k, 1);
        else held++;
      }
    }
    if (held > 0) continue;
    retiring.splice(i, 1);
    const ram = vm.memory.size, pages = pagesInUseBytes();
    vm.dispose(frames!);
    log.info(
      "vm " + vm.name + ": destroyed; " + log.size(ram) + " of RAM and " + log.size(pages - pagesInUseBytes())
        + " of the hypervisor's pages are free again",
    );
  }
}

// The home of a new vCPU: of the CPUs its VM may use, the one with the
// fewest vCPUs at home; the boot CPU if none is allowed.
function place(slot: Slot): void {
  let best: HostCpu | null = null;
  for (let i = 0; i < cpus.length; i++) {
    const c = cpus[i];
    if (c.failed || !slot.vm.share.allows(c.id)) continue;
    if (best === null || c.queue.length < best.queue.length) best = c;
  }
  const home = best !== null ? best : cpus[0];
  home.queue.push(slot);
  slot.vcpu.runState.homeCpu = home.id;
}

// What CPU `cpu` does next (the address of its EntryBlock): the exit of
// the guest it ran is handled first.
export function cpuNext(cpu: u32): usize {
  const c = unchecked(cpus[cpu]); // cpu < cpuCount(): the loop of a CPU that started
  if (!c.started && !c.failed) start(c);
  if (c.failed) {
    c.entry.action = Action.Stop;
    return c.entry.base;
  }
  // An idle period ends with an interrupt: the alarm's, or a kick.
  if (c.entry.action == Action.Idle) {
    idleUntil(c.id, rdtsc());
    alarmMayHaveRung(c.id);
  }
  if (c.idle) {
    c.idle = false;
    idleCpus--;
  }
  if (slicesSinceCollect >= COLLECT_SLICES || memory.size() - pagesAtCollect >= COLLECT_GROWTH_PAGES) {
    slicesSinceCollect = 0;
    pagesAtCollect = memory.size();
    __collect();
  }
  let next = Next.Resume;
  if (c.entered) {
    c.entered = false;
    next = finishRun(c);
  }
  decide(c, next);
  return c.entry.base;
}

// A CPU's first call: virtualization and the alarm on it (the boot CPU's
// were turned on before the VMs were made).
function start(c: HostCpu): void {
  c.started = true;
  c.joinedAt = rdtsc();
  if (c.id == 0) return;
  // What the boot CPU set up for itself in boot(): the host's PAT, XSAVE and PKRU for the guests.
  useHostPat();
  enableStateSwitching();
  startLocalTimer();
  const problem = backend!.startCpu(c.id);
  if (problem === null) return;
  log.warn("vmm: cpu " + c.id.toString() + ": " + problem + "; it runs no vCPU");
  c.started = false;
  c.failed = true;
  // Its vCPUs go home elsewhere.
  while (c.queue.length > 0) {
    const slot = c.queue.pop();
    slot.vm.share.affinity &= ~(<u32>1 << c.id);
    place(slot);
  }
}

// Accounts the run that just ended and handles its exit, unless the lane
// already did.
function finishRun(c: HostCpu): Next {
  const slot = c.current!, vm = slot.vm, vcpu = slot.vcpu, e = c.entry;
  const ticks = e.exitedTsc - e.enteredTsc;
  const run = vcpu.runState;
  run.account(c.id, ticks);
  run.vruntime += vm.share.virtualTicks(ticks, run.activeSiblings);
  vm.share.account(ticks);
  const handled = c.laneNext;
  if (handled != NO_LANE) {
    c.laneNext = NO_LANE;
    return <Next>handled;
  }
  const exit = vcpu.takeExit(e);
  vm.apics.takePvEoi(vcpu);
  const next = exit !== null ? handle(c, vm, vcpu, exit, e.exitedTsc) : Next.Resume;
  debuggerSees(vm, vcpu, exit);
  return next;
}

// The exit counted, logged at `tsc` and handled. Its caller has let the
// vCPU's APIC end what the guest ended through its PV EOI word, whether or
// not the backend finished the exit itself.
function handle(c: HostCpu, vm: Vm, vcpu: Vcpu, exit: Exit, tsc: u64): Next {
  newClockLook(); // the exit may move the devices' deferred work
  vm.exitStats.count(exit.kind);
  vcpu.exitLog.record(exit, tsc);
  // The alarm or a kick: time to look.
  if (exit.kind == ExitKind.ExternalInterrupt) c.look = true;
  return handleExit(vm, vcpu, exit);
}

// The lane: the world-switch stubs offer it an exit their fast path
// left to it (FastExit.Lane), with the guest's FPU state saved and, through
// linker/shim.c lane_exit(), the hypervisor lock. A CPUID, port I/O or
// hypercall is handled here as cpuNext() would; when decide() would then
// take its short way and enter() would find nothing to act on but an
// interrupt from the vCPU's APIC, the guest runs on at once, that
// interrupt injected, without the return to the CPU's loop (the run goes
// on, and is accounted when it ends). Otherwise the loop's cpuNext() carries on
// from the exit's outcome. True: the guest runs on.
export function cpuLane(vcpu: Vcpu): bool {
  const c = unchecked(cpus[vcpu.runState.runningOn]), slot = c.current!, vm = slot.vm;
  if (debuggerWatches(vm)) return false;
  const exit = vcpu.takeExit(c.entry), now = rdtsc();
  vm.apics.takePvEoi(vcpu);
  const next = exit !== null ? handle(c, vm, vcpu, exit, now) : Next.Resume;
  if (goesOnAsIs(c, c.current, next, now) && vm.interruptsSettled(vcpu) && vcpu.nestedSeen == vm.nestedGeneration) {
    // The VMCS current again (VT-x) before an interrupt its APIC holds goes in, as at enter().
    vcpu.resumeInPlace();
    deliverPending(vm, vcpu, false);
    vm.apics.offerPvEoi(vcpu);
    if (c.alarmMoved) setAlarmFor(c, vm, vcpu);
    return true;
  }
  c.laneNext = next;
  return false;
}

// decide()'s short way: nothing changed (notify() sets `look`), nothing is
// due, the guest goes on (after a yield too, when nobody else lives here
// to take the CPU).
function goesOnAsIs(c: HostCpu, current: Slot | null, next: Next, now: u64): bool {
  const alone = next == Next.Yield && c.queue.length == 1;
  return (next == Next.Resume || alone) && current !== null && !c.look && now < c.lookAt && current.runnable
    && current.vcpu.exits - c.sliceExits < SLICE_EXITS;
}

function decide(c: HostCpu, next: Next): void {
  newClockLook();
  const now = rdtsc(), tscPerMs = tscPerMillisecond();
  const current = c.current;
  if (goesOnAsIs(c, current, next, now)) {
    enter(c, current!);
    return;
  }
  c.look = false;
  if (c.id == 0 && now >= nextInputPoll) {
    pollConsoleInput(vms);
    pollConsoleOutput(vms);
    pollDebugger();
    pollApi();
    pollUplink(now, tscPerMs);
    pollManagement(now, tscPerMs);
    nextInputPoll = now + INPUT_POLL_MS * tscPerMs;
  }
  releaseWanted(c);
  keepTime(c, now);
  wakeHalted(c, tscPerMs);
  if (current !== null && !goesOn(c, current, next, now, tscPerMs)) endSlice(c);
  if (current !== null && current === c.current && next == Next.Yield) {
    // Nobody else wants the CPU: the yield starts a new slice.
    sliceFrom(c, current, now, tscPerMs);
  }
  if (retiring.length > 0) retire(c);
  let slot = c.current;
  if (slot === null) {
    if (hostEnds()) {
      stopEverything(c);
      return;
    }
    slot = pick(c, now, tscPerMs);
    if (slot === null) slot = steal(c, now, tscPerMs);
    if (slot === null) {
      idle(c, now, tscPerMs);
      return;
    }
    startSlice(c, slot, now, tscPerMs);
  }
  if (idleCpus > 0) offerWork(c);
  planLooks(c, slot, tscPerMs);
  enter(c, slot);
}

// When `c`, running `slot`, must look next: for the others (`homeAt`), and at all (`lookAt`).
function planLooks(c: HostCpu, slot: Slot, tscPerMs: u64): void {
  // A guest that never exits must not hold up the host's own work on CPU 0.
  c.homeAt = min(homeDeadline(c, slot, tscPerMs), c.id == 0 && pollsWanted() ? nextInputPoll : u64.MAX_VALUE);
  c.lookAt = min(slot.vcpu.runState.sliceEnd, min(c.homeAt, c.id == 0 ? nextInputPoll : u64.MAX_VALUE));
}

// A vCPU waits here while another runs: an idle CPU that may run it is
// woken to take it (steal()).
function offerWork(c: HostCpu): void {
  for (let i = 0; i < c.queue.length; i++) {
    const slot = unchecked(c.queue[i]);
    if (slot === c.current || !slot.runnable) continue;
    for (let j = 0; j < cpus.length; j++) {
      const other = unchecked(cpus[j]);
      if (!other.idle || !slot.vm.share.allows(other.id)) continue;
      other.idle = false;
      idleCpus--;
      other.look = true;
      kick(other.id);
      return;
    }
  }
}

// Whether the current slice goes on after `next`. A vCPU that wakes does
// not cut it short: it runs at the next boundary. (Preempting at wake-ups
// measured slower for SMP guests sharing a CPU: the preempted vCPU often
// holds what the woken one then spins for, and emulators offer no
// pause-loop exits to end such spins.)
function goesOn(c: HostCpu, slot: Slot, next: Next, now: u64, tscPerMs: u64): bool {
  const vcpu = slot.vcpu, share = slot.vm.share;
  if (next == Next.Halt || next == Next.Stopped || !slot.runnable) return false;
  if (next == Next.Yield) return !otherCandidate(c, slot);
  if (now >= vcpu.runState.sliceEnd || vcpu.exits - c.sliceExits >= SLICE_EXITS) return false;
  return !share.heldBack(now, tscPerMs);
}

function otherCandidate(c: HostCpu, current: Slot): bool {
  for (let i = 0; i < c.queue.length; i++) {
    const slot = unchecked(c.queue[i]);
    if (slot !== current && slot.runnable && mayRunOn(slot, c)) return true;
  }
  return false;
}

// Whether `c` may run the slot now; if another CPU holds it, that CPU is
// asked to let it go.
function mayRunOn(slot: Slot, c: HostCpu): bool {
  const bound = slot.boundTo();
  if (bound < 0 || bound == <i32>c.id) return true;
  if (slot.releaseFor < 0) {
    slot.releaseFor = <i32>c.id;
    cpus[bound].releases.push(slot);
    cpus[bound].look = true;
    kick(<u32>bound);
  }
  return false;
}

// The current slot's slice ends: its extended state is saved.
function endSlice(c: HostCpu): void {
  const slot = c.current!, vcpu = slot.vcpu, run = vcpu.runState;
  crashOnSliceEnd(c.id);
  c.current = null;
  run.runningOn = -1;
  // To the back of the queue: among equals, the one that waited longest runs next.
  c.remove(slot);
  c.queue.push(slot);
  vcpu.xstate.leave();
  slicesSinceCollect++;
}

// The platform timers of the VMs whose boot vCPU lives here, brought up to
// `now` when one is due: their interrupts reach the vCPUs they are for
// (through the I/O APIC, which notifies them), whichever vCPU runs.
function keepTime(c: HostCpu, now: u64): void {
  for (let i = 0; i < c.queue.length; i++) {
    const slot = unchecked(c.queue[i]), intr = slot.vm.intr;
    if (slot.vcpu.apicId != 0 || intr === null || !slot.vm.running) continue;
    if (intr.nextEvent() <= now) intr.asserted();
  }
}

// Halted vCPUs at home here whose interrupt has come run again; one back
// from sleep does not keep the virtual time it did not use (it starts at
// most one slice behind the others here).
function wakeHalted(c: HostCpu, tscPerMs: u64): void {
  for (let i = 0; i < c.queue.length; i++) wake(c, unchecked(c.queue[i]), tscPerMs);
}

function wake(c: HostCpu, slot: Slot, tscPerMs: u64): void {
  const vcpu = slot.vcpu;
  if (!slot.vm.running || vcpu.activity != Activity.Halted) return;
  slot.vm.wakeIfPending(vcpu);
  if (vcpu.isRunnable) catchUpVirtualTime(c, slot, SLICE_MS * tscPerMs);
}

// Whether a change for `vcpu`, at home on `c`, this CPU, is seen without
// a look: an interrupt for the vCPU this CPU runs goes in at its next
// entry, the lane's too (cpuLane()), but a reset or a STARTUP only at
// enter(); one waiting here while this CPU runs another, with no CPU idle
// to take it, is woken now, since a look would change nothing else (the
// slice goes on, goesOn()). Either way the guest on this CPU runs on,
// maybe in the lane: a frame from one VM to another on the same CPU
// interrupts both, and takes no look.
function needsNoLook(c: HostCpu, vcpu: Vcpu): bool {
  const on = vcpu.runState.runningOn;
  if (on >= 0) return <u32>on == c.id && !vcpu.hasPending;
  return idleCpus == 0 && wokeInPlace(c, vcpu);
}

// What a look would do for `vcpu`, at home on `c` and not running, done
// now: true if it is runnable after, so that its interrupt waits for its
// entry (enter()), as it would after the look.
function wokeInPlace(c: HostCpu, vcpu: Vcpu): bool {
  for (let i = 0; i < c.queue.length; i++) {
    const slot = unchecked(c.queue[i]);
    if (slot.vcpu !== vcpu) continue;
    if (vcpu.isRunnable) return true;
    const tscPerMs = tscPerMillisecond();
    wake(c, slot, tscPerMs);
    if (!vcpu.isRunnable) return false;
    // Its timers no longer call for an alarm: the one set for them is moved.
    const current = c.current;
    if (current !== null) {
      planLooks(c, current, tscPerMs);
      c.alarmMoved = true;
    }
    return true;
  }
  return false;
}

function catchUpVirtualTime(c: HostCpu, slot: Slot, slack: u64): void {
  let floor = u64.MAX_VALUE;
  for (let i = 0; i < c.queue.length; i++) {
    const other = unchecked(c.queue[i]);
    if (other !== slot && other.runnable) floor = min(floor, other.vcpu.runState.vruntime);
  }
  const run = slot.vcpu.runState;
  if (floor != u64.MAX_VALUE && floor > slack && run.vruntime < floor - slack) run.vruntime = floor - slack;
}

// The runnable vCPU at home here furthest behind in virtual time whose VM
// the cap does not hold back, the first in the queue of equals; null if none.
function pick(c: HostCpu, now: u64, tscPerMs: u64): Slot | null {
  let best: Slot | null = null;
  for (let i = 0; i < c.queue.length; i++) {
    const slot = unchecked(c.queue[i]);
    if (!slot.runnable || !mayRunOn(slot, c)) continue;
    if (slot.vm.share.heldBack(now, tscPerMs)) continue;
    if (best === null || slot.vcpu.runState.vruntime < best.vcpu.runState.vruntime) best = slot;
  }
  if (best === null) return null;
  // Among that VM's vCPUs, the one that waited longest: siblings take turns,
  // so that one never waits long for another that holds what it needs.
  for (let i = 0; i < c.queue.length; i++) {
    const slot = unchecked(c.queue[i]);
    if (slot.vm === best.vm && slot.runnable && mayRunOn(slot, c)) return slot;
  }
  return best;
}

// A runnable vCPU waiting at another CPU's home, which may run here: it
// moves here. One still bound to another CPU (a VMCS active there, its
// debug registers loaded) is asked for, and taken at a later look.
function steal(c: HostCpu, now: u64, tscPerMs: u64): Slot | null {
  for (let i = 0; i < cpus.length; i++) {
    const other = unchecked(cpus[i]);
    if (other === c) continue;
    for (let j = 0; j < other.queue.length; j++) {
      const slot = unchecked(other.queue[j]), vcpu = slot.vcpu;
      if (!slot.runnable || vcpu.runState.runningOn >= 0 || !slot.vm.share.allows(c.id)) continue;
      if (slot.vm.share.heldBack(now, tscPerMs) || !mayRunOn(slot, c)) continue;
      other.remove(slot);
      catchUpVirtualTime(c, slot, 0);
      c.queue.push(slot);
      vcpu.runState.homeCpu = c.id;
      return slot;
    }
  }
  return null;
}

// vCPUs bound here that another CPU asked for: released, unless one runs
// here now (it is let go after its slice).
function releaseWanted(c: HostCpu): void {
  for (let i = c.releases.length - 1; i >= 0; i--) {
    const slot = unchecked(c.releases[i]);
    if (slot === c.current) continue;
    c.releases.splice(i, 1);
    slot.unbind(c.id);
    const asker = <u32>slot.releaseFor;
    slot.releaseFor = -1;
    cpus[asker].look = true;
    if (asker != c.id) kick(asker);
  }
}

function startSlice(c: HostCpu, slot: Slot, now: u64, tscPerMs: u64): void {
  const vm = slot.vm, vcpu = slot.vcpu, run = vcpu.runState;
  c.current = slot;
  vcpu.load(c.id);
  run.lastCpu = <i32>c.id;
  run.runningOn = <i32>c.id;
  run.activeSiblings = wantingToRun(vm);
  sliceFrom(c, slot, now, tscPerMs);
  // The boot vCPU's first entry (no exit yet): the VM's power-on.
  if (vcpu.exits == 0 && vcpu.apicId == 0) log.info("vm " + vm.name + ": entered at tsc " + now.toString());
  vcpu.xstate.enter();
  vcpu.debugRegisters.enter(c.id);
  vcpu.msrs.loadTscAux();
}

// A slice's length: SLICE_MS, or less where a capped VM's budget ends, by
// the alarm and (VT-x) the preemption timer, and at most SLICE_EXITS exits.
function sliceFrom(c: HostCpu, slot: Slot, now: u64, tscPerMs: u64): void {
  const vcpu = slot.vcpu;
  const slice = min(SLICE_MS * tscPerMs, slot.vm.share.left(tscPerMs));
  vcpu.runState.sliceEnd = now + slice;
  c.sliceExits = vcpu.exits;
  vcpu.setPreemptionTimer(slice);
}

// The next entry into the current slot's guest.
function enter(c: HostCpu, slot: Slot): void {
  const vm = slot.vm, vcpu = slot.vcpu;
  vcpu.applyPending(vm.bootState);
  if (vcpu.nestedSeen != vm.nestedGeneration) {
    vcpu.flushNestedTlb();
    vcpu.nestedSeen = vm.nestedGeneration;
  }
  if (!steppedByDebugger(vcpu)) deliverInterrupt(vm, vcpu);
  vm.apics.offerPvEoi(vcpu);
  setAlarmFor(c, vm, vcpu);
  vcpu.yieldGoesOn = c.queue.length == 1;
  vcpu.prepareEntry(c.entry);
  c.entered = true;
}

// The alarm for `vcpu`'s run on `c`: its slice's end, its timers, the others' (planLooks()).
function setAlarmFor(c: HostCpu, vm: Vm, vcpu: Vcpu): void {
  setAlarm(c.id, min(vcpu.runState.sliceEnd, min(vm.nextTimerInterrupt(vcpu), c.homeAt)));
  c.alarmMoved = false;
}

// Nothing to run: the CPU halts until its next deadline, or a kick. A VM
// that nothing could wake any more is stopped.
function idle(c: HostCpu, now: u64, tscPerMs: u64): void {
  stopSleepers();
  if (hostEnds()) {
    stopEverything(c);
    return;
  }
  c.idle = true;
  idleCpus++;
  slicesSinceCollect++;
  c.entry.action = Action.Idle;
  let wake = homeDeadline(c, null, tscPerMs);
  if (c.id == 0 && pollsWanted()) wake = min(wake, now + INPUT_POLL_MS * tscPerMs);
  setAlarm(c.id, wake);
  idleFrom(c.id, rdtsc());
}

// The earliest TSC at which this CPU must look again for others than
// `running`: a timer of a halted vCPU at home here, the platform timers of
// the VMs whose boot vCPU lives here (keepTime()), the end of a cap's period.
// A vCPU waiting to run needs no alarm: what its timers raise waits for it.
function homeDeadline(c: HostCpu, running: Slot | null, tscPerMs: u64): u64 {
  let earliest = u64.MAX_VALUE;
  for (let i = 0; i < c.queue.length; i++) {
    const slot = unchecked(c.queue[i]), vm = slot.vm, vcpu = slot.vcpu, intr = vm.intr;
    if (slot === running || !vm.running) continue;
    if (vcpu.awaitsInterrupt) earliest = min(earliest, vm.nextTimerInterrupt(vcpu));
    else if (vcpu.apicId == 0 && intr !== null) earliest = min(earliest, intr.nextEvent());
    if (vcpu.isRunnable && vm.share.capPercent != 0) earliest = min(earliest, vm.share.periodEnd(tscPerMs));
  }
  return earliest;
}

// VMs whose vCPUs all wait for something that cannot come: halted with
// no timer and no key to wake them.
function stopSleepers(): void {
  for (let i = 0; i < vms.length; i++) {
    const vm = vms[i];
    if (!vm.running || vm.nextWakeUp() != u64.MAX_VALUE || vm.waitsForInput) continue;
    let asleep = true;
    for (let j = 0; j < vm.vcpus.length && asleep; j++) {
      const vcpu = vm.vcpus[j];
      asleep = !vcpu.isRunnable && vcpu.runState.runningOn < 0 && vcpu.pendingStartup < 0
        && !vm.hasInterruptFor(vcpu) && !vm.canWake(vcpu);
    }
    if (asleep && !anyRunnable(vm)) vm.stop("halted with nothing left to wake it");
  }
}

// The VM's vCPUs that run or wait to.
function wantingToRun(vm: Vm): u32 {
  let n: u32 = 0;
  for (let i = 0; i < vm.vcpus.length; i++) if (unchecked(vm.vcpus[i]).isRunnable) n++;
  return n;
}

function anyRunnable(vm: Vm): bool {
  for (let i = 0; i < vm.vcpus.length; i++) if (unchecked(vm.vcpus[i]).isRunnable) return true;
  return false;
}

// Whether CPU 0 has host work to look at every INPUT_POLL_MS, whatever
// its guest does: keys a VM waits for, console output on its way, the
// debugger, the management API, the network's receive rings.
function pollsWanted(): bool {
  return waitsForInput() || consolePending() || debuggerListens() || apiListens() || hasUplink() || hasManagement();
}

function waitsForInput(): bool {
  for (let i = 0; i < vms.length; i++) {
    const vm = unchecked(vms[i]);
    if (vm.running && vm.waitsForInput) return true;
  }
  return false;
}

function liveVms(): i32 {
  let live = 0;
  for (let i = 0; i < vms.length; i++) if (unchecked(vms[i]).running) live++;
  return live;
}

// Whether the host's work is done: the management API asked it to shut
// down (the VMs still running are powered off first), or the last VM
// stopped and no API listens that could start one again. With the API,
// the host stays up and says so once each time the last VM stops.
function hostEnds(): bool {
  if (allStopped) return true;
  if (shutdownDue(rdtsc())) {
    log.info("host: shutting down, asked by " + shutdownRequester());
    for (let i = 0; i < vms.length; i++) if (vms[i].running) vms[i].powerOffBy(shutdownRequester());
    return true;
  }
  if (liveVms() > 0) {
    stayingUp = false;
    return false;
  }
  if (!apiListens()) return true;
  if (!stayingUp) {
    stayingUp = true;
    log.info("no virtual machine runs; the host stays up for the management API");
  }
  return false;
}

// The host's work is done: every CPU leaves its loop; the first to see it says so.
function stopEverything(c: HostCpu): void {
  if (!allStopped) {
    allStopped = true;
    log.info("all virtual machines have stopped");
    reportLockWaits(cpus);
    reportUplink();
    reportManagement();
    for (let i = 0; i < cpus.length; i++) if (cpus[i] !== c && cpus[i].started) kick(cpus[i].id);
  }
  c.entry.action = Action.Stop;
}

// The event the vCPU takes next, if it can: an NMI before a maskable
// interrupt (SDM Vol. 3A 6.9, Table 6-2); of those, first what its local
// APIC has for it, then the VM's external interrupts, which go to the boot
// vCPU. One that must wait gets its window: an exit as soon as the guest
// can take it.
function deliverInterrupt(vm: Vm, vcpu: Vcpu): void {
  // The legacy devices first: bringing them up to now may raise an IRQ that
  // the I/O APIC passes to a local APIC.
  deliverPending(vm, vcpu, vcpu.apicId == 0 && vm.pollExternalInterrupt());
}

// deliverInterrupt() once the legacy devices are looked at: `external`
// if they hold an interrupt for `vcpu`.
function deliverPending(vm: Vm, vcpu: Vcpu, external: bool): void {
  const fromApic = vm.apics.pendingVector(vcpu);
  const maskable = fromApic >= 0 || external;
  if (vcpu.nmiPending && vcpu.canInjectNmi()) {
    vcpu.nmiPending = false;
    vcpu.injectNmi();
    vcpu.tookInterrupt();
    if (maskable) vcpu.requestInterruptWindow(true);
    return;
  }
  if (maskable) deliverMaskable(vm, vcpu, fromApic);
  // Asked last: on AMD-V how the window opens depends on what went in.
  if (vcpu.nmiPending) vcpu.requestNmiWindow();
}

function deliverMaskable(vm: Vm, vcpu: Vcpu, fromApic: i32): void {
  if (!vcpu.canInjectInterrupt()) {
    vcpu.requestInterruptWindow(true);
    return;
  }
  if (fromApic >= 0) {
    vm.apics.of(vcpu).acknowledge(<u8>fromApic);
    vcpu.injectInterrupt(<u8>fromApic);
  } else {
    vcpu.injectInterrupt(vm.takeInterrupt());
  }
  vcpu.tookInterrupt();
}

// The scheduler's view, for the console's status key (report.ts).
export function hostCpus(): HostCpu[] {
  return cpus;
}
