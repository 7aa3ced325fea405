// vm.boot, POST /api/v1/vms/{name}/boot: which boot source a VM's next
// boots take (core/bootoverride.ts). The request is
//   {"source": "Recovery", "continuous": false}
// (over JSON-RPC in params, beside the token and the name): `source` one
// of the VM's sources as vm.get's kernel.boot_sources lists them, "None"
// for its own kernel (no override); `continuous` true for every boot from
// now on, false or absent for the next one only. It acts at the VM's next
// boot (a reset, vm.reboot, or vm.start after a stop). The reply is
// vm.get's "kernel" object, which shows the override. Redfish's boot
// source override is this method too (redfish.ts).

import * as log from "../../kernel/console/log";
import { OverrideMode } from "../core/bootoverride";
import { Vm } from "../core/vm";
import { describe, quote } from "../setup/config/fields";
import { JsonKind, JsonValue, parseJson } from "../setup/config/json";
import { CONFLICT, INVALID_PARAMS, Outcome } from "./rpc";
import { kernelOf } from "./vmviews";

// The fields of the request, which over JSON-RPC the dispatcher checks.
export const BOOT_FIELDS: string[] = ["source", "continuous"];

// vm.boot with the request in an HTTP `body`.
export function bootFromBody(vm: Vm, body: string, who: string): Outcome {
  const parsed = parseJson(body);
  if (parsed.error !== null) return new Outcome(INVALID_PARAMS, "the body is not JSON: " + parsed.error!);
  const request = parsed.value!;
  if (request.kind != JsonKind.Object) {
    return new Outcome(
      INVALID_PARAMS,
      "expected an object such as {\"source\": \"Recovery\"}, got " + describe(request),
    );
  }
  for (let i = 0; i < request.keys.length; i++) {
    const key = request.keys[i];
    if (!BOOT_FIELDS.includes(key)) return new Outcome(INVALID_PARAMS, "unknown field " + quote(key) + " for vm.boot");
  }
  return chooseBoot(vm, request, "", who);
}

// `request`'s override for `vm`, set by `who`; `where` ("params.", or ""
// for an HTTP body) prefixes the fields in errors.
export function chooseBoot(vm: Vm, request: JsonValue, where: string, who: string): Outcome {
  const image = vm.image;
  if (image === null) return new Outcome(CONFLICT, "vm " + vm.name + " has no kernel image, and no other boot source");
  const choice = image.bootOverride, sources = choice.targets.join(", ");
  const source = request.get("source"), continuous = request.get("continuous");
  if (source === null || source.kind != JsonKind.String) {
    const got = source !== null ? describe(source) : "nothing";
    return new Outcome(INVALID_PARAMS, where + "source: expected one of " + sources + ", got " + got);
  }
  if (continuous !== null && continuous.kind != JsonKind.Bool) {
    return new Outcome(INVALID_PARAMS, where + "continuous: expected true or false, got " + describe(continuous));
  }
  if (!choice.choose(source.text, continuous !== null && continuous.bool)) {
    return new Outcome(
      INVALID_PARAMS,
      "vm " + vm.name + " has no boot source " + quote(source.text) + "; it has " + sources,
    );
  }
  const until = choice.mode == OverrideMode.Disabled
    ? "none"
    : choice.target + (choice.mode == OverrideMode.Once ? " for the next boot" : " for every boot");
  log.info("vm " + vm.name + ": boot override " + until + ", by " + who);
  return new Outcome(0, kernelOf(vm));
}
