// The management API's methods (docs/api.md): a request line in, its reply
// out, and the events a subscribed client is sent.
//
// Every method maps to one path of the REST API (docs/api/openapi.yaml):
// host.get is GET /api/v1/host, vm.pause is POST /api/v1/vms/{name}/pause,
// and so on; answer() serves JSON-RPC lines, call() the HTTP transport
// (http.ts). A request must carry the token set at boot (params.token, or
// HTTP's bearer token); without it the reply is an error with HTTP
// status 401, and nothing else about the request is looked at. Events
// (VMs started, reset and stopped and why, faults, pauses) are found by
// comparing each VM's state with what was last seen, so nothing on a VM's
// exit path has to know about the API; each subscriber (the serial line,
// an HTTP event stream) has a queue of its own.

import { describe, quote } from "../setup/config/fields";
import { MAX_VMS } from "../setup/config/config";
import { JsonKind, JsonValue, parseJson } from "../setup/config/json";
import { Vm } from "../core/vm";
import { formatIpv4, parseIpv4 } from "../net/ip/address";
import { HostFacts } from "./hostfacts";
import { JsonArray, JsonObject, jsonString } from "./jsontext";
import { metricsText } from "./metrics";
import { BOOT_FIELDS, bootFromBody, chooseBoot } from "./vmboot";
import {
  CONFLICT,
  errorReply,
  INVALID_PARAMS,
  METHOD_NOT_FOUND,
  NOT_FOUND,
  Outcome,
  readRequest,
  resultReply,
  sameToken,
  TOO_LARGE,
  UNAUTHORIZED,
} from "./rpc";
import { MAX_REQUEST_BYTES } from "./framing";
import { consoleText, stateOf, vmInfo, vmStats, vmSummary } from "./vmviews";

export const API_VERSION = "v1";
const METHODS: string[] = [
  "host.get",
  "vms.list",
  "vm.get",
  "vm.stats",
  "host.shutdown",
  "vm.create",
  "vm.destroy",
  "vm.start",
  "vm.pause",
  "vm.resume",
  "vm.poweroff",
  "vm.reboot",
  "vm.shutdown",
  "vm.boot",
  "events.subscribe",
  "events.unsubscribe",
  "metrics.get",
  "ping.start",
  "ping.get",
  "vm.console.read",
  "vm.console.write",
];
// Events wait for a subscriber at most this many at a time; more are
// dropped (and counted) while it does not take them.
const MAX_WAITING_EVENTS = 64;
const WHO = "the management API";
// Bytes typed over the API that may wait for a VM's console at a time.
const TYPE_AHEAD = 4096;

// What a VM was last seen doing.
const NOT_STARTED: u8 = 0;
const STARTED: u8 = 1;
const STOPPED: u8 = 2;

// What the API keeps of one VM: what it was last seen doing, its resets
// seen, and the bytes typed over the API that its console has not taken yet.
class Watch {
  seen: u8 = NOT_STARTED;
  resets: u32;
  typed: u8[] = [];
  constructor(readonly vm: Vm) {
    this.resets = vm.resets;
  }
}

// A subscriber's events, oldest first, each an Event object's JSON.
export class EventQueue {
  readonly waiting: string[] = [];
}

// `vms` is the host's list of VMs, which the scheduler shares: vm.create
// adds to it, vm.destroy takes out of it (HostFacts).
export class Dispatcher {
  // The serial line's subscription (events.subscribe), or null.
  serialEvents: EventQueue | null = null;
  droppedEvents: u64 = 0;
  private readonly queues: EventQueue[] = [];
  // One per VM of the list, in its order.
  private watches: Watch[] = [];

  constructor(readonly vms: Vm[], readonly host: HostFacts, private readonly token: string) {
    for (let i = 0; i < vms.length; i++) this.watches.push(new Watch(vms[i]));
  }

  // The reply to one request line.
  answer(line: string): string {
    const request = readRequest(line);
    if (request.error !== null) return request.error!;
    const id = request.id, params = request.params, method = request.method;
    const token = params !== null ? params.get("token") : null;
    const refused = this.refuse(method, token !== null && token.kind == JsonKind.String ? token.text : null);
    if (refused !== null) return reply(id, refused);
    if (method == "vm.create") return reply(id, this.createFrom(params!, "params."));
    // The field beside the token: a VM's name, or the address to ping;
    // and what is typed on a VM's console, or the source it boots.
    const field = method.startsWith("vm.") ? "name" : method == "ping.start" ? "address" : "";
    const typing = method == "vm.console.write", booting = method == "vm.boot";
    for (let i = 0; i < params!.keys.length; i++) {
      const key = params!.keys[i];
      const more = (typing && key == "text") || (booting && BOOT_FIELDS.includes(key));
      if (key != "token" && key != field && !more) {
        return errorReply(id, INVALID_PARAMS, "params: unknown field " + quote(key) + " for " + method);
      }
    }
    const text = typing ? params!.get("text") : null;
    if (typing && (text === null || text.kind != JsonKind.String)) {
      const got = text !== null ? describe(text) : "nothing";
      return errorReply(id, INVALID_PARAMS, "params.text: expected what to type, as a string, got " + got);
    }
    const name = field.length > 0 ? params!.get(field) : null;
    if (name !== null && name.kind != JsonKind.String) {
      const what = field == "name" ? "a VM's name" : "an IPv4 address";
      return errorReply(id, INVALID_PARAMS, "params." + field + ": expected " + what + ", got " + describe(name));
    }
    if (method == "events.subscribe" && this.serialEvents === null) this.serialEvents = this.subscribe();
    if (method == "events.unsubscribe" && this.serialEvents !== null) {
      this.unsubscribe(this.serialEvents!);
      this.serialEvents = null;
    }
    const given = name !== null ? name.text : null;
    return reply(id, this.run(method, given, text !== null ? text.text : "", booting ? params : null));
  }

  // `method` for a client that gave `token` and, for a vm.* method, the
  // VM's `name` (for ping.start, the address), with the request's `body`
  // (for vm.console.write, what to type): the HTTP transport's entry
  // (http.ts), which has no id.
  call(method: string, token: string | null, name: string | null, body: string): Outcome {
    const refused = this.refuse(method, token);
    if (refused !== null) return refused;
    if (method != "vm.create") return this.run(method, name, body);
    const parsed = parseJson(body);
    if (parsed.error !== null) return new Outcome(INVALID_PARAMS, "the body is not JSON: " + parsed.error!);
    return this.createFrom(parsed.value!, "");
  }

  // `method` for a client that proved itself otherwise (Redfish's, redfish.ts).
  callAuthenticated(method: string, name: string | null, body: string): Outcome {
    const refused = this.refuse(method, this.token);
    return refused !== null ? refused : this.run(method, name, body);
  }

  // Whether `token` is the one set at boot.
  authorizes(token: string): bool {
    return sameToken(token, this.token);
  }

  // The token first, so that a client without it learns nothing; then
  // whether the method exists.
  private refuse(method: string, token: string | null): Outcome | null {
    if (token === null || !this.authorizes(token)) {
      return new Outcome(UNAUTHORIZED, "unauthorized: the request must carry the token set at boot");
    }
    if (!METHODS.includes(method)) return new Outcome(METHOD_NOT_FOUND, "no method " + quote(method));
    return null;
  }

  // `text` is an HTTP request's body, or what JSON-RPC's params.text types;
  // `params`, for vm.boot over JSON-RPC, the request.
  private run(method: string, name: string | null, text: string, params: JsonValue | null = null): Outcome {
    if (method == "host.get") return new Outcome(0, this.hostInfo());
    if (method == "host.shutdown") {
      this.host.shutdown(WHO);
      return new Outcome(0, new JsonObject().bool("shutting_down", true).toString());
    }
    if (method == "vms.list") return new Outcome(0, this.list());
    if (method == "metrics.get") return new Outcome(0, metricsText(this.host, this.vms, this.droppedEvents), true);
    if (method == "events.subscribe" || method == "events.unsubscribe") {
      const subscribed = method == "events.subscribe";
      return new Outcome(0, new JsonObject().bool("subscribed", subscribed).raw("now", this.list()).toString());
    }
    if (method == "ping.start" || method == "ping.get") return this.ping(method, name);
    if (name === null) return new Outcome(INVALID_PARAMS, "params.name: expected a VM's name, got nothing");
    const vm = this.find(name);
    if (vm === null) return new Outcome(NOT_FOUND, "no vm named " + quote(name));
    if (method == "vm.get") return new Outcome(0, vmInfo(vm));
    if (method == "vm.stats") return new Outcome(0, vmStats(vm, this.host.nowNs));
    if (method == "vm.console.read") return new Outcome(0, consoleText(vm));
    if (method == "vm.console.write") return this.type(vm, text);
    if (method == "vm.destroy") return this.destroy(vm);
    if (method == "vm.boot") {
      return params !== null
        ? chooseBoot(vm, params, "params.", WHO)
        : bootFromBody(vm, text, WHO);
    }
    return this.change(vm, method);
  }

  // vm.create: `request` holds the VM's configuration, an entry of the
  // configuration file's "vms" (over JSON-RPC as params.config beside the
  // token, over HTTP as the body); `where` prefixes the field names.
  private createFrom(request: JsonValue, where: string): Outcome {
    let entry: JsonValue | null = request;
    if (where.length > 0) {
      for (let i = 0; i < request.keys.length; i++) {
        const key = request.keys[i];
        if (key != "token" && key != "config") {
          return new Outcome(INVALID_PARAMS, where + ": unknown field " + quote(key) + " for vm.create");
        }
      }
      entry = request.get("config");
    }
    if (entry === null || entry.kind != JsonKind.Object) {
      const got = entry !== null ? describe(entry) : "nothing";
      return new Outcome(
        INVALID_PARAMS,
        where + "config: expected a VM's configuration, an object as in the configuration's \"vms\", got " + got,
      );
    }
    const name = entry.get("name");
    if (name !== null && name.kind == JsonKind.String && this.find(name.text) !== null) {
      return new Outcome(CONFLICT, "a vm named " + quote(name.text) + " exists already");
    }
    if (this.vms.length >= MAX_VMS) {
      return new Outcome(CONFLICT, "the host has " + MAX_VMS.toString() + " VMs, the most it keeps");
    }
    this.look();
    const errors: string[] = [];
    const vm = this.host.createVm(entry, this.nextId(), this.vms, errors);
    if (errors.length > 0) return new Outcome(INVALID_PARAMS, where + "config: " + errors.join("; "));
    if (vm === null) return new Outcome(CONFLICT, "the vm was not created: " + this.host.refusal);
    this.watches.push(new Watch(vm));
    this.event(vm, "created", null);
    return new Outcome(0, vmSummary(vm));
  }

  // A number no VM of the list has.
  private nextId(): u32 {
    let id: u32 = 0;
    for (let i = 0; i < this.vms.length; i++) id = max(id, this.vms[i].id + 1);
    return id;
  }

  // vm.destroy: the VM is powered off if it runs, and leaves the host; its
  // RAM and the hypervisor's pages for it go back as soon as no CPU holds
  // it (sched/scheduler.ts retireVm()).
  private destroy(vm: Vm): Outcome {
    this.look();
    if (vm.running) {
      vm.powerOffBy(WHO);
      this.look();
    }
    this.host.destroyVm(vm);
    this.watches.splice(this.watchIndex(vm), 1);
    this.event(vm, "destroyed", null);
    return new Outcome(0, new JsonObject().str("name", vm.name).bool("destroyed", true).toString());
  }

  // vm.start, vm.pause, vm.resume, vm.poweroff, vm.reboot or vm.shutdown
  // of a VM: its summary after. vm.shutdown presses the power button and
  // returns: the guest takes its time to shut down, and the stop is an event.
  private change(vm: Vm, method: string): Outcome {
    // What happened before this change is told first.
    this.look();
    if (method == "vm.start") return this.start(vm);
    if (!vm.running) return new Outcome(CONFLICT, "vm " + vm.name + " has stopped: " + vm.stopReason);
    if (method == "vm.pause" || method == "vm.resume") {
      const pause = method == "vm.pause";
      if (vm.paused != pause) {
        vm.setPaused(pause);
        this.event(vm, pause ? "paused" : "resumed", null);
      }
    } else if (method == "vm.poweroff") {
      vm.powerOffBy(WHO);
      this.look();
    } else if (method == "vm.shutdown") {
      if (!vm.pressPowerButton()) return new Outcome(CONFLICT, "vm " + vm.name + " has no power button to press");
    } else if (vm.restartBy(WHO)) {
      this.look();
    } else {
      return new Outcome(CONFLICT, "vm " + vm.name + " cannot be rebooted: it has no kernel image to restart from");
    }
    return new Outcome(0, vmSummary(vm));
  }

  // A stopped VM powered on again from its image; its "started" event
  // comes with the next look.
  private start(vm: Vm): Outcome {
    if (vm.running) return new Outcome(CONFLICT, "vm " + vm.name + " is already running");
    if (vm.image === null) {
      return new Outcome(CONFLICT, "vm " + vm.name + " cannot be started: it has no kernel image to start from");
    }
    if (!vm.powerOnBy(WHO)) return new Outcome(CONFLICT, "vm " + vm.name + " did not start: " + vm.stopReason);
    this.look();
    return new Outcome(0, vmSummary(vm));
  }

  // A new subscriber's queue, which gets the events from now on: what
  // changed before is told to the subscribers there were.
  subscribe(): EventQueue {
    this.look();
    const queue = new EventQueue();
    this.queues.push(queue);
    return queue;
  }

  unsubscribe(queue: EventQueue): void {
    const at = this.queues.indexOf(queue);
    if (at >= 0) this.queues.splice(at, 1);
  }

  // `text` typed on the VM's console: it waits here (typeAhead()) as far
  // as TYPE_AHEAD bytes allow, and goes in as fast as the guest takes it.
  private type(vm: Vm, text: string): Outcome {
    if (!vm.running) return new Outcome(CONFLICT, "vm " + vm.name + " has stopped: " + vm.stopReason);
    if (vm.input === null) return new Outcome(CONFLICT, "vm " + vm.name + " has no console to type on");
    const bytes = Uint8Array.wrap(String.UTF8.encode(text)), watch = this.watches[this.watchIndex(vm)];
    const accepted = min(bytes.length, TYPE_AHEAD - watch.typed.length);
    for (let i = 0; i < accepted; i++) watch.typed.push(bytes[i]);
    this.typeAhead();
    return new Outcome(0, new JsonObject().num("accepted", accepted).num("waiting", watch.typed.length).toString());
  }

  // What was typed over the API into the VMs' consoles, as far as each
  // guest takes it now; CPU 0 calls it every poll.
  typeAhead(): void {
    for (let i = 0; i < this.watches.length; i++) {
      const watch = this.watches[i], vm = watch.vm, input = vm.input, waiting = watch.typed;
      if (waiting.length == 0) continue;
      if (!vm.running || input === null) {
        waiting.length = 0;
        continue;
      }
      let n = 0;
      while (n < waiting.length && input.canReceive) input.put(waiting[n++]);
      if (n > 0) watch.typed = waiting.slice(n);
    }
  }

  // ping.start to `address`, or ping.get: the ping's figures.
  private ping(method: string, address: string | null): Outcome {
    if (method == "ping.start") {
      const to = address !== null ? parseIpv4(address) : -1;
      if (to <= 0) {
        const got = address !== null ? quote(address) : "nothing";
        return new Outcome(INVALID_PARAMS, "params.address: expected an IPv4 address, got " + got);
      }
      if (!this.host.startPing(<u32>to)) {
        return new Outcome(CONFLICT, "the hypervisor has no management address to ping from");
      }
    }
    const ping = this.host.lastPing;
    if (ping === null) return new Outcome(NOT_FOUND, "no ping was started");
    const json = new JsonObject()
      .str("address", formatIpv4(ping.address))
      .num("sent", ping.sent)
      .num("received", ping.received)
      .bool("done", ping.done);
    if (ping.received > 0) {
      json.raw(
        "rtt_ns",
        new JsonObject().num("min", ping.minNs).num("avg", ping.avgNs).num("max", ping.maxNs).toString(),
      );
    }
    return new Outcome(0, json.toString());
  }

  // The reply to a line longer than MAX_REQUEST_BYTES.
  tooLong(): string {
    return errorReply("null", TOO_LARGE, "request longer than " + MAX_REQUEST_BYTES.toString() + " bytes");
  }

  // Events for what changed since the last look: a VM that started, one
  // that stopped (a fault if it misbehaved), and why.
  look(): void {
    for (let i = 0; i < this.watches.length; i++) {
      const watch = this.watches[i], vm = watch.vm, was = watch.seen;
      if (vm.resets != watch.resets) {
        watch.resets = vm.resets;
        this.event(vm, "rebooted", new JsonObject().str("reason", vm.resetReason));
      }
      const now = !vm.running ? STOPPED : vm.vcpus[0].runState.lastCpu >= 0 ? STARTED : NOT_STARTED;
      if (now == was) continue;
      watch.seen = now;
      if (was == NOT_STARTED || was == STOPPED) this.event(vm, "started", null);
      if (now == STOPPED) {
        const why = new JsonObject().str("reason", vm.stopReason).int("exit_status", vm.exitStatus);
        this.event(vm, vm.faulted ? "fault" : "stopped", why);
      }
    }
  }

  private event(vm: Vm, kind: string, details: JsonObject | null): void {
    const queues = this.queues;
    if (queues.length == 0) return;
    const params = details !== null ? details : new JsonObject();
    params.str("event", kind).str("vm", vm.name).str("state", stateOf(vm)).num("time_ns", this.host.nowNs);
    const text = params.toString();
    for (let i = 0; i < queues.length; i++) {
      if (queues[i].waiting.length < MAX_WAITING_EVENTS) queues[i].waiting.push(text);
      else this.droppedEvents++;
    }
  }

  private watchIndex(vm: Vm): i32 {
    for (let i = 0; i < this.watches.length; i++) if (this.watches[i].vm === vm) return i;
    return -1;
  }

  find(name: string): Vm | null {
    for (let i = 0; i < this.vms.length; i++) if (this.vms[i].name == name) return this.vms[i];
    return null;
  }

  private hostInfo(): string {
    let vmBytes: u64 = 0;
    for (let i = 0; i < this.vms.length; i++) vmBytes += this.vms[i].memory.size;
    const host = this.host;
    const memory = new JsonObject()
      .num("free_bytes", host.freeBytes)
      .num("vm_bytes", vmBytes)
      .num("hypervisor_pages_bytes", host.pagesBytes);
    return new JsonObject()
      .str("name", "Typervisor")
      .str("version", host.version)
      .str("api", API_VERSION)
      .num("cpus", host.cpus)
      .raw("memory", memory.toString())
      .num("uptime_ns", host.nowNs)
      .num("vms", this.vms.length)
      .num("dropped_events", this.droppedEvents)
      .toString();
  }

  // vms.list's result.
  list(): string {
    const list = new JsonArray();
    for (let i = 0; i < this.vms.length; i++) list.add(vmSummary(this.vms[i]));
    return new JsonObject().num("time_ns", this.host.nowNs).raw("vms", list.toString()).toString();
  }
}

function reply(id: string, outcome: Outcome): string {
  if (outcome.code != 0) return errorReply(id, outcome.code, outcome.text);
  return resultReply(id, outcome.plain ? jsonString(outcome.text) : outcome.text);
}
