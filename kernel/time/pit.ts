// Busy-wait delays from the i8254 PIT, the one timer every PC (and every
// emulator) has at a known frequency: 1.193182 MHz. Channel 2 counts down
// in mode 0 and its output shows on port 0x61 bit 5 when it reaches zero.

import { inb, outb } from "../arch/shim";

const PIT_HZ: u64 = 1193182;
const CHANNEL2: u16 = 0x42;
const COMMAND: u16 = 0x43;
const SPEAKER: u16 = 0x61;
const GATE: u8 = 1 << 0;
const SPEAKER_ON: u8 = 1 << 1;
const OUTPUT: u8 = 1 << 5;
const MAX_TICKS: u64 = 0xffff;

export function delayMicroseconds(us: u64): void {
  let ticks = us * PIT_HZ / 1000000 + 1;
  while (ticks > 0) {
    const chunk = ticks > MAX_TICKS ? MAX_TICKS : ticks;
    countDown(<u16>chunk);
    ticks -= chunk;
  }
}

function countDown(ticks: u16): void {
  // Gate on, speaker off; channel 2, lobyte/hibyte, mode 0 (interrupt on terminal count).
  outb(SPEAKER, (inb(SPEAKER) & ~SPEAKER_ON) | GATE);
  outb(COMMAND, 0xb0);
  outb(CHANNEL2, <u8>ticks);
  outb(CHANNEL2, <u8>(ticks >> 8));
  for (let spins = 0; spins < 100000000 && (inb(SPEAKER) & OUTPUT) == 0; spins++) {}
}
