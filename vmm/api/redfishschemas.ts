// The DMTF schemas (DSP8010) whose resources the Redfish service serves,
// each with the version whose properties it uses, and the service metadata
// document made from them (docs/redfish.md).
//
// Every @odata.type the service writes comes from this table, and so does
// GET /redfish/v1/$metadata: the OData CSDL document (OData 4.0 part 3) a
// client reads to learn which schemas and namespaces the service uses
// (DSP0266 "Service metadata"). It refers to DMTF's published schema
// files rather than serving copies: one edmx:Reference per schema file,
// an edmx:Include per namespace used, and an entity container that extends
// the service root's, which is where DSP0266 has a service's top-level
// resources found.

// Where DMTF publishes each schema's CSDL file (DSP0266 "Referencing other schemas").
const PUBLISHED = "http://redfish.dmtf.org/schemas/v1/";

// A schema: its name and the version used ("v1_13_0"), or "" for a
// collection's schema, which has no versions of its own.
export class Schema {
  constructor(readonly name: string, readonly version: string) {}

  // The namespace the resources' types live in: "ComputerSystem.v1_13_0".
  get namespace(): string {
    return this.version.length > 0 ? this.name + "." + this.version : this.name;
  }

  // @odata.type of its resources: "#ComputerSystem.v1_13_0.ComputerSystem".
  get type(): string {
    return "#" + this.namespace + "." + this.name;
  }
}

export const SERVICE_ROOT = new Schema("ServiceRoot", "v1_5_0");
export const SYSTEM_COLLECTION = new Schema("ComputerSystemCollection", "");
export const SYSTEM = new Schema("ComputerSystem", "v1_13_0");
export const PROCESSOR_COLLECTION = new Schema("ProcessorCollection", "");
export const PROCESSOR = new Schema("Processor", "v1_0_0");
export const MEMORY_COLLECTION = new Schema("MemoryCollection", "");
export const MEMORY = new Schema("Memory", "v1_0_0");
export const MANAGER_COLLECTION = new Schema("ManagerCollection", "");
// ManagerType "Service" came with v1.4.0.
export const MANAGER = new Schema("Manager", "v1_4_0");
export const CHASSIS_COLLECTION = new Schema("ChassisCollection", "");
export const CHASSIS = new Schema("Chassis", "v1_0_0");
export const SESSION_SERVICE = new Schema("SessionService", "v1_1_8");
export const SESSION_COLLECTION = new Schema("SessionCollection", "");
export const SESSION = new Schema("Session", "v1_0_0");
// The extended information in error bodies.
export const MESSAGE = new Schema("Message", "v1_1_1");

const SERVED: Schema[] = [
  SERVICE_ROOT,
  SYSTEM_COLLECTION,
  SYSTEM,
  PROCESSOR_COLLECTION,
  PROCESSOR,
  MEMORY_COLLECTION,
  MEMORY,
  MANAGER_COLLECTION,
  MANAGER,
  CHASSIS_COLLECTION,
  CHASSIS,
  SESSION_SERVICE,
  SESSION_COLLECTION,
  SESSION,
  MESSAGE,
];

function include(namespace: string, alias: string = ""): string {
  return `<edmx:Include Namespace="` + namespace + `"` + (alias.length > 0 ? ` Alias="` + alias + `"` : "") + "/>";
}

function reference(file: string, includes: string): string {
  return `<edmx:Reference Uri="` + PUBLISHED + file + `_v1.xml">` + includes + "</edmx:Reference>";
}

// GET /redfish/v1/$metadata's body. A versioned schema is included twice: its
// unversioned namespace holds the abstract type the versioned one derives
// from. RedfishExtensions, aliased Redfish, defines the
// @Redfish.AllowableValues annotations the systems carry.
export function metadataDocument(): string {
  let references = "";
  for (let i = 0; i < SERVED.length; i++) {
    const schema = SERVED[i];
    const versioned = schema.version.length > 0 ? include(schema.namespace) : "";
    references += reference(schema.name, include(schema.name) + versioned);
  }
  references += reference("RedfishExtensions", include("RedfishExtensions.v1_0_0", "Redfish"));
  return `<?xml version="1.0" encoding="UTF-8"?>`
    + `<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">` + references
    + `<edmx:DataServices><Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="Service">`
    + `<EntityContainer Name="Service" Extends="` + SERVICE_ROOT.namespace + `.ServiceContainer"/>`
    + "</Schema></edmx:DataServices></edmx:Edmx>";
}
