// The test-guest suite as boot modules (tools/harness/suite.ts), and what a
// passing run looks like. Shared by the AMD-V (QEMU) and VT-x (Bochs) system
// tests. What the guests check they print (PASS lines); how each VM ended
// and what it cost, the hypervisor tells through its management API
// (tools/harness/apirun.ts), not through its log's wording.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { expect } from "vitest";
import { ApiRun } from "../../tools/harness/apirun";
import { SPINNER, SUITE } from "../../tools/harness/suite";

export { ALL_GUESTS } from "../../tools/harness/suite";

// The names of the checks in a guest's C source.
const checksIn = (path: string) =>
  [...readFileSync(path, "latin1").matchAll(/\bcheck\([^;]*?"([^"]+)"\);/gs)].map((m) => m[1]);

// The name of every check the suite guests run (test/guests/lib/*checks.c);
// those named "64-bit: ..." run in the long-mode guest only, "32-bit: ..."
// in the protected-mode guest only, and "32/64-bit: ..." in every guest but
// the real-mode one.
const CHECKS = ["checks.c", "mmiochecks.c", "apicchecks.c", "nmichecks.c", "debugchecks.c"].flatMap((file) =>
  checksIn(`test/guests/lib/${file}`)
);
const LONG_MODE_GUEST = "long64", PROTECTED_MODE_GUEST = "protected32", REAL_MODE_GUEST = "real16";
export const checksOf = (guest: string) =>
  CHECKS.filter((check) =>
    (guest === LONG_MODE_GUEST || !check.startsWith("64-bit: "))
    && (guest === PROTECTED_MODE_GUEST || !check.startsWith("32-bit: "))
    && (guest !== REAL_MODE_GUEST || !check.startsWith("32/64-bit: "))
  );

// The SMP guest's checks (test/guests/smp.c): its two vCPUs' start-up.
const SMP_CHECKS = checksIn("test/guests/smp.c");

// Every suite guest passed every check, but those in `cpuLacks`, which the
// emulated CPU itself does not do and which the guest reports as SKIP;
// every misbehaving guest was stopped with its reason; the hypervisor
// outlived them all and shut down cleanly when asked. The whole console
// output is kept in build/test/suite-<label>.log.
// On one CPU nobody else holds the hypervisor lock, so the exit fast path
// finishes each of the flood VM's million writes to the test device's
// scratch register (vmm/core/fastports.ts).
export function expectFloodOnFastPath(run: ApiRun): void {
  expect(run.vms.get("flood")!.stats.exits.finished_in_backend).toBeGreaterThanOrEqual(1_000_000);
}

export function expectSuiteResults(run: ApiRun, label: string, cpuLacks: string[] = []): void {
  const output = run.output.replace(/\r/g, ""), exit = run.exit;
  mkdirSync("build/test", { recursive: true });
  writeFileSync(`build/test/suite-${label}.log`, output);
  // Without its last line the hypervisor did not end by itself (a host
  // triple fault ends this way, as QEMU's race of docs/smp.md, "Four
  // emulator bugs", once did).
  expect(output, "the emulator ended without the hypervisor's exit status").toContain("typervisor: exit status");
  expect(CHECKS.length).toBeGreaterThan(10);
  // Every check's line, gathered first so that a failure names each missing
  // one and shows what its guest printed and what the hypervisor said of it.
  const missing = SUITE.flatMap((name) =>
    checksOf(name).map((check) => cpuLacks.includes(check) ? `[${name}] SKIP ${check} (` : `[${name}] PASS ${check}\n`)
      .filter((line) => !output.includes(line))
  );
  const failing = new Set(missing.map((line) => line.slice(1, line.indexOf("]"))));
  const linesOf = (name: string) =>
    output.split("\n").filter((l) => l.includes(`[${name}]`) || l.includes(`vm ${name}:`));
  const report = [...failing].flatMap(linesOf).join("\n");
  // How a VM ended, as the API says it.
  const end = (name: string) => {
    const vm = run.vms.get(name);
    expect(vm, `no vm ${name} in the API's list`).toBeDefined();
    const { state, stop_reason, fault, exit_status } = vm!.info;
    return { state, stop_reason, fault, exit_status };
  };
  const exited = { state: "stopped", stop_reason: "exited with status 0", fault: false, exit_status: 0 };
  const faulted = (reason: RegExp) => ({ state: "stopped", stop_reason: expect.stringMatching(reason), fault: true });
  if (missing.length > 0) console.log(`suite ${label}: checks missing:\n${missing.join("")}\n${report}`);
  expect(missing, report).toEqual([]);
  for (const name of SUITE) {
    expect(output).toContain(`[${name}] guest: all checks passed`);
    expect(end(name), name).toEqual(exited);
    // CPUID 0x15 tells the guest the TSC frequency the hypervisor calibrated,
    // as crystal Hz times a ratio: above 4.29 GHz (ECX's 32 bits) the ratio
    // is 2 or more and the crystal's Hz are rounded down, so the product may
    // fall 1 kHz short.
    const guestKhz = new RegExp(`\\[${name}\\] tsc: 0x([0-9a-f]+) kHz`).exec(output);
    expect(guestKhz).not.toBeNull();
    const hostKhz = Number(/TSC at (\d+) ticks\/ms/.exec(output)![1]);
    expect(hostKhz - parseInt(guestKhz![1], 16)).toBeGreaterThanOrEqual(0);
    expect(hostKhz - parseInt(guestKhz![1], 16)).toBeLessThanOrEqual(1);
  }
  expect(SMP_CHECKS.length).toBeGreaterThan(5);
  for (const check of SMP_CHECKS) expect(output).toContain(`[smp] PASS ${check}\n`);
  expect(end("smp")).toEqual(exited);
  expect(output).not.toMatch(/\] FAIL /);
  expect(output).toContain("[isolation] PASS isolation: the hypervisor's image is not visible");
  expect(output).toContain("[isolation] PASS isolation: outside its RAM a write vanishes and a read is all ones");
  // Its accesses outside its RAM found nothing, and were counted.
  expect(run.vms.get("isolation")!.stats.unclaimed_accesses).toBeGreaterThan(0);
  expect(end("isolation")).toEqual(exited);
  expect(end("virtinstr")).toMatchObject(faulted(/^the guest executed a virtualization instruction/));
  expect(end("triplefault")).toMatchObject(faulted(/^triple fault/));
  // A million exits of legitimate work: the VM runs to its end.
  expect(end("flood")).toEqual(exited);
  expect(run.vms.get("flood")!.stats.exits.total).toBeGreaterThanOrEqual(1_000_000);
  expect(end(SPINNER)).toEqual(exited);
  // Preempted by the host timer, the spinner ends after the quick real-mode
  // guest (the API has no stop times; the log has their order).
  expect(output.indexOf("vm real16: exited")).toBeLessThan(output.indexOf(`vm ${SPINNER}: exited`));
  expect([...run.vms.values()].every((vm) => vm.info.state === "stopped")).toBe(true);
  expect(output).toContain("host: shutting down, asked by the management API");
  expect(output).toContain("typervisor: shutdown");
  expect(exit.killed).toBe(false);
  expect(exit.status).toBe(0);
}
