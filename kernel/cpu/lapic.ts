// The local APIC of the CPU we run on: its timer (the hypervisor's alarm
// clock, irq.ts), the INIT and STARTUP IPIs that wake the other processors,
// and the fixed IPIs that kick them.
// Intel SDM Vol. 3A chapter 12 (APIC): 12.5.4 timer, 12.6 IPIs, 12.9 spurious
// vector; 10.4 (MP initialization).

import { APIC_BASE_ADDRESS_MASK, IA32_APIC_BASE } from "../arch/msrs";
import { physRead32, physWrite32, rdmsr } from "../arch/shim";

const ID: u64 = 0x20;
const EOI: u64 = 0xb0;
const SPURIOUS: u64 = 0xf0;
const LVT_TIMER: u64 = 0x320;
const TIMER_INITIAL: u64 = 0x380;
const TIMER_CURRENT: u64 = 0x390;
const TIMER_DIVIDE: u64 = 0x3e0;
const APIC_SOFTWARE_ENABLE: u32 = 1 << 8;
const TIMER_MASKED: u32 = 1 << 16;
const DIVIDE_BY_16: u32 = 0x3;
// What DIVIDE_BY_16 divides the timer's input clock by.
export const TIMER_DIVISOR: u64 = 16;
export const SPURIOUS_VECTOR: u8 = 0xff;
const ICR_LOW: u64 = 0x300;
const ICR_HIGH: u64 = 0x310;
const ICR_DELIVERY_PENDING: u32 = 1 << 12;
const ICR_FIXED: u32 = 0 << 8;
const ICR_INIT: u32 = 5 << 8;
const ICR_STARTUP: u32 = 6 << 8;
const ICR_LEVEL_ASSERT: u32 = 1 << 14;

function base(): u64 {
  return rdmsr(IA32_APIC_BASE) & APIC_BASE_ADDRESS_MASK;
}

export function lapicId(): u32 {
  return physRead32(base() + ID) >> 24;
}

function sendIpi(apicId: u32, command: u32): void {
  const b = base();
  physWrite32(b + ICR_HIGH, apicId << 24);
  physWrite32(b + ICR_LOW, command);
  for (let spins = 0; spins < 1000000 && (physRead32(b + ICR_LOW) & ICR_DELIVERY_PENDING) != 0; spins++) {}
}

export function sendInit(apicId: u32): void {
  sendIpi(apicId, ICR_INIT | ICR_LEVEL_ASSERT);
}

// The processor starts in real mode at `page` * 4096.
export function sendStartup(apicId: u32, page: u8): void {
  sendIpi(apicId, ICR_STARTUP | page);
}

// An interrupt with `vector` for the processor with this APIC ID.
export function sendFixed(apicId: u32, vector: u8): void {
  sendIpi(apicId, ICR_FIXED | vector);
}

// Enables the APIC and sets its timer up as a one-shot (12.5.4) raising
// `vector`, stopped; the timer counts the bus clock divided by 16.
export function initOneShotTimer(vector: u8): void {
  const b = base();
  physWrite32(b + SPURIOUS, APIC_SOFTWARE_ENABLE | SPURIOUS_VECTOR);
  physWrite32(b + TIMER_DIVIDE, DIVIDE_BY_16);
  physWrite32(b + TIMER_INITIAL, 0); // 0 stops the count
  physWrite32(b + LVT_TIMER, vector); // one-shot mode, unmasked
}

// The timer's input clock is model-specific: it is measured against
// another clock (clockrates.ts). Starts the timer counting down from
// its largest count, its interrupt masked; returns the LVT entry to give
// back to stopFreeCount().
export function startFreeCount(): u32 {
  const b = base();
  const lvt = physRead32(b + LVT_TIMER);
  physWrite32(b + LVT_TIMER, lvt | TIMER_MASKED);
  physWrite32(b + TIMER_INITIAL, 0xffff_ffff);
  return lvt;
}

// The timer ticks since startFreeCount().
export function freeCountTicks(): u32 {
  return 0xffff_ffff - physRead32(base() + TIMER_CURRENT);
}

// Stops the timer and restores its LVT entry.
export function stopFreeCount(lvt: u32): void {
  const b = base();
  physWrite32(b + TIMER_INITIAL, 0);
  physWrite32(b + LVT_TIMER, lvt);
}

// Starts the one-shot count again: the timer fires after `count` timer ticks
// (a write of the initial count restarts it, 12.5.4).
export function startTimerCount(count: u32): void {
  physWrite32(base() + TIMER_INITIAL, count);
}
