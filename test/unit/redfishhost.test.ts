// The Redfish resources around the VMs (vmm/api/redfishhost.ts,
// redfishviews.ts, redfishschemas.ts) in the unit harness: the metadata
// document, public, naming the DMTF schema and namespace of every type
// the service writes; the hypervisor as the Manager of every VM and the
// host as their Chassis, linked both ways; each VM's vCPUs as Processors
// and its RAM as Memory; and Redfish's 404 for whatever is not there and
// 405 for a method a path does not take.
import { beforeEach, describe, expect, it } from "vitest";
import { loadRedfish, messageOf, type RedfishClient, type Reply, TOKEN } from "./redfishclient";

let client: RedfishClient;
beforeEach(async () => {
  client = await loadRedfish();
});

const redfish: RedfishClient["redfish"] = (...args) => client.redfish(...args);
const SYSTEMS = ["alpha", "beta", "gamma"].map((n) => ({ "@odata.id": `/redfish/v1/Systems/${n}` }));
const MANAGER = { "@odata.id": "/redfish/v1/Managers/hypervisor" };
const CHASSIS = { "@odata.id": "/redfish/v1/Chassis/host" };
const UP = { State: "Enabled", Health: "OK" };

// The 404 of a resource that is not there, naming its path.
function expectMissing(reply: Reply, path: string): void {
  expect(reply.status, path).toBe(404);
  expect(messageOf(reply)).toBe("ResourceMissingAtURI");
  expect(reply.body.error.message).toBe(`The resource at ${path} was not found.`);
}

// The metadata document's references: each schema file's name and the namespaces it includes.
function referencesOf(xml: string): Map<string, string[]> {
  const references = new Map<string, string[]>();
  for (const [, uri, body] of xml.matchAll(/<edmx:Reference Uri="([^"]*)">(.*?)<\/edmx:Reference>/g)) {
    references.set(uri, [...body.matchAll(/<edmx:Include Namespace="([^"]*)"/g)].map((m) => m[1]));
  }
  return references;
}

describe("the metadata document", () => {
  it("is public XML that references the schema and namespaces of every type the service writes", () => {
    const reply = redfish("redfish.metadata", "", "", "");
    expect(reply.status).toBe(200);
    expect(reply.fields["odata-version"]).toBe("4.0");
    const xml = reply.text;
    expect(xml).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?><edmx:Edmx [^>]*Version="4\.0">/);
    // Well formed as far as nesting goes: every element closed, in order.
    const open: string[] = [];
    for (const [, closing, name, empty] of xml.replace(/^<\?xml[^>]*\?>/, "").matchAll(/<(\/?)([\w:]+)[^>]*?(\/?)>/g)) {
      if (closing) expect(open.pop()).toBe(name);
      else if (!empty) open.push(name);
    }
    expect(open).toEqual([]);

    client.e.crash(1);
    const made = redfish("redfish.session.create", "", JSON.stringify({ UserName: "u", Password: TOKEN }), "");
    const answers = [
      ["redfish.root"],
      ["redfish.systems"],
      ["redfish.system", "alpha"],
      ["redfish.processors", "alpha"],
      ["redfish.processor", "alpha/Processors/0"],
      ["redfish.memorycollection", "alpha"],
      ["redfish.memory", "alpha/Memory/ram"],
      ["redfish.managers"],
      ["redfish.manager", "hypervisor"],
      ["redfish.chassiscollection"],
      ["redfish.chassis", "host"],
      ["redfish.sessionservice"],
      ["redfish.sessions"],
      ["redfish.session", made.body.Id],
    ].map(([method, name]) => redfish(method, name).body);
    const types = answers.map((body) => body["@odata.type"]);
    types.push(redfish("redfish.missing", "/redfish/v1/x").body.error["@Message.ExtendedInfo"][0]["@odata.type"]);
    const references = referencesOf(xml);
    for (const type of types) {
      // "#ComputerSystem.v1_13_0.ComputerSystem", or "#ComputerSystemCollection.ComputerSystemCollection".
      const [, namespace, name] = type.match(/^#((\w+)(?:\.v\d+_\d+_\d+)?)\.\2$/)!;
      const included = references.get(`http://redfish.dmtf.org/schemas/v1/${name}_v1.xml`);
      expect(included, type).toEqual(namespace === name ? [name] : [name, namespace]);
    }
    expect(references.size).toBe(types.length + 1);
    expect(references.get("http://redfish.dmtf.org/schemas/v1/RedfishExtensions_v1.xml")).toEqual([
      "RedfishExtensions.v1_0_0",
    ]);
    expect(xml).toContain(`<edmx:Include Namespace="RedfishExtensions.v1_0_0" Alias="Redfish"/>`);
    // The service's entity container is the service root's, as the root's version has it.
    const root = answers[0]["@odata.type"].slice(1, -".ServiceRoot".length);
    expect(xml).toContain(`<EntityContainer Name="Service" Extends="${root}.ServiceContainer"/>`);
  });
});

describe("the hypervisor as the Manager and the host as the Chassis", () => {
  it("are one of each, linked with every VM both ways", () => {
    expect(redfish("redfish.managers").body).toEqual({
      "@odata.id": "/redfish/v1/Managers",
      "@odata.type": "#ManagerCollection.ManagerCollection",
      Name: "Managers",
      "Members@odata.count": 1,
      Members: [MANAGER],
    });
    expect(redfish("redfish.manager", "hypervisor").body).toEqual({
      ...MANAGER,
      "@odata.type": "#Manager.v1_4_0.Manager",
      Id: "hypervisor",
      Name: "Typervisor",
      ManagerType: "Service",
      Model: "Typervisor",
      // host.get's version (as/api.ts's host facts).
      FirmwareVersion: "9.8.7",
      PowerState: "On",
      Status: UP,
      Links: { ManagerForServers: SYSTEMS, ManagerForChassis: [CHASSIS], ManagerInChassis: CHASSIS },
    });
    expect(redfish("redfish.chassiscollection").body).toEqual({
      "@odata.id": "/redfish/v1/Chassis",
      "@odata.type": "#ChassisCollection.ChassisCollection",
      Name: "Chassis",
      "Members@odata.count": 1,
      Members: [CHASSIS],
    });
    expect(redfish("redfish.chassis", "host").body).toEqual({
      ...CHASSIS,
      "@odata.type": "#Chassis.v1_0_0.Chassis",
      Id: "host",
      Name: "Typervisor host",
      ChassisType: "Zone",
      Status: UP,
      Links: { ComputerSystems: SYSTEMS, ManagedBy: [MANAGER] },
    });
    for (const vm of ["alpha", "gamma"]) {
      expect(redfish("redfish.system", vm).body.Links).toEqual({ Chassis: [CHASSIS], ManagedBy: [MANAGER] });
    }
  });

  it("have no others, and they and the VMs' parts need a credential", () => {
    expectMissing(redfish("redfish.manager", "bmc"), "/redfish/v1/Managers/bmc");
    expectMissing(redfish("redfish.chassis", "rack"), "/redfish/v1/Chassis/rack");
    const guarded = [
      ["redfish.managers", ""],
      ["redfish.manager", "hypervisor"],
      ["redfish.chassiscollection", ""],
      ["redfish.chassis", "host"],
      ["redfish.processors", "alpha"],
      ["redfish.processor", "alpha/Processors/0"],
      ["redfish.memorycollection", "alpha"],
      ["redfish.memory", "alpha/Memory/ram"],
    ];
    for (const [method, name] of guarded) {
      const refused = redfish(method, name, "", "");
      expect(refused.status, method).toBe(401);
      expect(messageOf(refused)).toBe("NoValidSession");
    }
  });
});

describe("a VM's processors and memory", () => {
  it("are its vCPUs, each with the host CPU it lives on and that CPU's model, and its RAM", () => {
    expect(redfish("redfish.processors", "alpha").body).toEqual({
      "@odata.id": "/redfish/v1/Systems/alpha/Processors",
      "@odata.type": "#ProcessorCollection.ProcessorCollection",
      Name: "alpha's processors",
      "Members@odata.count": 2,
      Members: [0, 1].map((i) => ({ "@odata.id": `/redfish/v1/Systems/alpha/Processors/${i}` })),
    });
    client.e.setHomeCpu(0, 1, 3);
    expect(redfish("redfish.processor", "alpha/Processors/1").body).toEqual({
      "@odata.id": "/redfish/v1/Systems/alpha/Processors/1",
      "@odata.type": "#Processor.v1_0_0.Processor",
      Id: "1",
      Name: "vCPU 1",
      ProcessorType: "CPU",
      ProcessorArchitecture: "x86",
      InstructionSet: "x86-64",
      // The host's brand string and vendor (as/api.ts's host facts), which the vCPU's CPUID gives.
      Model: "AMD EPYC 7763 64-Core Processor",
      ProcessorId: { VendorId: "AuthenticAMD" },
      TotalCores: 1,
      TotalThreads: 1,
      Status: UP,
      Oem: { Typervisor: { HomeCpu: 3 } },
    });
    expect(redfish("redfish.processor", "alpha/Processors/0").body.Oem.Typervisor.HomeCpu).toBe(0);
    // A host CPU without a brand string: no Model is made up.
    client.e.setBrandless(1);
    const brandless = redfish("redfish.processor", "alpha/Processors/0").body;
    expect(brandless).not.toHaveProperty("Model");
    expect(brandless.ProcessorId).toEqual({ VendorId: "AuthenticAMD" });
    expect(redfish("redfish.memorycollection", "beta").body).toEqual({
      "@odata.id": "/redfish/v1/Systems/beta/Memory",
      "@odata.type": "#MemoryCollection.MemoryCollection",
      Name: "beta's memory",
      "Members@odata.count": 1,
      Members: [{ "@odata.id": "/redfish/v1/Systems/beta/Memory/ram" }],
    });
    // Each fake VM has 1 MiB of RAM (as/api.ts).
    expect(redfish("redfish.memory", "beta/Memory/ram").body).toEqual({
      "@odata.id": "/redfish/v1/Systems/beta/Memory/ram",
      "@odata.type": "#Memory.v1_0_0.Memory",
      Id: "ram",
      Name: "RAM",
      MemoryType: "DRAM",
      CapacityMiB: 1,
      Status: UP,
    });
  });

  it("are off with their VM, but keep their health when it faulted", () => {
    client.e.crash(2);
    expect(redfish("redfish.system", "gamma").body.Status).toEqual({ State: "StandbyOffline", Health: "Critical" });
    const off = { State: "StandbyOffline", Health: "OK" };
    expect(redfish("redfish.processor", "gamma/Processors/0").body.Status).toEqual(off);
    expect(redfish("redfish.memory", "gamma/Memory/ram").body.Status).toEqual(off);
  });

  it("have no members but those, and none of a VM that is not there", () => {
    for (const member of ["2", "01", "-1", "+1", "x", ""]) {
      expectMissing(
        redfish("redfish.processor", `alpha/Processors/${member}`),
        `/redfish/v1/Systems/alpha/Processors/${member}`,
      );
    }
    expectMissing(redfish("redfish.memory", "alpha/Memory/rom"), "/redfish/v1/Systems/alpha/Memory/rom");
    expectMissing(redfish("redfish.processors", "delta"), "/redfish/v1/Systems/delta");
    expectMissing(redfish("redfish.processor", "delta/Processors/0"), "/redfish/v1/Systems/delta/Processors/0");
    expectMissing(redfish("redfish.memory", "delta/Memory/ram"), "/redfish/v1/Systems/delta/Memory/ram");
  });
});

describe("paths that are not there", () => {
  it("get Redfish's 404 with a credential, and its 401 without one", () => {
    expectMissing(redfish("redfish.missing", "/redfish/v1/AccountService"), "/redfish/v1/AccountService");
    const refused = redfish("redfish.missing", "/redfish/v1/AccountService", "", "");
    expect(refused.status).toBe(401);
    expect(messageOf(refused)).toBe("NoValidSession");
  });

  it("get Redfish's 405 for a method they do not take, with a credential or none", () => {
    // httpparse.c names the path whole; lwIP's instance adds the Allow.
    for (const path of ["/redfish/v1/", "/redfish/v1/Managers/hypervisor", "/redfish/v1/Systems/alpha/Processors/0"]) {
      for (const credential of [undefined, ""]) {
        const reply = redfish("redfish.notallowed", path, "", credential);
        expect(reply.status, path).toBe(405);
        expect(messageOf(reply)).toBe("GeneralError");
        expect(reply.body.error.message).toBe(`The resource at ${path} does not take the request's method.`);
      }
    }
  });
});
