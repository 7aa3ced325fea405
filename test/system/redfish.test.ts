// System test: Redfish for fleet managers (vmm/api/redfish.ts,
// docs/redfish.md). A hypervisor under QEMU's AMD-V runs a Debian VM and
// serves its HTTP on a port QEMU forwards from 127.0.0.1; sushy, the
// Redfish library OpenStack Ironic uses (Debian's python3-sushy, with the
// system's Python), drives it as a fleet manager would
// (redfish_sushy.py): with Basic auth and with a session, it lists the
// systems, reads the VM's power state, processors (with the host CPU's
// model) and memory, the manager and chassis collections, the hypervisor
// as its manager and the host as its chassis, checks the metadata
// document names every type it read, is refused a boot source override
// the VM cannot honour, powers the VM off and on (it boots again),
// restarts it, boots it once from its "Cd" source (the other kernel image,
// with a command line its kernel prints) and then from its own kernel
// again, and presses its power button: the guest's acpid powers it off
// itself. Then the CLI sets the Cd source for every boot (the management
// API's vm.boot, which Redfish's override calls), and the next start
// boots it. Curl-like requests with fetch check what sushy
// does not look at: the headers, the 401s and a 405.
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BANNER } from "../../tools/guests/initramfs";
import { linuxVmsModules } from "../../tools/guests/vm";
import { bootWithHttpApi } from "../../tools/harness/httpapi";
import { linuxGuests } from "./run";

const manifest = linuxGuests("redfish");
const TOKEN = "fleet-s3cret";
const VM = "linux";
// The "Cd" source's command line: the kernel prints it at notice level.
const RESCUE = "typervisor.rescue";
const haveSushy = spawnSync("/usr/bin/python3", ["-c", "import sushy"]).status === 0;

// redfish_sushy.py with `args`, in the background: the test goes on reading
// QEMU's console meanwhile, which a guest writing to it waits for.
function sushyRun(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  // -B: no __pycache__ left in the tree.
  const child = spawn("/usr/bin/python3", ["-B", "test/system/redfish_sushy.py", ...args]);
  let stdout = "", stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
}

describe.skipIf(!manifest || !haveSushy)("Redfish, driven by sushy", () => {
  it("lists the VM, powers it off and on, restarts it and shuts it down by its power button", async () => {
    const vm = {
      name: VM,
      cmdline: "console=ttyS0 quiet",
      memory: 128,
      bootSources: { Cd: { kernel: "bzImage" as const, cmdline: `console=ttyS0 loglevel=6 ${RESCUE}` } },
    };
    const { machine, base, client } = await bootWithHttpApi(linuxVmsModules("vmlinux", [vm]), TOKEN, {
      memoryMiB: 384,
    });
    try {
      await machine.waitFor(`[${VM}] ${BANNER}`, 150_000);

      // The root is public; the rest needs a credential, and says which.
      const root = await fetch(`${base}/redfish/v1/`);
      expect(root.status).toBe(200);
      expect(root.headers.get("odata-version")).toBe("4.0");
      expect(await root.json()).toMatchObject({
        "@odata.id": "/redfish/v1/",
        "@odata.type": expect.stringMatching(/^#ServiceRoot\.v1_\d+_\d+\.ServiceRoot$/),
        Systems: { "@odata.id": "/redfish/v1/Systems" },
        Links: { Sessions: { "@odata.id": "/redfish/v1/SessionService/Sessions" } },
      });
      const refused = await fetch(`${base}/redfish/v1/Systems`);
      expect(refused.status).toBe(401);
      expect(refused.headers.get("www-authenticate")).toContain("Basic");
      expect((await refused.json()).error.code).toBe("Base.1.8.NoValidSession");

      // A method a path does not take: Redfish's 405, credential or none.
      const post = await fetch(`${base}/redfish/v1/Managers/hypervisor`, { method: "POST" });
      expect(post.status).toBe(405);
      expect(post.headers.get("allow")).toBe("GET");
      expect((await post.json()).error.code).toBe("Base.1.8.GeneralError");

      const { version } = await client.host();
      // The host CPU as the hypervisor logs it at boot: "cpu: VENDOR BRAND".
      const [, vendor, model] = machine.output.match(/cpu: (\S+) (.*?)\r?\n/)!;
      const run = await sushyRun([base, TOKEN, VM, BANNER, RESCUE]);
      expect(run.status, `sushy's run failed:\n${run.stderr}`).toBe(0);
      const found = JSON.parse(run.stdout.trim().split("\n").pop()!);
      expect(found).toEqual({
        redfish_version: "1.6.0",
        systems: [VM],
        power_state: "On",
        processors: 1,
        memory_gib: 0.125,
        manager: { type: "Service", firmware: version, systems: [VM], chassis: ["host"] },
        chassis: { type: "Zone", systems: [VM], managers: ["hypervisor"] },
        system_links: { managers: ["hypervisor"], chassis: ["host"] },
        collections: { managers: ["hypervisor"], chassis: ["host"] },
        processor_members: [{ id: "0", type: "CPU", instruction_set: "x86-64", cores: 1, threads: 1, model, vendor }],
        processor_threads: 1,
        home_cpu: { redfish: found.home_cpu.api, api: expect.any(Number) },
        memory_mib: [128],
        metadata_type: "application/xml; charset=utf-8",
        metadata_missing: [],
        reset_types: ["ForceOff", "ForceRestart", "GracefulShutdown", "On"],
        boot_targets: ["Cd", "None"],
        pxe: { status: 400, message: "Base.1.8.PropertyValueNotInList", extended: "Base.1.8.PropertyValueNotInList" },
        root_without_password: "1.6.0",
        wrong_password: 401,
        session_key_length: 32,
        sessions_while_open: 1,
        after_force_off: true,
        after_on: true,
        booted_after_on: true,
        booted_after_restart: true,
        override_set: ["Cd", "Once"],
        override_boot: { booted: true, rescue_command_line: true, api: "Cd" },
        override_after_boot: "Disabled",
        next_boot: { booted: true, rescue_command_line: false, api: "None" },
        after_graceful_shutdown: true,
        final_power_state: "Off",
        sessions_after_close: 0,
      });
      // The guest powered itself off: no forced stop.
      const info = await client.info(VM);
      expect(info).toMatchObject({ state: "stopped", stop_reason: "powered off", fault: false });
      expect(machine.output).toContain("typervisor-initramfs: power button pressed, powering off");

      // The CLI's boot command, the management API's vm.boot that Redfish's
      // override is: Cd for every boot, which the next start follows.
      const cli = (...args: string[]) =>
        spawnSync("node_modules/.bin/tsx", ["tools/typervisor.ts", "--host", base, "--token", TOKEN, ...args], {
          encoding: "utf8",
          timeout: 30_000,
        });
      const boot = cli("boot", VM, "Cd", "--continuous");
      expect(boot.stdout, boot.stderr).toBe(`${VM}: Cd, every boot\n`);
      expect(cli("info", VM).stdout).toMatch(/\nnext boot: +Cd, every boot\n/);
      const lacking = cli("boot", VM, "Pxe");
      expect(lacking.status).toBe(1);
      expect(lacking.stderr).toContain(`vm ${VM} has no boot source "Pxe"; it has None, Cd`);
      const started = machine.output.length;
      await client.start(VM);
      await machine.waitFor(`Kernel command line: console=ttyS0 loglevel=6 ${RESCUE}`, 150_000, started);
      await machine.waitFor(`[${VM}] ${BANNER}`, 150_000, started);
      expect((await client.info(VM)).kernel).toMatchObject({
        boot_source: "Cd",
        boot_override: { source: "Cd", continuous: true },
      });
    } finally {
      writeFileSync("build/test/redfish-output.log", machine.output);
      machine.kill();
    }
  }, 600_000);
});
