// System test: the guest suite under the Intel VT-x backend, in Bochs, on two
// CPU models: broadwell_ult (EPT with 1 GiB pages and A/D bits, VPID,
// unrestricted guest, preemption timer; no PML) and corei7_icelake_u (the
// widest VMX feature set Bochs has). Each run takes well under a minute.
import { describe, expect, it } from "vitest";
import { guestModules } from "../../tools/harness/suite";
import { bootAndWait } from "./run";
import { ALL_GUESTS, expectSuiteResults } from "./guests";

// The attackers whose exception loops would hold a CPU forever
// (test/guests/dbloop.c, acloop.c) run beside the suite here only: under
// QEMU 7.2's TCG the #DB one's data breakpoint on the IST stack aborts the
// emulator itself (an assertion in cpus.c, with or without our intercept),
// and TCG does not check alignment, so there is no #AC to loop on.
const ATTACKERS = ["dbloop", "acloop"];

describe("Intel VT-x backend in Bochs", () => {
  it.each([["broadwell_ult", 2], ["corei7_icelake_u", 1]])(
    "runs the guest suite and stops misbehaving VMs (%s, %i CPUs)",
    async (bochsCpu, cpus) => {
      const started = Date.now();
      const run = await bootAndWait({
        platform: "bochs",
        bochsCpu: bochsCpu as string,
        cpus: cpus as number,
        memoryMiB: 256,
        modules: [...ALL_GUESTS, ...guestModules(ATTACKERS)],
      }, 400_000);
      const output = run.output.replace(/\r/g, ""), exit = run.exit;
      console.log(`bochs ${bochsCpu}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
      expect(output).toMatch(/vmx: revision 0x[0-9a-f]+, .*unrestricted guest yes/);
      expect(output).toMatch(/vmx: EPT yes \(4-level yes/);
      // Broadwell predates protection keys, which Ice Lake has.
      expectSuiteResults(
        run,
        `bochs-${bochsCpu}`,
        bochsCpu === "broadwell_ult"
          ? ["pkru: protection keys with OSPKE following CR4.PKE, PKRU the VM's own across yields"]
          : [],
      );
      // Each exception loop that would hold the CPU forever is a loop of
      // exits here, stopped as such while the suite ran on.
      const looped: Record<string, string> = { dbloop: "debug", acloop: "alignment check" };
      for (const attacker of ATTACKERS) {
        expect(output).toMatch(
          new RegExp(`vm ${attacker}: stopped: exception loop: ${looped[attacker]} raised again while it is delivered`),
        );
      }
      // Every CPU enters VMX operation itself, with its own VMXON region.
      for (let cpu = 0; cpu < (cpus as number); cpu++) {
        expect(output).toContain(`vmx: cpu ${cpu}: in VMX root operation`);
      }
      // And runs vCPUs: the CPU time each stopped VM's vCPUs had, per host
      // CPU ("vm NAME: vcpu I cpu time N ns on C:N ..."), shows CPU 1 too.
      if ((cpus as number) > 1) expect(output).toMatch(/^vm [\w-]+: vcpu \d+ cpu time \d+ ns on( \d+:\d+)* 1:[1-9]/m);
      expect(exit.killed).toBe(false);
    },
  );
});
