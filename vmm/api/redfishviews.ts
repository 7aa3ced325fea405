// The Redfish resources the hypervisor serves (docs/redfish.md), as JSON
// text: the service root, the VMs as ComputerSystems, the session service,
// and Redfish's error body. Each resource carries the annotations DSP0266
// requires of it, @odata.id and @odata.type (DSP0266 9.5), with the schema
// versions of DSP8010 whose properties it uses; @odata.context is optional
// and left out, but for the OData service document, which is made of it.
// Nothing here changes a VM; redfish.ts decides what is asked.

import { Vm } from "../core/vm";
import { JsonArray, JsonObject, jsonString } from "./jsontext";
import { stateOf } from "./vmviews";

export const ROOT = "/redfish/v1/";
export const SYSTEMS = "/redfish/v1/Systems";
export const SESSION_SERVICE = "/redfish/v1/SessionService";
export const SESSIONS = SESSION_SERVICE + "/Sessions";
// The version of DSP0266 whose requirements the service meets.
const REDFISH_VERSION = "1.6.0";
// Base message registry (DSP8011) names of the messages in error bodies.
const BASE_REGISTRY = "Base.1.8.";
// What ComputerSystem.Reset offers, and the one boot source override (a
// VM boots the kernel its configuration names, and nothing else).
export const RESET_TYPES: string[] = ["On", "ForceOff", "GracefulShutdown", "ForceRestart"];
export const BOOT_TARGETS: string[] = ["None"];
export const BOOT_ENABLED: string[] = ["Disabled"];

function link(id: string): string {
  return new JsonObject().str("@odata.id", id).toString();
}

function strings(values: string[]): string {
  const list = new JsonArray();
  for (let i = 0; i < values.length; i++) list.add(jsonString(values[i]));
  return list.toString();
}

// A resource's opening members: where and what it is, and its names.
function resource(id: string, type: string, name: string, key: string): JsonObject {
  return new JsonObject().str("@odata.id", id).str("@odata.type", type).str("Id", key).str("Name", name);
}

// A collection of the resources at `members` (DSP0266 "Resource collections").
function collection(id: string, type: string, name: string, members: string[]): string {
  const list = new JsonArray();
  for (let i = 0; i < members.length; i++) list.add(link(members[i]));
  return new JsonObject()
    .str("@odata.id", id)
    .str("@odata.type", type)
    .str("Name", name)
    .num("Members@odata.count", members.length)
    .raw("Members", list.toString())
    .toString();
}

// GET /redfish: the protocol versions and their roots (DSP0266 "Service root request").
export function versions(): string {
  return new JsonObject().str("v1", ROOT).toString();
}

// GET /redfish/v1/: where everything else is found; Links.Sessions is
// where a client logs in (DSP0266 "Redfish session login authentication").
export function serviceRoot(): string {
  return resource(ROOT, "#ServiceRoot.v1_5_0.ServiceRoot", "Typervisor Redfish service", "RootService")
    .str("RedfishVersion", REDFISH_VERSION)
    .str("Product", "Typervisor")
    .raw("Systems", link(SYSTEMS))
    .raw("SessionService", link(SESSION_SERVICE))
    .raw("Links", new JsonObject().raw("Sessions", link(SESSIONS)).toString())
    .toString();
}

// GET /redfish/v1/odata: the OData service document (DSP0266 "OData
// service document"), the service root's top-level resources.
export function odataDocument(): string {
  const names: string[] = ["Service", "Systems", "SessionService"];
  const urls: string[] = [ROOT, SYSTEMS, SESSION_SERVICE];
  const value = new JsonArray();
  for (let i = 0; i < names.length; i++) {
    const kind = i == 0 ? "Singleton" : "EntitySet";
    value.add(new JsonObject().str("name", names[i]).str("kind", kind).str("url", urls[i]).toString());
  }
  return new JsonObject().str("@odata.context", "/redfish/v1/$metadata").raw("value", value.toString()).toString();
}

export function systemPath(vm: Vm): string {
  return SYSTEMS + "/" + vm.name;
}

export function systemsCollection(vms: Vm[]): string {
  const members: string[] = [];
  for (let i = 0; i < vms.length; i++) members.push(systemPath(vms[i]));
  return collection(SYSTEMS, "#ComputerSystemCollection.ComputerSystemCollection", "Computer systems", members);
}

// Bytes as GiB with up to four decimals, as MemorySummary gives them.
export function gibibytes(bytes: u64): string {
  const tenThousandths = bytes * 10_000 >> 30;
  let fraction = (tenThousandths % 10_000 + 10_000).toString().slice(1);
  while (fraction.endsWith("0")) fraction = fraction.slice(0, -1);
  return (tenThousandths / 10_000).toString() + (fraction.length > 0 ? "." + fraction : "");
}

// A VM as a ComputerSystem (DSP8010 ComputerSystem v1.13): a paused VM is
// on but quiesced, a stopped one off and waiting to be powered on.
export function computerSystem(vm: Vm): string {
  const state = stateOf(vm);
  const status = new JsonObject()
    .str("State", state == "running" ? "Enabled" : state == "paused" ? "Quiesced" : "StandbyOffline")
    .str("Health", vm.faulted ? "Critical" : "OK");
  const boot = new JsonObject()
    .str("BootSourceOverrideTarget", BOOT_TARGETS[0])
    .raw("BootSourceOverrideTarget@Redfish.AllowableValues", strings(BOOT_TARGETS))
    .str("BootSourceOverrideEnabled", BOOT_ENABLED[0])
    .raw("BootSourceOverrideEnabled@Redfish.AllowableValues", strings(BOOT_ENABLED));
  const reset = new JsonObject()
    .str("target", systemPath(vm) + "/Actions/ComputerSystem.Reset")
    .raw("ResetType@Redfish.AllowableValues", strings(RESET_TYPES));
  return resource(systemPath(vm), "#ComputerSystem.v1_13_0.ComputerSystem", vm.name, vm.name)
    .str("SystemType", "Virtual")
    .str("Manufacturer", "Typervisor")
    .str("PowerState", vm.running ? "On" : "Off")
    .raw("Status", status.toString())
    .raw("ProcessorSummary", new JsonObject().num("Count", vm.vcpus.length).toString())
    .raw("MemorySummary", new JsonObject().raw("TotalSystemMemoryGiB", gibibytes(vm.memory.size)).toString())
    .raw("Boot", boot.toString())
    .raw("Actions", new JsonObject().raw("#ComputerSystem.Reset", reset.toString()).toString())
    .toString();
}

export function sessionService(): string {
  return resource(SESSION_SERVICE, "#SessionService.v1_1_8.SessionService", "Session service", "SessionService")
    .bool("ServiceEnabled", true)
    .raw("Sessions", link(SESSIONS))
    .toString();
}

export function sessionPath(id: string): string {
  return SESSIONS + "/" + id;
}

export function sessionsCollection(ids: string[]): string {
  const members: string[] = [];
  for (let i = 0; i < ids.length; i++) members.push(sessionPath(ids[i]));
  return collection(SESSIONS, "#SessionCollection.SessionCollection", "Sessions", members);
}

export function session(id: string, user: string): string {
  return resource(sessionPath(id), "#Session.v1_0_0.Session", "User session " + id, id).str("UserName", user)
    .toString();
}

// Redfish's error body (DSP0266 "Error responses"): the message `id` of the Base
// registry, in `code` and in the one extended message.
export function redfishError(id: string, message: string, resolution: string): string {
  const extended = new JsonObject()
    .str("@odata.type", "#Message.v1_1_1.Message")
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
