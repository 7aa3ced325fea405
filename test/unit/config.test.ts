// The VM configuration file (vmm/setup/config/config.ts): a good file with two VMs, syntax
// errors reported by line and column (and then no VMs at all), bad fields
// reported by VM and field with the well-formed VMs still returned, and the
// file read from a boot module in physical memory.
import { beforeEach, describe, expect, it } from "vitest";
import { PhysMemory, load, type Exports } from "./harness";

let e: Exports<any>;
let phys: PhysMemory;
const str = (p: number) => e.__getString(p);

beforeEach(async () => {
  phys = new PhysMemory();
  e = (await load("config.ts", { phys })).exports;
  e.clearModules();
});

interface Vm {
  name: string;
  memory: number;
  cpus: number;
  kernel: string;
  initrd: string;
  cmdline: string;
  console: string;
}
function parse(text: string): { vms: Vm[]; errors: string[] } {
  e.parse(e.__newString(text));
  return result();
}
function result(): { vms: Vm[]; errors: string[] } {
  const vms: Vm[] = [], errors: string[] = [];
  for (let i = 0; i < e.vmCount(); i++) {
    vms.push({
      name: str(e.vmName(i)),
      memory: e.vmMemory(i),
      cpus: e.vmCpus(i),
      kernel: str(e.vmKernel(i)),
      initrd: str(e.vmInitrd(i)),
      cmdline: str(e.vmCmdline(i)),
      console: str(e.vmConsole(i)),
    });
  }
  for (let i = 0; i < e.errorCount(); i++) errors.push(str(e.error(i)));
  return { vms, errors };
}

const GOOD = `{
  "vms": [
    {
      "name": "linux0",
      "memory": 256,
      "cpus": 1,
      "kernel": "bzImage",
      "initrd": "initrd.img",
      "cmdline": "console=ttyS0 quiet",
      "console": "com1"
    },
    { "name": "mb-test.1", "memory": 16, "kernel": "kernel.elf", "console": "none" }
  ]
}
`;
const LINUX0: Vm = {
  name: "linux0",
  memory: 256,
  cpus: 1,
  kernel: "bzImage",
  initrd: "initrd.img",
  cmdline: "console=ttyS0 quiet",
  console: "com1",
};
const MBTEST: Vm = {
  name: "mb-test.1",
  memory: 16,
  cpus: 1,
  kernel: "kernel.elf",
  initrd: "",
  cmdline: "",
  console: "none",
};

describe("configuration", () => {
  it("reads a good file with two VMs, filling in defaults", () => {
    expect(parse(GOOD)).toEqual({ vms: [LINUX0, MBTEST], errors: [] });
  });

  it("checks kernel and initrd against the boot modules when given their names", () => {
    e.setModules(e.__newString("bzImage,initrd.img,kernel.elf"));
    expect(parse(GOOD).errors).toEqual([]);
    e.setModules(e.__newString("bzImage,kernel.elf"));
    expect(parse(GOOD)).toEqual({
      vms: [MBTEST],
      errors: ["vm 0 (linux0): initrd: no boot module named \"initrd.img\""],
    });
  });

  it("takes a kernel and initrd from host partitions, by name or GUID, with an optional size", () => {
    e.setModules(e.__newString("k"));
    const guid = "C0FFEE00-1234-4567-89AB-CDEF01234567";
    const vm = (name: string, kernel: string, initrd: string) =>
      `{"name": "${name}", "memory": 8, "kernel": ${kernel}, "initrd": ${initrd}}`;
    const good = `{"vms": [${vm("a", `{"partition": "vm-kernel"}`, `{"partition": "${guid}", "size": 4096}`)}, `
      + `${vm("b", `"k"`, `{"partition": "vm-initrd"}`)}, ${vm("c", `{"partition": "vm-kernel"}`, "null")}]}`;
    const r = parse(good);
    expect(r.errors).toEqual([]);
    expect(r.vms.map((v) => [v.name, v.kernel, v.initrd])).toEqual([["a", "", ""], ["b", "k", ""], ["c", "", ""]]);
    expect([0, 1, 2].map((i) => [str(e.vmKernelPartition(i)), str(e.vmInitrdPartition(i))])).toEqual([
      ["partition vm-kernel 0", `partition ${guid} 4096`],
      ["", "partition vm-initrd 0"],
      ["partition vm-kernel 0", ""],
    ]);
  });

  it("names the VM, the field and what is wrong in a bad kernel or initrd partition", () => {
    e.setModules(e.__newString("k"));
    const vm = (name: string, kernel: string, initrd: string) =>
      `{"name": "${name}", "memory": 8, "kernel": ${kernel}, "initrd": ${initrd}}`;
    const bad = [
      vm("a", "{}", `{"partition": "i", "size": 0}`),
      vm("b", `{"partition": 7}`, `{"partition": "${"p".repeat(37)}"}`),
      vm("c", `{"partition": "p", "module": "k"}`, `{"partition": "i", "size": 268435457}`),
      vm("d", "5", `{"size": 512}`),
      vm("e", `"nope"`, `[{"partition": "i"}]`),
    ];
    expect(parse(`{"vms": [${bad.join(", ")}]}`)).toEqual({
      vms: [],
      errors: [
        "vm 0 (a): kernel: partition: missing (a host disk's GPT partition, by name or GUID)",
        "vm 0 (a): initrd: size: expected a number of bytes from 1 to 268435456, got 0",
        "vm 1 (b): kernel: partition: expected a partition's name or GUID, got 7",
        `vm 1 (b): initrd: partition: expected a partition's name or GUID, got "${"p".repeat(37)}"`,
        "vm 2 (c): kernel: unknown field \"module\"",
        "vm 2 (c): initrd: size: expected a number of bytes from 1 to 268435456, got 268435457",
        "vm 3 (d): kernel: expected the name of a boot module or { \"partition\": NAME }, got 5",
        "vm 3 (d): initrd: partition: missing (a host disk's GPT partition, by name or GUID)",
        "vm 4 (e): kernel: no boot module named \"nope\"",
        "vm 4 (e): initrd: expected the name of a boot module or { \"partition\": NAME }, got a list",
      ],
    });
  });

  it("reports a syntax error by line and column and returns no VMs", () => {
    const text = GOOD.replace(`"cpus": 1,`, `"cpus": 1`); // line 6 lacks its comma
    expect(parse(text)).toEqual({ vms: [], errors: ["line 7, column 7: expected ',' or '}'"] });
    expect(parse(`{"vms": [\n  {"name": "a", "memory": 1, "kernel": "k"}\n  {"name": "b"}]}`).errors).toEqual([
      "line 3, column 3: expected ',' or ']'",
    ]);
  });

  it("explains the common syntax mistakes", () => {
    const err = (text: string) => parse(text).errors;
    expect(err(`{"vms": [\n  {"name": "linux0", "memory": lots}]}`)).toEqual([
      "line 2, column 32: expected a value, found 'lots' (strings need double quotes)",
    ]);
    expect(err(`{"vms": [\n  {"name": "a",}]}`)).toEqual([
      "line 2, column 16: expected a field name after ',' (no trailing commas in JSON)",
    ]);
    expect(err(`{"vms": [1, 2,]}`)).toEqual([
      "line 1, column 15: expected a value after ',' (no trailing commas in JSON)",
    ]);
    expect(err(`{\n  // my VMs\n  "vms": []}`)).toEqual(["line 2, column 3: comments are not allowed in JSON"]);
    expect(err(`{"vms": [\n  {"name": "linux0\n  }]}`)).toEqual(["line 2, column 12: unterminated string"]);
    expect(err(`{"vms" []}`)).toEqual(["line 1, column 8: expected ':' after the field name, found '['"]);
    expect(err(`{vms: []}`)).toEqual(["line 1, column 2: expected a field name in double quotes, found 'v'"]);
    expect(err(``)).toEqual(["line 1, column 1: expected a value, found end of file"]);
    expect(err(`{"vms": []} x`)).toEqual(["line 1, column 13: unexpected 'x' after the end of the JSON value"]);
    expect(err(`{"vms": [`)).toEqual(["line 1, column 10: expected a value, found end of file"]);
  });

  it("rejects nesting too deep for the parser without running out of stack", () => {
    expect(parse(`{"vms": ${"[".repeat(100000)}`).errors).toEqual(["line 1, column 72: nested more than 64 deep"]);
  });

  // A 400 KB file of 200,000 zeros once cost the parser 200 bytes of heap
  // per input byte and the validator one message per VM, until the
  // hypervisor trapped out of memory.
  it("rejects a file of too many values, or too many VMs, with one message", () => {
    const zeros = `{"vms": [${Array(200_000).fill("0").join(",")}]}`;
    expect(parse(zeros)).toEqual({
      vms: [],
      errors: ["line 1, column 20006: more than 10000 values: too large for a VM configuration"],
    });
    expect(e.unreportedCount()).toBe(0);
    const many = `{"vms": [${Array(300).fill("{}").join(",")}]}`;
    expect(parse(many)).toEqual({ vms: [], errors: ["vms: 300 entries; at most 256 VMs"] });
  });

  it("reports the first 20 problems, and how many more there were", () => {
    const bad = parse(`{"vms": [${Array(100).fill(`{"name": "x", "memory": "lots"}`).join(",")}]}`);
    expect(bad.vms).toEqual([]);
    expect(bad.errors.length).toBe(20);
    expect(bad.errors[0]).toMatch(/^vm 0 \(x\): /);
    expect(e.unreportedCount()).toBeGreaterThan(100);
  });

  it("reports bad fields by VM and field, and still returns the well-formed VMs", () => {
    const text = `{
  "vms": [
    { "name": "linux0", "memory": 256, "kernel": "bzImage" },
    { "name": "linux1", "memory": "lots", "kernel": "bzImage" },
    { "name": "linux2", "memory": 64, "kernel": "bzImage", "cpus": 0, "console": "ttyS0", "memroy": 5, "extra": null },
    { "name": "linux3", "memory": 32, "kernel": "bzImage", "initrd": null, "cmdline": "ro" }
  ]
}`;
    const r = parse(text);
    expect(r.errors).toEqual([
      "vm 1 (linux1): memory: expected a number of MiB from 1 to 65536, got \"lots\"",
      "vm 2 (linux2): unknown field \"memroy\" (line 5, column 91)",
      "vm 2 (linux2): unknown field \"extra\" (line 5, column 104)",
      "vm 2 (linux2): cpus: expected a number of CPUs from 1 to 64, got 0",
      "vm 2 (linux2): console: expected \"com1\", \"com2\" or \"none\", got \"ttyS0\"",
    ]);
    expect(r.vms.map((v) => v.name)).toEqual(["linux0", "linux3"]);
    expect(r.vms[1]).toEqual({
      name: "linux3",
      memory: 32,
      cpus: 1,
      kernel: "bzImage",
      initrd: "",
      cmdline: "ro",
      console: "com1",
    });
  });

  it("checks every field's type and range", () => {
    const vmErrors = (fields: string) => parse(`{"vms": [{${fields}}]}`).errors;
    const base = `"name": "v", "kernel": "k"`;
    expect(vmErrors(`${base}`)).toEqual(["vm 0 (v): memory: missing (a number of MiB from 1 to 65536)"]);
    expect(vmErrors(`${base}, "memory": 0`)).toEqual([
      "vm 0 (v): memory: expected a number of MiB from 1 to 65536, got 0",
    ]);
    expect(vmErrors(`${base}, "memory": 65537`)).toEqual([
      "vm 0 (v): memory: expected a number of MiB from 1 to 65536, got 65537",
    ]);
    expect(vmErrors(`${base}, "memory": 1.5`)).toEqual([
      "vm 0 (v): memory: expected a number of MiB from 1 to 65536, got 1.5",
    ]);
    expect(vmErrors(`${base}, "memory": 65536, "cpus": 64`)).toEqual([]);
    expect(vmErrors(`${base}, "memory": 2.56e2`)).toEqual([]);
    expect(vmErrors(`"kernel": "k", "memory": 1`)).toEqual(["vm 0: name: missing"]);
    expect(vmErrors(`"name": "a b", "kernel": "k", "memory": 1`)).toEqual([
      "vm 0: name: expected 1 to 32 letters, digits, '-', '_' or '.', got \"a b\"",
    ]);
    expect(vmErrors(`"name": ${JSON.stringify("x".repeat(50))}, "kernel": "k", "memory": 1`)[0]).toMatch(
      /^vm 0: name: expected 1 to 32 .* got "x{40}\.\.\."$/,
    );
    expect(vmErrors(`"name": 7, "kernel": "k", "memory": 1`)).toEqual([
      "vm 0: name: expected 1 to 32 letters, digits, '-', '_' or '.', got 7",
    ]);
    expect(vmErrors(`"name": "v", "memory": 1`)).toEqual(["vm 0 (v): kernel: missing (the name of a boot module)"]);
    expect(vmErrors(`${base}, "memory": 1, "initrd": ""`)).toEqual([
      "vm 0 (v): initrd: expected the name of a boot module, got \"\"",
    ]);
    expect(vmErrors(`${base}, "memory": 1, "cmdline": ["a"]`)).toEqual([
      "vm 0 (v): cmdline: expected a string, got a list",
    ]);
    expect(vmErrors(`${base}, "memory": 1, "cpus": true`)).toEqual([
      "vm 0 (v): cpus: expected a number of CPUs from 1 to 64, got true",
    ]);
    expect(vmErrors(`${base}, "memory": 1, "memory": 2`)).toEqual([
      "vm 0 (v): memory: given twice (line 1, column 52)",
    ]);
    expect(vmErrors(`${base}, "memory": 1, "on_reset": "reboot"`)).toEqual([
      "vm 0 (v): on_reset: expected \"restart\" or \"stop\", got \"reboot\"",
    ]);
  });

  it("restarts a VM its guest resets, unless on_reset says stop", () => {
    const vm = (name: string, extra = "") => `{"name": "${name}", "kernel": "k", "memory": 1${extra}}`;
    parse(`{"vms": [${vm("a")}, ${vm("b", `, "on_reset": "stop"`)}, ${vm("c", `, "on_reset": "restart"`)}]}`);
    expect([0, 1, 2].map((i) => e.vmRestartOnReset(i) !== 0)).toEqual([true, false, true]);
  });

  it("gives a VM alternate boot sources by Redfish's names, each with its own kernel, initrd and command line", () => {
    e.setModules(e.__newString("k,rescue,rescue.cpio"));
    const vm = (name: string, sources: string) =>
      `{"name": "${name}", "kernel": "k", "memory": 1, "cmdline": "own", "boot_sources": ${sources}}`;
    const good = vm(
      "a",
      `{"Recovery": {"kernel": "rescue", "initrd": "rescue.cpio", "cmdline": "single"}, `
        + `"Pxe": {"kernel": {"partition": "installer"}}}`,
    );
    expect(parse(`{"vms": [${good}, ${vm("b", "{}")}]}`).errors).toEqual([]);
    expect(str(e.vmAlternates(0))).toBe(
      "Recovery kernel=rescue initrd=rescue.cpio cmdline=single;Pxe kernel=partition installer initrd= cmdline=",
    );
    expect(str(e.vmAlternates(1))).toBe("");
    expect(str(e.vmCmdline(0))).toBe("own");

    const bad = [
      vm("c", `[]`),
      vm("d", `{"None": {"kernel": "k"}, "Rescue": {"kernel": "k"}}`),
      vm("e", `{"Cd": {"initrd": "rescue.cpio", "cmdline": 5}, "Usb": "k"}`),
      vm("f", `{"Hdd": {"kernel": "nope", "root": "/dev/vda"}, "Hdd": {"kernel": "k"}}`),
    ];
    expect(parse(`{"vms": [${bad.join(", ")}]}`)).toEqual({
      vms: [],
      errors: [
        "vm 0 (c): boot_sources: expected an object of boot sources by name, such as {\"Recovery\": {...}}, got a list",
        expect.stringMatching(
          /^vm 1 \(d\): boot_sources: "None" is not a boot source's name \(line 1, column \d+\); expected "Pxe", /,
        ),
        expect.stringMatching(/^vm 1 \(d\): boot_sources: "Rescue" is not a boot source's name/),
        "vm 2 (e): boot_sources: Cd: kernel: missing (the name of a boot module)",
        "vm 2 (e): boot_sources: Cd: cmdline: expected a string, got 5",
        "vm 2 (e): boot_sources: Usb: expected an object such as {\"kernel\": \"rescue.bzImage\"}, got \"k\"",
        "vm 3 (f): boot_sources: Hdd: unknown field \"root\"",
        "vm 3 (f): boot_sources: Hdd: kernel: no boot module named \"nope\"",
        expect.stringMatching(/^vm 3 \(f\): boot_sources: Hdd: given twice \(line 1, column \d+\)$/),
      ],
    });
  });

  it("gives a VM its disks, each a boot module no other VM has", () => {
    e.setModules(e.__newString("k,a.img,b.img,c.img"));
    const vm = (name: string, disks: string) => `{"name": "${name}", "kernel": "k", "memory": 1, "disks": ${disks}}`;
    const text = `{"vms": [${vm("one", `[{"module": "a.img"}, {"module": "b.img", "readonly": true}]`)}, `
      + `${vm("two", `[{"module": "b.img"}]`)}, ${vm("three", `[{"module": "c.img", "readonly": false}]`)}]}`;
    const r = parse(text);
    expect(r.vms.map((v) => v.name)).toEqual(["one", "three"]);
    expect([e.vmDisks(0), e.vmDisks(1)].map(str)).toEqual([
      "module a.img weight 100,module b.img (read-only) weight 100",
      "module c.img weight 100",
    ]);
    expect(r.errors).toEqual(["vm 1 (two): disks: 0: module b.img is already a disk of vm 0 (one)"]);
    expect(
      parse(`{"vms": [${vm("x", `[{"module": "nope.img"}, {"module": "a.img", "readonly": 1, "size": 2}, 7]`)}]}`)
        .errors,
    )
      .toEqual([
        "vm 0 (x): disks: 0: module: no boot module named \"nope.img\"",
        "vm 0 (x): disks: 1: unknown field \"size\"",
        "vm 0 (x): disks: 1: readonly: expected true or false, got 1",
        "vm 0 (x): disks: 2: expected an object such as { \"module\": \"disk.img\" }, got 7",
      ]);
    expect(parse(`{"vms": [${vm("y", `{"module": "a.img"}`)}]}`).errors).toEqual([
      "vm 0 (y): disks: expected a list of at most 8 disks, got an object",
    ]);
    const both = `[{"partition": "p1"}, {"module": "a.img", "partition": "p2"}, {"readonly": true}, {"partition": 3}]`;
    expect(parse(`{"vms": [${vm("z", both)}, ${vm("w", `[{"partition": "p1"}]`)}]}`).errors).toEqual([
      "vm 0 (z): disks: 1: expected one of \"module\" (a boot module) or \"partition\" (a host disk's GPT partition)",
      "vm 0 (z): disks: 2: expected one of \"module\" (a boot module) or \"partition\" (a host disk's GPT partition)",
      "vm 0 (z): disks: 3: partition: expected a partition's name or GUID, got 3",
      "vm 1 (w): disks: 0: partition p1 is already a disk of vm 0 (z)",
    ]);
    const caps = `[{"module": "a.img", "iops": 500, "bytes_per_second": 1048576}, {"module": "b.img", "iops": 0}, `
      + `{"module": "c.img", "bytes_per_second": 100}]`;
    expect(parse(`{"vms": [${vm("q", caps)}]}`).errors).toEqual([
      "vm 0 (q): disks: 1: iops: expected operations per second from 1 to 10000000, got 0",
      "vm 0 (q): disks: 2: bytes_per_second: expected bytes per second from 512 to 4294967295, got 100",
    ]);
    e.clearModules();
  });

  it("gives a partition its weight on the host disk, 100 unless it says, and a RAM disk none", () => {
    e.setModules(e.__newString("k,a.img"));
    const vm = (name: string, disks: string) => `{"name": "${name}", "kernel": "k", "memory": 1, "disks": ${disks}}`;
    parse(
      `{"vms": [${
        vm("w", `[{"partition": "p1", "weight": 300}, {"partition": "p2"}, {"partition": "p3", "weight": 1000}]`)
      }]}`,
    );
    expect(str(e.vmDisks(0))).toBe("partition p1 weight 300,partition p2 weight 100,partition p3 weight 1000");
    const bad =
      `[{"partition": "p1", "weight": 0}, {"partition": "p2", "weight": 1001}, {"partition": "p3", "weight": 2.5}, `
      + `{"partition": "p4", "weight": "high"}, {"module": "a.img", "weight": 100}]`;
    expect(parse(`{"vms": [${vm("x", bad)}]}`).errors).toEqual([
      "vm 0 (x): disks: 0: weight: expected a weight from 1 to 1000, got 0",
      "vm 0 (x): disks: 1: weight: expected a weight from 1 to 1000, got 1001",
      "vm 0 (x): disks: 2: weight: expected a weight from 1 to 1000, got 2.5",
      "vm 0 (x): disks: 3: weight: expected a weight from 1 to 1000, got \"high\"",
      "vm 0 (x): disks: 4: weight: a RAM disk is the VM's own; only a \"partition\" shares a host disk",
    ]);
    e.clearModules();
  });

  it("gives a VM its NICs: addresses by default from the VM's number, VLANs, trunks, caps", () => {
    const vm = (name: string, nics: string) => `{"name": "${name}", "kernel": "k", "memory": 1, "nics": ${nics}}`;
    const first = `[{}, {"mac": "02:AB:cd:00:00:01", "vlan": 10, "bytes_per_second": 1048576}]`;
    const r = parse(`{"vms": [${vm("a", first)}, ${vm("b", `[{"trunk": [10, 20]}]`)}, ${vm("c", "[]")}]}`);
    expect(r.errors).toEqual([]);
    expect([0, 1, 2].map((i) => str(e.vmNics(i)))).toEqual([
      "52:54:00:12:00:00 vlan 1, 02:ab:cd:00:00:01 vlan 10 1048576 B/s",
      "52:54:00:12:01:00 trunk 10,20",
      "",
    ]);
  });

  it("names the NIC and the field of every bad NIC setting", () => {
    const vm = (name: string, nics: string) => `{"name": "${name}", "kernel": "k", "memory": 1, "nics": ${nics}}`;
    const bad = `[{"mac": "52:54:00:12:34"}, {"mac": "01:00:5e:00:00:01"}, {"mac": "00:00:00:00:00:00"}, `
      + `{"mac": "52-54-00-12-34-56"}]`;
    expect(parse(`{"vms": [${vm("m", bad)}]}`).errors).toEqual([
      "vm 0 (m): nics: 0: mac: expected a unicast MAC address such as \"52:54:00:12:34:56\", got \"52:54:00:12:34\"",
      "vm 0 (m): nics: 1: mac: expected a unicast MAC address such as \"52:54:00:12:34:56\", got "
      + "\"01:00:5e:00:00:01\" (a group address)",
      "vm 0 (m): nics: 2: mac: expected a unicast MAC address such as \"52:54:00:12:34:56\", got \"00:00:00:00:00:00\"",
      "vm 0 (m): nics: 3: mac: expected a unicast MAC address such as \"52:54:00:12:34:56\", got \"52-54-00-12-34-56\"",
    ]);
    const vlans = `[{"vlan": 0}, {"vlan": 10, "trunk": [20]}, {"trunk": []}, {"trunk": [10, 4095, 10]}]`;
    expect(parse(`{"vms": [${vm("v", vlans)}, ${vm("u", `[{"bytes_per_second": 10, "speed": 1}]`)}]}`).errors).toEqual([
      "vm 0 (v): nics: 0: vlan: expected a VLAN ID from 1 to 4094, got 0",
      "vm 0 (v): nics: 1: expected \"vlan\" (an access port) or \"trunk\", not both",
      "vm 0 (v): nics: 2: trunk: expected a list of VLAN IDs such as [10, 20], got a list",
      "vm 0 (v): nics: 3: trunk: 1: expected a VLAN ID from 1 to 4094, got 4095",
      "vm 0 (v): nics: 3: trunk: 2: VLAN 10 is listed twice",
      "vm 1 (u): nics: 0: unknown field \"speed\"",
      "vm 1 (u): nics: 0: bytes_per_second: expected bytes per second from 1500 to 4294967295, got 10",
    ]);
    expect(parse(`{"vms": [${vm("w", `[{}, {}, {}, {}, {}]`)}]}`).errors).toEqual([
      "vm 0 (w): nics: expected a list of at most 4 NICs, got a list",
    ]);
    // A default address another VM's NIC has taken.
    const taken = `[{"mac": "52:54:00:12:01:00"}]`;
    expect(parse(`{"vms": [${vm("x", taken)}, ${vm("y", "[{}]")}]}`).errors).toEqual([
      "vm 1 (y): nics: 0: mac: 52:54:00:12:01:00 is already the address of vm 0 (x), NIC 0",
    ]);
  });

  it("gives the switch an uplink only if asked: an access port (VLAN 1 by default) or a trunk", () => {
    const vms = `"vms": [{"name": "a", "kernel": "k", "memory": 1}]`;
    const uplinkOf = (text: string) => {
      expect(parse(text).errors).toEqual([]);
      return str(e.uplink());
    };
    expect(uplinkOf(`{${vms}}`)).toBe("");
    expect(uplinkOf(`{${vms}, "uplink": {}}`)).toBe("vlan 1");
    expect(uplinkOf(`{"uplink": {"vlan": 10}, ${vms}}`)).toBe("vlan 10");
    expect(uplinkOf(`{${vms}, "uplink": {"trunk": [10, 20]}}`)).toBe("trunk 10,20");
  });

  it("names the field of every bad uplink setting, and still starts the VMs", () => {
    const vms = `"vms": [{"name": "a", "kernel": "k", "memory": 1}]`;
    const bad = (uplink: string) => {
      const r = parse(`{${vms}, "uplink": ${uplink}}`);
      expect(r.vms.length).toBe(1);
      expect(str(e.uplink())).toBe("");
      return r.errors;
    };
    expect(bad(`true`)).toEqual(["uplink: expected an object such as { \"trunk\": [10, 20] }, got true"]);
    expect(bad(`{"vlan": 4095}`)).toEqual(["uplink: vlan: expected a VLAN ID from 1 to 4094, got 4095"]);
    expect(bad(`{"trunk": [10, 10]}`)).toEqual(["uplink: trunk: 1: VLAN 10 is listed twice"]);
    expect(bad(`{"trunk": 10}`)).toEqual(["uplink: trunk: expected a list of VLAN IDs such as [10, 20], got 10"]);
    expect(bad(`{"vlan": 10, "trunk": [20]}`)).toEqual([
      "uplink: expected \"vlan\" (an access port) or \"trunk\", not both",
    ]);
    expect(bad(`{"nic": "eth0"}`)).toEqual(["uplink: unknown field \"nic\""]);
    expect(parse(`{${vms}, "uplink": {}, "uplink": {"vlan": 3}}`).errors).toEqual([
      "line 1, column 68: \"uplink\" given twice",
    ]);
  });

  it("gives the hypervisor its own address only if asked: an access port, VLAN 1 and its own MAC by default", () => {
    const vms = `"vms": [{"name": "a", "kernel": "k", "memory": 1}]`;
    const managementOf = (text: string) => {
      expect(parse(text).errors).toEqual([]);
      return str(e.management());
    };
    expect(managementOf(`{${vms}}`)).toBe("");
    expect(managementOf(`{${vms}, "management": {"address": "10.0.2.20/24"}}`)).toBe(
      "10.0.2.20/24 on VLAN 1, 52:54:00:13:00:01",
    );
    expect(
      managementOf(
        `{"management": {"address": "192.168.7.1/16", "vlan": 20, "gateway": "192.168.0.1",`
          + ` "mac": "02:00:00:00:00:07"}, ${vms}}`,
      ),
    ).toBe("192.168.7.1/16 on VLAN 20, 02:00:00:00:00:07, gateway 192.168.0.1");
    expect(managementOf(`{"vms": [], "management": {"address": "10.0.0.20/24", "vlan": 10}}`)).toBe(
      "10.0.0.20/24 on VLAN 10, 52:54:00:13:00:01",
    );
    expect(managementOf(`{"vms": [], "management": {"address": "dhcp", "vlan": 10}}`)).toBe(
      "DHCP on VLAN 10, 52:54:00:13:00:01",
    );
  });

  it("takes the management API's token, a bearer token of 8 to 128 characters, and names what is wrong", () => {
    const vms = `"vms": [{"name": "a", "kernel": "k", "memory": 1}]`;
    const token = (api: string) => {
      const r = parse(`{${vms}, "api": ${api}}`);
      expect(r.vms.length).toBe(1);
      return { token: str(e.apiToken()), errors: r.errors };
    };
    expect(token(`{"token": "c2VjcmV0LXRva2Vu"}`)).toEqual({ token: "c2VjcmV0LXRva2Vu", errors: [] });
    expect(token(`{"token": "a-b.c_d~e+f/g=="}`)).toEqual({ token: "a-b.c_d~e+f/g==", errors: [] });
    const wrong = (got: string) =>
      `api: token: expected 8 to 128 characters of letters, digits and -._~+/ (then any '='), got ${got}`;
    expect(token(`{"token": "${"x".repeat(129)}"}`).errors).toEqual([wrong(`"${"x".repeat(40)}..."`)]);
    for (const bad of ["short", "with space", "a=b=cdefgh", "ünicode-token"]) {
      expect(token(`{"token": ${JSON.stringify(bad)}}`), bad).toEqual({
        token: "",
        errors: [wrong(JSON.stringify(bad))],
      });
    }
    expect(token(`{"token": 12345678}`).errors).toEqual([wrong("12345678")]);
    expect(token(`{}`).errors).toEqual([
      "api: token: missing (the token every request of the management API must carry)",
    ]);
    expect(token(`{"token": "c2VjcmV0LXRva2Vu", "port": 80}`).errors).toEqual(["api: unknown field \"port\""]);
    expect(token(`"c2VjcmV0LXRva2Vu"`).errors).toEqual([
      "api: expected an object such as { \"token\": \"c2VjcmV0LXRva2Vu\" }, got \"c2VjcmV0LXRva2Vu\"",
    ]);
  });

  it("names the field of every bad management setting, and still starts the VMs", () => {
    const vms = `"vms": [{"name": "a", "kernel": "k", "memory": 1, "nics": [{}]}]`;
    const bad = (management: string) => {
      const r = parse(`{${vms}, "management": ${management}}`);
      expect(r.vms.length).toBe(1);
      expect(str(e.management())).toBe("");
      return r.errors;
    };
    const example = "such as \"10.0.2.20/24\", or \"dhcp\"";
    expect(bad(`"10.0.2.20"`)).toEqual([
      "management: expected an object such as { \"address\": \"10.0.2.20/24\" }, got \"10.0.2.20\"",
    ]);
    expect(bad(`{}`)).toEqual([`management: address: missing (an IPv4 address and prefix length ${example})`]);
    expect(bad(`{"address": "10.0.2.20"}`)).toEqual([
      `management: address: expected an IPv4 address and prefix length (1 to 30) ${example}, got \"10.0.2.20\"`,
    ]);
    expect(bad(`{"address": "10.0.2.20/31"}`)).toEqual([
      `management: address: expected an IPv4 address and prefix length (1 to 30) ${example}, got \"10.0.2.20/31\"`,
    ]);
    expect(bad(`{"address": "10.0.256.20/24"}`)).toEqual([
      "management: address: expected an IPv4 address such as \"10.0.2.20\", got \"10.0.256.20/24\"",
    ]);
    expect(bad(`{"address": "10.0.2.255/24"}`)).toEqual([
      "management: address: \"10.0.2.255/24\" is the subnet's own address or its broadcast address, not a host's",
    ]);
    expect(bad(`{"address": "10.0.2.20/24", "gateway": "10.0.3.1"}`)).toEqual([
      "management: gateway: \"10.0.3.1\" is not in the subnet of the address",
    ]);
    expect(bad(`{"address": "dhcp", "gateway": "10.0.2.2"}`)).toEqual([
      "management: gateway: DHCP gives the gateway with the address; leave it out",
    ]);
    expect(bad(`{"address": "DHCP"}`)).toEqual([
      `management: address: expected an IPv4 address and prefix length (1 to 30) ${example}, got \"DHCP\"`,
    ]);
    expect(bad(`{"address": "10.0.2.20/24", "gateway": "router"}`)).toEqual([
      "management: gateway: expected an IPv4 address such as \"10.0.2.20\", got \"router\"",
    ]);
    expect(bad(`{"address": "10.0.2.20/24", "vlan": 0}`)).toEqual([
      "management: vlan: expected a VLAN ID from 1 to 4094, got 0",
    ]);
    expect(bad(`{"address": "10.0.2.20/24", "trunk": [10]}`)).toEqual([
      "management: unknown field \"trunk\"",
    ]);
    expect(bad(`{"address": "10.0.2.20/24", "mac": "52:54:00:12:00:00"}`)).toEqual([
      "management: mac: 52:54:00:12:00:00 is already the address of vm 0 (a), NIC 0",
    ]);
    expect(bad(`{"address": "10.0.2.20/24", "mac": "ff:ff:ff:ff:ff:ff"}`)).toEqual([
      "management: mac: expected a unicast MAC address such as \"52:54:00:12:34:56\", got \"ff:ff:ff:ff:ff:ff\""
      + " (a group address)",
    ]);
    expect(bad(`{"address": "10.0.2.20/24", "port": 22}`)).toEqual(["management: unknown field \"port\""]);
  });

  it("rejects duplicate names, non-object entries and a malformed top level", () => {
    expect(parse(`{"vms": [{"name": "a", "memory": 1, "kernel": "k"}, {"name": "a", "memory": 2, "kernel": "k"}, 5]}`))
      .toEqual({
        vms: [{ name: "a", memory: 1, cpus: 1, kernel: "k", initrd: "", cmdline: "", console: "com1" }],
        errors: [
          "vm 1 (a): name: \"a\" is already the name of vm 0",
          "vm 2: expected an object, got 5 (line 1, column 96)",
        ],
      });
    expect(parse(`[]`).errors).toEqual([
      "line 1, column 1: the configuration must be an object with a \"vms\" list, got a list",
    ]);
    expect(parse(`{}`).errors).toEqual(["vms: missing (a list of VMs)"]);
    expect(parse(`{"vms": {}}`).errors).toEqual(["vms: expected a list of VMs, got an object"]);
    expect(parse(`{"vms": [], "debug": true}`)).toEqual({
      vms: [],
      errors: [
        "line 1, column 13: unknown field \"debug\" (the file holds only \"vms\", \"uplink\" and \"management\")",
      ],
    });
  });
});

describe("configuration from a boot module", () => {
  it("reads UTF-8 text from physical memory, ignoring NUL padding at the end", () => {
    const text = `{"vms": [{"name": "café", "memory": 8, "kernel": "k", "cmdline": "naïve"}]}`;
    const bytes = new TextEncoder().encode(text);
    phys.writeBytes(0x20_0000, bytes);
    phys.fill(0x20_0000 + bytes.length, 100, 0);
    expect(e.parseModule(0x20_0000n, BigInt(0x20_0000 + bytes.length + 100))).toBe(0);
    expect(result().errors).toEqual(["vm 0: name: expected 1 to 32 letters, digits, '-', '_' or '.', got \"café\""]);
    phys.fill(0x20_0000, bytes.length, 0);
    phys.writeBytes(0x20_0000, new TextEncoder().encode(text.replace("café", "cafe")));
    expect(e.parseModule(0x20_0000n, BigInt(0x20_0000 + bytes.length + 100))).toBe(1);
    expect(result().vms[0].cmdline).toBe("naïve");
  });

  it("refuses a module too large to be a configuration, and an empty one", () => {
    expect(e.parseModule(0x100_0000n, 0x300_0000n)).toBe(0);
    expect(result().errors).toEqual(["the configuration is 33554432 bytes; at most 1048576 are read"]);
    expect(e.parseModule(0x100_0000n, 0x100_0000n)).toBe(0);
    expect(result().errors).toEqual(["line 1, column 1: expected a value, found end of file"]);
  });
});
