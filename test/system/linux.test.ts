// System test: Debian's unmodified Linux kernel (tools/guests, the cache that
// test/tools/guest-kernels.test.ts builds) in a VM from the configuration
// module. The kernel boots from its bzImage (the 64-bit boot protocol, which
// decompresses it) and from its vmlinux (the PVH entry) under AMD-V (QEMU
// TCG), and from its vmlinux under VT-x (Bochs, where decompressing would
// take minutes), with the busybox initramfs, on the VM's PC platform: it
// finds the ACPI tables the VMM built (acpitables.ts), routes its
// interrupts through the I/O APIC, finds the HPET and takes its timer
// ticks from it on I/O APIC input 2 (legacy replacement), keeps the TSC as
// its clock with the HPET as its watchdog, takes the x2APIC and KVM's PV
// EOI that the CPUID policy offers, and its console is the COM1 UART.
// /init prints its banner and powers off through ACPI S5: the
// management API (on COM2) reports the VM powered off, not faulted, and the
// host shuts down when asked. Under both backends its shell answers what is
// typed on the hypervisor's console.
// Skipped when the guest kernel cannot be had (no package lists, no network).
import { describe, expect, it } from "vitest";
import { BANNER } from "../../tools/guests/initramfs";
import { HOST_MEMORY_MIB, linuxVmModules } from "../../tools/guests/vm";
import { ApiEvents, runThroughApi, withSerialApi } from "../../tools/harness/apirun";
import { linuxGuests, POWERED_OFF, powerOffAtShell } from "./run";

const manifest = linuxGuests("linux");

// How the hypervisor's loaders describe each image.
const PVH = /pvh kernel \[0x1000000, 0x[0-9a-f]+\), entry 0x[0-9a-f]+ in 32-bit protected mode/;
const BZIMAGE = /linux kernel \[0x100000, 0x[0-9a-f]+\), entry 0x100200 in 64-bit long mode/;
// Linux believes CPUID 0x15 only on Intel: there it takes the TSC frequency
// the hypervisor calibrated ("cpuid"), skips its own calibration and keeps
// the TSC as its clock. On AMD it calibrates the TSC itself: against the PIT
// it fails under emulation (a port read takes too long), against the HPET's
// counter it succeeds ("hpet"), and the TSC becomes its clock as tsc-early
// (the refined calibration that switches to tsc comes a second after
// clocksource registration, often after /init has powered off). That
// calibration wants one HPET read (an exit) within 50,000 TSC ticks, which
// a loaded host may not give five times running: then Linux says so, and
// the HPET itself is the clock. Without the HPET, the PM timer was (acpi_pm).
const RUNS = [
  { kernel: "vmlinux", loaded: PVH, platform: "qemu", backend: "AMD-V", tsc: "hpet", clocksource: "tsc-early" },
  { kernel: "bzImage", loaded: BZIMAGE, platform: "qemu", backend: "AMD-V", tsc: "hpet", clocksource: "tsc-early" },
  { kernel: "vmlinux", loaded: PVH, platform: "bochs", backend: "Intel VT-x", tsc: "cpuid", clocksource: "tsc" },
] as const;

describe.skipIf(!manifest)("Debian's Linux kernel in a VM", () => {
  it.each(RUNS)(
    "boots from its $kernel under $backend ($platform) to /init, with ACPI, the I/O APIC and the HPET, and powers off",
    async ({ kernel, loaded, platform, backend, tsc, clocksource: expected }) => {
      let clocksource: string = expected;
      const run = await runThroughApi({
        platform,
        memoryMiB: HOST_MEMORY_MIB,
        modules: linuxVmModules(kernel, "console=ttyS0 earlyprintk=serial,ttyS0 panic=-1 typervisor.poweroff"),
      }, 400_000);
      const output = run.output.replace(/\r/g, "");
      expect(output).toMatch(
        new RegExp(`vm linux: 256 MiB at host 0x[0-9a-f]+, ${loaded.source}, console com1, ${backend}`),
      );
      expect(output).toMatch(
        new RegExp(
          `\\[linux\\] \\[ *0\\.000000\\] Linux version ${manifest!.kernel.release.replace(/[.+]/g, "\\$&")} `,
        ),
      );
      const khz = Number(/TSC at (\d+) ticks\/ms/.exec(output)![1]);
      if (tsc === "cpuid") {
        expect(output).toContain(
          `tsc: Detected ${Math.floor(khz / 1000)}.${String(khz % 1000).padStart(3, "0")} MHz TSC`,
        );
      } else if (/tsc: using HPET reference calibration\n/.test(output)) {
        // Measured against the HPET's counter, the TSC runs at the rate the
        // hypervisor calibrated against the host's PIT, within 1%.
        const mhz = Number(/tsc: Detected (\d+\.\d+) MHz processor/.exec(output)![1]);
        expect(Math.abs(mhz * 1000 - khz)).toBeLessThan(khz / 100);
      } else {
        expect(output).toMatch(/\[linux\] \[ *[\d.]+\] tsc: HPET\/PMTIMER calibration failed\n/);
        clocksource = "hpet";
      }
      // With the TSC's rate known the delay loop is not measured; without it,
      // it counts jiffies, which the PIT's IRQ0 moves.
      expect(output).toMatch(
        clocksource === "hpet"
          ? /\[linux\] \[ *[\d.]+\] Calibrating delay loop\.\.\. \d+\.\d+ BogoMIPS/
          : new RegExp(
            String.raw`\[linux\] \[ *[\d.]+\] Calibrating delay loop \(skipped\), `
              + String.raw`value calculated using timer frequency\.\. \d+\.\d+ BogoMIPS`,
          ),
      );
      expect(output).toMatch(/\[linux\] \[ *[\d.]+\] ACPI: RSDP 0x00000000000E0000 000024 \(v02 TYPVSR\)/);
      expect(output).toMatch(/\[linux\] \[ *[\d.]+\] IOAPIC\[0\]: apic_id 0, version 32, address 0xfec00000, GSI 0-23/);
      expect(output).not.toContain("8254 timer not connected to IO-APIC");
      expect(output).toMatch(/\[linux\] \[ *[\d.]+\] ACPI: Using IOAPIC for interrupt routing/);
      // The local APIC model's TSC-deadline mode, which CPUID offers.
      expect(output).toMatch(/\[linux\] \[ *[\d.]+\] TSC deadline timer available\n/);
      // KVM's paravirtual interface beside the hypervisor's own leaves: Linux
      // takes the x2APIC without interrupt remapping, and ends interrupts
      // through the PV EOI word (devices/apic/pveoi.ts).
      expect(output).toMatch(/\[linux\] \[ *[\d.]+\] Hypervisor detected: KVM\n/);
      expect(output).toMatch(
        /\[linux\] \[ *[\d.]+\] kvm-guest: APIC: eoi\(\) replaced with kvm_guest_apic_eoi_write\(\)/,
      );
      expect(output).toMatch(/\[linux\] \[ *[\d.]+\] APIC: Switched APIC routing to: physical x2apic\n/);
      // The HPET from its ACPI table, timers 0 and 1 on IRQ 2 and 8 (legacy
      // replacement), its counter a clocksource; the TSC's watchdog finds no skew.
      expect(output).toMatch(/\[linux\] \[ *[\d.]+\] ACPI: HPET id: 0x8086a201 base: 0xfed00000\n/);
      expect(output).toMatch(/\[linux\] \[ *[\d.]+\] hpet0: at MMIO 0xfed00000, IRQs 2, 8, 0\n/);
      expect(output).toMatch(/\[linux\] \[ *[\d.]+\] hpet0: 3 comparators, 64-bit 10\.000000 MHz counter\n/);
      expect(output).toMatch(/\[linux\] \[ *[\d.]+\] clocksource: hpet: mask: 0xffffffff /);
      expect(output).not.toMatch(/timekeeping watchdog|as unstable because the skew is too large/);
      expect(output).toMatch(
        new RegExp(`\\[linux\\] \\[ *[\\d.]+\\] clocksource: Switched to clocksource ${clocksource}\n`),
      );
      expect(output).toMatch(
        /\[linux\] \[ *[\d.]+\] serial8250: ttyS0 at I\/O 0x3f8 \(irq = 4, base_baud = 115200\) is a 16550A/,
      );
      expect(output).toMatch(/\[linux\] \[ *[\d.]+\] Run \/init as init process/);
      expect(output).toContain(`[linux] ${BANNER} (Linux ${manifest!.kernel.release}, 1 CPU(s), `);
      expect(output).toMatch(/\[linux\] \[ *[\d.]+\] reboot: Power down/);
      expect(run.vms.get("linux")!.info).toMatchObject(POWERED_OFF);
      expect(output).not.toMatch(/Kernel panic|BUG:|Oops/);
      // Nothing Linux finds amiss in the platform: no WARN (an inconsistent
      // CPUID topology once gave one), no #GP on an MSR that CPUID promised, the
      // machine-check architecture set up, and the APIC timer's clock the
      // crystal CPUID 0x15 reports (a mismatch once warned here).
      expect(output).not.toMatch(/WARNING:|unchecked MSR access|Call Trace/);
      expect(output).not.toContain("Unable to init MCE device");
      expect(output).not.toContain("clockevent_delta2ns");
      expect(output).toContain("typervisor: shutdown");
      expect(run.exit.status).toBe(0);
    },
    450_000,
  );

  // The shell on the VM's console, typed into through the hypervisor's own
  // console (vmm/sched/consolefocus.ts): its answers match the VM's configuration,
  // the console's NMI button reaches it, reboot -f restarts the VM, and
  // poweroff -f powers it off, as the API tells. The VM
  // has two vCPUs: SMP Linux starts the second with INIT and STARTUP. Linux
  // reaches its shell in about 10 s under QEMU and 70 s under Bochs; the
  // answers take a second or two on both.
  it.each([["qemu", "AMD-V"], ["bochs", "Intel VT-x"]] as const)(
    "answers at its shell under %s (%s), takes an NMI, reboots, and powers off when told",
    async (platform, backend) => {
      const opts = {
        platform,
        memoryMiB: HOST_MEMORY_MIB,
        modules: linuxVmModules("vmlinux", "console=ttyS0", { cpus: 2 }),
      };
      await withSerialApi(opts, async (machine, client) => {
        // The prompt has no newline, so it stays in the VM's line buffer
        // (vm.ts); the shell's greeting is the last full line before it. What
        // is typed meanwhile waits in the UART and the tty.
        const greeting = await machine.waitFor(/Enter 'help' for a list of built-in commands\.\r?\n/, 200_000);
        const from = greeting.index!;
        expect(machine.output).toContain(`console com1, ${backend}`);
        machine.send(
          "uname -r; grep -c processor /proc/cpuinfo; cat /proc/meminfo | head -1; dmesg | grep -i "
            + "acpi | head -3; date -u +%s\n",
        );
        // The console ends its lines with CR LF.
        const answers = await machine.waitFor(
          new RegExp(
            String.raw`\[linux\] ([^\r\n]+)\r?\n\[linux\] (\d+)\r?\n\[linux\] MemTotal: +(\d+) kB\r?\n`
              + String.raw`((?:\[linux\] [^\r\n]*ACPI[^\r\n]*\r?\n){3})\[linux\] (\d+)\r?\n`,
          ),
          60_000,
          from,
        );
        expect(answers[1]).toBe(manifest!.kernel.release);
        expect(Number(answers[2])).toBe(2); // cpus in the configuration
        const memoryKiB = Number(answers[3]);
        expect(memoryKiB).toBeGreaterThan(180 * 1024); // 256 MiB configured, less what the kernel keeps
        expect(memoryKiB).toBeLessThanOrEqual(256 * 1024);
        expect(answers[4]).toContain("ACPI: RSDP 0x00000000000E0000 000024 (v02 TYPVSR)");
        // The VM's RTC shows the host's time (kernel/time/wallclock.ts): the
        // emulator's RTC, which starts at this machine's (Bochs in local time,
        // so within a day of UTC).
        expect(Math.abs(Number(answers[5]) - Date.now() / 1000)).toBeLessThan(86_400);
        // The console's NMI button (Ctrl-T n): through LINT1, which Linux
        // programs for NMI on its boot CPU as the MADT says; no handler of
        // Linux claims it, and it carries on.
        const beforeNmi = machine.output.length;
        machine.send("\x14n");
        await machine.waitFor(/NMI received for unknown reason/, 60_000, beforeNmi);
        expect(machine.output.slice(beforeNmi)).toContain("console: NMI to vm linux");
        // A reboot restarts the VM (on_reset's default): Linux resets the
        // machine as the FADT says, boots again and comes back to its shell.
        const events = await ApiEvents.follow(client);
        const beforeReboot = machine.output.length;
        machine.send("reboot -f\n");
        const reset = await events.next("rebooted", "linux", 60_000);
        expect(reset).toMatchObject({
          state: "running",
          reason: expect.stringMatching(/^the guest reset the machine through /),
        });
        await machine.waitFor(/Enter 'help' for a list of built-in commands\.\r?\n/, 200_000, beforeReboot);
        const { end, exit } = await powerOffAtShell(machine, client);
        expect(end.info).toMatchObject(POWERED_OFF);
        expect(machine.output).toContain("typervisor: shutdown");
        expect(exit.status).toBe(0);
      });
    },
    400_000,
  );
});
