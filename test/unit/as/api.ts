// Unit-test entry: the management API's request reader and dispatcher
// (vmm/api/rpc.ts, dispatcher.ts), its framing (framing.ts) and its JSON
// text (jsontext.ts), against three VMs of fake vCPUs and host facts the
// test fixes. Each load() is a fresh module; reset() makes fresh VMs.

import { setTscPerMillisecond } from "../../../kernel/time/tsc";
import { Vcpu } from "../../../vmm/core/vcpu";
import { OWN_SOURCE } from "../../../vmm/core/bootoverride";
import { ConsoleInput, PowerButton, Vm } from "../../../vmm/core/vm";
import { BootSourceConfig } from "../../../vmm/setup/config/bootsources";
import { VmConfig } from "../../../vmm/setup/config/config";
import { ConfiguredImage } from "../../../vmm/setup/config/configured";
import { EntryState } from "../../../vmm/core/entrystate";
import { checkVm } from "../../../vmm/setup/config/config";
import { JsonValue } from "../../../vmm/setup/config/json";
import { SegmentState } from "../../../kernel/arch/segments";
import { Dispatcher } from "../../../vmm/api/dispatcher";
import { HostFacts } from "../../../vmm/api/hostfacts";
import { Framed, LineReader } from "../../../vmm/api/framing";
import { answerRecord, HttpServer } from "../../../vmm/api/http";
import { base64Text, RedfishService } from "../../../vmm/api/redfish";
import { OutputQueue } from "../../../vmm/api/outputqueue";
import { jsonString } from "../../../vmm/api/jsontext";
import { notification, sameToken as same } from "../../../vmm/api/rpc";
import { PingFigures } from "../../../vmm/net/ip/ping";
import { Drop, PortMeter, VmPort } from "../../../vmm/net/port";
import { initExtendedState } from "../../../vmm/vcpustate/xstate";
import { FakeVcpu } from "./fakevcpu";

export const TOKEN = "unit-token";
const NAMES: string[] = ["alpha", "beta", "gamma"];

class FixedFacts extends HostFacts {
  get version(): string {
    return "9.8.7";
  }
  get cpus(): u32 {
    return 2;
  }
  get cpuVendor(): string {
    return "AuthenticAMD";
  }
  // A brand string unless brandless.
  get cpuModel(): string {
    return brandless ? "" : "AMD EPYC 7763 64-Core Processor";
  }
  get freeBytes(): u64 {
    return 1 << 30;
  }
  get pagesBytes(): u64 {
    return 96 << 10;
  }
  get nowNs(): u64 {
    return 5_000_000_000;
  }
  // A host whose management address is up unless pinging 10.0.0.0 (a
  // stand-in for none); each ping "answers" at once, for the figures.
  startPing(address: u32): bool {
    if (address == 0x0a00_0000) return false;
    pinged = address;
    return true;
  }
  get lastPing(): PingFigures | null {
    return pinged == 0 ? null : new PingFigures(pinged, 3, 2, true, 1000, 1500, 2000);
  }
  shutdown(who: string): void {
    shutdownBy = who;
  }
  // Counts up from 1 byte by byte, unless randomless.
  random(into: Uint8Array): bool {
    for (let i = 0; i < into.length; i++) into[i] = <u8>++randomCounter;
    return !randomless;
  }
  // A VM of fake vCPUs from the entry's name and cpus; more than 1024 MiB
  // is more than this host has.
  createVm(entry: JsonValue, id: u32, list: Vm[], errors: string[]): Vm | null {
    const c = checkVm(<i32>id, entry, [], [], [], null, errors);
    if (c === null) return null;
    if (c.memoryMib > 1024) {
      refused = "not enough free memory for " + c.memoryMib.toString() + " MiB";
      return null;
    }
    const vcpus: Vcpu[] = [];
    for (let i: u32 = 0; i < c.cpus; i++) vcpus.push(new FakeVcpu());
    const vm = new Vm(id, c.name, vcpus);
    vm.memory.add(0, 0x2_0000_0000, <u64>c.memoryMib << 20);
    list.push(vm);
    return vm;
  }
  get refusal(): string {
    return refused;
  }
  destroyVm(vm: Vm): void {
    vms.splice(vms.indexOf(vm), 1);
    destroyed.push(vm.name);
  }
}

let refused = "";
let destroyed: string[] = [];

// The VMs destroyed since reset(), by name.
export function destroyedVms(): string {
  return destroyed.join(",");
}

let randomCounter: u8 = 0;
let randomless = false;
export function setRandomless(none: bool): void {
  randomless = none;
}

let brandless = false;
export function setBrandless(none: bool): void {
  brandless = none;
}

let pinged: u32 = 0;
let shutdownBy = "";

// Who asked the host to shut down, "" if nobody did.
export function shutdownAskedBy(): string {
  return shutdownBy;
}

let vms: Vm[] = [];
let dispatcher = new Dispatcher(vms, new FixedFacts(), TOKEN);
let reader = new LineReader();
let server = new HttpServer(dispatcher);
let redfishService = new RedfishService(dispatcher);

// Before reset(): what the kernel sets up at boot.
export function calibrate(tscPerMs: u64): void {
  setTscPerMillisecond(tscPerMs);
  initExtendedState();
}

export function reset(): void {
  pinged = 0;
  shutdownBy = "";
  destroyed = [];
  randomCounter = 0;
  randomless = false;
  brandless = false;
  vms = [];
  for (let i = 0; i < NAMES.length; i++) {
    const vcpus: Vcpu[] = [new FakeVcpu(), new FakeVcpu()];
    const vm = new Vm(<u32>i, NAMES[i], vcpus);
    vm.memory.add(0, 0x1_0000_0000 + <u64>i * 0x100_0000, 1 << 20);
    vms.push(vm);
  }
  // alpha has a NIC that has seen some traffic.
  const port = new VmPort(0x52_54_00_12_34_56, [10], false, 0);
  port.sent = 7;
  port.sentBytes = 700;
  port.received = 3;
  port.receivedBytes = 300;
  port.drop(Drop.Spoofed);
  port.drop(Drop.Spoofed);
  vms[0].meters.push(new PortMeter(port));
  dispatcher = new Dispatcher(vms, new FixedFacts(), TOKEN);
  reader = new LineReader();
  server = new HttpServer(dispatcher);
  redfishService = new RedfishService(dispatcher);
}

export function answer(line: string): string {
  return dispatcher.answer(line);
}

// The events owed to a subscribed client since the last call, one per line.
export function events(): string {
  dispatcher.look();
  const queue = dispatcher.serialEvents;
  if (queue === null) return "";
  const text = queue.waiting.map<string>((e: string) => notification("event", e)).join("\n");
  queue.waiting.length = 0;
  return text;
}

// What the scheduler and the VM do, as the events see them.
export function enter(vm: i32): void {
  vms[vm].vcpus[0].runState.lastCpu = 0;
}
export function crash(vm: i32): void {
  vms[vm].stop("triple fault");
}
export function exitWith(vm: i32, status: i32): void {
  vms[vm].exitWith(status);
}
// The guest writes the PC's reset control register.
export function guestResets(vm: i32): void {
  vms[vm].reset("port 0xcf9");
}
// "k.elf" with "quiet", and two alternates.
function countedConfig(): VmConfig {
  const c = new VmConfig(), names = [OWN_SOURCE, "Recovery", "Cd"];
  for (let i = 0; i < names.length; i++) c.sources.push(new BootSourceConfig(names[i]));
  c.own.kernel.module = "k.elf";
  c.own.cmdline = "quiet";
  return c;
}
// A kernel VM's image, as far as a power-on needs it: how often it was
// loaded, and from which of its boot sources (its own, "Recovery" or "Cd").
class CountedImage extends ConfiguredImage {
  loads: i32 = 0;
  constructor() {
    super(countedConfig());
  }
  reload(vm: Vm): EntryState | null {
    this.loads++;
    this.bootOverride.takeNext();
    return new EntryState(new SegmentState(0, 0, 0, 0), new SegmentState(0, 0, 0, 0));
  }
}
export function giveImage(vm: i32): void {
  vms[vm].image = new CountedImage();
}
export function imageLoads(vm: i32): i32 {
  return (<CountedImage>vms[vm].image).loads;
}
// The boot source its last load took.
export function imageBooted(vm: i32): string {
  const choice = vms[vm].image!.bootOverride;
  return choice.targets[choice.booted];
}
export function paused(vm: i32): bool {
  return vms[vm].paused;
}
export function running(vm: i32): bool {
  return vms[vm].running;
}
// The scheduler puts vCPU `vcpu` of VM `vm` on host CPU `cpu`'s run queue.
export function setHomeCpu(vm: i32, vcpu: i32, cpu: u32): void {
  vms[vm].vcpus[vcpu].runState.homeCpu = cpu;
}
export function account(vm: i32, vcpu: i32, cpu: u32, ticks: u64): void {
  vms[vm].vcpus[vcpu].runState.account(cpu, ticks);
  vms[vm].vcpus[vcpu].exits += 3;
}

// Names a VM as a label value must escape it.
export function rename(vm: i32, name: string): void {
  vms[vm].name = name;
}

// The framing: each character of `bytes` (codes 0 to 255) fed in as a
// byte; what came out, as "L:<line>" for a line and "T" for a line that
// grew too long.
export function frame(bytes: string): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) {
    const framed = reader.feed(<u8>bytes.charCodeAt(i));
    if (framed == Framed.Line) out += "L:" + reader.line + "\n";
    else if (framed == Framed.TooLong) out += "T\n";
  }
  return out;
}

// An output queue of `capacity` bytes offered `texts` (separated by "|")
// in turn: which fit ("1" or "0" each), then everything it holds, taken out.
export function queue(capacity: i32, texts: string): string {
  const q = new OutputQueue(capacity), each = texts.split("|");
  let fits = "";
  for (let i = 0; i < each.length; i++) fits += q.offer(each[i]) ? "1" : "0";
  const bytes: u8[] = [];
  while (!q.empty) bytes.push(q.take());
  const held = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) held[i] = bytes[i];
  return fits + "|" + String.UTF8.decode(held.buffer);
}

export function quoted(text: string): string {
  return jsonString(text);
}

// One poll of the HTTP server, through the test's ip_http_* stubs.
// A poll of the API (api/service.ts pollApi()), as far as HTTP goes.
export function serveHttp(): void {
  dispatcher.look();
  server.serve();
}

export function sameToken(given: string, expected: string): bool {
  return same(given, expected);
}

// An HTTP request's record as lwIP's http.c hands it over (each character
// of `record` a byte), answered: "slot status body".
export function http(record: string): string {
  const bytes = new Uint8Array(record.length);
  for (let i = 0; i < record.length; i++) bytes[i] = <u8>record.charCodeAt(i);
  const answer = answerRecord(dispatcher, redfishService, bytes.dataStart, bytes.length);
  return answer.slot.toString() + " " + answer.status.toString() + " " + answer.fields + answer.body;
}

// A Redfish request, answered: "status LF header fields LF body".
export function redfish(method: string, credential: string, name: string, body: string): string {
  const reply = redfishService.answer(method, credential, name.length > 0 ? name : null, body);
  return reply.status.toString() + "\n" + reply.fields + "\n" + reply.body;
}

export function base64(encoded: string): string {
  const text = base64Text(encoded);
  return text !== null ? text : "(not base64)";
}

// Gives VM `vm` an ACPI power button that counts its presses.
class CountedButton extends PowerButton {
  presses: i32 = 0;
  press(): void {
    this.presses++;
  }
}
export function addPowerButton(vm: i32): void {
  vms[vm].powerButton = new CountedButton();
}
export function powerButtonPresses(vm: i32): i32 {
  return (<CountedButton>vms[vm].powerButton).presses;
}

// A console device that takes `room` bytes more, then waits.
class FakeInput extends ConsoleInput {
  received: string = "";
  constructor(public room: i32) {
    super();
  }
  get canReceive(): bool {
    return this.room > 0;
  }
  put(byte: u8): void {
    this.room--;
    this.received += String.fromCharCode(byte);
  }
}

// The guest of VM `vm` prints `text` on its console.
export function guestPrints(vm: i32, text: string): void {
  for (let i = 0; i < text.length; i++) vms[vm].console.write(<u8>text.charCodeAt(i));
  vms[vm].console.flush();
}

// VM `vm` gets a console device with room for `room` bytes, or more room.
export function inputRoom(vm: i32, room: i32): void {
  if (vms[vm].input === null) vms[vm].input = new FakeInput(room);
  else (<FakeInput>vms[vm].input).room = room;
}

export function typedInto(vm: i32): string {
  return (<FakeInput>vms[vm].input).received;
}

export function typeAhead(): void {
  dispatcher.typeAhead();
}
