// make bench's Linux figures (tools/linuxbench.ts) read from console logs
// shaped like the real ones: the bare kernel's, and the hypervisor's with the
// VM's lines behind its name, its entry line and its exit report; and the two
// machines it boots, which differ only by the hypervisor.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { guestQemuArgs } from "../../tools/guests/boot";
import { VM_MEMORY_MIB } from "../../tools/guests/vm";
import { ICOUNT_ARGS, qemuArgs, serialFileIn } from "../../tools/harness/qemu";
import {
  BARE_BOOT,
  BootFailure,
  CMDLINE,
  CPU,
  parseBare,
  parseVm,
  ratios,
  TARGET_RATIO,
  vmBootOptions,
} from "../../tools/linuxbench";

const BARE =
  "[    1.949447] Run /init as init process\r\ntscstamp: /init at tsc 1834930656\r\ntypervisor-initramfs: ready\r\n";

const VM = [
  "[info ] vm linux: 256 MiB at host 0x14000000, pvh kernel [0x1000000, 0x4200000), entry 0x1000a30 "
  + "in 32-bit protected mode, console com1, AMD-V",
  "[info ] vm linux: entered at tsc 260897013",
  "[linux] [    2.825646] Run /init as init process",
  "[linux] tscstamp: /init at tsc 3137505547",
  "[linux] typervisor-initramfs: ready (Linux 6.12.117+deb12-amd64, 1 CPU(s), 212 MiB)",
  "[info ] vm linux: powered off",
  "vm linux: stopped after 111748 exits",
  "vm linux: exits handled: cpuid 890, io 108204, external-interrupt 831; 379 finished in the backend",
  "",
].join("\r\n");

describe("Linux boot-time bench", () => {
  it("reads the bare kernel's TSC at /init", () => {
    expect(parseBare(BARE)).toBe(1834930656);
  });

  it("reads the VM's entry, its TSC at /init and its exits by kind", () => {
    expect(parseVm(VM)).toEqual({
      entry: 260897013,
      toInit: 3137505547,
      entryToInit: 3137505547 - 260897013,
      exits: 111748,
      finishedInBackend: 379,
      exitsByKind: { cpuid: 890, io: 108204, "external-interrupt": 831 },
    });
  });

  it("takes the stamp only from the VM's own lines", () => {
    const hostLine = VM.replace("[linux] tscstamp", "tscstamp");
    expect(() => parseVm(hostLine)).toThrow(BootFailure);
  });

  it("says why a boot did not reach /init", () => {
    expect(() => parseBare("[    0.5] Kernel panic - not syncing: VFS\n")).toThrow(
      /bare: no tscstamp line \(Kernel panic - not syncing: VFS\)/,
    );
    const stopped = "[info ] vm linux: entered at tsc 5\n[error] vm linux: stopped: triple fault\n";
    expect(() => parseVm(stopped)).toThrow(/in a VM: no tscstamp line \(vm linux: stopped: triple fault\)/);
  });

  it("compares from power-on against the target, and from VM entry", () => {
    const vm = parseVm(VM);
    expect(ratios(2_500_000_000, vm)).toEqual({
      ratio: 1.255,
      ratioFromVmEntry: 1.151,
      target: TARGET_RATIO,
      met: true,
    });
    expect(ratios(1834930656, vm)).toMatchObject({ ratio: 1.71, met: false });
  });
});

describe("Linux boot-time bench machines", () => {
  it("boot bare and in the VM with the same CPU model, clock, console, RAM and command line", () => {
    const bare = guestQemuArgs(BARE_BOOT, serialFileIn("/scratch"));
    const host = qemuArgs(vmBootOptions(), "/scratch");
    for (const args of [bare, host]) {
      expect(args.join(" ")).toContain(ICOUNT_ARGS.join(" "));
      expect(args.join(" ")).toContain(`-cpu ${CPU} `);
      expect(args.join(" ")).toContain("-serial file:/scratch/serial.txt -monitor none");
      expect(args.join(" ")).toContain("-display none");
    }
    expect(bare.join(" ")).toContain(`-m ${VM_MEMORY_MIB} `);
    expect(bare[bare.indexOf("-append") + 1]).toBe(CMDLINE);
    const config = vmBootOptions().modules!.find((m) => m.args.endsWith(" config"))!;
    expect(JSON.parse(readFileSync(config.path, "utf8")).vms[0]).toMatchObject({
      memory: VM_MEMORY_MIB,
      cpus: 1,
      kernel: "vmlinux",
      cmdline: CMDLINE,
    });
  });
});
