// Building VMs from the boot modules.
//
// A boot module whose command line has "vm=NAME" is a guest: a flat binary
// loaded at guest-physical GUEST_LOAD and started in real mode at
// 0000:GUEST_LOAD, like a boot sector (the guest switches to protected or
// long mode itself); "cpus=N" gives it N vCPUs (default 1), the others
// waiting for INIT and STARTUP IPIs. "mem=MiB" sets its RAM (default 16 MiB), mapped at
// guest-physical 0 by the nested page tables; it must end below the test
// device's MMIO window (devices/test/testmmio.ts), which the nested tables leave
// unmapped so that accesses there exit to the VMM. Modules without vm= are left
// alone. A malformed entry is reported and skipped; the others still start.

import { BootModule } from "../../kernel/boot/bootinfo";
import { CommandLine } from "../../kernel/boot/cmdline";
import * as log from "../../kernel/console/log";
import { FrameAllocator } from "../../kernel/mm/frames";
import { Backend } from "../core/backend";
import { Vm } from "../core/vm";
import { DebugExit, DEBUG_EXIT_PORT } from "../devices/io/debugexit";
import { POST_PORT } from "../devices/io/null";
import { TestDevice, TEST_DEVICE_PORT, TEST_DEVICE_PORTS, VectorSink } from "../devices/test/testdevice";
import { TestMmioWindow, TEST_MMIO_BASE, TEST_MMIO_SIZE } from "../devices/test/testmmio";
import { MAX_CPUS } from "../../kernel/cpu/smp";
import { ALL_CPUS, CpuShare, DEFAULT_WEIGHT, MAX_WEIGHT } from "../core/cpushare";
import { MAX_CAP } from "./config/config";
import { Footprint } from "./footprint";
import { allocateRam, createVmOn, shareOf } from "./vmcreate";

// The test device's interrupts: external interrupts for the boot vCPU, and
// the VM's NMI line.
class VmInterrupts extends VectorSink {
  constructor(private vm: Vm) {
    super();
  }
  raise(vector: u8): void {
    this.vm.raiseInterrupt(vector);
  }
  pulseNmi(): void {
    this.vm.pressNmiButton();
  }
}

export const GUEST_LOAD: u64 = 0x8000;
const DEFAULT_MEMORY_MIB: u64 = 16;
const MAX_MEMORY_MIB: u64 = 1 << 16;
const MAX_VCPUS: u32 = 16;

export function createVms(modules: BootModule[], frames: FrameAllocator, backend: Backend): Vm[] {
  const vms: Vm[] = [];
  for (let i = 0; i < modules.length; i++) {
    const module = modules[i];
    const options = new CommandLine(module.cmdline);
    if (!options.has("vm")) continue;
    const name = options.get("vm");
    const vm = createVm(
      <u32>vms.length,
      name.length > 0 ? name : "vm" + i.toString(),
      module,
      options,
      frames,
      backend,
    );
    if (vm !== null) vms.push(vm);
  }
  return vms;
}

function createVm(
  id: u32,
  name: string,
  module: BootModule,
  options: CommandLine,
  frames: FrameAllocator,
  backend: Backend,
): Vm | null {
  const memText = options.get("mem", DEFAULT_MEMORY_MIB.toString());
  const mib = U64.parseInt(memText, 10);
  if (mib == 0 || mib > MAX_MEMORY_MIB || mib.toString() != memText) {
    log.error("vm " + name + ": bad mem=" + memText + " (MiB, 1 to " + MAX_MEMORY_MIB.toString() + "); not started");
    return null;
  }
  const cpusText = options.get("cpus", "1");
  const cpus = U32.parseInt(cpusText, 10);
  if (cpus == 0 || cpus > MAX_VCPUS || cpus.toString() != cpusText) {
    log.error("vm " + name + ": bad cpus=" + cpusText + " (1 to " + MAX_VCPUS.toString() + "); not started");
    return null;
  }
  const bytes = mib << 20;
  // RAM starts at 0, so it must end below the device window.
  if (bytes > TEST_MMIO_BASE) {
    log.error(
      "vm " + name + ": mem=" + memText + " MiB would overlap the MMIO window at " + log.hex(TEST_MMIO_BASE)
        + "; not started",
    );
    return null;
  }
  const imageSize = module.end - module.start;
  if (GUEST_LOAD + imageSize > bytes) {
    log.error(
      "vm " + name + ": its image (" + imageSize.toString() + " bytes) does not fit in " + mib.toString()
        + " MiB; not started",
    );
    return null;
  }
  const share = shareFromOptions(name, options);
  if (share === null) return null;
  const footprint = new Footprint(frames);
  const memory = allocateRam(name, mib, frames);
  if (memory === null) return null;
  const vm = createVmOn(id, name, memory, frames, backend, cpus, share);
  if (vm === null) return null;
  vm.memory.copyFromHost(GUEST_LOAD, module.start, imageSize);
  vm.bus.io.map(TEST_DEVICE_PORT, TEST_DEVICE_PORTS, new TestDevice(new VmInterrupts(vm)));
  vm.bus.io.map(DEBUG_EXIT_PORT, 4, new DebugExit(vm));
  vm.addQuietPort(POST_PORT);
  vm.bus.mmio.map(TEST_MMIO_BASE, TEST_MMIO_SIZE, new TestMmioWindow());
  vm.vcpus[0].resetToRealMode(0, <u16>GUEST_LOAD);
  log.info(
    "vm " + name + ": " + mib.toString() + " MiB at host " + log.hex(memory.regions[0].hpa) + ", " + cpus.toString()
      + " vCPU" + (cpus > 1 ? "s" : "")
      + ", image " + imageSize.toString() + " bytes, " + backend.name,
  );
  footprint.report(vm);
  return vm;
}

// "affinity=0,2 weight=512 cap=25": the VM's share of the host's CPUs, or
// null (reported) if an option is malformed.
function shareFromOptions(name: string, options: CommandLine): CpuShare | null {
  const weight = numberOption(name, options, "weight", DEFAULT_WEIGHT, 1, MAX_WEIGHT);
  const cap = numberOption(name, options, "cap", 0, 1, MAX_CAP);
  if (weight < 0 || cap < 0) return null;
  let affinity = ALL_CPUS;
  if (options.has("affinity")) {
    affinity = 0;
    const items = options.get("affinity").split(",");
    for (let i = 0; i < items.length; i++) {
      const cpu = U32.parseInt(items[i], 10);
      if (cpu.toString() != items[i] || cpu >= MAX_CPUS) {
        log.error(
          "vm " + name + ": bad affinity=" + options.get("affinity") + " (host CPU numbers, as 0,1); not started",
        );
        return null;
      }
      affinity |= <u32>1 << cpu;
    }
  }
  return shareOf(name, affinity, <u32>weight, <u32>cap);
}

// The whole number option `key` in [min, max], `absent` without it, -1 (reported) if malformed.
function numberOption(name: string, options: CommandLine, key: string, absent: u32, min: u32, max: u32): i64 {
  if (!options.has(key)) return absent;
  const text = options.get(key), value = U32.parseInt(text, 10);
  if (value.toString() == text && value >= min && value <= max) return value;
  log.error(
    "vm " + name + ": bad " + key + "=" + text + " (" + min.toString() + " to " + max.toString() + "); not started",
  );
  return -1;
}
