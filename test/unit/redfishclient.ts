// A client of the Redfish service in the unit harness (as/api.ts), shared
// by test/unit/redfish.test.ts and redfishhost.test.ts: it loads a fresh
// module of three fake VMs, asks the service as lwIP's records would, and
// reads the answers' status, header fields and body.
import { expect } from "vitest";
import { load, type Exports } from "./harness";

export interface RedfishExports {
  calibrate(tscPerMs: bigint): void;
  reset(): void;
  redfish(method: number, credential: number, name: number, body: number): number;
  base64(encoded: number): number;
  http(record: number): number;
  crash(vm: number): void;
  running(vm: number): number;
  giveImage(vm: number): void;
  imageLoads(vm: number): number;
  imageBooted(vm: number): number;
  addPowerButton(vm: number): void;
  powerButtonPresses(vm: number): number;
  setRandomless(none: number): void;
  setBrandless(none: number): void;
  setHomeCpu(vm: number, vcpu: number, cpu: number): void;
}

export const TOKEN = "unit-token";
export const BASIC = "Basic " + Buffer.from(`admin:${TOKEN}`).toString("base64");

export interface Reply {
  status: number;
  fields: Record<string, string>;
  // The body as sent, and parsed if it is JSON.
  text: string;
  body: any;
}

export interface RedfishClient {
  e: Exports<RedfishExports>;
  str(ptr: number): string;
  s(text: string): number;
  // `method` about `name` with `body`, from a client that shows `credential`.
  redfish(method: string, name?: string, body?: string, credential?: string): Reply;
}

export async function loadRedfish(): Promise<RedfishClient> {
  const e = (await load<RedfishExports>("api.ts")).exports;
  e.calibrate(100n);
  e.reset();
  const str = (ptr: number) => e.__getString(ptr >>> 0);
  const s = (text: string) => e.__newString(text);
  // as/api.ts answers "status LF fields LF body"; the fields end with an empty line.
  const redfish = (method: string, name = "", request = "", credential = BASIC): Reply => {
    const answer = str(e.redfish(s(method), s(credential), s(name), s(request)));
    const status = answer.slice(0, answer.indexOf("\n")), end = answer.indexOf("\r\n\r\n");
    const lines = answer.slice(status.length + 1, end).split("\r\n");
    const pairs = lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]);
    const text = answer.slice(end + 5);
    const body = text.startsWith("{") ? JSON.parse(text) : null;
    return { status: Number(status), fields: Object.fromEntries(pairs), text, body };
  };
  return { e, str, s, redfish };
}

// The message id of a Redfish error body, checked for its shape.
export function messageOf(reply: Reply): string {
  const error = reply.body.error;
  expect(error.code).toMatch(/^Base\.1\.8\./);
  expect(error["@Message.ExtendedInfo"][0]).toMatchObject({ MessageId: error.code, Message: error.message });
  return error.code.slice("Base.1.8.".length);
}
