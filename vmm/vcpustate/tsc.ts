// A vCPU's time-stamp counter: the host's TSC plus an offset of its own.
//
// The guest reads its TSC (RDTSC, RDMSR of IA32_TIME_STAMP_COUNTER) without
// exits: the backend adds the offset in hardware (VMX "use TSC offsetting",
// the VMCB's TSC_OFFSET). It may move its TSC two ways, both of which exit
// and come here (Intel SDM Vol. 3B 18.17.3, "Time-Stamp Counter Adjustment"):
//  - WRMSR to IA32_TSC_ADJUST with X adds X minus the old value to the TSC;
//  - WRMSR to IA32_TIME_STAMP_COUNTER with X sets the TSC to X and adds the
//    same change to IA32_TSC_ADJUST.
// So IA32_TSC_ADJUST always holds how far the vCPU's TSC was moved from
// the one it started with, which is the host's. OSes read it to check that
// firmware left the CPUs' TSCs in step (Linux's tsc_sync.c), and trust the
// TSC more where it exists. The device models count in host TSC ticks;
// guest TSC values (IA32_TSC_DEADLINE) are converted with toHost()/toGuest().

import { rdtsc } from "../../kernel/arch/shim";
import { Vcpu } from "../core/vcpu";

export const IA32_TSC_ADJUST: u32 = 0x3b;

export class GuestTsc {
  private offset: u64 = 0; // added to the host's TSC, modulo 2^64
  private adjust: u64 = 0; // IA32_TSC_ADJUST

  constructor(private vcpu: Vcpu) {}

  now(): u64 { return rdtsc() + this.offset; }
  toHost(guestTsc: u64): u64 { return guestTsc - this.offset; }
  toGuest(hostTsc: u64): u64 { return hostTsc + this.offset; }

  readAdjust(): u64 { return this.adjust; }

  writeAdjust(value: u64): bool { return this.move(value - this.adjust); }

  writeTsc(value: u64): bool { return this.move(value - this.now()); }

  // Moves the TSC by `delta` (two's complement), and IA32_TSC_ADJUST with it.
  private move(delta: u64): bool {
    if (!this.vcpu.setTscOffset(this.offset + delta)) return false;
    this.offset += delta;
    this.adjust += delta;
    return true;
  }
}
