// Redfish (DMTF DSP0266) for fleet managers: the VMs as ComputerSystems
// under /redfish/v1/Systems, with their power state, their Reset action,
// their boot source override, processors and memory; the hypervisor as
// their Manager and the host as their Chassis; and the service root,
// metadata and sessions a Redfish client such as OpenStack Ironic's sushy
// expects (docs/redfish.md).
//
// lwIP's instance routes the /redfish paths to "redfish.*" methods
// (linker/lwip/httpparse.c) and hands over the credential it found: Basic
// credentials ("Basic " and base64 of user:password, RFC 7617), a session's
// X-Auth-Token ("Session " and the token) or the API's bearer token. The
// password is the API token set at boot, under any user name; a session,
// made by POSTing that password to the session collection, has a token of
// 128 random bits from the CPU's generator. At most MAX_SESSIONS live at
// once, the oldest giving way to a new one. The service root, the version
// object, the OData service document and the metadata document need no
// credential (DSP0266 "Service root request"); all else answers 401
// without one, unknown paths under /redfish included. A method a path
// does not take gets 405 (with Allow, from lwIP's instance) and Redfish's
// error body, credential or none. What a request does to a VM is the
// management API's own method (dispatcher.ts), so both APIs behave alike.

import { describe } from "../setup/config/fields";
import { JsonKind, JsonValue, parseJson } from "../setup/config/json";
import { OverrideMode, OWN_SOURCE } from "../core/bootoverride";
import { Vm } from "../core/vm";
import { Dispatcher } from "./dispatcher";
import { JsonObject } from "./jsontext";
import { httpStatus, Outcome, sameToken } from "./rpc";
import * as host from "./redfishhost";
import { metadataDocument } from "./redfishschemas";
import * as views from "./redfishviews";

const MAX_SESSIONS = 8;
const TOKEN_BYTES = 16;
const OK: u32 = 200;
const CREATED: u32 = 201;
const NO_CONTENT: u32 = 204;
// Sent with every answer (DSP0266 "Response headers").
const ODATA_VERSION = "OData-Version: 4.0\r\n";
const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// An answer: its status, header fields of its own (each ending CRLF), body.
export class RedfishReply {
  constructor(readonly status: u32, readonly fields: string, readonly body: string) {}
}

class Session {
  constructor(readonly id: string, readonly token: string, readonly user: string) {}
}

function ok(body: string): RedfishReply {
  return new RedfishReply(OK, "", body);
}

function fail(status: u32, id: string, message: string, resolution: string): RedfishReply {
  const challenge = status == 401 ? "WWW-Authenticate: Basic realm=\"Typervisor\"\r\n" : "";
  return new RedfishReply(status, challenge, views.redfishError(id, message, resolution));
}

function missing(path: string): RedfishReply {
  return fail(404, "ResourceMissingAtURI", "The resource at " + path + " was not found.", "Check the URI.");
}

function notWritable(property: string): RedfishReply {
  return fail(400, "PropertyNotWritable", "The property " + property + " cannot be written.", "Leave it out.");
}

// The text of base64 `encoded` (RFC 4648 section 4), or null if it is not base64.
export function base64Text(encoded: string): string | null {
  const bytes: u8[] = [];
  let bits: u32 = 0, count = 0, end = encoded.length;
  while (end > 0 && encoded.charCodeAt(end - 1) == 0x3d) end--;
  for (let i = 0; i < end; i++) {
    const value = BASE64.indexOf(encoded.charAt(i));
    if (value < 0) return null;
    bits = (bits << 6) | <u32>value;
    count += 6;
    if (count >= 8) {
      count -= 8;
      bytes.push(<u8>(bits >> <u32>count));
    }
  }
  const array = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) array[i] = bytes[i];
  return String.UTF8.decode(array.buffer);
}

export class RedfishService {
  private readonly sessions: Session[] = [];
  private sessionsMade: u32 = 0;

  constructor(private readonly dispatcher: Dispatcher) {}

  // The answer to `method` for a client that gave `credential`, about the
  // VM or session `name`, with the request's `body`.
  answer(method: string, credential: string, name: string | null, body: string): RedfishReply {
    const reply = this.route(method, credential, name, body);
    return new RedfishReply(reply.status, ODATA_VERSION + reply.fields + "\r\n", reply.body);
  }

  private route(method: string, credential: string, name: string | null, body: string): RedfishReply {
    const given = name !== null ? name : "", vms = this.dispatcher.vms;
    if (method == "redfish.versions") return ok(views.VERSIONS);
    if (method == "redfish.root") return ok(views.serviceRoot());
    if (method == "redfish.odata") return ok(views.ODATA_DOCUMENT);
    if (method == "redfish.metadata") return ok(metadataDocument());
    if (method == "redfish.session.create") return this.logIn(body);
    // Whether a path takes a method is no secret (docs/redfish.md lists
    // them), and a public one's 405 must not ask for a credential.
    if (method == "redfish.notallowed") {
      const message = "The resource at " + given + " does not take the request's method.";
      return fail(405, "GeneralError", message, "Use a method its Allow header lists.");
    }
    if (!this.authenticated(credential)) {
      return fail(401, "NoValidSession", "The request carries no valid credential.", "Log in (docs/redfish.md).");
    }
    if (method == "redfish.missing") return missing(given);
    if (method == "redfish.systems") return ok(views.systemsCollection(vms));
    if (method == "redfish.managers") return ok(host.managersCollection());
    if (method == "redfish.manager") {
      return given == views.MANAGER_ID
        ? ok(host.manager(this.dispatcher.host.version, vms))
        : missing(views.MANAGERS + "/" + given);
    }
    if (method == "redfish.chassiscollection") return ok(host.chassisCollection());
    if (method == "redfish.chassis") {
      return given == views.CHASSIS_ID ? ok(host.chassis(vms)) : missing(views.CHASSIS_COLLECTION + "/" + given);
    }
    if (method == "redfish.sessionservice") return ok(views.sessionService());
    if (method == "redfish.sessions") {
      const ids: string[] = [];
      for (let i = 0; i < this.sessions.length; i++) ids.push(this.sessions[i].id);
      return ok(views.sessionsCollection(ids));
    }
    if (method == "redfish.session" || method == "redfish.session.delete") return this.sessionByName(method, given);
    return this.system(method, given, body);
  }

  // A request about a VM's system, or a part of it: `name` is the VM's
  // name, or for a part "VM/Processors/2" (httpparse.c gives what lies
  // between the path's first '*' and the end of its last).
  private system(method: string, name: string, body: string): RedfishReply {
    const slash = name.indexOf("/"), member = name.slice(name.lastIndexOf("/") + 1);
    const vm = this.dispatcher.find(slash < 0 ? name : name.slice(0, slash));
    const path = views.SYSTEMS + "/" + name;
    if (vm === null) return missing(path);
    if (method == "redfish.system") return ok(views.computerSystem(vm));
    if (method == "redfish.processors") return ok(views.processorsCollection(vm));
    if (method == "redfish.processor") {
      const index = I32.parseInt(member);
      // Decimal as written, with no sign or leading zero, and a vCPU's.
      const found = index.toString() == member && index >= 0 && index < vm.vcpus.length;
      return found ? ok(views.processor(vm, index, this.dispatcher.host)) : missing(path);
    }
    if (method == "redfish.memorycollection") return ok(views.memoryCollection(vm));
    if (method == "redfish.memory") return member == views.RAM ? ok(views.memory(vm)) : missing(path);
    const request = parseJson(body);
    if (request.error !== null || request.value!.kind != JsonKind.Object) {
      const what = request.error !== null ? request.error! : "expected an object, got " + describe(request.value!);
      return fail(400, "MalformedJSON", "The request body is not a JSON object: " + what + ".", "Send an object.");
    }
    return method == "redfish.system.patch" ? this.patchBoot(request.value!, vm) : this.reset(request.value!, vm);
  }

  // Whether `credential` is the password, a live session's token, or the API token.
  private authenticated(credential: string): bool {
    if (credential.startsWith("Session ")) return this.sessionOf(credential.slice(8)) !== null;
    if (!credential.startsWith("Basic ")) return credential.length > 0 && this.dispatcher.authorizes(credential);
    const pair = base64Text(credential.slice(6).trim());
    const colon = pair !== null ? pair.indexOf(":") : -1;
    return colon >= 0 && this.dispatcher.authorizes(pair!.slice(colon + 1));
  }

  // Every session's token is compared, so that the time taken tells nothing.
  private sessionOf(token: string): Session | null {
    let found: Session | null = null;
    for (let i = 0; i < this.sessions.length; i++) {
      if (sameToken(token, this.sessions[i].token)) found = this.sessions[i];
    }
    return found;
  }

  // POST to the session collection: a new session, its token in X-Auth-Token.
  private logIn(body: string): RedfishReply {
    const request = parseJson(body), value = request.value;
    const user = value !== null && value.kind == JsonKind.Object ? value.get("UserName") : null;
    const password = value !== null && value.kind == JsonKind.Object ? value.get("Password") : null;
    if (user === null || password === null || user.kind != JsonKind.String || password.kind != JsonKind.String) {
      return fail(400, "ActionParameterMissing", "UserName and Password are required.", "Send both, as strings.");
    }
    if (!this.dispatcher.authorizes(password.text)) {
      return fail(401, "NoValidSession", "The password is not the API token.", "Use the token set at boot.");
    }
    const random = new Uint8Array(TOKEN_BYTES);
    if (!this.dispatcher.host.random(random)) {
      return fail(503, "GeneralError", "The CPU has no random number generator for session tokens.", "Use Basic.");
    }
    let token = "";
    for (let i = 0; i < random.length; i++) token += (<u32>random[i] + 0x100).toString(16).slice(1);
    const session = new Session((++this.sessionsMade).toString(), token, user.text);
    if (this.sessions.length == MAX_SESSIONS) this.sessions.shift();
    this.sessions.push(session);
    const fields = "X-Auth-Token: " + token + "\r\nLocation: " + views.sessionPath(session.id) + "\r\n";
    return new RedfishReply(CREATED, fields, views.session(session.id, session.user));
  }

  private sessionByName(method: string, id: string): RedfishReply {
    for (let i = 0; i < this.sessions.length; i++) {
      const session = this.sessions[i];
      if (session.id != id) continue;
      if (method == "redfish.session") return ok(views.session(session.id, session.user));
      this.sessions.splice(i, 1);
      return new RedfishReply(NO_CONTENT, "", "");
    }
    return missing(views.sessionPath(id));
  }

  // PATCH of a ComputerSystem: only Boot's override target and mode, to
  // what views.bootTargets() and overrideModes() allow, checked whole
  // before either is set, which the management API's vm.boot does. A
  // target other than None given alone over a Disabled override is for
  // the next boot (Once), as BMCs take it; None is no override, and so
  // Disabled.
  private patchBoot(request: JsonValue, vm: Vm): RedfishReply {
    for (let i = 0; i < request.keys.length; i++) if (request.keys[i] != "Boot") return notWritable(request.keys[i]);
    const boot = request.get("Boot");
    if (boot === null || boot.kind != JsonKind.Object) return ok(views.computerSystem(vm));
    const targets = views.bootTargets(vm), modes = views.overrideModes(vm);
    let target = "", mode = -1;
    for (let i = 0; i < boot.keys.length; i++) {
      const key = boot.keys[i], value = boot.items[i];
      const allowed = key == "BootSourceOverrideTarget" ? targets : key == "BootSourceOverrideEnabled" ? modes : null;
      if (allowed === null) return notWritable("Boot/" + key);
      if (value.kind != JsonKind.String || !allowed.includes(value.text)) {
        const message = "The value " + describe(value) + " for Boot/" + key
          + " is not in the list of acceptable values.";
        return fail(400, "PropertyValueNotInList", message, "Choose one of " + allowed.join(", ") + ".");
      }
      if (key == "BootSourceOverrideTarget") target = value.text;
      else mode = views.OVERRIDE_MODES.indexOf(value.text);
    }
    const image = vm.image;
    if (image === null) return ok(views.computerSystem(vm));
    const choice = image.bootOverride;
    const newTarget = target.length > 0 ? target : choice.target;
    let newMode = mode >= 0 ? <OverrideMode>mode : choice.mode;
    if (newTarget == OWN_SOURCE && newMode != OverrideMode.Disabled) {
      if (mode >= 0) {
        const message = "BootSourceOverrideEnabled " + views.OVERRIDE_MODES[mode] + " needs a target other than None.";
        return fail(400, "PropertyValueConflict", message, "Name a BootSourceOverrideTarget too.");
      }
      newMode = OverrideMode.Disabled;
    } else if (target.length > 0 && mode < 0 && newTarget != OWN_SOURCE && newMode == OverrideMode.Disabled) {
      newMode = OverrideMode.Once;
    }
    const asked = new JsonObject()
      .str("source", newMode == OverrideMode.Disabled ? OWN_SOURCE : newTarget)
      .bool("continuous", newMode == OverrideMode.Continuous);
    const outcome = this.dispatcher.callAuthenticated("vm.boot", vm.name, asked.toString());
    if (outcome.code != 0) {
      return fail(<u32>httpStatus(outcome.code), "GeneralError", outcome.text + ".", "See the system's Boot.");
    }
    return ok(views.computerSystem(vm));
  }

  // ComputerSystem.Reset: each ResetType is the management API's method
  // that does it; asking for the state the VM is already in does nothing.
  private reset(request: JsonValue, vm: Vm): RedfishReply {
    const type = request.get("ResetType");
    if (type === null || type.kind != JsonKind.String || !views.RESET_TYPES.includes(type.text)) {
      const got = type !== null ? describe(type) : "nothing";
      const message = "ResetType " + got + " is not one of " + views.RESET_TYPES.join(", ") + ".";
      return fail(400, "ActionParameterValueNotInList", message, "Choose one of them.");
    }
    const running = vm.running, kind = type.text;
    let method = "";
    if (kind == "On" && !running) method = "vm.start";
    else if (kind == "ForceOff" && running) method = "vm.poweroff";
    else if (kind == "GracefulShutdown" && running) method = "vm.shutdown";
    else if (kind == "ForceRestart") method = "vm.reboot";
    if (method.length == 0) return new RedfishReply(NO_CONTENT, "", "");
    const outcome: Outcome = this.dispatcher.callAuthenticated(method, vm.name, "");
    if (outcome.code == 0) return new RedfishReply(NO_CONTENT, "", "");
    return fail(<u32>httpStatus(outcome.code), "GeneralError", outcome.text + ".", "See the VM's state.");
  }
}
