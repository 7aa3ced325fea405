// The Redfish resources the hypervisor serves (docs/redfish.md), as JSON
// text: the service root, the VMs as ComputerSystems, the sessions, and
// Redfish's error body. Each resource carries the annotations DSP0266
// requires of it ("Common annotations"), @odata.id and @odata.type, the
// latter naming the DSP8010 schema version whose properties it uses;
// @odata.context is optional and left out, but for the OData service
// document, which is made of it. Nothing here changes a VM; redfish.ts
// decides what is asked.

import { Vm } from "../core/vm";
import { JsonArray, JsonObject, jsonString } from "./jsontext";
import { stateOf } from "./vmviews";

export const SYSTEMS = "/redfish/v1/Systems";
export const SESSIONS = "/redfish/v1/SessionService/Sessions";
// Base message registry (DSP8011) names of the messages in error bodies.
const BASE_REGISTRY = "Base.1.8.";
// What ComputerSystem.Reset offers, and the one boot source override (a
// VM boots the kernel its configuration names, and nothing else).
export const RESET_TYPES: string[] = ["On", "ForceOff", "GracefulShutdown", "ForceRestart"];
export const BOOT_TARGETS: string[] = ["None"];
export const BOOT_ENABLED: string[] = ["Disabled"];
// A VM's Boot: the override it has, always those.
const BOOT = `{"BootSourceOverrideTarget":"None","BootSourceOverrideTarget@Redfish.AllowableValues":["None"],`
  + `"BootSourceOverrideEnabled":"Disabled","BootSourceOverrideEnabled@Redfish.AllowableValues":["Disabled"]}`;

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

// The resources that never change are written out whole.

// GET /redfish: the protocol versions and their roots (DSP0266 "Service root request").
export const VERSIONS = `{"v1":"/redfish/v1/"}`;

// GET /redfish/v1/: where everything else is found; Links.Sessions is
// where a client logs in (DSP0266 "Redfish session login authentication").
export const SERVICE_ROOT = `{"@odata.id":"/redfish/v1/","@odata.type":"#ServiceRoot.v1_5_0.ServiceRoot",`
  + `"Id":"RootService","Name":"Typervisor Redfish service","RedfishVersion":"1.6.0","Product":"Typervisor",`
  + `"Systems":{"@odata.id":"/redfish/v1/Systems"},"SessionService":{"@odata.id":"/redfish/v1/SessionService"},`
  + `"Links":{"Sessions":{"@odata.id":"/redfish/v1/SessionService/Sessions"}}}`;

// GET /redfish/v1/odata: the OData service document (DSP0266 "OData
// service document"), the service root's top-level resources.
export const ODATA_DOCUMENT = `{"@odata.context":"/redfish/v1/$metadata","value":[`
  + `{"name":"Service","kind":"Singleton","url":"/redfish/v1/"},`
  + `{"name":"Systems","kind":"EntitySet","url":"/redfish/v1/Systems"},`
  + `{"name":"SessionService","kind":"Singleton","url":"/redfish/v1/SessionService"}]}`;

export const SESSION_SERVICE_RESOURCE = `{"@odata.id":"/redfish/v1/SessionService",`
  + `"@odata.type":"#SessionService.v1_1_8.SessionService","Id":"SessionService","Name":"Session service",`
  + `"ServiceEnabled":true,"Sessions":{"@odata.id":"/redfish/v1/SessionService/Sessions"}}`;

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
  const state = stateOf(vm), path = systemPath(vm);
  const status = new JsonObject()
    .str("State", state == "running" ? "Enabled" : state == "paused" ? "Quiesced" : "StandbyOffline")
    .str("Health", vm.faulted ? "Critical" : "OK");
  const reset = `{"#ComputerSystem.Reset":{"target":"` + path + `/Actions/ComputerSystem.Reset",`
    + `"ResetType@Redfish.AllowableValues":` + strings(RESET_TYPES) + "}}";
  return resource(path, "#ComputerSystem.v1_13_0.ComputerSystem", vm.name, vm.name)
    .str("SystemType", "Virtual")
    .str("Manufacturer", "Typervisor")
    .str("PowerState", vm.running ? "On" : "Off")
    .raw("Status", status.toString())
    .raw("ProcessorSummary", `{"Count":` + vm.vcpus.length.toString() + "}")
    .raw("MemorySummary", `{"TotalSystemMemoryGiB":` + gibibytes(vm.memory.size) + "}")
    .raw("Boot", BOOT)
    .raw("Actions", reset)
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
