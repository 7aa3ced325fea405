// The management API's HTTP request parser and router
// (linker/lwip/httpparse.c), built for wasm32 on its own, as it runs in
// lwIP's instance: whole requests routed to their JSON-RPC methods with
// the VM's name and bearer token; requests cut short waiting for more;
// each malformed, oversized or unknown one refused with its status; and
// random bytes never read outside the request.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";

const WASM = "build/test/httpparse.wasm";
const CAPACITY = 4096;
// Where the request and the parser's answer go in the module's memory.
const REQUEST_AT = 0x20000, OUT_AT = 0x30000;
const INCOMPLETE = 0, ROUTED = 1;

let memory: WebAssembly.Memory;
let parse: (at: number, length: number, capacity: number, out: number) => number;

beforeAll(() => {
  mkdirSync("build/test", { recursive: true });
  execFileSync("clang", [
    "--target=wasm32",
    "-nostdlib",
    "-ffreestanding",
    // As the instance is built (Makefile's LWIP_CFLAGS): zeroing a request is a memory.fill.
    "-mbulk-memory",
    "-O2",
    "-Ilinker/lwip/include",
    "-Wl,--no-entry",
    "-Wl,--export=http_parse",
    "-Wl,--initial-memory=262144",
    "linker/lwip/httpparse.c",
    "-o",
    WASM,
  ]);
  const instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(WASM)));
  memory = instance.exports.memory as WebAssembly.Memory;
  parse = instance.exports.http_parse as typeof parse;
});

interface Parsed {
  result: number;
  rpc?: string;
  name?: string;
  token?: string;
  // What the token is: "" a bearer token, "Basic " or "Session ".
  scheme?: string;
  allow?: string;
  length?: number;
  contentType?: string;
  stream?: boolean;
}

function cString(at: number): string {
  const bytes = new Uint8Array(memory.buffer);
  let end = at;
  while (bytes[end] !== 0) end++;
  return Buffer.from(bytes.subarray(at, end)).toString("latin1");
}

function parsed(request: string | Buffer, capacity = CAPACITY): Parsed {
  const bytes = typeof request === "string" ? Buffer.from(request, "latin1") : request;
  new Uint8Array(memory.buffer).set(bytes, REQUEST_AT);
  const result = parse(REQUEST_AT, bytes.length, capacity, OUT_AT);
  if (result !== ROUTED) return { result };
  const [rpc, nameAt, nameLength, tokenAt, tokenLength, allow, length, type, stream, , , scheme] = new Uint32Array(
    memory.buffer,
    OUT_AT,
    12,
  );
  // The name and token are offsets in the request.
  const text = (at: number, n: number) => bytes.subarray(at, at + n).toString("latin1");
  const contentType = type === 0 ? "application/json" : cString(type);
  return {
    result,
    rpc: cString(rpc),
    name: text(nameAt, nameLength),
    token: text(tokenAt, tokenLength),
    scheme: cString(scheme),
    allow: allow === 0 ? undefined : cString(allow),
    length,
    contentType,
    stream: stream !== 0,
  };
}

// The header a 405 carries.
function allowed(request: string): string {
  new Uint8Array(memory.buffer).set(Buffer.from(request, "latin1"), REQUEST_AT);
  expect(parse(REQUEST_AT, request.length, CAPACITY, OUT_AT)).toBe(405);
  return cString(new Uint32Array(memory.buffer, OUT_AT, 7)[5]);
}

const get = (path: string, headers = "Authorization: Bearer s3cret\r\n") =>
  `GET ${path} HTTP/1.1\r\nHost: 10.0.0.20\r\n${headers}\r\n`;

describe("routing", () => {
  it("maps each /api/v1 and /redfish path and method, and /metrics, to its method, the answer's type, a stream", () => {
    const json = "application/json", text = "text/plain; version=0.0.4; charset=utf-8";
    const cases: [string, string, string, string][] = [
      ["GET", "/api/v1/host", "host.get", json],
      ["POST", "/api/v1/host/shutdown", "host.shutdown", json],
      ["GET", "/api/v1/vms", "vms.list", json],
      ["POST", "/api/v1/vms", "vm.create", json],
      ["GET", "/api/v1/vms/up-vm", "vm.get", json],
      ["DELETE", "/api/v1/vms/up-vm", "vm.destroy", json],
      ["POST", "/api/v1/vms/up-vm/start", "vm.start", json],
      ["GET", "/api/v1/vms/up-vm/stats", "vm.stats", json],
      ["POST", "/api/v1/vms/up-vm/pause", "vm.pause", json],
      ["POST", "/api/v1/vms/up-vm/resume", "vm.resume", json],
      ["POST", "/api/v1/vms/up-vm/poweroff", "vm.poweroff", json],
      ["POST", "/api/v1/vms/up-vm/reboot", "vm.reboot", json],
      ["POST", "/api/v1/vms/up-vm/shutdown", "vm.shutdown", json],
      ["POST", "/api/v1/vms/up-vm/boot", "vm.boot", json],
      ["GET", "/metrics", "metrics.get", text],
      ["GET", "/redfish", "redfish.versions", json],
      ["GET", "/redfish/v1", "redfish.root", json],
      ["GET", "/redfish/v1/", "redfish.root", json],
      ["GET", "/redfish/v1/odata", "redfish.odata", json],
      ["GET", "/redfish/v1/$metadata", "redfish.metadata", "application/xml; charset=utf-8"],
      ["GET", "/redfish/v1/Systems", "redfish.systems", json],
      ["GET", "/redfish/v1/Systems/up-vm", "redfish.system", json],
      ["PATCH", "/redfish/v1/Systems/up-vm", "redfish.system.patch", json],
      ["POST", "/redfish/v1/Systems/up-vm/Actions/ComputerSystem.Reset", "redfish.system.reset", json],
      ["GET", "/redfish/v1/Systems/up-vm/Processors", "redfish.processors", json],
      ["GET", "/redfish/v1/Systems/up-vm/Memory", "redfish.memorycollection", json],
      ["GET", "/redfish/v1/Managers", "redfish.managers", json],
      ["GET", "/redfish/v1/Managers/up-vm", "redfish.manager", json],
      ["GET", "/redfish/v1/Chassis", "redfish.chassiscollection", json],
      ["GET", "/redfish/v1/Chassis/up-vm", "redfish.chassis", json],
      ["GET", "/redfish/v1/SessionService", "redfish.sessionservice", json],
      ["GET", "/redfish/v1/SessionService/Sessions", "redfish.sessions", json],
      ["POST", "/redfish/v1/SessionService/Sessions", "redfish.session.create", json],
      ["GET", "/redfish/v1/SessionService/Sessions/up-vm", "redfish.session", json],
      ["DELETE", "/redfish/v1/SessionService/Sessions/up-vm", "redfish.session.delete", json],
      ["GET", "/api/v1/events", "events.subscribe", "text/event-stream"],
      ["POST", "/api/v1/ping/10.0.0.21", "ping.start", json],
      ["GET", "/api/v1/ping", "ping.get", json],
      ["GET", "/", "", "text/html; charset=utf-8"],
    ];
    for (const [method, path, rpc, contentType] of cases) {
      const request = `${method} ${path} HTTP/1.1\r\nAuthorization: Bearer s3cret\r\n\r\n`;
      const name = path.includes("up-vm") ? "up-vm" : path.startsWith("/api/v1/ping/") ? "10.0.0.21" : "";
      const length = request.length;
      const stream = rpc === "events.subscribe";
      const expected = { result: ROUTED, rpc, name, token: "s3cret", scheme: "", length, contentType, stream };
      expect(parsed(request)).toEqual(expected);
    }
  });

  it("names a path with two '*'s from the first to the end of the second", () => {
    expect(parsed(get("/redfish/v1/Systems/up-vm/Processors/12"))).toMatchObject({
      rpc: "redfish.processor",
      name: "up-vm/Processors/12",
    });
    expect(parsed(get("/redfish/v1/Systems/up-vm/Memory/ram"))).toMatchObject({
      rpc: "redfish.memory",
      name: "up-vm/Memory/ram",
    });
    expect(parsed(get("/redfish/v1/Systems/up-vm/Processors/")).rpc).toBe("redfish.missing");
  });

  it("gives Redfish every other path under /redfish/, whole, to answer with its own 404", () => {
    for (
      const path of ["/redfish/v1/Bogus", "/redfish/v1/Systems/a/Bogus/1", "/redfish/v2", "/redfish/v1/Systems?x=1"]
    ) {
      expect(parsed(get(path)), path).toMatchObject({ result: ROUTED, rpc: "redfish.missing", name: path });
    }
    expect(parsed(get("/redfish/")).result).toBe(404);
    expect(parsed(get("/redfishes")).result).toBe(404);
  });

  it("gives Redfish a method its path does not take, whole, to answer with its own 405, and the Allow", () => {
    const cases = [
      ["DELETE", "/redfish/v1/Managers", "GET"],
      ["POST", "/redfish/v1/", "GET"],
      ["PUT", "/redfish/v1/$metadata", "GET"],
      ["POST", "/redfish/v1/Chassis/host", "GET"],
      ["PATCH", "/redfish/v1/Systems/up-vm/Processors/0", "GET"],
      ["POST", "/redfish/v1/Systems/up-vm/Memory", "GET"],
      ["DELETE", "/redfish/v1/Systems/up-vm", "GET, PATCH"],
      ["PUT", "/redfish/v1/SessionService/Sessions", "GET, POST"],
    ];
    for (const [method, path, allow] of cases) {
      expect(parsed(`${method} ${path} HTTP/1.1\r\n\r\n`), path).toMatchObject({
        result: ROUTED,
        rpc: "redfish.notallowed",
        name: path,
        allow,
      });
    }
    // The version object is not under /redfish/: the API's own 405.
    expect(allowed("POST /redfish HTTP/1.1\r\n\r\n")).toBe("GET");
  });

  it("refuses an unknown path with 404 and another method with 405 and its Allow", () => {
    for (
      const path of [
        "/index.html",
        "/api/v1",
        "/api/v1/vms/",
        "/api/v1/vms/a/b",
        "/api/v1/vms/a%20b",
        "/api/v1/vms?x=1",
      ]
    ) {
      expect(parsed(get(path)).result, path).toBe(404);
    }
    expect(allowed("DELETE /api/v1/vms HTTP/1.1\r\n\r\n")).toBe("GET, POST");
    expect(allowed("PUT /api/v1/vms/alpha HTTP/1.1\r\n\r\n")).toBe("GET, DELETE");
    expect(allowed("GET /api/v1/vms/alpha/pause HTTP/1.1\r\n\r\n")).toBe("POST");
  });
});

describe("headers", () => {
  it("takes the bearer token whatever the case of the scheme and header, and nothing else as one", () => {
    expect(parsed(get("/api/v1/vms", "authorization: bearer  tok=en \r\n"))).toMatchObject({
      token: "tok=en",
      scheme: "",
    });
    expect(parsed(get("/api/v1/vms", "AUTHORIZATION: BEARER x\r\n")).token).toBe("x");
    expect(parsed(get("/api/v1/vms", "Authorization: Digest x\r\n")).token).toBe("");
    expect(parsed(get("/api/v1/vms", "")).token).toBe("");
  });

  it("takes Basic credentials and a Redfish session's X-Auth-Token, marked, and one credential at most", () => {
    const basic = parsed(get("/redfish/v1/Systems", "Authorization: basic dXNlcjpwYXNz\r\n"));
    expect(basic).toMatchObject({ token: "dXNlcjpwYXNz", scheme: "Basic " });
    const session = parsed(get("/redfish/v1/Systems", "x-auth-token: 0123abcd\r\n"));
    expect(session).toMatchObject({ token: "0123abcd", scheme: "Session " });
    expect(parsed(get("/redfish/v1/Systems", "X-Auth-Token: a\r\nAuthorization: Bearer b\r\n")).result).toBe(400);
  });

  it("accepts bare LF line ends and HTTP/1.0, and skips a body of Content-Length bytes", () => {
    expect(parsed("GET /api/v1/host HTTP/1.0\nAuthorization: Bearer t\n\n").rpc).toBe("host.get");
    const post = "POST /api/v1/vms/a/pause HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    expect(parsed(post)).toMatchObject({ result: ROUTED, rpc: "vm.pause", length: post.length });
  });

  it("waits for the rest of a request cut anywhere", () => {
    const post = "POST /api/v1/vms/a/pause HTTP/1.1\r\nAuthorization: Bearer t\r\nContent-Length: 5\r\n\r\nhello";
    for (let n = 0; n < post.length; n++) expect(parsed(post.slice(0, n)).result, `${n} bytes`).toBe(INCOMPLETE);
    expect(parsed(post).result).toBe(ROUTED);
  });
});

describe("refusals", () => {
  it("answers what is not HTTP with 400", () => {
    const bad = [
      "GET\r\n\r\n",
      "GET  /api/v1/vms HTTP/1.1\r\n\r\n",
      "GET /api/v1/vms\r\n\r\n",
      "GET /api/v1/vms HTTP/1.1 \r\n\r\n",
      "GET /api/v1/vms FTP/1.1\r\n\r\n",
      "G(T /api/v1/vms HTTP/1.1\r\n\r\n",
      get("/api/v1/vms", "No-Colon\r\n"),
      get("/api/v1/vms", "Bad Name: x\r\n"),
      get("/api/v1/vms", " folded: x\r\n"),
      get("/api/v1/vms", "X: a\u0001b\r\n"),
      get("/api/v1/vms", "Content-Length: 1x\r\n"),
      get("/api/v1/vms", "Content-Length: -1\r\n"),
      get("/api/v1/vms", "Content-Length: 0\r\nContent-Length: 0\r\n"),
      get("/api/v1/vms", "Authorization: Bearer a\r\nAuthorization: Bearer b\r\n"),
    ];
    for (const request of bad) expect(parsed(request).result, JSON.stringify(request)).toBe(400);
  });

  it("answers other versions with 505 and transfer codings with 501", () => {
    expect(parsed("GET /api/v1/vms HTTP/2.0\r\n\r\n").result).toBe(505);
    expect(parsed(get("/api/v1/vms", "Transfer-Encoding: chunked\r\n")).result).toBe(501);
  });

  it("answers a body that cannot fit with 413 before it comes, and a header section that does not with 431", () => {
    expect(parsed(get("/api/v1/vms", "Content-Length: 4090\r\n")).result).toBe(413);
    expect(parsed(get("/api/v1/vms", "Content-Length: 99999999999999999999\r\n")).result).toBe(413);
    const long = get("/api/v1/vms", `X-Pad: ${"a".repeat(CAPACITY)}\r\n`).slice(0, CAPACITY);
    expect(parsed(long).result).toBe(431);
    expect(parsed(long.slice(0, CAPACITY - 1)).result).toBe(INCOMPLETE);
  });

  it("never reads past the bytes it was given: random requests, with a trap line right after them", () => {
    let seed = 1;
    const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
    const alphabet = "GET /api/v1/vms/ab HTTP/1.1\r\n:Authorization Bearer Content-Length 0123456789\x00\xff";
    const pages = memory.buffer.byteLength;
    for (let i = 0; i < 3000; i++) {
      const length = random() % 200;
      const bytes = Buffer.from(Array.from({ length }, () => alphabet.charCodeAt(random() % alphabet.length)));
      // Placed against the memory's end: a read past them is a RangeError trap.
      const at = pages - length;
      new Uint8Array(memory.buffer).set(bytes, at);
      const result = parse(at, length, CAPACITY, OUT_AT);
      expect([INCOMPLETE, ROUTED, 400, 404, 405, 413, 431, 501, 505]).toContain(result);
    }
  });
});
