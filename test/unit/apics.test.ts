// The local APICs of one VM (vmm/core/vmapics.ts): what an IPI written into one
// vCPU's ICR does to the others, start-up by INIT and STARTUP (SDM Vol. 3A
// 9.4.4), which halted vCPUs an interrupt wakes (only those with IF=1, as
// HLT does), and the timer deadline the scheduler idles until; then the
// VM's INTR pin (Vm.intr), which only a LINT0 in ExtINT mode lets through.
import { beforeEach, describe, expect, it } from "vitest";
import { load, PhysMemory, type Exports } from "./harness";

interface ApicsExports {
  apicWrite(from: number, register: number, value: number): void;
  apicRead(from: number, register: number): number;
  activity(i: number): number;
  setActivity(i: number, a: number): void;
  setInterruptsEnabled(i: number, on: number): void;
  setNmisBlocked(i: number, on: number): void;
  nmiPending(i: number): number;
  nmiLine(): void;
  lastReset(i: number): bigint;
  enter(i: number): void;
  register(i: number, r: number): bigint;
  setRegister(i: number, r: number, value: bigint): void;
  apicId(i: number): number;
  pendingVector(i: number): number;
  init(i: number): void;
  connectPin(): void;
  setPin(request: number, vector: number, event: bigint): void;
  vmHasInterruptFor(i: number): number;
  vmTakeInterrupt(): number;
  vmWakeIfPending(i: number): void;
  vmNextWakeUp(): bigint;
  vmNextTimerInterrupt(i: number): bigint;
  memoryPages(): number;
  interruptStorm(count: number): void;
  addRam(hpa: bigint, size: bigint): void;
  writePvEoiMsr(i: number, value: bigint): number;
  offerPvEoi(i: number): void;
  takePvEoi(i: number): void;
  acknowledge(i: number): number;
  levelInterrupt(vector: number): void;
}

const RUNNABLE = 0, HALTED = 1, WAITING_FOR_SIPI = 2;
const LVT_LINT0 = 0x350, EXTINT = 0x700;
const ID = 0x20,
  SVR = 0xf0,
  ICR_LOW = 0x300,
  ICR_HIGH = 0x310,
  LVT_TIMER = 0x320,
  TIMER_INITIAL = 0x380,
  TIMER_DIVIDE = 0x3e0;
const FIXED = 0x000, LOWEST = 0x100, INIT = 0x500, STARTUP = 0x600, ASSERT = 0x4000;
const RBX = 3, RDX = 2;
const NEVER = 0xffff_ffff_ffff_ffffn;

let e: Exports<ApicsExports>;
let phys: PhysMemory;
beforeEach(async () => {
  phys = new PhysMemory();
  e = (await load<ApicsExports>("apics.ts", { phys })).exports;
  for (let i = 0; i < 3; i++) e.apicWrite(i, SVR, 0x1ff); // software-enabled, spurious vector 0xff
});

const ipi = (from: number, to: number, command: number) => {
  e.apicWrite(from, ICR_HIGH, to << 24);
  e.apicWrite(from, ICR_LOW, command | ASSERT);
};

describe("the vCPUs of a VM", () => {
  it("have APIC IDs in vCPU order, and each sees its own APIC in the one window", () => {
    expect([0, 1, 2].map((i) => e.apicId(i))).toEqual([0, 1, 2]);
    expect([0, 1, 2].map((i) => e.apicRead(i, ID) >>> 24)).toEqual([0, 1, 2]);
  });
  it("start with the boot vCPU running and the others waiting for STARTUP", () => {
    expect([0, 1, 2].map((i) => e.activity(i))).toEqual([RUNNABLE, WAITING_FOR_SIPI, WAITING_FOR_SIPI]);
  });
});

describe("INIT and STARTUP", () => {
  it("STARTUP starts a waiting vCPU in real mode at CS = vector << 8, IP 0, with its registers cleared", () => {
    e.setRegister(1, RBX, 0x1234n);
    ipi(0, 1, STARTUP | 0x9a);
    expect(e.activity(1)).toBe(RUNNABLE);
    expect(e.lastReset(1)).toBe(0xffff_ffff_ffff_ffffn); // none yet: applied by the vCPU's own CPU, before it enters
    e.enter(1);
    expect(e.lastReset(1)).toBe(0x9a00n << 16n);
    expect(e.register(1, RBX)).toBe(0n);
    expect(e.register(1, RDX)).toBe(0n); // the processor signature: CPUID.1:EAX, 0 in the harness
    expect(e.activity(2)).toBe(WAITING_FOR_SIPI);
  });
  it("STARTUP to a running or halted vCPU is ignored", () => {
    ipi(0, 1, STARTUP | 0x10);
    e.enter(1);
    e.setActivity(1, HALTED);
    ipi(0, 1, STARTUP | 0x20);
    e.enter(1);
    expect(e.activity(1)).toBe(HALTED);
    expect(e.lastReset(1)).toBe(0x1000n << 16n);
  });
  it("INIT makes a running vCPU wait again, and the next STARTUP restarts it", () => {
    ipi(0, 1, STARTUP | 0x10);
    ipi(0, 1, INIT);
    expect(e.activity(1)).toBe(WAITING_FOR_SIPI);
    ipi(0, 1, STARTUP | 0x30);
    expect(e.activity(1)).toBe(RUNNABLE);
    e.enter(1);
    expect(e.lastReset(1)).toBe(0x3000n << 16n);
  });
  it("INIT a vCPU sends to its own APIC ID stops it too, until another's STARTUP", () => {
    ipi(0, 1, STARTUP | 0x10);
    ipi(1, 1, INIT);
    expect(e.activity(1)).toBe(WAITING_FOR_SIPI);
    ipi(0, 1, STARTUP | 0x20);
    expect(e.activity(1)).toBe(RUNNABLE);
  });
  it("an INIT signal taken at an exit does the same as an INIT IPI", () => {
    e.init(0);
    expect(e.activity(0)).toBe(WAITING_FOR_SIPI);
  });
  it("an IPI to an APIC ID no vCPU has is lost without harm", () => {
    ipi(0, 7, STARTUP | 0x10);
    expect([1, 2].map((i) => e.activity(i))).toEqual([WAITING_FOR_SIPI, WAITING_FOR_SIPI]);
  });
});

describe("fixed IPIs", () => {
  beforeEach(() => {
    ipi(0, 1, STARTUP | 0x10);
    ipi(0, 2, STARTUP | 0x10);
  });
  it("reach the target's IRR", () => {
    ipi(0, 2, FIXED | 0x51);
    expect(e.pendingVector(2)).toBe(0x51);
    expect(e.pendingVector(1)).toBe(-1);
  });
  it("wake a halted vCPU that takes interrupts, and not one with IF=0", () => {
    e.setActivity(1, HALTED);
    e.setActivity(2, HALTED);
    e.setInterruptsEnabled(1, 1);
    e.setInterruptsEnabled(2, 0);
    ipi(0, 1, FIXED | 0x51);
    ipi(0, 2, FIXED | 0x52);
    for (const i of [1, 2]) e.vmWakeIfPending(i); // the scheduler's look before its next round
    expect(e.activity(1)).toBe(RUNNABLE);
    expect(e.activity(2)).toBe(HALTED);
    expect(e.pendingVector(2)).toBe(0x52);
  });
  it("of lowest priority go to one vCPU only", () => {
    e.apicWrite(0, ICR_HIGH, 0xff << 24); // broadcast
    e.apicWrite(0, ICR_LOW, LOWEST | 0x60 | ASSERT);
    const reached = [0, 1, 2].filter((i) => e.pendingVector(i) === 0x60);
    expect(reached.length).toBe(1);
  });
});

describe("delivery on the exit path", () => {
  // A guest may send IPIs without pause, and the collector runs only every
  // few thousand scheduler rounds: what each one allocated would pile up.
  // Hence the kernel's runtime here, which never collects on its own.
  it("makes no garbage: 100,000 IPIs and 100,000 I/O APIC messages leave the heap as it was", async () => {
    e = (await load<ApicsExports>("apics.ts", { runtime: "minimal" })).exports;
    for (let i = 0; i < 3; i++) e.apicWrite(i, SVR, 0x1ff);
    e.interruptStorm(100);
    const before = e.memoryPages();
    e.interruptStorm(100_000);
    expect(e.memoryPages()).toBe(before);
  });
});

describe("a halted vCPU's timer", () => {
  it("is the deadline the scheduler idles until, and wakes the vCPU when it has passed", () => {
    expect(e.vmNextWakeUp()).toBe(NEVER);
    e.apicWrite(0, TIMER_DIVIDE, 0xb); // divide by 1
    e.apicWrite(0, LVT_TIMER, 0x40); // one-shot
    e.apicWrite(0, TIMER_INITIAL, 5000);
    e.setActivity(0, HALTED);
    e.setInterruptsEnabled(0, 1);
    const deadline = e.vmNextWakeUp();
    expect(deadline).not.toBe(NEVER);
    e.vmWakeIfPending(0); // the harness's TSC moves 1000 per read: not yet
    expect(e.activity(0)).toBe(HALTED);
    for (let i = 0; i < 6; i++) e.vmWakeIfPending(0);
    expect(e.activity(0)).toBe(RUNNABLE);
    expect(e.pendingVector(0)).toBe(0x40);
  });

  it("is no deadline for a vCPU halted with interrupts disabled, which no timer wakes", () => {
    e.apicWrite(0, LVT_TIMER, 0x40);
    e.apicWrite(0, TIMER_INITIAL, 5000);
    e.setActivity(0, HALTED);
    e.setInterruptsEnabled(0, 0);
    expect(e.vmNextWakeUp()).toBe(NEVER);
  });

  it("is, halted or not, the time the scheduler's alarm rings for that vCPU alone", () => {
    expect(e.vmNextTimerInterrupt(1)).toBe(NEVER);
    e.apicWrite(1, TIMER_DIVIDE, 0xb);
    e.apicWrite(1, LVT_TIMER, 0x40);
    e.apicWrite(1, TIMER_INITIAL, 5000);
    const due = e.vmNextTimerInterrupt(1);
    expect(due).not.toBe(NEVER);
    expect(e.vmNextTimerInterrupt(0)).toBe(NEVER);
    expect(e.vmNextWakeUp()).toBe(NEVER); // the vCPU runs: nothing to idle until
    e.setActivity(1, HALTED);
    e.setInterruptsEnabled(1, 1);
    expect(e.vmNextWakeUp()).toBe(due);
  });
});

describe("the VM's INTR pin (an 8259's output)", () => {
  beforeEach(() => {
    e.connectPin();
    e.setPin(1, 0x30, 123_456n);
  });

  it("reaches the boot vCPU only through LINT0 in ExtINT mode, and never the others", () => {
    expect(e.vmHasInterruptFor(0)).toBe(0); // LINT0 masked since reset
    e.apicWrite(0, LVT_LINT0, EXTINT);
    expect(e.vmHasInterruptFor(0)).toBe(1);
    e.apicWrite(1, LVT_LINT0, EXTINT);
    expect(e.vmHasInterruptFor(1)).toBe(0);
    expect(e.vmTakeInterrupt()).toBe(0x30);
    expect(e.vmHasInterruptFor(0)).toBe(0);
  });

  it("wakes the halted boot vCPU with IF=1, and its next event is a deadline to idle until", () => {
    e.apicWrite(0, LVT_LINT0, EXTINT);
    e.setActivity(0, HALTED);
    e.setInterruptsEnabled(0, 1);
    expect(e.vmNextWakeUp()).toBe(123_456n);
    expect(e.vmNextTimerInterrupt(0)).toBe(123_456n);
    expect(e.vmNextTimerInterrupt(1)).toBe(NEVER); // the pin reaches the boot vCPU only
    e.setInterruptsEnabled(0, 0);
    expect(e.vmNextWakeUp()).toBe(NEVER);
    e.vmWakeIfPending(0);
    expect(e.activity(0)).toBe(HALTED);
    e.setInterruptsEnabled(0, 1);
    e.vmWakeIfPending(0);
    expect(e.activity(0)).toBe(RUNNABLE);
  });
});

describe("NMIs (SDM Vol. 3A 6.7.1, 11.6.1, 11.5.1)", () => {
  const NMI = 0x400, SELF = 1 << 18, ALL = 2 << 18, ALL_BUT_SELF = 3 << 18, LVT_LINT1 = 0x360, MASKED = 1 << 16;
  const pending = () => [0, 1, 2].map((i) => e.nmiPending(i) !== 0);

  it("an NMI IPI latches an NMI in its target, whatever the vector; a halted target wakes even with IF=0", () => {
    e.setActivity(1, HALTED);
    e.setInterruptsEnabled(1, 0);
    ipi(0, 1, NMI | 0x33);
    expect(pending()).toEqual([false, true, false]);
    expect(e.pendingVector(1)).toBe(-1);
    e.vmWakeIfPending(1);
    expect(e.activity(1)).toBe(RUNNABLE);
  });

  it("a vCPU halted with NMIs blocked (in its NMI handler) keeps the NMI latched and stays halted", () => {
    e.setActivity(2, HALTED);
    e.setNmisBlocked(2, 1);
    ipi(0, 2, NMI);
    e.vmWakeIfPending(2);
    expect([e.nmiPending(2) !== 0, e.activity(2)]).toEqual([true, HALTED]);
  });

  it("shorthands: self and all-including-self send NMIs too, all-but-self to the others", () => {
    e.apicWrite(1, ICR_LOW, NMI | SELF | ASSERT);
    expect(pending()).toEqual([false, true, false]);
    e.apicWrite(0, ICR_LOW, NMI | ALL_BUT_SELF | ASSERT);
    expect(pending()).toEqual([false, true, true]);
    e.apicWrite(0, ICR_LOW, NMI | ALL | ASSERT);
    expect(pending()).toEqual([true, true, true]);
  });

  it("the NMI line reaches each APIC's LINT1: NMI mode latches an NMI, fixed mode the vector, masked nothing", () => {
    e.apicWrite(0, LVT_LINT1, NMI);
    e.apicWrite(1, LVT_LINT1, 0x44);
    e.apicWrite(2, LVT_LINT1, NMI | MASKED);
    e.nmiLine();
    expect(pending()).toEqual([true, false, false]);
    expect([e.pendingVector(1), e.pendingVector(2)]).toEqual([0x44, -1]);
  });
});

describe("KVM's PV EOI (Documentation/virt/kvm/x86/msr.rst)", () => {
  const RAM_HPA = 0x4000_0000n, WORD = 0x1000n, ISR = 0x100, TMR = 0x180;
  const isr = (vector: number) => (e.apicRead(0, ISR + 0x10 * (vector >> 5)) >>> (vector & 31)) & 1;
  beforeEach(() => e.addRam(RAM_HPA, 0x10000n));
  // The PV EOI on, and vector 0x41 sent to vCPU 0 and taken: in service.
  const inService = () => {
    e.writePvEoiMsr(0, WORD | 1n);
    ipi(1, 0, FIXED | 0x41);
    expect(e.acknowledge(0)).toBe(0x41);
  };

  it("takes a word in the VM's RAM, 4-byte aligned; a reserved bit or a word elsewhere is #GP", () => {
    expect(e.writePvEoiMsr(0, WORD | 2n | 1n)).toBe(0);
    expect(e.writePvEoiMsr(0, 0x10_0000n | 1n)).toBe(0);
    expect(e.writePvEoiMsr(0, WORD | 1n)).toBe(1);
    expect(e.writePvEoiMsr(0, 0n)).toBe(1);
  });

  it("lets the guest end an edge-triggered interrupt by clearing bit 0, and ends it at the next exit", () => {
    e.writePvEoiMsr(0, WORD | 1n);
    phys.write32(RAM_HPA + WORD, 0xabc0);
    ipi(1, 0, FIXED | 0x41);
    expect(e.acknowledge(0)).toBe(0x41);
    e.offerPvEoi(0);
    expect(phys.read32(RAM_HPA + WORD)).toBe(0xabc1); // only bit 0 is the VMM's
    phys.write32(RAM_HPA + WORD, 0xabc0); // the guest's EOI
    expect(isr(0x41)).toBe(1);
    e.takePvEoi(0);
    expect(isr(0x41)).toBe(0);
  });

  it("leaves the word as the guest left it when a second entry comes before an exit's look", () => {
    inService();
    e.offerPvEoi(0);
    phys.write32(RAM_HPA + WORD, 0); // the guest's EOI
    e.offerPvEoi(0);
    expect(phys.read32(RAM_HPA + WORD)).toBe(0);
    e.takePvEoi(0);
    expect(isr(0x41)).toBe(0);
  });

  it("clears bit 0 again at an exit where the guest did not use it, and the interrupt stays in service", () => {
    inService();
    e.offerPvEoi(0);
    e.takePvEoi(0);
    expect([phys.read32(RAM_HPA + WORD), isr(0x41)]).toEqual([0, 1]);
  });

  it("is not offered while another interrupt waits, nor for a level-triggered one, nor when off", () => {
    inService();
    ipi(1, 0, FIXED | 0x31); // lower: waits in the IRR behind 0x41
    e.offerPvEoi(0);
    expect(phys.read32(RAM_HPA + WORD)).toBe(0);
    e.apicWrite(0, 0xb0, 0); // EOI
    expect(e.acknowledge(0)).toBe(0x31);
    e.writePvEoiMsr(0, 0n);
    e.offerPvEoi(0);
    expect(phys.read32(RAM_HPA + WORD)).toBe(0);
    e.writePvEoiMsr(0, WORD | 1n);
    e.apicWrite(0, 0xb0, 0);
    e.levelInterrupt(0x51);
    expect(e.acknowledge(0)).toBe(0x51);
    expect((e.apicRead(0, TMR + 0x20) >>> 17) & 1).toBe(1);
    e.offerPvEoi(0);
    expect(phys.read32(RAM_HPA + WORD)).toBe(0);
  });
});
