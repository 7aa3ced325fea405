// The hypervisor and its host as Redfish resources (docs/redfish.md): the
// one Manager, the hypervisor, which manages every VM as a BMC manages its
// server, and the one Chassis, the host the VMs live in; their
// collections. The VMs' ComputerSystems link back to both
// (redfishviews.ts). Written as JSON text, like the other resources.

import { Vm } from "../core/vm";
import { JsonObject } from "./jsontext";
import * as schemas from "./redfishschemas";
import {
  CHASSIS,
  CHASSIS_COLLECTION,
  CHASSIS_ID,
  collection,
  link,
  links,
  MANAGER,
  MANAGER_ID,
  MANAGERS,
  resource,
  systemPaths,
} from "./redfishviews";

// It answers, so it is on and well.
const UP = `{"State":"Enabled","Health":"OK"}`;

export function managersCollection(): string {
  return collection(MANAGERS, schemas.MANAGER_COLLECTION, "Managers", [MANAGER]);
}

// The hypervisor as a Manager (DSP8010 Manager v1.4): a "Service", a
// manager made of software, whose firmware is the hypervisor's build
// (host.get's version), managing every VM and located in the host.
export function manager(version: string, vms: Vm[]): string {
  const related = new JsonObject()
    .raw("ManagerForServers", links(systemPaths(vms)))
    .raw("ManagerForChassis", links([CHASSIS]))
    .raw("ManagerInChassis", link(CHASSIS));
  return resource(MANAGER, schemas.MANAGER, "Typervisor", MANAGER_ID)
    .str("ManagerType", "Service")
    .str("Model", "Typervisor")
    .str("FirmwareVersion", version)
    .str("PowerState", "On")
    .raw("Status", UP)
    .raw("Links", related.toString())
    .toString();
}

export function chassisCollection(): string {
  return collection(CHASSIS_COLLECTION, schemas.CHASSIS_COLLECTION, "Chassis", [CHASSIS]);
}

// The host as a Chassis (DSP8010 Chassis v1.0). Its ChassisType is Zone,
// DSP8010's type for a logical part of a physical chassis whose systems
// cannot be taken apart: the VMs share the machine. The hypervisor cannot
// see that machine's form (rack server, blade, tower), so claims none.
export function chassis(vms: Vm[]): string {
  const related = new JsonObject().raw("ComputerSystems", links(systemPaths(vms))).raw("ManagedBy", links([MANAGER]));
  return resource(CHASSIS, schemas.CHASSIS, "Typervisor host", CHASSIS_ID)
    .str("ChassisType", "Zone")
    .raw("Status", UP)
    .raw("Links", related.toString())
    .toString();
}
