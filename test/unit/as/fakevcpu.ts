// A vCPU without hardware for unit tests: its architectural state is plain
// fields the test sets, and it records what the VMM did to it (skipped
// instructions, resets, injected events, the TSC offset it was given).
// Shared by the unit-test entries that need a Vcpu.

import { EntryBlock } from "../../../vmm/core/entryblock";
import { EntryState } from "../../../vmm/core/entrystate";
import { Exit } from "../../../vmm/core/exit";
import { fetchModeOf, Vcpu } from "../../../vmm/core/vcpu";
import { Seg } from "../../../kernel/arch/x86";

export class FakeVcpu extends Vcpu {
  ripValue: u64 = 0;
  // ES, CS, SS, DS, FS, GS.
  segmentBases: StaticArray<u64> = new StaticArray<u64>(6);
  bits: u32 = 64;
  cr0Value: u64 = 0;
  cr3Value: u64 = 0;
  cr4Value: u64 = 0;
  eferValue: u64 = 0;
  cplValue: u32 = 0;
  skips: i32 = 0;
  rflagsValue: u64 = 2;
  // The last resetToRealMode(), as segment << 16 | offset; -1 if none.
  lastReset: i64 = -1;

  constructor() {
    super(true);
  }
  loadedOn: i32 = -1;
  load(cpu: u32): void {
    this.loadedOn = <i32>cpu;
  }
  prepareEntry(e: EntryBlock): void {}
  resumeInPlace(): void {}
  flushNestedTlb(): void {}
  takeExit(e: EntryBlock): Exit | null {
    return this.exit;
  }
  get rip(): u64 {
    return this.ripValue;
  }
  set rip(v: u64) {
    this.ripValue = v;
  }
  rspValue: u64 = 0;
  get rsp(): u64 {
    return this.rspValue;
  }
  set rsp(v: u64) {
    this.rspValue = v;
  }
  get rflags(): u64 {
    return this.rflagsValue;
  }
  set rflags(v: u64) {
    this.rflagsValue = v;
  }
  cr2Value: u64 = 0;
  set cr2(v: u64) {
    this.cr2Value = v;
  }
  get cr0(): u64 {
    return this.cr0Value;
  }
  get cr3(): u64 {
    return this.cr3Value;
  }
  get cr4(): u64 {
    return this.cr4Value;
  }
  get efer(): u64 {
    return this.eferValue;
  }
  get cpl(): u32 {
    return this.cplValue;
  }
  get longMode(): bool {
    return this.bits == 64;
  }
  segmentBase(seg: Seg): u64 {
    return this.segmentBases[<i32>seg];
  }
  segmentSelector(seg: Seg): u16 {
    return 0;
  }
  get codeBits(): u32 {
    return this.bits;
  }
  // The code size stands in for CS's attributes.
  get fetchMode(): u64 {
    return fetchModeOf(this.cr0Value, this.cr4Value, this.eferValue, this.rflagsValue, this.bits);
  }
  resetToRealMode(segment: u16, offset: u16): void {
    this.lastReset = (<i64>segment << 16) | <i64>offset;
  }
  protected setEntryState(s: EntryState): void {}
  dr7Value: u64 = 0x400;
  // The DR6 causes of the debug traps the VMM raised, together.
  debugTrapCauses: u64 = 0;
  get dr7(): u64 {
    return this.dr7Value;
  }
  pendDebugTrap(causes: u64): void {
    this.debugTrapCauses |= causes;
  }
  interceptBreakpoints(on: bool): void {}
  reflectBreakpoint(vector: u8, length: u32): void {}
  stepOnce(): bool {
    return false;
  }
  skipInstruction(): void {
    this.ripValue += <u64>this.exit.instructionLength;
    this.skips++;
  }
  // The last exception injected ("13:0" is #GP with error code 0, "6" is #UD), "" if none.
  exception: string = "";
  exceptions: i32 = 0;
  // The last external interrupt injected, -1 if none.
  interrupt: i32 = -1;
  injectException(vector: u8, hasError: bool, errorCode: u32): void {
    this.exception = hasError ? vector.toString() + ":" + errorCode.toString() : vector.toString();
    this.exceptions++;
  }
  injectInterrupt(vector: u8): void {
    this.interrupt = vector;
  }
  canInjectInterrupt(): bool {
    return true;
  }
  // NMIs injected.
  nmis: i32 = 0;
  injectNmi(): void {
    this.nmis++;
  }
  nmisBlockedValue: bool = false;
  get nmisBlocked(): bool {
    return this.nmisBlockedValue;
  }
  canInjectNmi(): bool {
    return true;
  }
  requestNmiWindow(): void {}
  requestInterruptWindow(on: bool): void {}
  setPreemptionTimer(ticks: u64): void {}
  tscOffset: u64 = 0;
  // False: a backend that cannot offset the TSC (VT-x without "use TSC offsetting").
  tscOffsetting: bool = true;
  protected setTscOffset(offset: u64): bool {
    if (!this.tscOffsetting) return false;
    this.tscOffset = offset;
    return true;
  }
  dumpState(): void {}
}
