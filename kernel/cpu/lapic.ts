// The boot processor's local APIC, for the one thing the kernel needs from it
// so far: waking the other processors with INIT and STARTUP IPIs.
// Intel SDM Vol. 3A 12.6 "Issuing Interprocessor Interrupts", 10.4 (MP init).

import { physRead32, physWrite32, rdmsr } from "../arch/shim";

const IA32_APIC_BASE: u32 = 0x1b;
const ID: u64 = 0x20;
const ICR_LOW: u64 = 0x300;
const ICR_HIGH: u64 = 0x310;
const ICR_DELIVERY_PENDING: u32 = 1 << 12;
const ICR_INIT: u32 = 5 << 8;
const ICR_STARTUP: u32 = 6 << 8;
const ICR_LEVEL_ASSERT: u32 = 1 << 14;

function base(): u64 {
  return rdmsr(IA32_APIC_BASE) & 0xf_ffff_f000;
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
