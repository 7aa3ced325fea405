// One timer of the HPET (hpet.ts): its Timer N Configuration and Capability
// register and its Timer N Comparator Value register (IA-PC HPET
// Specification 1.0a, 2.3, and the modes of operation, 2.3.9.2).
//
// The comparator matches when the main counter reaches its value, compared
// with all 64 bits of the counter, or with the low 32 when Tn_32MODE_CNF
// makes the timer a 32-bit one. Every timer is 64 bits wide and
// periodic-capable; it interrupts through an I/O APIC input its route
// capability allows, never through FSB messages. The timer only says when
// its matches happen; what a match does with the interrupt line is the
// block's (hpet.ts).

import { NEVER } from "./clock";

// Timer N Configuration and Capability register bits.
export const TN_INT_TYPE_LEVEL: u64 = 1 << 1;
export const TN_INT_ENB: u64 = 1 << 2;
export const TN_TYPE_PERIODIC: u64 = 1 << 3;
export const TN_PER_INT_CAP: u64 = 1 << 4;
export const TN_SIZE_CAP_64: u64 = 1 << 5;
export const TN_VAL_SET: u64 = 1 << 6;
export const TN_32MODE: u64 = 1 << 8;
export const TN_INT_ROUTE_SHIFT: u64 = 9;
const TN_INT_ROUTE: u64 = 0x1f << TN_INT_ROUTE_SHIFT;
const TN_INT_ROUTE_CAP_SHIFT: u64 = 32;
const WRITABLE: u64 = TN_INT_TYPE_LEVEL | TN_INT_ENB | TN_TYPE_PERIODIC | TN_32MODE | TN_INT_ROUTE;
const LOW_32: u64 = 0xffff_ffff;

export const NO_ROUTE: i32 = -1;

export class HpetTimer {
  private config: u64 = 0; // the writable bits
  private valueSet: bool = false; // Tn_VAL_SET_CNF, until the next comparator write
  private comparator: u64 = ~(<u64>0); // the accumulator in periodic mode
  private period: u64 = ~(<u64>0); // the value last written

  // `routeCapability` has bit n set if I/O APIC input n may be chosen.
  constructor(private routeCapability: u32) {}

  get levelTriggered(): bool {
    return (this.config & TN_INT_TYPE_LEVEL) != 0;
  }
  get interruptEnabled(): bool {
    return (this.config & TN_INT_ENB) != 0;
  }
  private get periodic(): bool {
    return (this.config & TN_TYPE_PERIODIC) != 0;
  }
  private get width(): u64 {
    return this.config & TN_32MODE ? LOW_32 : ~(<u64>0);
  }

  // The I/O APIC input Tn_INT_ROUTE_CNF names, or NO_ROUTE if the route
  // capability does not allow it (the reset value, 0, for one).
  get route(): i32 {
    const input = <u32>((this.config & TN_INT_ROUTE) >> TN_INT_ROUTE_SHIFT);
    return (this.routeCapability >> input) & 1 ? <i32>input : NO_ROUTE;
  }

  readConfig(): u64 {
    const valueSet = this.valueSet ? TN_VAL_SET : 0;
    return this.config | valueSet | TN_PER_INT_CAP | TN_SIZE_CAP_64
      | (<u64>this.routeCapability << TN_INT_ROUTE_CAP_SHIFT);
  }

  // `bits` within `mask` are what the guest wrote. A route the capability
  // does not list is not taken, so it does not read back (Tn_INT_ROUTE_CNF).
  // Entering 32-bit mode cuts the comparator and period to 32 bits.
  writeConfig(bits: u64, mask: u64): void {
    let config = ((this.config & ~mask) | (bits & mask)) & WRITABLE;
    const input = (config & TN_INT_ROUTE) >> TN_INT_ROUTE_SHIFT;
    if (!((this.routeCapability >> <u32>input) & 1)) config = (config & ~TN_INT_ROUTE) | (this.config & TN_INT_ROUTE);
    this.config = config;
    if (mask & bits & TN_VAL_SET) this.valueSet = true;
    this.comparator &= this.width;
    this.period &= this.width;
  }

  readComparator(): u64 {
    return this.comparator;
  }

  // In non-periodic mode (2.3.9.2.1) the comparator stays as written, so it
  // matches again only once the counter has wrapped. In periodic mode
  // (2.3.9.2.2) it holds two values: the accumulator the counter is compared
  // with and the period, the value last written; each match adds the period
  // to the accumulator. A write sets only the period, unless Tn_VAL_SET_CNF
  // was set before it: then it sets both (the bit clears itself with that
  // write).
  writeComparator(bits: u64, mask: u64): void {
    const width = this.width;
    if (this.periodic && !this.valueSet) {
      this.period = ((this.period & ~mask) | (bits & mask)) & width;
      return;
    }
    this.comparator = ((this.comparator & ~mask) | (bits & mask)) & width;
    this.period = this.comparator;
    this.valueSet = false;
  }

  // Ticks from counter value `now` until the counter next equals the
  // comparator: 1 to 2^32 in 32-bit mode, or NEVER for 2^64.
  ticksUntilMatch(now: u64): u64 {
    const distance = (this.comparator - now) & this.width;
    if (distance != 0) return distance;
    return this.config & TN_32MODE ? LOW_32 + 1 : NEVER;
  }

  // The counter went from `from` on by `ticks`: true if it reached the
  // comparator meanwhile. However many periods passed, that is one match
  // (one edge, or the status bit), and the accumulator is moved on past the
  // counter by whole periods. A period of 0 leaves it where it is.
  advance(from: u64, ticks: u64): bool {
    const first = this.ticksUntilMatch(from);
    if (first > ticks) return false;
    const period = this.period & this.width;
    if (this.periodic && period != 0) {
      const matches = 1 + (ticks - first) / period;
      this.comparator = (this.comparator + matches * period) & this.width;
    }
    return true;
  }
}
