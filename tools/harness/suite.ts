// The test guests of test/guests as boot modules (build/guests/*.bin): the
// suite the system tests boot and check (test/system/guests.ts), which
// make bench's SMP part also boots for its lock-wait figure
// (tools/smpbench.ts). No vitest here, so that tools can import it.

import { Module } from "./options";

export const SUITE = ["real16", "protected32", "long64"];
// Computes for a long time without exits: listed first, it finishes last
// only if the host timer preempts it.
export const SPINNER = "spin";
// Guests that test the hypervisor's limits: one reaches outside its RAM,
// one runs VMX/SVM instructions, one triple-faults, and one floods it
// with a million exits of legitimate work, which it must let finish.
export const MISBEHAVING = ["isolation", "virtinstr", "triplefault", "flood"];

// The SMP guest (test/guests/smp.c) runs with two vCPUs and checks their start-up.
export const SMP: Module = { path: "build/guests/smp.bin", args: "vm=smp cpus=2" };

export function guestModules(names: string[]): Module[] {
  return names.map((name) => ({ path: `build/guests/${name}.bin`, args: `vm=${name}` }));
}

// Everything the system tests' expectSuiteResults() looks for.
export const ALL_GUESTS: Module[] = [...guestModules([SPINNER, ...SUITE]), SMP, ...guestModules(MISBEHAVING)];
