// What the management API tells of a VM (docs/api.md): its summary in the
// list, its description, and its statistics, as JSON text. Everything is
// read from the VM's own records (core/vm.ts, core/runstate.ts,
// core/exitstats.ts) on CPU 0 under the hypervisor lock; nothing here
// changes a VM.

import { ticksToNs } from "../../kernel/time/tsc";
import { EXIT_KINDS, exitKindName } from "../core/exitstats";
import { ExitKind } from "../core/exit";
import { Activity, Vcpu } from "../core/vcpu";
import { BootOverride, OverrideMode, OWN_SOURCE } from "../core/bootoverride";
import { Vm } from "../core/vm";
import { ConfiguredImage } from "../setup/config/configured";
import { cpuList, JsonArray, JsonObject, stringList } from "./jsontext";

export function stateOf(vm: Vm): string {
  if (!vm.running) return "stopped";
  return vm.paused ? "paused" : "running";
}

function cpuNs(vm: Vm): u64 {
  let ticks: u64 = 0;
  for (let i = 0; i < vm.vcpus.length; i++) ticks += vm.vcpus[i].runState.ticks;
  return ticksToNs(ticks);
}

// One line of `vms.list`.
export function vmSummary(vm: Vm): string {
  return new JsonObject()
    .str("name", vm.name)
    .num("id", vm.id)
    .str("state", stateOf(vm))
    .num("vcpus", vm.vcpus.length)
    .num("memory_bytes", vm.memory.size)
    .num("cpu_ns", cpuNs(vm))
    .num("exits", vm.exits)
    .toString();
}

function activityName(vcpu: Vcpu): string {
  if (vcpu.activity == Activity.Halted) return "halted";
  if (vcpu.activity == Activity.WaitingForSipi) return "waiting-for-startup";
  return "runnable";
}

// The host CPUs a vCPU has run on, as a mask.
function ranOn(vcpu: Vcpu): u32 {
  let mask: u32 = 0;
  const on = vcpu.runState.ticksOn;
  for (let c = 0; c < on.length; c++) if (on[c] != 0) mask |= <u32>1 << <u32>c;
  return mask;
}

// `vm.get`: configuration, state, vCPUs and where they run, memory.
export function vmInfo(vm: Vm): string {
  const vcpus = new JsonArray();
  for (let i = 0; i < vm.vcpus.length; i++) {
    const vcpu = vm.vcpus[i], run = vcpu.runState;
    vcpus.add(
      new JsonObject()
        .num("index", i)
        .str("activity", activityName(vcpu))
        .num("home_cpu", run.homeCpu)
        .int("running_on", run.runningOn)
        .int("last_cpu", run.lastCpu)
        .raw("ran_on", cpuList(ranOn(vcpu)))
        .toString(),
    );
  }
  const share = new JsonObject()
    .raw("affinity", cpuList(vm.share.affinity))
    .num("weight", vm.share.weight)
    .num("cap_percent", vm.share.capPercent);
  return new JsonObject()
    .str("name", vm.name)
    .num("id", vm.id)
    .str("state", stateOf(vm))
    .str("stop_reason", vm.stopReason)
    .bool("fault", vm.faulted)
    .int("exit_status", vm.exitStatus)
    .bool("rebootable", vm.image !== null)
    .raw("kernel", kernelOf(vm))
    .num("memory_bytes", vm.memory.size)
    .num("memory_host_address", hostAddressOf(vm))
    .num("hypervisor_memory_bytes", vm.hypervisorBytes)
    .raw("share", share.toString())
    .raw("vcpus", vcpus.toString())
    .raw("disks", devices(vm, "disk", false))
    .raw("nics", devices(vm, "nic", false))
    .toString();
}

// Where the VM's RAM lies in host memory: one contiguous block
// (setup/vmcreate.ts allocateRam()), which the first region starts; 0 once
// the RAM has gone back (GuestMemory.giveBack()), rather than an abort.
function hostAddressOf(vm: Vm): u64 {
  return vm.memory.regions.length > 0 ? vm.memory.regions[0].hpa : 0;
}

// What a kernel VM boots now: the boot source its present boot loaded
// ("None" for its own, or an alternate's name; core/bootoverride.ts), the
// sources it has and the override its next boot follows, where that
// source's kernel and initrd come from, a boot module or a host disk's
// partition ("" for the other, and for no initrd), its command line, and
// whether a reset by its guest restarts it; null for a flat binary.
export function kernelOf(vm: Vm): string {
  const image = vm.image;
  if (!(image instanceof ConfiguredImage)) return "null";
  const configured = <ConfiguredImage>image, choice = configured.bootOverride;
  const source = configured.config.sources[choice.booted];
  return new JsonObject()
    .str("module", source.kernel.module)
    .str("partition", source.kernel.partition)
    .str("initrd", source.initrd.module)
    .str("initrd_partition", source.initrd.partition)
    .str("cmdline", source.cmdline)
    .str("boot_source", source.name)
    .raw("boot_sources", stringList(choice.targets))
    .raw("boot_override", overrideOf(choice))
    .bool("restart_on_reset", vm.restartOnReset)
    .toString();
}

// The source the next boot takes, "None" for the VM's own, and whether
// every boot after it too.
function overrideOf(choice: BootOverride): string {
  const on = choice.mode != OverrideMode.Disabled;
  return new JsonObject()
    .str("source", on ? choice.target : OWN_SOURCE)
    .bool("continuous", choice.mode == OverrideMode.Continuous)
    .toString();
}

// A VM's exits as vm.stats and /metrics (metrics.ts) count them: by kind,
// those that reached the VMM's handler (the kinds with any), and those the
// backend's fast path finished itself.
export class ExitCounts {
  readonly kinds: string[] = [];
  readonly handled: u64[] = [];
  readonly inBackend: u64;

  constructor(vm: Vm) {
    let handled: u64 = 0;
    for (let k = 0; k < EXIT_KINDS; k++) {
      const n = vm.exitStats.handled(k);
      if (n == 0) continue;
      this.kinds.push(exitKindName(<ExitKind>k));
      this.handled.push(n);
      handled += n;
    }
    this.inBackend = vm.exits - handled;
  }
}

// `vm.stats`: CPU time per vCPU (in all and per host CPU), exits by kind,
// memory; `nowNs` stamps the sample, for rates.
export function vmStats(vm: Vm, nowNs: u64): string {
  const vcpus = new JsonArray();
  for (let i = 0; i < vm.vcpus.length; i++) {
    const vcpu = vm.vcpus[i], run = vcpu.runState;
    const perCpu = new JsonObject();
    for (let c = 0; c < run.ticksOn.length; c++) {
      if (run.ticksOn[c] != 0) perCpu.num(c.toString(), ticksToNs(run.ticksOn[c]));
    }
    vcpus.add(
      new JsonObject()
        .num("index", i)
        .num("cpu_ns", ticksToNs(run.ticks))
        .raw("cpu_ns_by_host_cpu", perCpu.toString())
        .num("exits", vcpu.exits)
        .toString(),
    );
  }
  const counts = new ExitCounts(vm), kinds = new JsonObject();
  for (let k = 0; k < counts.kinds.length; k++) kinds.num(counts.kinds[k], counts.handled[k]);
  const exits = new JsonObject()
    .num("total", vm.exits)
    .raw("handled_by_kind", kinds.toString())
    .num("finished_in_backend", counts.inBackend);
  return new JsonObject()
    .str("name", vm.name)
    .str("state", stateOf(vm))
    .num("time_ns", nowNs)
    .num("cpu_ns", cpuNs(vm))
    .raw("vcpus", vcpus.toString())
    .raw("exits", exits.toString())
    .num("memory_bytes", vm.memory.size)
    .num("unclaimed_accesses", vm.unclaimedAccesses)
    .raw("disks", devices(vm, "disk", true))
    .raw("nics", devices(vm, "nic", true))
    .toString();
}

// The VM's devices of `kind` (core/meter.ts), each its id and then what it
// is, or (`withTotals`) its totals; a total split by cause is an object of
// the causes.
function devices(vm: Vm, kind: string, withTotals: bool): string {
  const list = new JsonArray();
  for (let m = 0; m < vm.meters.length; m++) {
    const meter = vm.meters[m];
    if (meter.kind != kind) continue;
    const device = new JsonObject().str("id", meter.id);
    if (!withTotals) {
      list.add(device.str("about", meter.about).toString());
      continue;
    }
    const totals = meter.totals();
    for (let t = 0; t < totals.length;) {
      const name = totals[t].name;
      if (totals[t].cause.length == 0) {
        device.num(name, totals[t++].value);
        continue;
      }
      const causes = new JsonObject();
      for (; t < totals.length && totals[t].name == name; t++) causes.num(totals[t].cause, totals[t].value);
      device.raw(name, causes.toString());
    }
    list.add(device.toString());
  }
  return list.toString();
}

// `vm.console.read`: the last lines the VM's console printed, and where
// they lie in all it printed ("start" to "end"), so that a client that
// read up to some place knows what is new.
export function consoleText(vm: Vm): string {
  const history = vm.console.history;
  return new JsonObject()
    .str("name", vm.name)
    .num("start", history.start)
    .num("end", history.total)
    .str("text", String.UTF8.decode(history.kept().buffer))
    .toString();
}
