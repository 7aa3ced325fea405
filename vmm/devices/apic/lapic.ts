// One vCPU's local APIC (Intel SDM Vol. 3A chapter 11), xAPIC and x2APIC.
//
// The guest reaches it through the 4 KiB MMIO window (xAPIC mode) or the
// MSRs 0x800-0x8ff (x2APIC mode), switching between them with IA32_APIC_BASE.
// Interrupts arrive with accept() (from IPIs, the timer, the I/O APIC), wait
// in the IRR, and the VMM asks pendingVector() before it enters the guest
// with interrupts open; acknowledge() is the CPU taking the vector, and the
// guest's EOI ends it. IPIs leave through the VM's ApicBus with their
// destination resolved to APIC IDs; the bus delivers them, and the VMM
// resets or starts a vCPU on INIT and STARTUP, and latches an NMI. The LINT
// pins: LINT0 in ExtINT mode, the 8259's path on a PC (passesExtInt()), and
// LINT1, where the board's NMI line ends (lint1Pulse()).

import {
  APIC_BASE_BSP,
  APIC_BASE_ENABLE,
  APIC_BASE_X2APIC,
  IA32_APIC_BASE,
  IA32_TSC_DEADLINE,
  X2APIC_FIRST,
} from "../../../kernel/arch/msrs";
import { allOnes, Device } from "../bus";
import { PvEoi } from "./pveoi";
import { ApicTimer } from "./lapictimer";
import {
  access,
  DELIVERY_MODE,
  DFR_MODEL,
  ICR_BITS,
  LVT_ENTRIES,
  LVT_ERROR,
  LVT_MASKED,
  LVT_TIMER,
  LVT_TIMER_MODE,
  READ,
  readOnlyBits,
  REG_APR,
  REG_DFR,
  REG_EOI,
  REG_ESR,
  REG_ICR,
  REG_ICR_HIGH,
  REG_ID,
  REG_IRR,
  REG_ISR,
  REG_LDR,
  REG_LVT_LINT0,
  REG_LVT_LINT1,
  REG_LVT_TIMER,
  REG_PPR,
  REG_RRD,
  REG_SELF_IPI,
  REG_SVR,
  REG_TIMER_CURRENT,
  REG_TIMER_DIVIDE,
  REG_TIMER_INITIAL,
  REG_TMR,
  REG_TPR,
  REG_VERSION,
  VectorSet,
  VERSION,
  WRITE,
  lvtIndex,
  writableBits,
} from "./lapicregisters";

// What a local APIC needs from its VM: IPIs go to other vCPUs' APICs through it.
export abstract class ApicBus {
  // An interprocessor interrupt from `source`'s ICR: delivery mode (ICR
  // bits 10:8: 0 fixed, 1 lowest priority, 4 NMI, 5 INIT, 6 STARTUP),
  // vector, and the destination already resolved to a list of APIC IDs
  // (physical or logical mode, shorthands self / all / all-but-self applied),
  // which the source reuses for its next IPI.
  abstract deliverIpi(source: LocalApic, mode: u32, vector: u8, destinations: u32[]): void;
  // All APIC IDs of the VM, for shorthands and logical destinations.
  abstract apics(): LocalApic[];
  // The EOI of a level-triggered interrupt, broadcast to the I/O APICs
  // (11.8.5): they clear its Remote IRR and send again a line still asserted.
  abstract endOfLevelInterrupt(vector: u8): void;
  // An NMI for the processor of `target`, from its LINT1 pin.
  abstract nmi(target: LocalApic): void;
}

export const LAPIC_BASE: u64 = 0xfee00000; // default xAPIC MMIO base (IA32_APIC_BASE)
export const LAPIC_SIZE: u64 = 0x1000;
const X2APIC_MSR_COUNT: u32 = 0x100;

// ICR delivery modes (Figure 11-12). 2 is SMI; 3 and 7 are reserved.
export const DELIVERY_FIXED: u32 = 0;
export const DELIVERY_LOWEST_PRIORITY: u32 = 1;
export const DELIVERY_NMI: u32 = 4;
export const DELIVERY_INIT: u32 = 5;
export const DELIVERY_STARTUP: u32 = 6;
export const DELIVERY_EXTINT: u32 = 7;

// IA32_APIC_BASE (Figure 11-5). Bits 52-63 are taken as above MAXPHYADDR,
// the widest the architecture allows; the model does not know the guest's.
const BASE_RESERVED: u64 = 0xfff0_0000_0000_02ff;

// SVR: bit 9, focus-processor checking, is stored and has no effect.
const SVR_ENABLE: u32 = 1 << 8;
const SVR_RESET: u32 = 0xff;
const DFR_FLAT: u32 = 0xf;
const XAPIC_ID_SHIFT: u32 = 24; // the ID, LDR and ICR destination live in bits 31:24

// ICR (Figure 11-12); bit 12, delivery status, reads 0 (idle): delivery is
// immediate.
const ICR_LOGICAL: u32 = 1 << 11;
const ICR_LEVEL_ASSERT: u32 = 1 << 14;
const ICR_TRIGGER_LEVEL: u32 = 1 << 15;
const SHORTHAND_NONE: u32 = 0, SHORTHAND_SELF: u32 = 1, SHORTHAND_ALL: u32 = 2;

// ESR (Figure 11-9).
const ESR_SEND_ILLEGAL_VECTOR: u32 = 1 << 5;
const ESR_RECEIVE_ILLEGAL_VECTOR: u32 = 1 << 6;
const ESR_ILLEGAL_REGISTER: u32 = 1 << 7;

const XAPIC_BROADCAST: u32 = 0xff;
const X2APIC_BROADCAST: u32 = 0xffff_ffff;
const FIRST_LEGAL_VECTOR: u8 = 16; // 0-15 are reserved (11.5.2)

// Whether an APIC accepts a message for `destination` (SDM 11.6.2; x2APIC
// 11.12.9, 11.12.10). The destination is in the sender's format (8 bits in
// xAPIC mode, 32 in x2APIC mode); `apicId`, `ldr` and `dfr` are the target's.
// All ones is a broadcast in both addressing modes.
export function matchesDestination(
  destination: u32,
  logical: bool,
  x2apic: bool,
  apicId: u32,
  ldr: u32,
  dfr: u32,
): bool {
  if (x2apic) {
    if (destination == X2APIC_BROADCAST) return true;
    if (!logical) return destination == apicId;
    // Cluster ID in bits 31:16, a bit per member in 15:0.
    return (destination >> 16) == (ldr >> 16) && (destination & ldr & 0xffff) != 0;
  }
  const mda = destination & 0xff;
  if (mda == XAPIC_BROADCAST) return true;
  if (!logical) return mda == (apicId & 0xff);
  const logicalId = ldr >> XAPIC_ID_SHIFT;
  // Flat model: a bit per APIC. Cluster model: cluster in 7:4, members in 3:0.
  if (dfr >> 28 == DFR_FLAT) return (mda & logicalId) != 0;
  return (mda >> 4) == (logicalId >> 4) && (mda & logicalId & 0xf) != 0;
}

// x2APIC logical ID (11.12.10.2): cluster ID[19:4] in bits 31:16, 1 << ID[3:0] below.
function x2apicLogicalId(id: u32): u32 {
  return ((id >> 4) << 16) | (1 << (id & 0xf));
}

// A vector's priority class (11.8.3), bits 7:4; -1 counts as class 0.
function priorityClass(vector: i32): u32 {
  return vector < 0 ? 0 : <u32>vector & 0xf0;
}

export class LocalApic extends Device {
  private apicBase: u64;
  // Registers, as initReset() sets them.
  private tpr: u32;
  private ldr: u32;
  private dfr: u32;
  private svr: u32;
  private esr: u32; // the errors latched by the last ESR write
  private newErrors: u32; // errors since then
  private icrLow: u32;
  private icrHigh: u32; // xAPIC: destination in 31:24; x2APIC: the 32-bit destination
  private lvt: StaticArray<u32> = new StaticArray<u32>(LVT_ENTRIES);
  private isr: VectorSet = new VectorSet();
  private tmr: VectorSet = new VectorSet();
  private irr: VectorSet = new VectorSet();
  private timer: ApicTimer = new ApicTimer();
  // KVM's paravirtual EOI (pveoi.ts): the MSR is the VMM's, the word the guest's.
  readonly pvEoi: PvEoi = new PvEoi();

  constructor(readonly id: u32, private readonly isBootstrap: bool, private bus: ApicBus) {
    super("local APIC");
    this.powerOn();
  }

  // Power-up and reset (11.4.7.1): xAPIC mode at the default base, enabled;
  // the BSP flag as the platform chose. Unlike INIT, this leaves x2APIC mode.
  powerOn(): void {
    this.apicBase = LAPIC_BASE | APIC_BASE_ENABLE | (this.isBootstrap ? APIC_BASE_BSP : 0);
    this.initReset();
  }

  // Where the VMM maps the MMIO window (IA32_APIC_BASE may move it), and
  // whether the window is there at all: in x2APIC mode and when the APIC is
  // disabled, the range behaves as if no APIC claimed it (11.12.1.2).
  get mmioBase(): u64 {
    return this.apicBase & ~(LAPIC_SIZE - 1);
  }
  get enabled(): bool {
    return (this.apicBase & APIC_BASE_ENABLE) != 0;
  }
  get x2apicMode(): bool {
    return (this.apicBase & APIC_BASE_X2APIC) != 0;
  }
  get xapicMode(): bool {
    return this.enabled && !this.x2apicMode;
  }
  get softwareEnabled(): bool {
    return (this.svr & SVR_ENABLE) != 0;
  }

  // Power-up state (11.4.7.1), which INIT also restores (11.4.7.3) except
  // for the APIC ID and IA32_APIC_BASE: the APIC stays in its mode. This is
  // the APIC's part of an INIT; the VMM resets the vCPU.
  initReset(): void {
    this.tpr = 0;
    this.ldr = this.x2apicMode ? x2apicLogicalId(this.id) : 0;
    this.dfr = DFR_MODEL;
    this.svr = SVR_RESET; // software-disabled
    this.esr = 0;
    this.newErrors = 0;
    this.icrLow = 0;
    this.icrHigh = 0;
    for (let i = 0; i < LVT_ENTRIES; i++) this.lvt[i] = LVT_MASKED;
    this.isr.clearAll();
    this.tmr.clearAll();
    this.irr.clearAll();
    this.timer.reset();
    this.pvEoi.reset();
  }

  // xAPIC MMIO. Registers are 32 bits at the start of each 16-byte slot
  // (11.4.1); other sizes and offsets read 0 and ignore writes. A slot with
  // no register sets ESR's illegal register address bit.
  read(offset: u64, size: u8): u64 {
    if (!this.xapicMode) return allOnes(size);
    if (size != 4 || (offset & 0xf) != 0) return 0;
    const reg = <u32>(offset >> 4), how = access(reg, false);
    if (how == 0) this.signalError(ESR_ILLEGAL_REGISTER);
    return how & READ ? this.readRegister(reg) : 0;
  }

  write(offset: u64, size: u8, value: u64): void {
    if (!this.xapicMode || size != 4 || (offset & 0xf) != 0) return;
    const reg = <u32>(offset >> 4), how = access(reg, false);
    if (how == 0) this.signalError(ESR_ILLEGAL_REGISTER);
    if (how & WRITE) this.writeRegister(reg, <u32>value & writableBits(reg));
  }

  // IA32_APIC_BASE, IA32_TSC_DEADLINE and the x2APIC MSRs. The value read,
  // or -1 when the RDMSR raises #GP (the register does not exist in this
  // mode, is write-only, or the MSR is not the APIC's). No APIC MSR reads as
  // all ones: writeMsr never stores a TSC deadline of 2^64 - 1.
  readMsr(msr: u32): i64 {
    if (msr == IA32_APIC_BASE) return <i64>this.apicBase;
    if (msr == IA32_TSC_DEADLINE) return <i64>this.timer.readDeadline();
    const reg = msr - X2APIC_FIRST;
    if (reg >= X2APIC_MSR_COUNT || !this.x2apicMode || !(access(reg, true) & READ)) return -1;
    // 11.12.1.2: in x2APIC mode the ICR is one 64-bit register.
    if (reg == REG_ICR) return <i64>((<u64>this.icrHigh << 32) | this.icrLow);
    return this.readRegister(reg);
  }

  // False when the WRMSR raises #GP: an illegal IA32_APIC_BASE change, an
  // x2APIC register that is read-only, absent or not in x2APIC mode, or a
  // value with reserved bits set.
  writeMsr(msr: u32, value: u64): bool {
    if (msr == IA32_APIC_BASE) return this.writeApicBase(value);
    if (msr == IA32_TSC_DEADLINE) {
      this.timer.writeDeadline(value == u64.MAX_VALUE ? value - 1 : value); // see readMsr
      return true;
    }
    const reg = msr - X2APIC_FIRST;
    if (reg >= X2APIC_MSR_COUNT || !this.x2apicMode || !(access(reg, true) & WRITE)) return false;
    if (reg == REG_ICR) {
      if (<u32>value & ~ICR_BITS) return false;
      this.icrHigh = <u32>(value >> 32);
      this.writeRegister(REG_ICR, <u32>value);
      return true;
    }
    const writable = writableBits(reg);
    if (value & ~<u64>(writable | readOnlyBits(reg))) return false;
    this.writeRegister(reg, <u32>value & writable);
    return true;
  }

  // A fixed interrupt reaches this APIC: into the IRR, with its trigger mode
  // in the TMR (11.8.4). A disabled APIC accepts none; vectors 0-15 are
  // refused with a receive illegal vector error (11.5.3).
  accept(vector: u8, levelTriggered: bool): void {
    if (!this.enabled || !this.softwareEnabled) return;
    if (vector < FIRST_LEGAL_VECTOR) {
      this.signalError(ESR_RECEIVE_ILLEGAL_VECTOR);
      return;
    }
    this.irr.set(vector);
    if (levelTriggered) this.tmr.set(vector);
    else this.tmr.clear(vector);
  }

  // The vector the APIC would interrupt the vCPU with now, or -1: the highest
  // in the IRR if its class is above the processor priority (11.8.3). A
  // software-disabled APIC holds its IRR and delivers nothing. No spurious
  // vector is ever needed (11.9): a vector cannot vanish between
  // pendingVector() and acknowledge().
  pendingVector(): i32 {
    if (!this.enabled || !this.softwareEnabled) return -1;
    const vector = this.irr.highest();
    return vector >= 0 && priorityClass(vector) > (this.processorPriority() & 0xf0) ? vector : -1;
  }

  // Whether the 8259's INTR reaches the vCPU through this APIC's LINT0 pin:
  // programmed for ExtINT and unmasked (11.5.1; the vector comes from the
  // PIC's INTA cycle, and neither the IRR nor the TPR takes part), or the
  // APIC hardware-disabled, when the processor takes INTR as one without an
  // APIC would (11.4.3). A software-disabled APIC masks its LVT (11.4.7.2).
  // Not modelled: LINT1, the other LINT0 modes, and the thermal, performance
  // and CMCI events, whose LVT entries are plain registers.
  passesExtInt(): bool {
    if (!this.enabled) return true;
    const lint0 = this.lvt[lvtIndex(REG_LVT_LINT0)];
    return this.softwareEnabled && !(lint0 & LVT_MASKED) && (lint0 & DELIVERY_MODE) >> 8 == DELIVERY_EXTINT;
  }

  // An edge on LINT1, where a PC's NMI line ends (the MADT says so, ACPI
  // 5.2.12.7): what the LVT entry says, an NMI or a fixed interrupt, unless
  // masked. With the APIC hardware-disabled the pin is the processor's NMI
  // input (11.4.3). The other modes are not valid for LINT1 (11.5.1).
  lint1Pulse(): void {
    if (!this.enabled) {
      this.bus.nmi(this);
      return;
    }
    const entry = this.lvt[lvtIndex(REG_LVT_LINT1)], mode = (entry & DELIVERY_MODE) >> 8;
    if (entry & LVT_MASKED) return;
    if (mode == DELIVERY_NMI) this.bus.nmi(this);
    else if (mode == DELIVERY_FIXED) this.accept(<u8>entry, false);
  }

  // Whether a message for `destination` (read in x2APIC form if `x2apic`)
  // is this APIC's: for IPIs, and for the I/O APIC's messages (11.6.2).
  isDestination(destination: u32, logical: bool, x2apic: bool): bool {
    return matchesDestination(destination, logical, x2apic, this.id, this.ldr, this.dfr);
  }

  // The vCPU took `vector` (pendingVector's answer): IRR to ISR (11.8.4).
  acknowledge(vector: u8): void {
    this.irr.clear(vector);
    this.isr.set(vector);
  }

  // 11.6.2.4 (Figure 11-15): the bus delivers a lowest-priority IPI to the
  // destination whose APR is lowest.
  arbitrationPriority(): u32 {
    const task = this.tpr & 0xf0;
    const inService = priorityClass(this.isr.highest()), requested = priorityClass(this.irr.highest());
    if (task >= requested && task > inService) return this.tpr;
    return max(task, max(inService, requested));
  }

  // Call it before the guest's APIC accesses too: the timer registers count
  // from the time of the last advance().
  advance(nowTsc: u64): void {
    if (this.timer.advance(nowTsc)) this.fireLvt(LVT_TIMER);
  }

  // Regardless of the LVT mask: a masked timer still counts and reloads.
  nextDeadline(): u64 {
    return this.timer.nextExpiry();
  }

  setTscPerBusTick(ticks: u64): void {
    this.timer.setTscPerBusTick(ticks);
  }

  private readRegister(reg: u32): u32 {
    switch (reg) {
      case REG_ID:
        return this.x2apicMode ? this.id : this.id << XAPIC_ID_SHIFT;
      case REG_VERSION:
        return VERSION;
      case REG_TPR:
        return this.tpr;
      case REG_APR:
        return this.arbitrationPriority();
      case REG_PPR:
        return this.processorPriority();
      case REG_LDR:
        return this.ldr;
      case REG_DFR:
        return this.dfr | ~DFR_MODEL;
      case REG_SVR:
        return this.svr;
      case REG_ESR:
        return this.esr;
      case REG_ICR:
        return this.icrLow;
      case REG_ICR_HIGH:
        return this.icrHigh;
      case REG_TIMER_INITIAL:
        return this.timer.initialCount;
      case REG_TIMER_CURRENT:
        return this.timer.currentCount();
      case REG_TIMER_DIVIDE:
        return this.timer.divideConfig;
      case REG_RRD:
        return 0; // remote read is not supported
    }
    if (reg < REG_TMR) return this.isr.word(reg - REG_ISR);
    if (reg < REG_IRR) return this.tmr.word(reg - REG_TMR);
    if (reg < REG_ESR) return this.irr.word(reg - REG_IRR);
    return this.lvt[lvtIndex(reg)];
  }

  // The task-priority register, which is also the vCPU's CR8: CR8 bits 3:0
  // are TPR bits 7:4, and a write to CR8 clears TPR bits 3:0 (SDM Vol. 3A
  // 11.8.6.5). It masks the interrupts of its priority class and below.
  get taskPriority(): u32 {
    return this.tpr;
  }
  set taskPriority(value: u32) {
    this.tpr = value & 0xff;
  }

  // `value` holds only writable bits.
  private writeRegister(reg: u32, value: u32): void {
    switch (reg) {
      case REG_TPR:
        this.tpr = value;
        return;
      case REG_EOI:
        this.endOfInterrupt();
        return;
      case REG_LDR:
        this.ldr = value;
        return;
      case REG_DFR:
        this.dfr = value;
        return;
      case REG_SVR:
        this.writeSvr(value);
        return;
      case REG_ESR:
        this.esr = this.newErrors;
        this.newErrors = 0;
        return; // 11.5.3: the write latches
      case REG_ICR:
        this.icrLow = value;
        this.sendIpi(value);
        return;
      case REG_ICR_HIGH:
        this.icrHigh = value;
        return;
      case REG_TIMER_INITIAL:
        this.timer.writeInitialCount(value);
        return;
      case REG_TIMER_DIVIDE:
        this.timer.writeDivideConfig(value);
        return;
      case REG_SELF_IPI:
        this.sendIpi(value | (SHORTHAND_SELF << 18));
        return; // 11.12.11: fixed, edge, self
    }
    // 11.4.7.2: a software-disabled APIC keeps every LVT entry masked.
    const entry = this.softwareEnabled ? value : value | LVT_MASKED;
    this.lvt[lvtIndex(reg)] = entry;
    if (reg == REG_LVT_TIMER) this.timer.setMode((entry & LVT_TIMER_MODE) >> 17);
  }

  // 11.4.7.2: clearing the enable bit masks every LVT entry; IRR and ISR stay.
  private writeSvr(value: u32): void {
    this.svr = value;
    if (this.softwareEnabled) return;
    for (let i = 0; i < LVT_ENTRIES; i++) this.lvt[i] |= LVT_MASKED;
  }

  // 11.12.5: the legal moves between disabled, xAPIC and x2APIC modes are
  // disabled <-> xAPIC, xAPIC -> x2APIC and x2APIC -> disabled; x2APIC
  // enable without global enable is an invalid state.
  private writeApicBase(value: u64): bool {
    if (value & BASE_RESERVED) return false;
    const enable = (value & APIC_BASE_ENABLE) != 0, x2apic = (value & APIC_BASE_X2APIC) != 0;
    if (x2apic && !enable) return false;
    if (x2apic && !this.x2apicMode && !this.enabled) return false;
    if (!x2apic && enable && this.x2apicMode) return false;
    const wasEnabled = this.enabled, wasX2apic = this.x2apicMode;
    this.apicBase = value;
    // 11.4.3: disabling may lose the APIC's state; here it always does.
    if (wasEnabled && !enable) this.initReset();
    // 11.12.5.1: entering x2APIC mode keeps the registers, but the LDR
    // becomes the logical ID derived from the APIC ID.
    if (x2apic && !wasX2apic) this.ldr = x2apicLogicalId(this.id);
    return true;
  }

  // 11.8.3.1: the TPR if its class is at least the highest in service, else that class.
  private processorPriority(): u32 {
    const inService = priorityClass(this.isr.highest());
    return (this.tpr & 0xf0) >= inService ? this.tpr : inService;
  }

  // 11.8.5: an EOI ends the highest-priority vector in service; if it came
  // level-triggered (its TMR bit), the EOI goes on to the I/O APICs. (The
  // version register offers no suppression of that broadcast, 11.8.5.)
  // Whether the interrupt in service may be ended through the guest's PV
  // EOI word (pveoi.ts): one is in service, edge-triggered (an EOI of a
  // level-triggered one must reach the I/O APIC), and none waits in the
  // IRR, which the EOI could let in and only an exit would deliver.
  get quietEoi(): bool {
    const vector = this.isr.highest();
    return vector >= 0 && this.endsQuietly(vector);
  }
  @inline
  private endsQuietly(inService: i32): bool {
    return !this.tmr.has(<u8>inService) && this.irr.highest() < 0;
  }

  // A store the vCPU's StoreMemo replays (core/storememo.ts), if it is a
  // quick access (devices/bus.ts): an EOI that ends an edge-triggered
  // interrupt while none waits in the IRR (quietEoi), or ends none, when
  // the guest has no PV EOI word that could end it too. The EOI register
  // ignores the value. (Not Device.quickWrite(), which the port accesses'
  // dispatch would then have to consider.)
  quickStore(offset: u64, size: u8, value: u64): bool {
    if (offset != <u64>REG_EOI << 4 || size != 4 || !this.xapicMode || this.pvEoi.enabled) return false;
    const vector = this.isr.highest();
    if (vector < 0) return true;
    if (!this.endsQuietly(vector)) return false;
    this.isr.clear(<u8>vector); // edge-triggered: endOfInterrupt() without the I/O APIC
    return true;
  }

  // The EOI register's write (11.8.5): the highest vector in service ends,
  // and the I/O APIC hears of a level-triggered one.
  endOfInterrupt(): void {
    const vector = this.isr.highest();
    if (vector < 0) return;
    this.isr.clear(<u8>vector);
    if (this.tmr.has(<u8>vector)) this.bus.endOfLevelInterrupt(<u8>vector);
  }

  // 11.5.3: errors collect until the next ESR write, each signalled through
  // the error LVT entry when it first appears. (Once is enough: the IRR holds
  // one interrupt anyway, and an illegal error vector cannot loop.)
  private signalError(error: u32): void {
    if (this.newErrors & error) return;
    this.newErrors |= error;
    this.fireLvt(LVT_ERROR);
  }

  // The timer and error entries deliver fixed, edge-triggered interrupts.
  private fireLvt(index: i32): void {
    const entry = this.lvt[index];
    if (!(entry & LVT_MASKED)) this.accept(<u8>entry, false);
  }

  // 11.6.1: an ICR low write (the x2APIC ICR MSR, or SELF IPI) sends. INIT
  // level de-assert (level 0, level triggered) only synchronised arbitration
  // IDs and is ignored by modern processors; SMI and the reserved modes are
  // dropped. Table 11-3 (the valid ICR combinations of the xAPIC) calls all
  // but fixed and NMI IPIs invalid with the self and all-including-self
  // shorthands, and they are dropped; it calls an NMI invalid there too,
  // which leaves the outcome open, and here it is sent, as to the APIC's own
  // ID. The trigger mode is otherwise ignored (every IPI is sent
  // edge-triggered). A fixed or lowest-priority IPI with a vector below 16
  // is not sent and sets send illegal vector (11.5.3).
  private sendIpi(icr: u32): void {
    const mode = (icr & DELIVERY_MODE) >> 8, vector = <u8>icr, shorthand = (icr >> 18) & 3;
    if (mode == DELIVERY_INIT && !(icr & ICR_LEVEL_ASSERT) && (icr & ICR_TRIGGER_LEVEL)) return;
    if (
      mode != DELIVERY_FIXED && mode != DELIVERY_LOWEST_PRIORITY && mode != DELIVERY_NMI
      && mode != DELIVERY_INIT && mode != DELIVERY_STARTUP
    ) return;
    const toSelf = shorthand == SHORTHAND_SELF || shorthand == SHORTHAND_ALL;
    if (toSelf && mode != DELIVERY_FIXED && mode != DELIVERY_NMI) return;
    if (mode <= DELIVERY_LOWEST_PRIORITY && vector < FIRST_LEGAL_VECTOR) {
      this.signalError(ESR_SEND_ILLEGAL_VECTOR);
      return;
    }
    const destinations = this.resolveDestinations(shorthand, (icr & ICR_LOGICAL) != 0);
    if (destinations.length > 0) this.bus.deliverIpi(this, mode, vector, destinations);
  }

  // The APIC IDs an IPI is for, in `destinations`, which every IPI reuses:
  // a guest's IPIs must not make garbage (this is on the exit path).
  private readonly destinations: u32[] = [];

  private resolveDestinations(shorthand: u32, logical: bool): u32[] {
    const ids = this.destinations;
    ids.length = 0;
    if (shorthand == SHORTHAND_SELF) {
      ids.push(this.id);
      return ids;
    }
    const x2apic = this.x2apicMode;
    const destination = x2apic ? this.icrHigh : this.icrHigh >> XAPIC_ID_SHIFT;
    const apics = this.bus.apics();
    for (let i = 0; i < apics.length; i++) {
      const target = apics[i];
      const selected = shorthand == SHORTHAND_NONE
        ? target.isDestination(destination, logical, x2apic)
        : shorthand == SHORTHAND_ALL || target !== this;
      if (selected) ids.push(target.id);
    }
    return ids;
  }
}
