// Redfish for fleet managers (vmm/api/redfish.ts, redfishviews.ts) in the
// unit harness (as/api.ts): three VMs of fake vCPUs behind a Dispatcher and
// its RedfishService. The service root is public and every other resource
// needs the password (the API token, Basic) or a session's token; the VMs
// are ComputerSystems with their annotations, power state and summaries;
// Reset and the boot override do what docs/redfish.md says and refuse the
// rest with Redfish's error body; sessions come and go, a handful at most.
// The system test (test/system/redfish.test.ts) drives it with sushy.
import { beforeEach, describe, expect, it } from "vitest";
import { loadRedfish, messageOf, type RedfishClient, TOKEN } from "./redfishclient";

let client: RedfishClient;
let e: RedfishClient["e"];
beforeEach(async () => {
  client = await loadRedfish();
  e = client.e;
});

const redfish: RedfishClient["redfish"] = (...args) => client.redfish(...args);
const str = (ptr: number) => client.str(ptr);
const s = (text: string) => client.s(text);

describe("the service root and authentication", () => {
  it("serves the version object, the root and the OData document to anyone, with OData-Version on every answer", () => {
    expect(redfish("redfish.versions", "", "", "").body).toEqual({ v1: "/redfish/v1/" });
    expect(redfish("redfish.odata", "", "", "").body).toMatchObject({
      "@odata.context": "/redfish/v1/$metadata",
      value: [
        { name: "Service", kind: "Singleton", url: "/redfish/v1/" },
        { name: "Systems", kind: "EntitySet", url: "/redfish/v1/Systems" },
        { name: "Managers", kind: "EntitySet", url: "/redfish/v1/Managers" },
        { name: "Chassis", kind: "EntitySet", url: "/redfish/v1/Chassis" },
        { name: "SessionService", kind: "Singleton", url: "/redfish/v1/SessionService" },
      ],
    });
    const root = redfish("redfish.root", "", "", "");
    expect(root.status).toBe(200);
    expect(root.fields["odata-version"]).toBe("4.0");
    expect(root.body).toMatchObject({
      "@odata.id": "/redfish/v1/",
      "@odata.type": "#ServiceRoot.v1_5_0.ServiceRoot",
      Id: "RootService",
      RedfishVersion: "1.6.0",
      Systems: { "@odata.id": "/redfish/v1/Systems" },
      Managers: { "@odata.id": "/redfish/v1/Managers" },
      Chassis: { "@odata.id": "/redfish/v1/Chassis" },
      SessionService: { "@odata.id": "/redfish/v1/SessionService" },
      Links: { Sessions: { "@odata.id": "/redfish/v1/SessionService/Sessions" } },
    });
  });

  it("asks for Basic credentials without one, a wrong one, or malformed base64", () => {
    const wrong = "Basic " + Buffer.from("admin:nope").toString("base64");
    for (const credential of ["", wrong, "Basic !!!", "Basic " + Buffer.from(TOKEN).toString("base64"), "Session x"]) {
      const reply = redfish("redfish.systems", "", "", credential);
      expect(reply.status, credential).toBe(401);
      expect(reply.fields["www-authenticate"]).toBe("Basic realm=\"Typervisor\"");
      expect(messageOf(reply)).toBe("NoValidSession");
    }
  });

  it("takes the token as the password under any user name, and as a bearer token", () => {
    expect(redfish("redfish.systems").status).toBe(200);
    const other = "Basic " + Buffer.from(`ironic:${TOKEN}`).toString("base64");
    expect(redfish("redfish.systems", "", "", other).status).toBe(200);
    expect(redfish("redfish.systems", "", "", TOKEN).status).toBe(200);
  });

  it("decodes base64 with and without padding, and nothing else", () => {
    expect(str(e.base64(s("YWRtaW46dG9r")))).toBe("admin:tok");
    expect(str(e.base64(s("YQ==")))).toBe("a");
    expect(str(e.base64(s("YWI")))).toBe("ab");
    expect(str(e.base64(s("a b")))).toBe("(not base64)");
  });

  it("routes lwIP's records of /redfish paths here, with the fields ahead of the body", () => {
    const answer = str(e.http(s(`\x01redfish.root\n\n\n`)));
    expect(answer).toMatch(/^1 200 OData-Version: 4\.0\r\n\r\n\{"@odata\.id":"\/redfish\/v1\/"/);
  });
});

describe("sessions", () => {
  const logIn = (body: object) => redfish("redfish.session.create", "", JSON.stringify(body), "");

  it("are made with the password, found by their token, listed, and ended by DELETE", () => {
    const made = logIn({ UserName: "ironic", Password: TOKEN });
    expect(made.status).toBe(201);
    const token = made.fields["x-auth-token"];
    // The fake generator counts 1, 2, 3...: 16 bytes of it in hex.
    expect(token).toBe("0102030405060708090a0b0c0d0e0f10");
    expect(made.fields["location"]).toBe("/redfish/v1/SessionService/Sessions/1");
    expect(made.body).toMatchObject({ "@odata.type": "#Session.v1_0_0.Session", Id: "1", UserName: "ironic" });
    expect(redfish("redfish.systems", "", "", "Session " + token).status).toBe(200);
    expect(redfish("redfish.sessions").body).toMatchObject({
      "Members@odata.count": 1,
      Members: [{ "@odata.id": "/redfish/v1/SessionService/Sessions/1" }],
    });
    expect(redfish("redfish.session", "1").body.UserName).toBe("ironic");
    expect(redfish("redfish.session.delete", "1").status).toBe(204);
    expect(redfish("redfish.systems", "", "", "Session " + token).status).toBe(401);
    expect(messageOf(redfish("redfish.session", "1"))).toBe("ResourceMissingAtURI");
  });

  it("refuse a wrong password, a missing field, and a CPU without random numbers", () => {
    expect(logIn({ UserName: "ironic", Password: "nope" }).status).toBe(401);
    expect(messageOf(logIn({ UserName: "ironic" }))).toBe("ActionParameterMissing");
    expect(logIn({ UserName: "ironic", Password: 7 }).status).toBe(400);
    e.setRandomless(1);
    expect(logIn({ UserName: "ironic", Password: TOKEN }).status).toBe(503);
  });

  it("number at most eight: the oldest gives way", () => {
    const tokens = Array.from({ length: 9 }, () => logIn({ UserName: "u", Password: TOKEN }).fields["x-auth-token"]);
    expect(redfish("redfish.sessions").body["Members@odata.count"]).toBe(8);
    expect(redfish("redfish.systems", "", "", "Session " + tokens[0]).status).toBe(401);
    expect(redfish("redfish.systems", "", "", "Session " + tokens[8]).status).toBe(200);
  });
});

describe("the VMs as ComputerSystems", () => {
  it("are listed and described with power state, status, summaries, boot and the Reset action", () => {
    expect(redfish("redfish.systems").body).toEqual({
      "@odata.id": "/redfish/v1/Systems",
      "@odata.type": "#ComputerSystemCollection.ComputerSystemCollection",
      Name: "Computer systems",
      "Members@odata.count": 3,
      Members: ["alpha", "beta", "gamma"].map((n) => ({ "@odata.id": `/redfish/v1/Systems/${n}` })),
    });
    e.crash(1);
    const beta = redfish("redfish.system", "beta").body;
    expect(beta).toMatchObject({
      "@odata.id": "/redfish/v1/Systems/beta",
      "@odata.type": "#ComputerSystem.v1_13_0.ComputerSystem",
      Id: "beta",
      Name: "beta",
      SystemType: "Virtual",
      PowerState: "Off",
      Status: { State: "StandbyOffline", Health: "Critical" },
      ProcessorSummary: { Count: 2 },
      Processors: { "@odata.id": "/redfish/v1/Systems/beta/Processors" },
      Memory: { "@odata.id": "/redfish/v1/Systems/beta/Memory" },
      Links: {
        Chassis: [{ "@odata.id": "/redfish/v1/Chassis/host" }],
        ManagedBy: [{ "@odata.id": "/redfish/v1/Managers/hypervisor" }],
      },
      Boot: {
        BootSourceOverrideTarget: "None",
        "BootSourceOverrideTarget@Redfish.AllowableValues": ["None"],
        BootSourceOverrideEnabled: "Disabled",
      },
      Actions: {
        "#ComputerSystem.Reset": {
          target: "/redfish/v1/Systems/beta/Actions/ComputerSystem.Reset",
          "ResetType@Redfish.AllowableValues": ["On", "ForceOff", "GracefulShutdown", "ForceRestart"],
        },
      },
    });
    const alpha = redfish("redfish.system", "alpha").body;
    expect(alpha).toMatchObject({ PowerState: "On", Status: { State: "Enabled", Health: "OK" } });
    // alpha's RAM is 1 MiB (as/api.ts): four decimals, rounded down.
    expect(alpha.MemorySummary.TotalSystemMemoryGiB).toBe(0.0009);
    expect(messageOf(redfish("redfish.system", "delta"))).toBe("ResourceMissingAtURI");
  });

  it("take the boot override they can honour, and refuse others with the list", () => {
    const patch = (body: object) => redfish("redfish.system.patch", "alpha", JSON.stringify(body));
    expect(patch({ Boot: { BootSourceOverrideTarget: "None", BootSourceOverrideEnabled: "Disabled" } }).status)
      .toBe(200);
    const pxe = patch({ Boot: { BootSourceOverrideTarget: "Pxe" } });
    expect(pxe.status).toBe(400);
    expect(messageOf(pxe)).toBe("PropertyValueNotInList");
    expect(pxe.body.error["@Message.ExtendedInfo"][0].Resolution).toBe("Choose one of None.");
    expect(messageOf(patch({ Boot: { BootSourceOverrideEnabled: "Once" } }))).toBe("PropertyValueNotInList");
    expect(messageOf(patch({ Boot: { BootSourceOverrideMode: "UEFI" } }))).toBe("PropertyNotWritable");
    expect(messageOf(patch({ AssetTag: "x" }))).toBe("PropertyNotWritable");
    expect(messageOf(redfish("redfish.system.patch", "alpha", "{"))).toBe("MalformedJSON");
  });

  it("boot an alternate source the override names: once, or every time, until None", () => {
    const patch = (boot: object) => redfish("redfish.system.patch", "alpha", JSON.stringify({ Boot: boot }));
    const restart = () =>
      expect(redfish("redfish.system.reset", "alpha", JSON.stringify({ ResetType: "ForceRestart" })).status).toBe(204);
    const booted = () => str(e.imageBooted(0));
    e.giveImage(0);
    expect(redfish("redfish.system", "alpha").body.Boot).toEqual({
      BootSourceOverrideTarget: "None",
      "BootSourceOverrideTarget@Redfish.AllowableValues": ["None", "Recovery", "Cd"],
      BootSourceOverrideEnabled: "Disabled",
      "BootSourceOverrideEnabled@Redfish.AllowableValues": ["Disabled", "Once", "Continuous"],
    });
    // A target alone is for the next boot: Once, spent by that boot.
    expect(patch({ BootSourceOverrideTarget: "Recovery" }).body.Boot).toMatchObject({
      BootSourceOverrideTarget: "Recovery",
      BootSourceOverrideEnabled: "Once",
    });
    restart();
    expect(booted()).toBe("Recovery");
    expect(redfish("redfish.system", "alpha").body.Boot.BootSourceOverrideEnabled).toBe("Disabled");
    restart();
    expect(booted()).toBe("None");
    // Continuous holds for every boot, until the override is None.
    expect(patch({ BootSourceOverrideTarget: "Cd", BootSourceOverrideEnabled: "Continuous" }).status).toBe(200);
    restart();
    restart();
    expect(booted()).toBe("Cd");
    expect(patch({ BootSourceOverrideTarget: "None" }).body.Boot.BootSourceOverrideEnabled).toBe("Disabled");
    restart();
    expect(booted()).toBe("None");
    // Refused whole: a mode for no target, a target the VM lacks.
    const conflict = patch({ BootSourceOverrideTarget: "None", BootSourceOverrideEnabled: "Once" });
    expect(conflict.status).toBe(400);
    expect(messageOf(conflict)).toBe("PropertyValueConflict");
    const pxe = patch({ BootSourceOverrideEnabled: "Once", BootSourceOverrideTarget: "Pxe" });
    expect(pxe.body.error["@Message.ExtendedInfo"][0].Resolution).toBe("Choose one of None, Recovery, Cd.");
    expect(redfish("redfish.system", "alpha").body.Boot.BootSourceOverrideEnabled).toBe("Disabled");
    expect(e.imageLoads(0)).toBe(5);
  });

  it("are reset as the management API's methods do it; a state they are in already is no change", () => {
    const resetTo = (type: unknown, vm = "alpha") =>
      redfish("redfish.system.reset", vm, JSON.stringify({ ResetType: type }));
    e.addPowerButton(0);
    expect(resetTo("GracefulShutdown").status).toBe(204);
    expect(e.powerButtonPresses(0)).toBe(1);
    expect(e.running(0)).toBe(1); // the guest decides
    expect(resetTo("On").status).toBe(204); // on already
    expect(resetTo("ForceOff").status).toBe(204);
    expect(e.running(0)).toBe(0);
    expect(resetTo("ForceOff").status).toBe(204); // off already
    expect(resetTo("GracefulShutdown").status).toBe(204);
    expect(e.powerButtonPresses(0)).toBe(1);
    // No image to power on from (a flat binary): the API's 409, as Redfish's error.
    const refused = resetTo("On");
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain("no kernel image");
    e.giveImage(0);
    expect(resetTo("On").status).toBe(204);
    expect(e.running(0)).toBe(1);
    expect(e.imageLoads(0)).toBe(1);
    expect(resetTo("ForceRestart").status).toBe(204);
    expect(e.imageLoads(0)).toBe(2);
    expect(resetTo("ForceRestart", "gamma").status).toBe(409); // no image to restart from
    expect(resetTo("ForceOff", "gamma").status).toBe(204);
    expect(resetTo("ForceRestart", "gamma").body.error.message).toContain("has stopped");

    expect(resetTo("GracefulShutdown", "beta").status).toBe(409); // no power button
    expect(messageOf(resetTo("PushPowerButton"))).toBe("ActionParameterValueNotInList");
    expect(messageOf(resetTo(undefined))).toBe("ActionParameterValueNotInList");
  });
});
