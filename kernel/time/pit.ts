// The i8254 PIT, the one timer every PC (and every emulator) has at a known
// frequency: 1.193182 MHz. Channel 2 counts down in mode 0 (interrupt on
// terminal count); its output shows on port 0x61 bit 5 when it reaches zero,
// and its count can be latched and read at any time. It serves busy-wait
// delays and the measure of the other clocks (cpu/clockrates.ts).
// Intel 82C54 datasheet: "Mode 0", "Counter Latch Command".

import { inb, outb } from "../arch/shim";

export const PIT_HZ: u64 = 1193182;
const CHANNEL2: u16 = 0x42;
const COMMAND: u16 = 0x43;
const SPEAKER: u16 = 0x61;
const GATE: u8 = 1 << 0;
const SPEAKER_ON: u8 = 1 << 1;
const OUTPUT: u8 = 1 << 5;
// Channel 2 (bits 7:6 = 10), low byte then high byte (5:4 = 11), mode 0.
const CHANNEL2_LOHI_MODE0: u8 = 0xb0;
// Channel 2, access bits 00: latch the count for the next two reads.
const CHANNEL2_LATCH: u8 = 0x80;
export const MAX_COUNT: u32 = 0xffff;

export function delayMicroseconds(us: u64): void {
  let ticks = us * PIT_HZ / 1000000 + 1;
  while (ticks > 0) {
    const chunk = ticks > <u64>MAX_COUNT ? <u64>MAX_COUNT : ticks;
    startCountdown(<u16>chunk);
    for (let spins = 0; spins < 100000000 && (inb(SPEAKER) & OUTPUT) == 0; spins++) {}
    ticks -= chunk;
  }
}

// Starts channel 2 counting down from `ticks`, with the speaker off. After
// zero the count wraps to 0xffff and goes on.
export function startCountdown(ticks: u16): void {
  outb(SPEAKER, (inb(SPEAKER) & ~SPEAKER_ON) | GATE);
  outb(COMMAND, CHANNEL2_LOHI_MODE0);
  outb(CHANNEL2, <u8>ticks);
  outb(CHANNEL2, <u8>(ticks >> 8));
}

// Channel 2's count now. Until the PIT's next clock after startCountdown()
// this may still be the count from before.
export function readCountdown(): u32 {
  outb(COMMAND, CHANNEL2_LATCH);
  const low = <u32>inb(CHANNEL2);
  return low | (<u32>inb(CHANNEL2) << 8);
}
