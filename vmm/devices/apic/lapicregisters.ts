// The local APIC's register file (Intel SDM Vol. 3A 11.4.1, Tables 11-1
// and 11-6), for lapic.ts: the registers by index, which of them each mode
// lets software read or write, the bits a write may set, and the 256-bit
// vector sets behind the ISR, TMR and IRR.

import { DIVIDE_CONFIG_BITS } from "./lapictimer";

// Registers by index: the xAPIC MMIO offset / 16, which is also the x2APIC
// MSR - 0x800 (Tables 11-1 and 11-6).
export const REG_ID: u32 = 0x02, REG_VERSION: u32 = 0x03, REG_TPR: u32 = 0x08, REG_APR: u32 = 0x09;
export const REG_PPR: u32 = 0x0a, REG_EOI: u32 = 0x0b, REG_RRD: u32 = 0x0c, REG_LDR: u32 = 0x0d;
export const REG_DFR: u32 = 0x0e, REG_SVR: u32 = 0x0f, REG_ISR: u32 = 0x10, REG_TMR: u32 = 0x18;
export const REG_IRR: u32 = 0x20, REG_ESR: u32 = 0x28, REG_LVT_CMCI: u32 = 0x2f, REG_ICR: u32 = 0x30;
export const REG_ICR_HIGH: u32 = 0x31, REG_LVT_TIMER: u32 = 0x32, REG_LVT_LINT0: u32 = 0x35;
export const REG_LVT_LINT1: u32 = 0x36, REG_LVT_ERROR: u32 = 0x37, REG_TIMER_INITIAL: u32 = 0x38;
export const REG_TIMER_CURRENT: u32 = 0x39, REG_TIMER_DIVIDE: u32 = 0x3e, REG_SELF_IPI: u32 = 0x3f;

// The LVT, in register order: CMCI, then timer, thermal, performance, LINT0, LINT1, error.
export const LVT_ENTRIES: i32 = 7;
export const LVT_TIMER: i32 = 1, LVT_ERROR: i32 = 6;

// Version register (11.4.8): version 14h, max LVT entry in bits 23:16, no
// EOI-broadcast suppression (bit 24 clear).
export const VERSION: u32 = 0x14 | (<u32>(LVT_ENTRIES - 1) << 16);

export const VECTOR: u32 = 0xff;
export const DELIVERY_MODE: u32 = 7 << 8;
export const LVT_MASKED: u32 = 1 << 16;
export const LVT_TIMER_MODE: u32 = 3 << 17;
export const LVT_LINT_POLARITY_TRIGGER: u32 = (1 << 13) | (1 << 15);
export const LVT_DELIVERY_STATUS: u32 = 1 << 12;
export const LVT_REMOTE_IRR: u32 = 1 << 14;
export const SVR_BITS: u32 = 0x3ff; // vector, APIC software enable (8), focus processor checking (9)
export const DFR_MODEL: u32 = 0xf000_0000; // bits 27:0 read as ones
export const ICR_BITS: u32 = 0x000c_cfff;

// How software may access a register in the current mode.
export const READ: u8 = 1, WRITE: u8 = 2;

export function access(reg: u32, x2apic: bool): u8 {
  switch (reg) {
    case REG_ID:
    case REG_VERSION:
    case REG_PPR:
    case REG_TIMER_CURRENT:
      return READ;
    case REG_TPR:
    case REG_SVR:
    case REG_ESR:
    case REG_ICR:
    case REG_LVT_CMCI:
    case REG_TIMER_INITIAL:
    case REG_TIMER_DIVIDE:
      return READ | WRITE;
    case REG_EOI:
      return WRITE;
    case REG_APR:
    case REG_RRD:
      return x2apic ? 0 : READ;
    case REG_LDR:
      return x2apic ? READ : READ | WRITE; // x2APIC: derived from the ID
    case REG_DFR:
    case REG_ICR_HIGH:
      return x2apic ? 0 : READ | WRITE;
    case REG_SELF_IPI:
      return x2apic ? WRITE : 0;
  }
  if (reg >= REG_ISR && reg < REG_ESR) return READ; // ISR, TMR, IRR
  if (reg >= REG_LVT_TIMER && reg <= REG_LVT_ERROR) return READ | WRITE;
  return 0;
}

// Read-only fields a write may carry and leaves as they are (this model
// reads them as 0): every LVT entry's delivery status (bit 12) and LINT0's
// and LINT1's remote IRR (bit 14) (11.5.1). Linux sets both in LINT0 when
// it hands the APIC back to virtual wire mode (disconnect_bsp_APIC()).
export function readOnlyBits(reg: u32): u32 {
  if (reg == REG_LVT_LINT0 || reg == REG_LVT_LINT1) return LVT_DELIVERY_STATUS | LVT_REMOTE_IRR;
  return reg == REG_LVT_CMCI || (reg >= REG_LVT_TIMER && reg <= REG_LVT_ERROR) ? LVT_DELIVERY_STATUS : 0;
}

// The bits a write stores; x2APIC writes with a bit set that is neither
// these nor readOnlyBits() raise #GP (11.12.1.3).
export function writableBits(reg: u32): u32 {
  switch (reg) {
    case REG_TPR:
    case REG_SELF_IPI:
      return VECTOR;
    case REG_LDR:
    case REG_ICR_HIGH:
      return 0xff00_0000;
    case REG_DFR:
      return DFR_MODEL;
    case REG_SVR:
      return SVR_BITS;
    case REG_ICR:
      return ICR_BITS;
    case REG_TIMER_INITIAL:
      return 0xffff_ffff;
    case REG_TIMER_DIVIDE:
      return DIVIDE_CONFIG_BITS;
    case REG_LVT_CMCI:
      return VECTOR | DELIVERY_MODE | LVT_MASKED;
    case REG_LVT_TIMER:
      return VECTOR | LVT_MASKED | LVT_TIMER_MODE;
    case REG_LVT_ERROR:
      return VECTOR | LVT_MASKED;
    case REG_LVT_LINT0:
    case REG_LVT_LINT1:
      return VECTOR | DELIVERY_MODE | LVT_LINT_POLARITY_TRIGGER | LVT_MASKED;
  }
  if (reg > REG_LVT_TIMER && reg < REG_LVT_LINT0) return VECTOR | DELIVERY_MODE | LVT_MASKED; // thermal, performance
  return 0; // EOI and ESR take only 0 in x2APIC mode
}

export function lvtIndex(reg: u32): i32 {
  return reg == REG_LVT_CMCI ? 0 : <i32>(reg - REG_LVT_TIMER) + 1;
}

// 256 bits, one per vector, read as 8 32-bit registers: the ISR, TMR and
// IRR. A mask beside them says which words are not empty, so that the
// highest vector, asked for at every entry, costs two bit scans.
export class VectorSet {
  private words: StaticArray<u32> = new StaticArray<u32>(8);
  private occupied: u32 = 0;
  set(vector: u8): void {
    const i = vector >> 5;
    unchecked(this.words[i] |= 1 << (vector & 31));
    this.occupied |= 1 << i;
  }
  clear(vector: u8): void {
    const i = vector >> 5, w = unchecked(this.words[i]) & ~(1 << (vector & 31));
    unchecked(this.words[i] = w);
    if (w == 0) this.occupied &= ~(1 << i);
  }
  has(vector: u8): bool {
    return (unchecked(this.words[vector >> 5]) & (1 << (vector & 31))) != 0;
  }
  word(index: u32): u32 {
    return this.words[index];
  }
  clearAll(): void {
    for (let i = 0; i < 8; i++) this.words[i] = 0;
    this.occupied = 0;
  }
  // The highest vector in the set, or -1.
  highest(): i32 {
    const o = this.occupied;
    if (o == 0) return -1;
    const i = 31 - <i32>clz(o);
    return (i << 5) | (31 - <i32>clz(unchecked(this.words[i])));
  }
}
