// Exact conversion between two clocks' counts, for the timer models.
//
// The device models keep no clock of their own (pit8254.ts, acpipm.ts,
// hpet.ts): the VMM turns TSC ticks into nanoseconds, by the host's one
// conversion (kernel/time/tsc.ts, through platform/pc/pcinterrupts.ts),
// and each device turns nanoseconds into clocks of its own frequency with
// a ClockRatio: `numerator` output units for every
// `denominator` input units, the fraction of an output unit carried to the
// next step, so that however time is sliced the output after a total of n
// input units is floor(n * numerator / denominator). Its inverse says how
// many input units the next k output units take, which is how the VMM knows
// when a device's interrupt is due.

export const NEVER: u64 = u64.MAX_VALUE;

export class ClockRatio {
  private carry: u64 = 0; // input units * numerator, not yet worth a whole output unit

  // numerator * denominator must stay below 2^63.
  constructor(readonly numerator: u64, readonly denominator: u64) {}

  // The whole output units `units` more input units make.
  convert(units: u64): u64 {
    const num = this.numerator, den = this.denominator;
    // Whole denominators first keeps the product below 2^64 for any step.
    const scaled = (units % den) * num + this.carry;
    this.carry = scaled % den;
    return (units / den) * num + scaled / den;
  }

  // The fewest input units after which convert() will have made `outputs`
  // more output units; NEVER for NEVER or when that is beyond 2^64 - 1.
  inputFor(outputs: u64): u64 {
    if (outputs == 0) return 0;
    if (outputs == NEVER) return NEVER;
    const num = this.numerator, den = this.denominator;
    // The smallest n with n * num + carry >= outputs * den, split like convert():
    // n = whole * den + m, where m * num >= rest * den - carry.
    const whole = outputs / num, rest = outputs % num;
    if (whole > NEVER / den) return NEVER;
    const base = whole * den, needed = rest * den;
    if (needed <= this.carry) return base - (this.carry - needed) / num;
    const more = (needed - this.carry + num - 1) / num;
    return base > NEVER - more ? NEVER : base + more;
  }
}
