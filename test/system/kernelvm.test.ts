// System test: VMs from the JSON configuration module, with kernels loaded
// by the hypervisor's own loaders, on both backends. The test kernels
// (test/guests/kernels: multiboot v1 in 32-bit protected mode, a bzImage
// through the 64-bit Linux boot protocol in long mode) check their entry
// state and boot information, fw_cfg and the UART they report on, and end
// through isa-debug-exit; the hypervisor reports their status. The multiboot
// kernel also finds its CPUs in the ACPI tables and starts the others with
// INIT and STARTUP IPIs, and with stress=N prints N characters, runs N
// CPUIDs and sends itself NMIs. A bad configuration is reported by VM and
// field, and only the VMs with errors are left out. How each VM ended the
// test reads from the management API (tools/harness/apirun.ts); what the
// kernels checked, from their own output.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Module } from "../../tools/harness/index";
import { ApiRun, runThroughApi } from "../../tools/harness/apirun";

// The names of the checks in test kernel sources ("area: what", which
// leaves out check()'s own definition).
function checksIn(...files: string[]): string[] {
  const source = files.map((f) => readFileSync(`test/guests/kernels/${f}`, "latin1")).join("\n");
  return [...source.matchAll(/check\([^;]*?"((?:[^"\\]|\\.)+)"\);/gs)]
    .map((m) => m[1].replace(/\\"/g, "\""))
    .filter((name) => name.includes(": "));
}
const MULTIBOOT = {
  checks: checksIn("kernel.c", "multiboot.c", "mpboot.c", "pcichecks.c", "queuechecks.c"),
  banner: "multiboot test kernel",
  noModule: ["multiboot: no modules"],
};
const KERNELS = {
  multiboot: MULTIBOOT,
  stress: { ...MULTIBOOT, checks: [...MULTIBOOT.checks, ...checksIn("stress.c")] },
  linux64: { checks: checksIn("kernel.c", "linux64.c"), banner: "linux64 test kernel", noModule: ["linux: no initrd"] },
};
type Kernel = keyof typeof KERNELS;
// Checks that only run with a module (multiboot) or an initrd (linux64).
const WITH_MODULE = (c: string) =>
  c.startsWith("multiboot: module:") || c === "multiboot: flags: one module" || c.startsWith("linux: initrd:");
const MODULE_FILE = "build/test/mbmod.bin";
const KERNEL_MODULES: Module[] = [
  { path: "build/guests/mbtest.elf", args: "mbtest.elf" },
  { path: "build/guests/linux64.bzimage", args: "linux64.bzimage" },
];

function files(name: string, config: object): Module[] {
  mkdirSync("build/test", { recursive: true });
  writeFileSync(MODULE_FILE, "TVMOD a multiboot module for the test kernel\n");
  const path = `build/test/${name}.json`;
  writeFileSync(path, JSON.stringify(config, null, 2) + "\n");
  return [...KERNEL_MODULES, { path: MODULE_FILE, args: "mbmod" }, { path, args: `${name}.json config` }];
}

const GOOD = {
  vms: [
    {
      name: "mb32",
      memory: 32,
      cpus: 1,
      kernel: "mbtest.elf",
      initrd: "mbmod",
      cmdline: "ram=32 cpus=1 module=mbmod exit=42",
      console: "com1",
    },
    {
      name: "l64",
      memory: 64,
      kernel: "linux64.bzimage",
      initrd: "mbmod",
      cmdline: "ram=64 cpus=1 module=mbmod exit=21",
    },
    // Kernels that end by resetting the machine through a chipset register.
    { name: "reset92", memory: 16, kernel: "mbtest.elf", cmdline: "ram=16 cpus=1 reset=92", on_reset: "stop" },
    { name: "resetcf9", memory: 16, kernel: "mbtest.elf", cmdline: "ram=16 cpus=1 reset=cf9", on_reset: "stop" },
    // Kernels that start their other vCPUs, as the MADT lists them.
    { name: "mp2", memory: 16, cpus: 2, kernel: "mbtest.elf", cmdline: "ram=16 cpus=2" },
    { name: "mp4", memory: 16, cpus: 4, kernel: "mbtest.elf", cmdline: "ram=16 cpus=4" },
  ],
};
const MP_VMS: [string, number][] = [["mp2", 2], ["mp4", 4]];

function expectKernelPassed(run: ApiRun, vm: string, kernel: Kernel, withModule: boolean, status: number): void {
  const output = run.output.replace(/\r/g, ""), k = KERNELS[kernel];
  const expected = k.checks.filter((c) => (withModule ? !k.noModule.includes(c) : !WITH_MODULE(c)));
  expect(expected.length).toBeGreaterThan(15);
  for (const check of expected) expect(output).toContain(`[${vm}] PASS ${check}\n`);
  expect(output).toContain(`[${vm}] ${k.banner}: all checks passed\n`);
  expect(run.vms.get(vm)?.info).toMatchObject({
    state: "stopped",
    fault: false,
    exit_status: status,
    stop_reason: `exited with status ${status}`,
  });
}

// Both kernels of GOOD, on whichever backend.
function expectGoodVms(run: ApiRun, backend: string): void {
  const output = run.output.replace(/\r/g, "");
  expect(output).toMatch(
    new RegExp(
      `vm mb32: 32 MiB at host 0x[0-9a-f]+, multiboot1 kernel \\[0x100000, 0x[0-9a-f]+\\), `
        + `entry 0x[0-9a-f]+ in 32-bit protected mode, console com1, ${backend}`,
    ),
  );
  expect(output).toMatch(
    new RegExp(
      `vm l64: 64 MiB at host 0x[0-9a-f]+, linux kernel \\[0x100000, 0x[0-9a-f]+\\), `
        + `entry 0x100200 in 64-bit long mode, console com1, ${backend}`,
    ),
  );
  expectKernelPassed(run, "mb32", "multiboot", true, (42 << 1) | 1);
  expectKernelPassed(run, "l64", "linux64", true, (21 << 1) | 1);
  for (const [vm, port] of [["reset92", "0x92"], ["resetcf9", "0xcf9"]]) {
    expect(output).toContain(`[${vm}] multiboot test kernel: all checks passed\n`);
    expect(run.vms.get(vm)?.info).toMatchObject({
      state: "stopped",
      stop_reason: `the guest reset the machine through port ${port}`,
    });
  }
  for (const [vm, cpus] of MP_VMS) {
    expectKernelPassed(run, vm, "multiboot", false, 1);
    expect(output).toContain(`[${vm}] acpi: the MADT lists ${cpus} enabled local APICs, the boot CPU's ID is 0\n`);
    for (let id = 1; id < cpus; id++) {
      expect(output).toContain(`[${vm}] smp: AP ${id} counted in, its CPUID says APIC ID ${id}\n`);
    }
  }
}

// The stress run: a million characters through the polled UART and a
// million CPUIDs, after the PMU set-up and NMIs to itself; the kernel writes
// 0 to the exit port, which the hypervisor reports as (0 << 1) | 1.
const STRESS_CHARACTERS = 1_000_000;
const STRESS = {
  vms: [{ name: "stress", memory: 16, kernel: "mbtest.elf", cmdline: `ram=16 cpus=1 stress=${STRESS_CHARACTERS}` }],
};

// Line k of the stress run's output as stress.c prints it: 99 characters
// and the newline.
function uartLine(k: number): string {
  let letters = "";
  for (let i = 12; i < 99; i++) letters += String.fromCharCode(65 + ((k + i) % 26));
  return `uart ${String(k).padStart(6, "0")} ${letters}`;
}

// Every character the stress VM printed arrived, in order; returns the
// TSC ticks it reported per CPUID.
function expectStressPassed(run: ApiRun): number {
  const output = run.output.replace(/\r/g, "");
  expectKernelPassed(run, "stress", "stress", false, 1);
  expect(output).toContain("[stress] stress: 1000 NMIs sent to this CPU, 1000 taken, 0 of them late\n");
  const lines = output.split("\n").filter((l) => l.startsWith("[stress] uart ")).map((l) => l.slice(9));
  expect(lines.reduce((n, line) => n + line.length + 1, 0)).toBe(STRESS_CHARACTERS);
  const wrong = lines.findIndex((line, k) => line !== uartLine(k));
  if (wrong >= 0) expect(lines[wrong]).toBe(uartLine(wrong));
  const cpuid = /\[stress\] stress: 1000000 CPUIDs, (\d+) TSC ticks each\n/.exec(output);
  expect(cpuid).not.toBeNull();
  return Number(cpuid![1]);
}

// No kernel failed a check, every VM stopped, and the host shut down
// cleanly when asked.
function expectCleanShutdown(run: ApiRun): string {
  const output = run.output.replace(/\r/g, "");
  expect(output.split("\n").filter((line) => line.includes("] FAIL ")), "the checks that failed").toEqual([]);
  expect([...run.vms.values()].every((vm) => vm.info.state === "stopped")).toBe(true);
  expect(output).toContain("host: shutting down, asked by the management API");
  expect(output).toContain("typervisor: shutdown");
  expect(run.exit.killed).toBe(false);
  expect(run.exit.status).toBe(0);
  return output;
}

describe("VMs from the configuration module", () => {
  it(
    "boots the multiboot and 64-bit Linux-protocol test kernels under AMD-V (QEMU), next to a "
      + "flat-binary VM",
    async () => {
      const run = await runThroughApi({
        platform: "qemu",
        memoryMiB: 256,
        modules: [...files("vms-good", GOOD), { path: "build/guests/protected32.bin", args: "vm=protected32" }],
      }, 120_000);
      const output = expectCleanShutdown(run);
      expectGoodVms(run, "AMD-V");
      expect(output).toContain("[protected32] guest: all checks passed");
      expect(run.vms.get("protected32")?.info).toMatchObject({ fault: false, exit_status: 0 });
    },
  );

  it("boots the multiboot and 64-bit Linux-protocol test kernels under VT-x (Bochs, broadwell_ult)", async () => {
    const run = await runThroughApi({
      platform: "bochs",
      bochsCpu: "broadwell_ult",
      memoryMiB: 256,
      modules: files("vms-good", GOOD),
    }, 300_000);
    expectCleanShutdown(run);
    expectGoodVms(run, "Intel VT-x");
  });

  it("reports bad VMs by name and field and still starts the good one", async () => {
    const bad = {
      vms: [
        { name: "badmem", memory: "lots", kernel: "mbtest.elf" },
        { name: "good", memory: 16, kernel: "mbtest.elf", cmdline: "ram=16 cpus=1 exit=7" },
        { name: "nokernel", memory: 16, kernel: "missing.elf" },
        { name: "notakernel", memory: 16, kernel: "mbmod" },
        { name: "toosmall", memory: 1, kernel: "mbtest.elf" },
      ],
    };
    const run = await runThroughApi({ platform: "qemu", memoryMiB: 256, modules: files("vms-bad", bad) }, 120_000);
    const output = expectCleanShutdown(run);
    expect(output).toContain("config: vm 0 (badmem): memory: expected a number of MiB from 1 to 65536, got \"lots\"");
    expect(output).toContain("config: vm 2 (nokernel): kernel: no boot module named \"missing.elf\"");
    expect(output).toContain("config: the VMs with errors above are not started");
    expect(output).toMatch(/vm notakernel: kernel mbmod: not a kernel image typervisor can boot: .*; not started/);
    expect(output).toMatch(/vm toosmall: kernel mbtest.elf: .*does not fit in the VM's RAM \(1 MiB\); not started/);
    for (const vm of ["badmem", "nokernel", "notakernel", "toosmall"]) expect(output).not.toContain(`[${vm}]`);
    expect([...run.vms.keys()]).toEqual(["good"]);
    expectKernelPassed(run, "good", "multiboot", false, (7 << 1) | 1);
  });

  // 400 KB of zeros once printed 135,878 error lines and then trapped the
  // hypervisor out of memory; now it is one line, and another file's VM runs.
  it("rejects a configuration bomb with one message and runs the VMs of another file", async () => {
    const good = { vms: [{ name: "good", memory: 16, kernel: "mbtest.elf", cmdline: "ram=16 cpus=1 exit=7" }] };
    const bombPath = "build/test/vms-bomb.json";
    const modules = files("vms-good", good);
    writeFileSync(bombPath, `{"vms": [${Array(200_000).fill("0").join(",")}]}\n`);
    modules.push({ path: bombPath, args: "vms-bomb.json config" });
    const run = await runThroughApi({ platform: "qemu", memoryMiB: 256, modules }, 120_000);
    const output = expectCleanShutdown(run);
    expect(output).toContain("config: line 1, column 20006: more than 10000 values: too large for a VM configuration");
    expect(output.match(/config: /g)!.length).toBeLessThan(5);
    expectKernelPassed(run, "good", "multiboot", false, (7 << 1) | 1);
  });
});

describe("a multiboot kernel's stress run: PMU, NMIs to itself, a million characters and CPUIDs", () => {
  it("runs to completion under AMD-V (QEMU)", async () => {
    const started = Date.now();
    const run = await runThroughApi(
      { platform: "qemu", memoryMiB: 256, modules: files("vms-stress", STRESS) },
      900_000,
    );
    expectCleanShutdown(run);
    const ticks = expectStressPassed(run);
    console.log(`stress under QEMU: ${(Date.now() - started) / 1000} s, ${ticks} TSC ticks per CPUID`);
  });

  it("runs to completion under VT-x (Bochs, broadwell_ult)", async () => {
    const started = Date.now();
    const run = await runThroughApi({
      platform: "bochs",
      bochsCpu: "broadwell_ult",
      memoryMiB: 256,
      modules: files("vms-stress", STRESS),
    }, 1_100_000);
    expectCleanShutdown(run);
    const ticks = expectStressPassed(run);
    console.log(`stress under Bochs: ${(Date.now() - started) / 1000} s, ${ticks} TSC ticks per CPUID`);
  });
});
