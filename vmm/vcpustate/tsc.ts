// A vCPU's time-stamp counter: the host's TSC plus an offset of its own;
// and the crystal clock the VM's local APIC timers count.
//
// The guest reads its TSC (RDTSC, RDMSR of IA32_TIME_STAMP_COUNTER) without
// exits: the backend adds the offset in hardware (VMX "use TSC offsetting",
// the VMCB's TSC_OFFSET). It may move its TSC through two MSRs, both of which
// exit (moveForAdjust(), moveForTsc()). Devices count in host TSC ticks;
// guest TSC values are converted with toHost() and toGuest(), a TSC
// deadline with hostDeadline().

import { rdtsc } from "../../kernel/arch/shim";
import { tscPerMillisecond } from "../../kernel/time/tsc";

export class GuestTsc {
  // Added to the host's TSC, modulo 2^64.
  offset: u64 = 0;
  // IA32_TSC_ADJUST.
  adjust: u64 = 0;

  now(): u64 {
    return rdtsc() + this.offset;
  }
  toHost(guestTsc: u64): u64 {
    return guestTsc - this.offset;
  }
  toGuest(hostTsc: u64): u64 {
    return hostTsc + this.offset;
  }
  // The host TSC at which this TSC reaches `deadline`, for a TSC-deadline
  // timer, which fires once the TSC is at or past it (SDM Vol. 3A
  // 11.5.4.1), comparing unsigned: now if it already is, where toHost()
  // would wrap for a deadline below the offset; 2^64 - 2, never, where the
  // host's TSC would have to wrap to get there.
  hostDeadline(deadline: u64): u64 {
    const host = rdtsc(), guest = host + this.offset;
    if (deadline <= guest) return host;
    const ahead = deadline - guest;
    return ahead < u64.MAX_VALUE - host ? host + ahead : u64.MAX_VALUE - 1;
  }

  // The guest moves its TSC two ways (Intel SDM Vol. 3B 18.17.3,
  // "Time-Stamp Counter Adjustment"): a WRMSR to IA32_TSC_ADJUST with X moves
  // the TSC by X minus the old value; a WRMSR to IA32_TIME_STAMP_COUNTER
  // with X sets the TSC to X and moves IA32_TSC_ADJUST by as much. So
  // IA32_TSC_ADJUST holds how far the TSC was moved from the host's, which
  // OSes read to check that the CPUs' TSCs are in step.
  //
  // The move (two's complement) a WRMSR of `value` to IA32_TSC_ADJUST makes.
  moveForAdjust(value: u64): u64 {
    return value - this.adjust;
  }
  // The move a WRMSR of `value` to IA32_TIME_STAMP_COUNTER makes.
  moveForTsc(value: u64): u64 {
    return value - this.now();
  }

  // The backend took the new offset: the TSC and IA32_TSC_ADJUST moved by `delta`.
  moved(delta: u64): void {
    this.offset += delta;
    this.adjust += delta;
  }
}

// The VM's crystal clock, in host TSC ticks per crystal tick: what CPUID
// leaf 0x15 reports (emul/cpuidpolicy.ts) and what the local APIC timers
// count (core/vmapics.ts). An OS takes the crystal to feed its APIC timer,
// so both must agree. It is the smallest divisor of the TSC whose quotient,
// in Hz, fits the 32 bits of CPUID.15H:ECX.
export function tscPerCrystalTick(): u64 {
  const hz = tscPerMillisecond() * 1000;
  return max<u64>(1, (hz + 0xffff_ffff) / 0x1_0000_0000);
}
