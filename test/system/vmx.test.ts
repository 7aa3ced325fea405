// System test: the guest suite under the Intel VT-x backend, in Bochs, on two
// CPU models: broadwell_ult (EPT with 1 GiB pages and A/D bits, VPID,
// unrestricted guest, preemption timer; no PML) and corei7_icelake_u (the
// widest VMX feature set Bochs has). Each run takes well under a minute.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { bootAndWait } from "./run";

const SUITE = ["real16", "protected32", "long64"];
const MISBEHAVING = ["isolation", "virtinstr", "triplefault", "flood"];
const MODULES = [...SUITE, ...MISBEHAVING].map((name) => ({ path: `build/guests/${name}.bin`, args: `vm=${name}` }));

// The name of every check the suite guests run (test/guests/lib/checks.c).
const CHECKS = [...readFileSync("test/guests/lib/checks.c", "latin1").matchAll(/check\([^;]*?"([^"]+)"\);/gs)].map((m) => m[1]);

describe("Intel VT-x backend in Bochs", () => {
  it.each(["broadwell_ult", "corei7_icelake_u"])("runs the guest suite and stops misbehaving VMs (%s)", async (bochsCpu) => {
    const started = Date.now();
    const run = await bootAndWait({ platform: "bochs", bochsCpu, memoryMiB: 256, modules: MODULES }, 240_000);
    const output = run.output.replace(/\r/g, ""), exit = run.exit;
    console.log(`bochs ${bochsCpu}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(output).toMatch(/vmx: revision 0x[0-9a-f]+, .*unrestricted guest yes/);
    expect(output).toMatch(/vmx: EPT yes \(4-level yes/);
    expect(CHECKS.length).toBeGreaterThan(10);
    for (const name of SUITE) {
      for (const check of CHECKS) expect(output).toContain(`[${name}] PASS ${check}\n`);
      expect(output).toContain(`[${name}] guest: all checks passed`);
      expect(output).toContain(`vm ${name}: exited with status 0`);
    }
    expect(output).not.toContain("FAIL");
    expect(output).toContain("vm isolation: stopped: access to guest-physical address 0x20000000");
    expect(output).toContain("vm virtinstr: stopped: the guest executed a virtualization instruction");
    expect(output).toContain("vm triplefault: stopped: triple fault");
    expect(output).toContain("vm flood: stopped: exit flood");
    expect(output).toContain("all virtual machines have stopped");
    expect(exit.killed).toBe(false);
    expect(exit.status).toBe(0);
  });
});
