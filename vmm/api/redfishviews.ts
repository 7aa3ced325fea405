// The Redfish resources the hypervisor serves for its VMs (docs/redfish.md),
// as JSON text: the service root, the VMs as ComputerSystems with their
// processors and memory, the sessions, and Redfish's error body; the
// hypervisor and its host are in redfishhost.ts. Each resource carries the
// annotations DSP0266 requires of it ("Common annotations"), @odata.id and
// @odata.type, the latter naming the DSP8010 schema version whose
// properties it uses (redfishschemas.ts); @odata.context is optional and
// left out, but for the OData service document, which is made of it.
// Nothing here changes a VM; redfish.ts decides what is asked.

import { OverrideMode, OWN_SOURCE } from "../core/bootoverride";
import { Vm } from "../core/vm";
import { HostFacts } from "./hostfacts";
import { JsonArray, JsonObject, stringList } from "./jsontext";
import * as schemas from "./redfishschemas";
import { stateOf } from "./vmviews";

export const SYSTEMS = "/redfish/v1/Systems";
export const SESSIONS = "/redfish/v1/SessionService/Sessions";
// The one manager, the hypervisor, and the one chassis, its host (redfishhost.ts).
export const MANAGERS = "/redfish/v1/Managers";
export const MANAGER_ID = "hypervisor";
export const MANAGER = MANAGERS + "/" + MANAGER_ID;
export const CHASSIS_COLLECTION = "/redfish/v1/Chassis";
export const CHASSIS_ID = "host";
export const CHASSIS = CHASSIS_COLLECTION + "/" + CHASSIS_ID;
// A VM's RAM is one Memory resource of this Id.
export const RAM = "ram";
// Base message registry (DSP8011) names of the messages in error bodies.
const BASE_REGISTRY = "Base.1.8.";
// What ComputerSystem.Reset offers.
export const RESET_TYPES: string[] = ["On", "ForceOff", "GracefulShutdown", "ForceRestart"];
// BootSourceOverrideEnabled's values, by OverrideMode.
export const OVERRIDE_MODES: string[] = ["Disabled", "Once", "Continuous"];
const NO_OVERRIDE_MODES: string[] = ["Disabled"];
const NO_OVERRIDE_TARGETS: string[] = [OWN_SOURCE];

// The targets a VM's override may name: None (its own kernel), then the
// alternates its configuration gives it; None alone for a VM without an
// image (a flat binary).
export function bootTargets(vm: Vm): string[] {
  const image = vm.image;
  return image !== null ? image.bootOverride.targets : NO_OVERRIDE_TARGETS;
}

// The modes its override may take: Disabled alone if None is all it has.
export function overrideModes(vm: Vm): string[] {
  return bootTargets(vm).length > 1 ? OVERRIDE_MODES : NO_OVERRIDE_MODES;
}

// A VM's Boot: its override and what it may be.
function boot(vm: Vm): string {
  const image = vm.image;
  const target = image !== null ? image.bootOverride.target : OWN_SOURCE;
  const mode = image !== null ? image.bootOverride.mode : OverrideMode.Disabled;
  return new JsonObject()
    .str("BootSourceOverrideTarget", target)
    .raw("BootSourceOverrideTarget@Redfish.AllowableValues", stringList(bootTargets(vm)))
    .str("BootSourceOverrideEnabled", OVERRIDE_MODES[mode])
    .raw("BootSourceOverrideEnabled@Redfish.AllowableValues", stringList(overrideModes(vm)))
    .toString();
}

export function link(id: string): string {
  return new JsonObject().str("@odata.id", id).toString();
}

// A list of links, as Links' members have them.
export function links(ids: string[]): string {
  const list = new JsonArray();
  for (let i = 0; i < ids.length; i++) list.add(link(ids[i]));
  return list.toString();
}

// A resource's opening members: where and what it is, and its names.
export function resource(id: string, schema: schemas.Schema, name: string, key: string): JsonObject {
  return new JsonObject().str("@odata.id", id).str("@odata.type", schema.type).str("Id", key).str("Name", name);
}

// A collection of the resources at `members` (DSP0266 "Resource collections").
export function collection(id: string, schema: schemas.Schema, name: string, members: string[]): string {
  return new JsonObject()
    .str("@odata.id", id)
    .str("@odata.type", schema.type)
    .str("Name", name)
    .num("Members@odata.count", members.length)
    .raw("Members", links(members))
    .toString();
}

// GET /redfish: the protocol versions and their roots (DSP0266 "Service root request").
export const VERSIONS = `{"v1":"/redfish/v1/"}`;

// GET /redfish/v1/: where everything else is found; Links.Sessions is
// where a client logs in (DSP0266 "Redfish session login authentication").
export function serviceRoot(): string {
  return resource("/redfish/v1/", schemas.SERVICE_ROOT, "Typervisor Redfish service", "RootService")
    .str("RedfishVersion", "1.6.0")
    .str("Product", "Typervisor")
    .raw("Systems", link(SYSTEMS))
    .raw("Managers", link(MANAGERS))
    .raw("Chassis", link(CHASSIS_COLLECTION))
    .raw("SessionService", link("/redfish/v1/SessionService"))
    .raw("Links", new JsonObject().raw("Sessions", link(SESSIONS)).toString())
    .toString();
}

// GET /redfish/v1/odata: the OData service document (DSP0266 "OData
// service document"), the service root's top-level resources; its context
// is the metadata document (redfishschemas.ts).
export const ODATA_DOCUMENT = `{"@odata.context":"/redfish/v1/$metadata","value":[`
  + `{"name":"Service","kind":"Singleton","url":"/redfish/v1/"},`
  + `{"name":"Systems","kind":"EntitySet","url":"/redfish/v1/Systems"},`
  + `{"name":"Managers","kind":"EntitySet","url":"/redfish/v1/Managers"},`
  + `{"name":"Chassis","kind":"EntitySet","url":"/redfish/v1/Chassis"},`
  + `{"name":"SessionService","kind":"Singleton","url":"/redfish/v1/SessionService"}]}`;

export function sessionService(): string {
  return resource("/redfish/v1/SessionService", schemas.SESSION_SERVICE, "Session service", "SessionService")
    .bool("ServiceEnabled", true)
    .raw("Sessions", link(SESSIONS))
    .toString();
}

export function systemPath(vm: Vm): string {
  return SYSTEMS + "/" + vm.name;
}

export function systemPaths(vms: Vm[]): string[] {
  const paths: string[] = [];
  for (let i = 0; i < vms.length; i++) paths.push(systemPath(vms[i]));
  return paths;
}

export function systemsCollection(vms: Vm[]): string {
  return collection(SYSTEMS, schemas.SYSTEM_COLLECTION, "Computer systems", systemPaths(vms));
}

// Bytes as GiB with up to four decimals, as MemorySummary gives them.
export function gibibytes(bytes: u64): string {
  const tenThousandths = bytes * 10_000 >> 30;
  let fraction = (tenThousandths % 10_000 + 10_000).toString().slice(1);
  while (fraction.endsWith("0")) fraction = fraction.slice(0, -1);
  return (tenThousandths / 10_000).toString() + (fraction.length > 0 ? "." + fraction : "");
}

// Status.State of a VM and its parts: a paused VM is on but quiesced, a
// stopped one off and waiting to be powered on.
function stateName(vm: Vm): string {
  const state = stateOf(vm);
  return state == "running" ? "Enabled" : state == "paused" ? "Quiesced" : "StandbyOffline";
}

// The Status of a VM's processor or memory: its VM's state; a fault is
// the system's (a triple fault is the guest's doing, not the part's).
function partStatus(vm: Vm): string {
  return new JsonObject().str("State", stateName(vm)).str("Health", "OK").toString();
}

// A VM as a ComputerSystem (DSP8010 ComputerSystem v1.13), with links to
// its processors and memory, the host it lives in and the hypervisor.
export function computerSystem(vm: Vm): string {
  const path = systemPath(vm);
  const status = new JsonObject().str("State", stateName(vm)).str("Health", vm.faulted ? "Critical" : "OK");
  const reset = `{"#ComputerSystem.Reset":{"target":"` + path + `/Actions/ComputerSystem.Reset",`
    + `"ResetType@Redfish.AllowableValues":` + stringList(RESET_TYPES) + "}}";
  const related = new JsonObject().raw("Chassis", links([CHASSIS])).raw("ManagedBy", links([MANAGER]));
  return resource(path, schemas.SYSTEM, vm.name, vm.name)
    .str("SystemType", "Virtual")
    .str("Manufacturer", "Typervisor")
    .str("PowerState", vm.running ? "On" : "Off")
    .raw("Status", status.toString())
    .raw("ProcessorSummary", `{"Count":` + vm.vcpus.length.toString() + "}")
    .raw("MemorySummary", `{"TotalSystemMemoryGiB":` + gibibytes(vm.memory.size) + "}")
    .raw("Processors", link(path + "/Processors"))
    .raw("Memory", link(path + "/Memory"))
    .raw("Boot", boot(vm))
    .raw("Links", related.toString())
    .raw("Actions", reset)
    .toString();
}

export function processorsCollection(vm: Vm): string {
  const path = systemPath(vm) + "/Processors", members: string[] = [];
  for (let i = 0; i < vm.vcpus.length; i++) members.push(path + "/" + i.toString());
  return collection(path, schemas.PROCESSOR_COLLECTION, vm.name + "'s processors", members);
}

// vCPU `index` of `vm` as a Processor (DSP8010 Processor v1.0): one core
// of one thread, x86-64, whose CPUID tells the guest the host's vendor
// (ProcessorId.VendorId) and brand string (Model, left out if the host has
// none). The host CPU whose run queue holds it (its home, vm.get's
// home_cpu) has no standard property, so it is under Oem.
export function processor(vm: Vm, index: i32, host: HostFacts): string {
  const id = index.toString(), home = vm.vcpus[index].runState.homeCpu;
  const oem = new JsonObject().raw("Typervisor", new JsonObject().num("HomeCpu", home).toString());
  const part = resource(systemPath(vm) + "/Processors/" + id, schemas.PROCESSOR, "vCPU " + id, id)
    .str("ProcessorType", "CPU")
    .str("ProcessorArchitecture", "x86")
    .str("InstructionSet", "x86-64");
  if (host.cpuModel.length > 0) part.str("Model", host.cpuModel);
  return part
    .raw("ProcessorId", new JsonObject().str("VendorId", host.cpuVendor).toString())
    .num("TotalCores", 1)
    .num("TotalThreads", 1)
    .raw("Status", partStatus(vm))
    .raw("Oem", oem.toString())
    .toString();
}

export function memoryCollection(vm: Vm): string {
  const path = systemPath(vm) + "/Memory";
  return collection(path, schemas.MEMORY_COLLECTION, vm.name + "'s memory", [path + "/" + RAM]);
}

// A VM's RAM as one Memory resource (DSP8010 Memory v1.0), in MiB.
export function memory(vm: Vm): string {
  return resource(systemPath(vm) + "/Memory/" + RAM, schemas.MEMORY, "RAM", RAM)
    .str("MemoryType", "DRAM")
    .num("CapacityMiB", vm.memory.size >> 20)
    .raw("Status", partStatus(vm))
    .toString();
}

export function sessionPath(id: string): string {
  return SESSIONS + "/" + id;
}

export function sessionsCollection(ids: string[]): string {
  const members: string[] = [];
  for (let i = 0; i < ids.length; i++) members.push(sessionPath(ids[i]));
  return collection(SESSIONS, schemas.SESSION_COLLECTION, "Sessions", members);
}

export function session(id: string, user: string): string {
  return resource(sessionPath(id), schemas.SESSION, "User session " + id, id).str("UserName", user).toString();
}

// Redfish's error body (DSP0266 "Error responses"): the message `id` of the Base
// registry, in `code` and in the one extended message.
export function redfishError(id: string, message: string, resolution: string): string {
  const extended = new JsonObject()
    .str("@odata.type", schemas.MESSAGE.type)
    .str("MessageId", BASE_REGISTRY + id)
    .str("Message", message)
    .str("Severity", "Warning")
    .str("MessageSeverity", "Warning")
    .str("Resolution", resolution);
  const error = new JsonObject()
    .str("code", BASE_REGISTRY + id)
    .str("message", message)
    .raw("@Message.ExtendedInfo", new JsonArray().add(extended.toString()).toString());
  return new JsonObject().raw("error", error.toString()).toString();
}
