// The local APIC timer (Intel SDM Vol. 3A 11.5.4), for lapic.ts.
//
// A 32-bit down counter clocked by the APIC's bus clock through the divide
// configuration register, one-shot or periodic, or a comparator against the
// TSC (TSC-deadline mode, 11.5.4.1). Like the PIT model it keeps no clock of
// its own: the VMM passes the TSC in with advance(), and should do so before
// it hands the guest an APIC access, so that the current count moves. The
// timer only says when it expires; the APIC delivers through its LVT timer
// entry, whose mask does not stop the counting.

// LVT timer bits 18:17 (Figure 11-8). 11b is reserved; it counts as one-shot here.
export const TIMER_ONE_SHOT: u32 = 0;
export const TIMER_PERIODIC: u32 = 1;
export const TIMER_TSC_DEADLINE: u32 = 2;

// Divide configuration register: bits 0, 1 and 3 (Figure 11-10).
export const DIVIDE_CONFIG_BITS: u32 = 0b1011;

const NEVER: u64 = u64.MAX_VALUE;

export class ApicTimer {
  private mode: u32 = TIMER_ONE_SHOT;
  initialCount: u32 = 0;
  divideConfig: u32 = 0;
  private tscPerBusTick: u64 = 1;
  private now: u64 = 0; // the TSC at the last advance()
  // Counting down: `countFrom` at TSC `countStart`. In every mode `expiry`
  // is the TSC at which the timer next fires, or NEVER when it is disarmed.
  private countFrom: u32 = 0;
  private countStart: u64 = 0;
  private expiry: u64 = NEVER;
  private deadline: u64 = 0; // IA32_TSC_DEADLINE; 0 is disarmed

  // Power-up and INIT state (11.4.7.1): counts, divide and mode zero,
  // disarmed. The clock ratio and the time are the machine's, and stay.
  reset(): void {
    this.mode = TIMER_ONE_SHOT;
    this.initialCount = 0;
    this.divideConfig = 0;
    this.expiry = NEVER;
    this.deadline = 0;
  }

  // The bus clock, as TSC ticks per bus tick; the default, 1, runs the APIC
  // timer at the TSC's rate, until the VMM sets the ratio it reports to the
  // guest. `ticks` must be at least 1 and below 2^25 (so that 2^32 counts at
  // divide-by-128 fit in 64 bits). The divider's phase is not modelled: a new
  // divide value or ratio takes effect at the current count, as if a tick
  // had just passed.
  setTscPerBusTick(ticks: u64): void {
    this.rebase();
    this.tscPerBusTick = ticks;
    this.rearm();
  }

  // The LVT timer's mode field. 11.5.4.1: switching into or out of
  // TSC-deadline mode disarms the timer; between one-shot and periodic the
  // count goes on and the new mode decides what happens when it ends.
  setMode(field: u32): void {
    const mode = field == TIMER_PERIODIC || field == TIMER_TSC_DEADLINE ? field : TIMER_ONE_SHOT;
    if ((mode == TIMER_TSC_DEADLINE) != (this.mode == TIMER_TSC_DEADLINE)) {
      this.expiry = NEVER;
      this.deadline = 0;
    }
    this.mode = mode;
  }

  // 11.5.4: a write starts the count from the new value; 0 stops the timer.
  // In TSC-deadline mode the write is ignored (11.5.4.1).
  writeInitialCount(count: u32): void {
    if (this.mode == TIMER_TSC_DEADLINE) return;
    this.initialCount = count;
    this.countFrom = count;
    this.countStart = this.now;
    this.expiry = count == 0 ? NEVER : this.now + <u64>count * this.tscPerTick();
  }

  writeDivideConfig(value: u32): void {
    this.rebase();
    this.divideConfig = value & DIVIDE_CONFIG_BITS;
    this.rearm();
  }

  // Reads 0 once a one-shot count has ended, and always in TSC-deadline mode.
  currentCount(): u32 {
    if (!this.counting()) return 0;
    return this.countFrom - <u32>((this.now - this.countStart) / this.tscPerTick());
  }

  // 11.5.4.1: outside TSC-deadline mode the MSR reads 0 and ignores writes;
  // writing 0 disarms. A deadline already passed fires at the next advance().
  readDeadline(): u64 {
    return this.mode == TIMER_TSC_DEADLINE ? this.deadline : 0;
  }

  writeDeadline(tsc: u64): void {
    if (this.mode != TIMER_TSC_DEADLINE) return;
    this.deadline = tsc;
    this.expiry = tsc == 0 ? NEVER : tsc;
  }

  nextExpiry(): u64 {
    return this.expiry;
  }

  // Moves time on to `nowTsc`; true if the timer expired meanwhile. However
  // many periods passed, that is one interrupt (the IRR holds one), and the
  // next period is counted from the last expiry, not from now.
  advance(nowTsc: u64): bool {
    if (nowTsc > this.now) this.now = nowTsc;
    if (this.now < this.expiry) return false;
    if (this.mode == TIMER_PERIODIC) {
      const period = <u64>this.initialCount * this.tscPerTick();
      this.countStart = this.expiry + (this.now - this.expiry) / period * period;
      this.countFrom = this.initialCount;
      this.expiry = this.countStart + period;
    } else {
      // One-shot ends at zero; TSC-deadline disarms and clears the MSR (11.5.4.1).
      this.expiry = NEVER;
      this.deadline = 0;
    }
    return true;
  }

  private counting(): bool {
    return this.mode != TIMER_TSC_DEADLINE && this.expiry != NEVER;
  }

  // Figure 11-10: bits 3, 1:0 = 000 divide by 2, 001 by 4, ... 110 by 128, 111 by 1.
  private tscPerTick(): u64 {
    const code = ((this.divideConfig >> 1) & 4) | (this.divideConfig & 3);
    return this.tscPerBusTick << ((code + 1) & 7);
  }

  // Before the tick length changes: count on from the current count, now.
  private rebase(): void {
    if (!this.counting()) return;
    this.countFrom = this.currentCount();
    this.countStart = this.now;
  }

  private rearm(): void {
    if (this.counting()) this.expiry = this.countStart + <u64>this.countFrom * this.tscPerTick();
  }
}
