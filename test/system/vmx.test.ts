// System test: the guest suite under the Intel VT-x backend, in Bochs, on two
// CPU models: broadwell_ult (EPT with 1 GiB pages and A/D bits, VPID,
// unrestricted guest, preemption timer; no PML) and corei7_icelake_u (the
// widest VMX feature set Bochs has). Each run takes well under a minute.
import { describe, expect, it } from "vitest";
import { guestModules } from "../../tools/harness/suite";
import { runThroughApi } from "../../tools/harness/apirun";
import { ALL_GUESTS, expectFloodOnFastPath, expectSuiteResults } from "./guests";

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
      const run = await runThroughApi({
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
      if (cpus === 1) expectFloodOnFastPath(run);
      // Each exception loop that would hold the CPU forever is a loop of
      // exits here, stopped as such while the suite ran on.
      const looped: Record<string, string> = { dbloop: "debug", acloop: "alignment check" };
      for (const attacker of ATTACKERS) {
        expect(run.vms.get(attacker)!.info).toMatchObject({
          fault: true,
          stop_reason: expect.stringMatching(`^exception loop: ${looped[attacker]} raised again while it is delivered`),
        });
      }
      // Every CPU enters VMX operation itself, with its own VMXON region.
      for (let cpu = 0; cpu < (cpus as number); cpu++) {
        expect(output).toContain(`vmx: cpu ${cpu}: in VMX root operation`);
      }
      // And runs vCPUs: the CPU time the VMs' vCPUs had on each host CPU
      // (vm.stats) shows CPU 1 too.
      const onCpu1 = [...run.vms.values()].flatMap((vm) => vm.stats.vcpus).map((v) => v.cpu_ns_by_host_cpu["1"] ?? 0);
      if ((cpus as number) > 1) expect(Math.max(...onCpu1)).toBeGreaterThan(0);
      expect(exit.killed).toBe(false);
    },
  );
});
