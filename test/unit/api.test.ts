// The management API's request reader and dispatcher (vmm/api), in the
// unit harness (as/api.ts): three VMs of fake vCPUs behind a Dispatcher.
// Every malformed request gets its JSON-RPC error with the HTTP status it
// stands for, whatever bytes arrive; HTTP's requests, as lwIP hands them
// over, get the same methods and errors; a request without the token is
// refused before anything else is looked at; the methods report and
// change the VMs; events follow what happens to them. The system test
// (test/system/api.test.ts) drives the same code on COM2.
import fc from "fast-check";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { beforeEach, describe, expect, it } from "vitest";
import { parseMetrics, sampleValue } from "../../tools/harness/prometheus";
import { load, type Exports } from "./harness";

interface ApiExports {
  calibrate(tscPerMs: bigint): void;
  reset(): void;
  answer(line: number): number;
  events(): number;
  enter(vm: number): void;
  crash(vm: number): void;
  exitWith(vm: number, status: number): void;
  guestResets(vm: number): void;
  paused(vm: number): number;
  running(vm: number): number;
  account(vm: number, vcpu: number, cpu: number, ticks: bigint): void;
  frame(bytes: number): number;
  queue(capacity: number, texts: number): number;
  quoted(text: number): number;
  sameToken(given: number, expected: number): number;
  http(record: number): number;
  rename(vm: number, name: number): void;
  serveHttp(): void;
  guestPrints(vm: number, text: number): void;
  inputRoom(vm: number, room: number): void;
  typedInto(vm: number): number;
  typeAhead(): void;
  giveImage(vm: number): void;
  imageLoads(vm: number): number;
  imageBooted(vm: number): number;
  shutdownAskedBy(): number;
  destroyedVms(): number;
}

let e: Exports<ApiExports>;
const TOKEN = "unit-token";

beforeEach(async () => {
  const unit = await load<ApiExports>("api.ts");
  e = unit.exports;
  e.calibrate(100n); // the harness's TSC moves 1000 ticks a read
  e.reset();
});

const str = (ptr: number) => e.__getString(ptr >>> 0);
const s = (text: string) => e.__newString(text);
const raw = (line: string) => JSON.parse(str(e.answer(s(line))));
const call = (method: string, params: object = {}, id: unknown = 1) =>
  raw(JSON.stringify({ jsonrpc: "2.0", id, method, params: { token: TOKEN, ...params } }));
const result = (method: string, params: object = {}) => {
  const reply = call(method, params);
  expect(reply.error, JSON.stringify(reply)).toBeUndefined();
  return reply.result;
};
// The error of a reply: its code, its HTTP status, the id it carries, its message.
const failure = (reply: any) => ({
  code: reply.error?.code,
  status: reply.error?.data?.status,
  id: reply.id,
  message: reply.error?.message,
});
const events = () => str(e.events()).split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l).params);

describe("malformed requests", () => {
  it.each([
    ["text that is not JSON", "hello", -32700, 400],
    ["JSON cut short", "{\"jsonrpc\": \"2.0\", \"id\": 1", -32700, 400],
    ["a comment", "// list", -32700, 400],
    ["a batch", "[{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"vms.list\"}]", -32600, 400],
    ["a number", "42", -32600, 400],
    ["a wrong version", "{\"jsonrpc\": \"1.0\", \"id\": 1, \"method\": \"vms.list\"}", -32600, 400],
    ["no id (a notification)", "{\"jsonrpc\": \"2.0\", \"method\": \"vms.list\"}", -32600, 400],
    ["an unknown member", "{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"vms.list\", \"auth\": 1}", -32600, 400],
    ["a member twice", "{\"jsonrpc\": \"2.0\", \"id\": 1, \"id\": 2, \"method\": \"vms.list\"}", -32600, 400],
    ["a method that is no string", "{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": 7}", -32600, 400],
    [
      "params that are a list",
      "{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"vms.list\", \"params\": []}",
      -32602,
      400,
    ],
  ])("answers %s with its error", (_, line, code, status) => {
    expect(failure(raw(line))).toMatchObject({ code, status });
  });

  it("answers with the request's id where it could be read, else null", () => {
    expect(raw("{\"jsonrpc\": \"2.0\", \"id\": \"x\\\"y\", \"method\": 7}").id).toBe("x\"y");
    expect(raw("{\"jsonrpc\": \"2.0\", \"id\": 12, \"method\": 7}").id).toBe(12);
    expect(raw("not json").id).toBeNull();
  });

  it("refuses a request without the token, or with a wrong one, with 401 before anything else", () => {
    const list = (params: object) => raw(JSON.stringify({ jsonrpc: "2.0", id: 3, method: "vms.list", params }));
    for (const params of [{}, { token: "" }, { token: "unit-tokeN" }, { token: "unit-token!" }, { token: 7 }]) {
      expect(failure(list(params))).toMatchObject({ code: -32001, status: 401, id: 3 });
    }
    expect(failure(raw(JSON.stringify({ jsonrpc: "2.0", id: 4, method: "vms.list" })))).toMatchObject({ status: 401 });
    // Not even whether the method exists, or what it would do, is told.
    const pause = raw(JSON.stringify({ jsonrpc: "2.0", id: 5, method: "vm.pause", params: { name: "alpha" } }));
    expect(failure(pause).status).toBe(401);
    expect(e.paused(0)).toBe(0);
    expect(failure(raw(JSON.stringify({ jsonrpc: "2.0", id: 6, method: "nope", params: {} }))).status).toBe(401);
  });

  it("answers an unknown method with 404 and an unknown or missing field with 400", () => {
    expect(failure(call("vm.explode", { name: "alpha" }))).toMatchObject({ code: -32601, status: 404, id: 1 });
    expect(failure(call("vms.list", { name: "alpha" }))).toMatchObject({ code: -32602, status: 400 });
    expect(failure(call("vm.get", { name: "alpha", colour: "red" }))).toMatchObject({ code: -32602 });
    expect(failure(call("vm.get"))).toMatchObject({ code: -32602, status: 400 });
    expect(failure(call("vm.get", { name: 3 }))).toMatchObject({ code: -32602 });
    expect(failure(call("vm.get", { name: "delta" }))).toMatchObject({ code: -32004, status: 404 });
  });

  it("answers anything at all without trapping", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify(v))), (line) => {
        const reply = raw(line);
        expect(reply.jsonrpc).toBe("2.0");
        expect(reply.error ?? reply.result).toBeDefined();
      }),
      { numRuns: 300 },
    );
  });
});

describe("the methods", () => {
  it("tells the host's facts", () => {
    expect(result("host.get")).toEqual({
      name: "Typervisor",
      version: "9.8.7",
      api: "v1",
      cpus: 2,
      memory: { free_bytes: 2 ** 30, vm_bytes: 3 * 2 ** 20, hypervisor_pages_bytes: 96 * 1024 },
      uptime_ns: 5e9,
      vms: 3,
      dropped_events: 0,
    });
  });

  it("lists the VMs and describes one, with its vCPUs and where they ran", () => {
    e.account(1, 1, 1, 2_000_000n);
    const list = result("vms.list");
    expect(list.time_ns).toBe(5e9);
    expect(list.vms.map((v: any) => [v.name, v.id, v.state, v.vcpus, v.memory_bytes])).toEqual([
      ["alpha", 0, "running", 2, 2 ** 20],
      ["beta", 1, "running", 2, 2 ** 20],
      ["gamma", 2, "running", 2, 2 ** 20],
    ]);
    expect(list.vms[1].exits).toBe(3);
    expect(list.vms[1].cpu_ns).toBeGreaterThan(0);
    const info = result("vm.get", { name: "beta" });
    expect(info).toMatchObject({ name: "beta", state: "running", rebootable: false, kernel: null, stop_reason: "" });
    // Where the harness put beta's RAM (as/api.ts): 16 MiB after alpha's.
    expect(info).toMatchObject({ memory_bytes: 2 ** 20, memory_host_address: 0x1_0100_0000 });
    expect(info.vcpus[0]).toMatchObject({ index: 0, activity: "runnable", running_on: -1, ran_on: [] });
    expect(info.vcpus[1]).toMatchObject({ index: 1, activity: "waiting-for-startup", ran_on: [1] });
    expect(info.share).toMatchObject({ weight: 256, cap_percent: 0 });
    expect(info).toMatchObject({ disks: [], nics: [] });
    expect(result("vm.get", { name: "alpha" }).nics).toEqual([{ id: "52:54:00:12:34:56", about: "VLAN 10" }]);
  });

  it("counts CPU time per vCPU and host CPU, and exits", () => {
    e.account(0, 0, 0, 1_000_000n);
    e.account(0, 0, 1, 1_000_000n);
    const stats = result("vm.stats", { name: "alpha" });
    expect(stats.vcpus[0].exits).toBe(6);
    expect(Object.keys(stats.vcpus[0].cpu_ns_by_host_cpu)).toEqual(["0", "1"]);
    expect(stats.cpu_ns).toBe(stats.vcpus[0].cpu_ns);
    expect(stats.exits).toEqual({ total: 6, handled_by_kind: {}, finished_in_backend: 6 });
  });

  it("counts a VM's NIC: frames and bytes each way, drops by cause", () => {
    const [nic] = result("vm.stats", { name: "alpha" }).nics;
    expect(nic).toEqual({
      id: "52:54:00:12:34:56",
      frames_sent: 7,
      bytes_sent: 700,
      frames_received: 3,
      bytes_received: 300,
      frames_dropped: { malformed: 0, spoofed: 2, vlan: 0, broadcast_limit: 0, queue_full: 0, bad_offload: 0 },
    });
    expect(result("vm.stats", { name: "beta" })).toMatchObject({ disks: [], nics: [] });
  });

  it("gives the metrics in Prometheus' text format, as its own parser reads them", () => {
    e.account(0, 1, 0, 3_000_000n);
    e.rename(2, s("g\"a\\m\nma"));
    result("vm.pause", { name: "beta" });
    const text: string = result("metrics.get");
    const families = parseMetrics(text);
    const names = families.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length); // each family in one piece
    const value = (name: string, labels: Record<string, string> = {}) => sampleValue(families, name, labels);
    expect(value("typervisor_build_info", { version: "9.8.7" })).toBe(1);
    expect(value("typervisor_host_cpus")).toBe(2);
    expect(value("typervisor_host_memory_free_bytes")).toBe(2 ** 30);
    expect(value("typervisor_host_uptime_seconds")).toBe(5);
    expect(value("typervisor_vm_state", { vm: "beta", state: "paused" })).toBe(1);
    expect(value("typervisor_vm_state", { vm: "beta", state: "running" })).toBe(0);
    expect(value("typervisor_vm_state", { vm: "g\"a\\m\nma", state: "running" })).toBe(1);
    expect(value("typervisor_vm_vcpus", { vm: "alpha" })).toBe(2);
    expect(value("typervisor_vm_memory_bytes", { vm: "alpha" })).toBe(2 ** 20);
    // 3,000,000 ticks at the harness's 100 a millisecond.
    expect(value("typervisor_vm_cpu_seconds_total", { vm: "alpha", vcpu: "1" })).toBe(30);
    expect(value("typervisor_vm_cpu_seconds_total", { vm: "alpha", vcpu: "0" })).toBe(0);
    expect(value("typervisor_vm_exits_total", { vm: "alpha", kind: "backend_fast_path" })).toBe(3);
    expect(value("typervisor_vm_nic_bytes_sent_total", { vm: "alpha", nic: "52:54:00:12:34:56" })).toBe(700);
    expect(value("typervisor_vm_nic_frames_dropped_total", { vm: "alpha", cause: "spoofed" })).toBe(2);
    const types = Object.fromEntries(families.map((f) => [f.name, f.type]));
    expect(types).toMatchObject({ typervisor_vm_exits: "counter", typervisor_vm_state: "gauge" });
  });

  it("starts a ping from the management address and tells its figures; refuses what is not an address", () => {
    expect(failure(call("ping.get"))).toMatchObject({ code: -32004, status: 404 });
    const figures = {
      address: "10.0.0.21",
      sent: 3,
      received: 2,
      done: true,
      rtt_ns: { min: 1000, avg: 1500, max: 2000 },
    };
    expect(result("ping.start", { address: "10.0.0.21" })).toEqual(figures);
    expect(result("ping.get")).toEqual(figures);
    for (const address of ["10.0.0", "10.0.0.256", "a.b.c.d", "0.0.0.0", " 10.0.0.1"]) {
      expect(failure(call("ping.start", { address })), address).toMatchObject({ code: -32602, status: 400 });
    }
    expect(failure(call("ping.start", { address: 7 }))).toMatchObject({ code: -32602 });
    expect(failure(call("ping.start", {}))).toMatchObject({ code: -32602 });
    expect(failure(call("ping.start", { name: "alpha" }))).toMatchObject({ code: -32602 });
    expect(failure(call("ping.start", { address: "10.0.0.0" }))).toMatchObject({ code: -32009, status: 409 });
  });

  it("reads a VM's console: the last 8 KiB it printed, and where they lie in all of it", () => {
    expect(result("vm.console.read", { name: "alpha" })).toEqual({ name: "alpha", start: 0, end: 0, text: "" });
    e.guestPrints(0, s("hello\nworld\n"));
    expect(result("vm.console.read", { name: "alpha" })).toEqual({
      name: "alpha",
      start: 0,
      end: 12,
      text: "hello\nworld\n",
    });
    const line = "x".repeat(99) + "\n";
    for (let i = 0; i < 90; i++) e.guestPrints(0, s(line));
    const read = result("vm.console.read", { name: "alpha" });
    expect([read.start, read.end, read.text.length]).toEqual([12 + 9000 - 8192, 12 + 9000, 8192]);
    expect(read.text.endsWith(line)).toBe(true);
    e.crash(0);
    expect(result("vm.console.read", { name: "alpha" }).end).toBe(9012); // a stopped VM's last words stay
  });

  it("types on a VM's console as fast as it takes the bytes, and refuses a VM without one", () => {
    e.inputRoom(0, 4);
    expect(result("vm.console.write", { name: "alpha", text: "echo hi\n" })).toEqual({ accepted: 8, waiting: 4 });
    expect(str(e.typedInto(0))).toBe("echo");
    e.inputRoom(0, 100);
    e.typeAhead();
    expect(str(e.typedInto(0))).toBe("echo hi\n");
    expect(result("vm.console.write", { name: "alpha", text: "y".repeat(5000) })).toEqual({
      accepted: 4096,
      waiting: 4000, // the device took 96 more
    });
    expect(failure(call("vm.console.write", { name: "beta", text: "ls\n" }))).toMatchObject({ status: 409 });
    expect(failure(call("vm.console.write", { name: "alpha" }))).toMatchObject({ code: -32602, status: 400 });
    expect(failure(call("vm.console.write", { name: "alpha", text: 7 }))).toMatchObject({ code: -32602 });
    expect(failure(call("vm.console.read", { name: "alpha", text: "x" }))).toMatchObject({ code: -32602 });
  });

  it("pauses, resumes and powers off; a stopped VM refuses with 409, a flat one cannot reboot", () => {
    expect(result("vm.pause", { name: "alpha" }).state).toBe("paused");
    expect(e.paused(0)).toBe(1);
    expect(result("vm.pause", { name: "alpha" }).state).toBe("paused");
    expect(result("vm.resume", { name: "alpha" }).state).toBe("running");
    expect(e.paused(0)).toBe(0);
    expect(failure(call("vm.reboot", { name: "alpha" }))).toMatchObject({ code: -32009, status: 409 });
    expect(result("vm.poweroff", { name: "gamma" }).state).toBe("stopped");
    expect(e.running(2)).toBe(0);
    expect(result("vm.get", { name: "gamma" }).stop_reason).toBe("powered off by the management API");
    for (const method of ["vm.pause", "vm.resume", "vm.poweroff", "vm.reboot", "vm.start"]) {
      expect(failure(call(method, { name: "gamma" })).status).toBe(409);
    }
  });

  it("starts a stopped VM from its image, and no other", () => {
    expect(failure(call("vm.start", { name: "beta" }))).toMatchObject({ code: -32009, status: 409 }); // it runs
    e.giveImage(1);
    expect(result("vm.poweroff", { name: "beta" }).state).toBe("stopped");
    expect(e.imageLoads(1)).toBe(0);
    expect(result("vm.start", { name: "beta" }).state).toBe("running");
    expect(e.imageLoads(1)).toBe(1);
    expect(result("vm.get", { name: "beta" })).toMatchObject({
      stop_reason: "",
      fault: false,
      exit_status: -1,
      kernel: {
        module: "k.elf",
        partition: "",
        initrd: "",
        initrd_partition: "",
        cmdline: "quiet",
        boot_source: "None",
        boot_sources: ["None", "Recovery", "Cd"],
        restart_on_reset: true,
      },
    });
    expect(failure(call("vm.start", { name: "beta" })).status).toBe(409);
  });

  it("sets the boot source of a VM's next boots, and refuses what it lacks", () => {
    e.giveImage(1); // "k.elf", with the alternates Recovery and Cd
    const boot = (params: object) => call("vm.boot", { name: "beta", ...params });
    expect(boot({ source: "Recovery" }).result).toMatchObject({
      boot_source: "None",
      boot_override: { source: "Recovery", continuous: false },
    });
    expect(result("vm.reboot", { name: "beta" }).state).toBe("running");
    expect(result("vm.get", { name: "beta" }).kernel).toMatchObject({
      boot_source: "Recovery",
      boot_override: { source: "None", continuous: false },
    });
    expect(boot({ source: "Cd", continuous: true }).result.boot_override).toEqual({ source: "Cd", continuous: true });
    result("vm.reboot", { name: "beta" });
    result("vm.reboot", { name: "beta" });
    expect(str(e.imageBooted(1))).toBe("Cd");
    expect(boot({ source: "None" }).result.boot_override).toEqual({ source: "None", continuous: false });
    result("vm.reboot", { name: "beta" });
    expect(str(e.imageBooted(1))).toBe("None");

    expect(failure(boot({ source: "Pxe" }))).toMatchObject({
      status: 400,
      message: "vm beta has no boot source \"Pxe\"; it has None, Recovery, Cd",
    });
    expect(failure(boot({})).message).toBe("params.source: expected one of None, Recovery, Cd, got nothing");
    expect(failure(boot({ source: "Cd", continuous: "yes" })).message).toBe(
      "params.continuous: expected true or false, got \"yes\"",
    );
    expect(failure(boot({ source: "Cd", once: true })).message).toBe("params: unknown field \"once\" for vm.boot");
    expect(failure(call("vm.boot", { name: "delta", source: "Cd" })).status).toBe(404);
    expect(failure(call("vm.boot", { name: "alpha", source: "Cd" })).status).toBe(409); // a flat binary
    expect(result("vm.get", { name: "beta" }).kernel.boot_override).toEqual({ source: "None", continuous: false });
  });

  it("creates a VM from a configuration entry, and refuses a bad one with what is wrong", () => {
    e.enter(0);
    e.enter(1);
    e.enter(2);
    call("events.subscribe");
    const made = result("vm.create", { config: { name: "delta", memory: 64, cpus: 2, kernel: "k" } });
    expect(made).toMatchObject({ name: "delta", id: 3, state: "running", vcpus: 2, memory_bytes: 64 * 2 ** 20 });
    expect(result("vms.list").vms.map((vm: { name: string }) => vm.name)).toEqual(["alpha", "beta", "gamma", "delta"]);
    expect(failure(call("vm.create", { config: { name: "delta", memory: 64, kernel: "k" } }))).toMatchObject({
      status: 409,
      message: "a vm named \"delta\" exists already",
    });
    const bad = failure(call("vm.create", { config: { name: "eps", memory: "lots", kernel: "k", colour: 1 } }));
    expect(bad.status).toBe(400);
    expect(bad.message).toMatch(/^params\.config: vm 4 \(eps\): unknown field "colour".*; vm 4 \(eps\): memory: /);
    expect(failure(call("vm.create", { config: [1] })).message).toMatch(/params\.config: expected a VM's config/);
    expect(failure(call("vm.create", { config: {}, name: "x" })).message).toBe(
      "params.: unknown field \"name\" for vm.create",
    );
    expect(failure(call("vm.create", { config: { name: "big", memory: 4096, kernel: "k" } }))).toMatchObject({
      status: 409,
      message: "the vm was not created: not enough free memory for 4096 MiB",
    });
    e.enter(3);
    expect(events().map((p) => [p.event, p.vm])).toEqual([["created", "delta"], ["started", "delta"]]);
  });

  it("destroys a VM: powered off if it runs, gone from the list, told as events", () => {
    call("events.subscribe");
    e.enter(1);
    events();
    expect(result("vm.destroy", { name: "beta" })).toEqual({ name: "beta", destroyed: true });
    expect(str(e.destroyedVms())).toBe("beta");
    expect(result("vms.list").vms.map((vm: { name: string }) => vm.name)).toEqual(["alpha", "gamma"]);
    expect(events().map((p) => [p.event, p.vm, p.reason])).toEqual([
      ["stopped", "beta", "powered off by the management API"],
      ["destroyed", "beta", undefined],
    ]);
    expect(failure(call("vm.get", { name: "beta" })).status).toBe(404);
    // Its name is free again.
    expect(result("vm.create", { config: { name: "beta", memory: 16, kernel: "k" } }).state).toBe("running");
  });

  it("shuts the host down when asked", () => {
    expect(str(e.shutdownAskedBy())).toBe("");
    expect(result("host.shutdown", {})).toEqual({ shutting_down: true });
    expect(str(e.shutdownAskedBy())).toBe("the management API");
  });
});

describe("events", () => {
  it("are sent only after a subscription, and say what happened and why", () => {
    e.enter(0);
    expect(events()).toEqual([]);
    expect(result("events.subscribe").subscribed).toBe(true);
    e.enter(1);
    e.exitWith(1, 3);
    result("vm.pause", { name: "alpha" });
    e.crash(2);
    expect(events().map((p: any) => [p.event, p.vm, p.reason ?? "", p.exit_status ?? 0])).toEqual([
      ["started", "beta", "", 0],
      ["stopped", "beta", "exited with status 3", 3],
      ["paused", "alpha", "", 0],
      ["started", "gamma", "", 0],
      ["fault", "gamma", "triple fault", -1],
    ]);
    expect(events()).toEqual([]);
    expect(result("events.unsubscribe").subscribed).toBe(false);
    result("vm.resume", { name: "alpha" });
    expect(events()).toEqual([]);
  });
});

describe("reset events", () => {
  it("tell a running VM's reset, its guest's own or the API's, with the reason, once each", () => {
    e.giveImage(0);
    e.enter(0);
    call("events.subscribe");
    e.guestResets(0);
    result("vm.reboot", { name: "alpha" });
    expect(events().map((p: any) => [p.event, p.vm, p.state, p.reason])).toEqual([
      ["rebooted", "alpha", "running", "the guest reset the machine through port 0xcf9"],
      ["rebooted", "alpha", "running", "reset by the management API"],
    ]);
    expect(events()).toEqual([]);
    expect(e.imageLoads(0)).toBe(2);
  });
});

describe("framing", () => {
  it("cuts lines at LF and refuses one longer than 4096 bytes at once, dropping the rest of it", () => {
    expect(str(e.frame(s("ab\ncd\n\n")))).toBe("L:ab\nL:cd\nL:\n");
    expect(str(e.frame(s("x".repeat(4096) + "\n")))).toBe(`L:${"x".repeat(4096)}\n`);
    expect(str(e.frame(s("y".repeat(5000) + "\nok\n")))).toBe("T\nL:ok\n");
    // The bytes are UTF-8: "\u00c3\u00a9" is é.
    expect(str(e.frame(s("\u00c3\u00a9\n")))).toBe("L:é\n");
  });

  it("queues replies whole or not at all", () => {
    expect(str(e.queue(8, s("abc|defg|h")))).toBe("101|abc\nh\n");
  });
});

describe("JSON text", () => {
  it("escapes quotes, backslashes and control characters", () => {
    expect(JSON.parse(str(e.quoted(s("a\"b\\c\n\u0001é"))))).toBe("a\"b\\c\n\u0001é");
    fc.assert(fc.property(fc.string(), (text) => {
      expect(JSON.parse(str(e.quoted(s(text))))).toBe(text);
    }));
  });

  it("compares tokens by every character and their length", () => {
    expect(e.sameToken(s("abc"), s("abc"))).toBe(1);
    for (const given of ["", "ab", "abd", "abcd", "Abc"]) expect(e.sameToken(s(given), s("abc"))).toBe(0);
  });
});

describe("the OpenAPI document", () => {
  it("is YAML that a YAML parser reads (Debian's python3-yaml)", () => {
    const check = "import sys, yaml; document = yaml.safe_load(open(sys.argv[1])); print(len(document['paths']))";
    const run = spawnSync("/usr/bin/python3", ["-c", check, "docs/api/openapi.yaml"], { encoding: "utf8" });
    expect(run.stderr).toBe("");
    expect(Number(run.stdout)).toBeGreaterThan(10);
  });

  it("gives every method of the dispatcher one operation, and nothing else", () => {
    const yaml = readFileSync("docs/api/openapi.yaml", "utf8");
    const source = readFileSync("vmm/api/dispatcher.ts", "utf8");
    const listed = /const METHODS: string\[\] = \[([^\]]*)\]/.exec(source)![1];
    const methods = [...listed.matchAll(/"([^"]+)"/g)].map((m) => m[1]).sort();
    const documented = [...yaml.matchAll(/x-jsonrpc-(?:method|unsubscribe): (\S+)/g)].map((m) => m[1]).sort();
    expect(documented).toEqual(methods);
  });
});

describe("over HTTP", () => {
  // The record http.c makes: slot byte, method, LF, name, LF, token, LF, body.
  const http = (slot: number, method: string, name: string, token: string, sent = "") => {
    const answer = str(e.http(s(String.fromCharCode(slot) + `${method}\n${name}\n${token}\n${sent}`)));
    const [, at, status, body] = /^(\d+) (\d+) (.*)$/s.exec(answer)!;
    return { slot: Number(at), status: Number(status), body: JSON.parse(body) };
  };

  it("answers a method with its result and status 200, to the record's slot", () => {
    const list = http(2, "vms.list", "", TOKEN);
    expect(list.slot).toBe(2);
    expect(list.status).toBe(200);
    expect(list.body.vms.map((v: { name: string }) => v.name)).toEqual(["alpha", "beta", "gamma"]);
    expect(http(0, "vm.get", "beta", TOKEN).body).toMatchObject({ name: "beta", state: "running" });
    expect(http(1, "vm.pause", "gamma", TOKEN).body).toMatchObject({ name: "gamma", state: "paused" });
    expect(e.paused(2)).toBe(1);
  });

  it("refuses without the token, or with a wrong one, before anything else, with JSON-RPC's error object", () => {
    for (const token of ["", "unit-toke", "unit-tokenx", "x".repeat(4000)]) {
      expect(http(0, "vm.pause", "alpha", token)).toEqual({
        slot: 0,
        status: 401,
        body: { code: -32001, message: expect.stringContaining("unauthorized"), data: { status: 401 } },
      });
    }
    expect(e.paused(0)).toBe(0);
  });

  it("takes a VM's boot override as the body, and refuses a body that is not JSON", () => {
    e.giveImage(1);
    expect(http(0, "vm.boot", "beta", TOKEN, `{"source": "Cd"}`).body.boot_override).toEqual({
      source: "Cd",
      continuous: false,
    });
    const bad = http(0, "vm.boot", "beta", TOKEN, "Cd");
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/^the body is not JSON: /);
    expect(http(0, "vm.boot", "beta", TOKEN, `["Cd"]`).body.message).toBe(
      "expected an object such as {\"source\": \"Recovery\"}, got a list",
    );
  });

  it("types a request's body on the console", () => {
    e.inputRoom(1, 100);
    expect(http(0, "vm.console.write", "beta", TOKEN, "ls -l\nuname\n").body).toEqual({ accepted: 12, waiting: 0 });
    expect(str(e.typedInto(1))).toBe("ls -l\nuname\n");
  });

  it("answers the metrics as text", () => {
    const answer = str(e.http(s(`\x01metrics.get\n\n${TOKEN}\n`)));
    expect(answer).toMatch(/^1 200 # HELP typervisor_build_info /);
    expect(parseMetrics(answer.slice("1 200 ".length)).length).toBeGreaterThan(10);
  });

  it("answers an unknown VM 404 and a stopped one 409", () => {
    expect(http(0, "vm.stats", "delta", TOKEN)).toMatchObject({ status: 404, body: { code: -32004 } });
    e.crash(1);
    expect(http(0, "vm.reboot", "beta", TOKEN)).toMatchObject({ status: 409, body: { code: -32009 } });
  });
});

describe("the event stream over HTTP", () => {
  // lwIP's side as the HTTP server sees it through the shim: requests
  // waiting as records, and what each slot was answered and streamed.
  async function http() {
    const waiting: string[] = [], replies: { slot: number; status: number; body: string }[] = [];
    const streamed = new Map<number, string>(), gone = new Set<number>();
    const memory = () => new Uint8Array(unit.exports.memory.buffer);
    const text = (at: number, length: number) => Buffer.from(memory().subarray(at, at + length)).toString("utf8");
    const shim = {
      ip_http_take: (buffer: number, capacity: number) => {
        const record = Buffer.from(waiting.shift() ?? "", "latin1");
        expect(record.length).toBeLessThanOrEqual(capacity);
        memory().set(record, buffer);
        return record.length;
      },
      ip_http_reply: (slot: number, status: number, fields: number, body: number, length: number) => {
        replies.push({ slot, status, body: text(body + fields, length - fields) });
      },
      ip_http_stream: (slot: number, at: number, length: number) => {
        if (gone.has(slot)) return 0;
        streamed.set(slot, (streamed.get(slot) ?? "") + text(at, length));
        return 1;
      },
    };
    const unit = await load<ApiExports>("api.ts", { shim });
    unit.exports.calibrate(100n);
    unit.exports.reset();
    return { e: unit.exports, waiting, replies, streamed, gone };
  }
  const subscribe = (slot: number, token = TOKEN) => String.fromCharCode(slot) + `events.subscribe\n\n${token}\n`;
  const data = (stream: string) => [...stream.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]));

  it("opens with the list as a 'vms' event, then streams every event until the client leaves", async () => {
    const h = await http();
    h.waiting.push(subscribe(1), subscribe(2));
    h.e.serveHttp();
    expect(h.replies.map((r) => [r.slot, r.status])).toEqual([[1, 200], [2, 200]]);
    const [, first] = /^event: vms\ndata: (.*)\n\n$/.exec(h.replies[0].body)!;
    expect(JSON.parse(first).vms.map((v: { name: string }) => v.name)).toEqual(["alpha", "beta", "gamma"]);
    h.e.enter(0);
    h.e.crash(1);
    h.e.serveHttp();
    for (const slot of [1, 2]) {
      expect(data(h.streamed.get(slot)!).map((d) => [d.event, d.vm])).toEqual([
        ["started", "alpha"],
        ["started", "beta"], // a VM stopped before it ran has started all the same
        ["fault", "beta"],
      ]);
    }
    expect(h.streamed.get(1)).toMatch(/^(data: \{[^\n]*\}\n\n){3}$/);
    // Slot 2's client leaves: its stream ends, the other goes on.
    h.gone.add(2);
    h.e.exitWith(2, 0);
    h.e.serveHttp();
    h.gone.delete(2);
    h.e.crash(0);
    h.e.serveHttp();
    const events = (slot: number) => data(h.streamed.get(slot)!).map((d) => `${d.event} ${d.vm}`);
    expect(events(1)).toEqual([
      "started alpha",
      "started beta",
      "fault beta",
      "started gamma",
      "stopped gamma",
      "fault alpha",
    ]);
    expect(events(2)).toEqual(["started alpha", "started beta", "fault beta"]);
  });

  it("refuses a subscription without the token, and streams nothing to it", async () => {
    const h = await http();
    h.waiting.push(subscribe(0, "wrong"));
    h.e.serveHttp();
    expect(h.replies[0].status).toBe(401);
    expect(JSON.parse(h.replies[0].body)).toMatchObject({ code: -32001 });
    h.e.crash(0);
    h.e.serveHttp();
    expect(h.streamed.size).toBe(0);
  });
});
