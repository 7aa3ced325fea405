// The management API's metrics in the Prometheus text exposition format,
// version 0.0.4 (docs/api.md): what `vm.stats` and `host.get` tell, for a
// Prometheus server or any tool of that ecosystem to scrape from GET
// /metrics.
//
// Each metric family is a `# HELP` and a `# TYPE` line and then all its
// samples, one per line: a name, labels in braces, a value. A counter's
// name ends in `_total`; label values escape the backslash, the quote and
// the newline. Families whose samples come from many VMs are gathered
// apart (Family) and written one after the other, since the format does
// not let a family's samples be spread out.

import { ticksToNs } from "../../kernel/time/tsc";
import { Vm } from "../core/vm";
import { HostFacts } from "./hostfacts";
import { ExitCounts, stateOf } from "./vmviews";

const PREFIX = "typervisor_";
const STATES: string[] = ["running", "paused", "stopped"];
const NS_PER_SECOND: u64 = 1_000_000_000;

// A label value as the format quotes it.
function escaped(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll("\"", "\\\"").replaceAll("\n", "\\n");
}

// `ns` nanoseconds as seconds, with all nine decimals.
function seconds(ns: u64): string {
  const fraction = (ns % NS_PER_SECOND).toString();
  return (ns / NS_PER_SECOND).toString() + "." + "0".repeat(9 - fraction.length) + fraction;
}

// One metric family's header and samples, gathered as they come.
class Family {
  private samples: string = "";

  constructor(readonly name: string, readonly type: string, readonly help: string) {}

  // A sample; `labels` is the text between the braces, or "".
  add(labels: string, value: string): Family {
    this.samples += PREFIX + this.name + (labels.length > 0 ? "{" + labels + "}" : "") + " " + value + "\n";
    return this;
  }

  toString(): string {
    return "# HELP " + PREFIX + this.name + " " + this.help + "\n# TYPE " + PREFIX + this.name + " " + this.type
      + "\n" + this.samples;
  }
}

function label(name: string, value: string): string {
  return name + "=\"" + escaped(value) + "\"";
}

// The families of the host and its VMs, each VM's samples labelled with its name.
export function metricsText(host: HostFacts, vms: Vm[], droppedEvents: u64): string {
  const families: Family[] = [
    new Family("build_info", "gauge", "The hypervisor's version, as a label; always 1.")
      .add(label("version", host.version), "1"),
    new Family("host_cpus", "gauge", "The host CPUs the hypervisor runs on.").add("", host.cpus.toString()),
    new Family("host_memory_free_bytes", "gauge", "Host memory no VM or hypervisor structure holds.")
      .add("", host.freeBytes.toString()),
    new Family("host_uptime_seconds", "gauge", "Time since the host processor's reset.")
      .add("", seconds(host.nowNs)),
    new Family("api_dropped_events_total", "counter", "Events the API dropped while its client did not read.")
      .add("", droppedEvents.toString()),
  ];
  const state = new Family("vm_state", "gauge", "1 for the state the VM is in, 0 for the others.");
  const vcpus = new Family("vm_vcpus", "gauge", "The VM's virtual CPUs.");
  const memory = new Family("vm_memory_bytes", "gauge", "The VM's RAM.");
  const cpu = new Family("vm_cpu_seconds_total", "counter", "Time each vCPU spent in its guest.");
  const exits = new Family(
    "vm_exits_total",
    "counter",
    "Exits by kind; backend_fast_path counts those the backend finished itself.",
  );
  const unclaimed = new Family("vm_unclaimed_accesses_total", "counter", "Accesses that found no RAM and no device.");
  const devices = new DeviceFamilies();
  for (let i = 0; i < vms.length; i++) {
    const vm = vms[i], name = label("vm", vm.name), now = stateOf(vm);
    for (let s = 0; s < STATES.length; s++) {
      state.add(name + "," + label("state", STATES[s]), now == STATES[s] ? "1" : "0");
    }
    vcpus.add(name, vm.vcpus.length.toString());
    memory.add(name, vm.memory.size.toString());
    for (let v = 0; v < vm.vcpus.length; v++) {
      cpu.add(name + "," + label("vcpu", v.toString()), seconds(ticksToNs(vm.vcpus[v].runState.ticks)));
    }
    const counts = new ExitCounts(vm);
    for (let k = 0; k < counts.kinds.length; k++) {
      exits.add(name + "," + label("kind", counts.kinds[k]), counts.handled[k].toString());
    }
    exits.add(name + "," + label("kind", "backend_fast_path"), counts.inBackend.toString());
    unclaimed.add(name, vm.unclaimedAccesses.toString());
    devices.addVm(vm, name);
  }
  families.push(state);
  families.push(vcpus);
  families.push(memory);
  families.push(cpu);
  families.push(exits);
  families.push(unclaimed);
  let text = "";
  for (let i = 0; i < families.length; i++) text += families[i].toString();
  return text + devices.toString();
}

// The disks' and NICs' totals (core/meter.ts) as families named by kind
// and total ("vm_disk_reads_total", "vm_nic_frames_dropped_total"), in the
// order they are first met.
class DeviceFamilies {
  private families: Family[] = [];

  addVm(vm: Vm, vmLabel: string): void {
    for (let m = 0; m < vm.meters.length; m++) {
      const meter = vm.meters[m], totals = meter.totals();
      const labels = vmLabel + "," + label(meter.kind, meter.id);
      for (let t = 0; t < totals.length; t++) {
        const total = totals[t];
        const cause = total.cause.length > 0 ? "," + label("cause", total.cause) : "";
        this.family(meter.kind, total.name).add(labels + cause, total.value.toString());
      }
    }
  }

  toString(): string {
    let text = "";
    for (let i = 0; i < this.families.length; i++) text += this.families[i].toString();
    return text;
  }

  private family(kind: string, total: string): Family {
    const name = "vm_" + kind + "_" + total + "_total";
    for (let i = 0; i < this.families.length; i++) if (this.families[i].name == name) return this.families[i];
    const family = new Family(name, "counter", "The VM's " + kind + "s: " + total.replaceAll("_", " ") + ".");
    this.families.push(family);
    return family;
  }
}
