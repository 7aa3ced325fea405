// System test: every endpoint of the management API over HTTP, fuzzed from
// this machine through a port QEMU forwards (docs/api.md). Requests are
// generated from the OpenAPI document's paths and methods, then spoiled
// at random: other methods, names and addresses that are not, junk in the
// path, a wrong, missing or doubled token, odd header fields and line
// ends, bodies with and without a Content-Length, oversized headers, and
// bytes cut short. Every request must get one whole HTTP/1.1 answer: a
// status the API gives, a Content-Length its body matches, and for every
// refusal the API's JSON error naming that status. The destructive
// methods (destroy among them) may only reach "alpha"; "beta" must run through it all, and
// the API must answer a plain request at the end. The host's shutdown is
// not fuzzed (it would end the run): it ends it, and must power "beta"
// off and stop the emulator. The seed is printed, and FUZZ_SEED=N
// replays a run.
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import type { Module } from "../../tools/harness/index";
import { bootWithHttpApi } from "../../tools/harness/httpapi";
import { untilRunning } from "../../tools/harness/apirun";

const TOKEN = "fuzz-s3cret-token";
const REQUESTS = 400;
const busy = (name: string): Module => ({ path: "build/guests/busy.bin", args: `vm=${name} mem=4` });
const STATUSES = [200, 400, 401, 404, 405, 409, 413, 431, 501, 503, 505];
const SHUTDOWN = "/api/v1/host/shutdown";

// The paths and methods of the OpenAPI document, {name} and {address} as
// placeholders; /metrics and /api/v1/events keep their own prefixes. All
// but the host's shutdown.
function endpoints(): { method: string; path: string }[] {
  const yaml = readFileSync("docs/api/openapi.yaml", "utf8");
  const found: { method: string; path: string }[] = [];
  let path = "";
  for (const line of yaml.split("\n")) {
    const p = /^ {2}(\/\S*):$/.exec(line);
    if (p) path = p[1] === "/metrics" ? p[1] : `/api/v1${p[1]}`;
    const m = /^ {4}(get|post|delete):$/.exec(line);
    if (m && path) found.push({ method: m[1].toUpperCase(), path });
  }
  return found.filter((e) => e.path !== SHUTDOWN);
}

// One request's bytes from the generator's choices.
const request = (paths: { method: string; path: string }[]) =>
  fc.record({
    endpoint: fc.constantFrom(...paths),
    method: fc.oneof(
      { weight: 6, arbitrary: fc.constant("") },
      fc.constantFrom("GET", "POST", "PUT", "DELETE", "HEAD", "get", "G\x00T", "POST /"),
    ),
    name: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom("alpha", "gamma", "10.0.2.2", "10.0.2.20") },
      fc.string({ maxLength: 40 }),
      fc.constantFrom("..", "a/b", "%2e%2e", "alpha?x=1", "alpha#", "x".repeat(300)),
    ),
    token: fc.oneof(
      { weight: 5, arbitrary: fc.constant(TOKEN) },
      fc.constantFrom("", "wrong", TOKEN + "x", TOKEN.slice(1)),
      fc.string({ maxLength: 20 }),
    ),
    authorization: fc.constantFrom("Bearer", "bearer", "Basic", "Bearer  ", "", "twice"),
    version: fc.oneof(
      { weight: 8, arbitrary: fc.constant("HTTP/1.1") },
      fc.constantFrom("HTTP/1.0", "HTTP/2", "HTTP/1.1x", ""),
    ),
    lineEnd: fc.oneof({ weight: 8, arbitrary: fc.constant("\r\n") }, fc.constantFrom("\n", "\r")),
    headers: fc.array(
      fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom("Host: 10.0.2.20", "Accept: */*", "Connection: keep-alive") },
        fc.constantFrom("X-Folded: a\r\n b", ": x", "Bad Name: y"),
        fc.string({ maxLength: 60 }).map((v) => `X-Junk: ${v}`),
        fc.constant(`X-Long: ${"y".repeat(5000)}`),
        fc.constantFrom(
          "Transfer-Encoding: chunked",
          "Content-Length: 5",
          "Content-Length: -1",
          "Content-Length: 99999",
        ),
      ),
      { maxLength: 4 },
    ),
    body: fc.oneof({ weight: 3, arbitrary: fc.constant("") }, fc.string({ maxLength: 200 })),
    cut: fc.oneof({ weight: 9, arbitrary: fc.constant(-1) }, fc.nat({ max: 200 })),
  }).map((r) => {
    const method = r.method || r.endpoint.method;
    const needsName = r.endpoint.path.includes("{");
    // The destructive methods reach alpha only: beta must run throughout.
    const destructive = /poweroff|reboot|pause|start/.test(r.endpoint.path) || method.toUpperCase() === "DELETE";
    const name = destructive && r.name !== "alpha" ? "gamma" : r.name;
    const path = r.endpoint.path.replace(/\{\w+\}/, needsName ? name : "");
    const auth = r.authorization === "twice"
      ? `Authorization: Bearer ${r.token}${r.lineEnd}Authorization: Bearer ${r.token}`
      : r.authorization === ""
      ? ""
      : `Authorization: ${r.authorization} ${r.token}`;
    const fields = [auth, ...r.headers, r.body ? `Content-Length: ${Buffer.byteLength(r.body)}` : ""].filter((f) => f);
    const text = `${method} ${path} ${r.version}${r.lineEnd}${fields.map((f) => f + r.lineEnd).join("")}${r.lineEnd}`
      + r.body;
    const bytes = Buffer.from(text, "utf8");
    return r.cut >= 0 && r.cut < bytes.length ? bytes.subarray(0, r.cut) : bytes;
  });

// Sends `bytes` on a connection of its own, closes its sending side (so
// that a request cut short ends there), and reads until the server closes
// the connection, or an event stream has begun (it does not end), or 12 s
// pass (lwIP's idle abort is at 10 s).
function exchange(port: number, bytes: Buffer): Promise<{ answer: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, "127.0.0.1", () => socket.end(bytes));
    const timer = setTimeout(() => done(false), 12_000);
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ answer: Buffer.concat(chunks), closed });
    };
    socket.on("data", (c) => {
      chunks.push(c);
      if (/text\/event-stream[^]*\r\n\r\n[^]*\n\n/.test(Buffer.concat(chunks).toString("latin1"))) done(true);
    });
    socket.on("end", () => done(true));
    socket.on("error", () => done(true));
  });
}

// What one answer must be; the event stream's 200 has no length and does not end.
function checkAnswer(sent: Buffer, answer: Buffer): void {
  const text = answer.toString("latin1");
  const why = `after ${JSON.stringify(sent.toString("latin1").slice(0, 300))}`;
  const head = /^HTTP\/1\.1 (\d{3}) [^\r\n]+\r\n((?:[^\r\n]+\r\n)*)\r\n/.exec(text);
  expect(head, `${why}: ${JSON.stringify(text.slice(0, 200))}`).not.toBeNull();
  const status = Number(head![1]);
  expect(STATUSES, why).toContain(status);
  const fields = head![2];
  if (/Content-Type: text\/event-stream/.test(fields)) return;
  const length = /Content-Length: (\d+)\r\n/.exec(fields);
  expect(length, why).not.toBeNull();
  const body = answer.subarray(head![0].length);
  expect(body.length, why).toBe(Number(length![1]));
  if (status === 200) return;
  const error = JSON.parse(body.toString("utf8"));
  expect(error, why).toMatchObject({ code: expect.any(Number), message: expect.any(String), data: { status } });
}

describe("the management API under fuzzing", () => {
  it("answers every spoiled request of every endpoint with its status, and runs on", async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
    console.log(`api fuzz: seed ${seed} (FUZZ_SEED=${seed} replays it)`);
    const paths = endpoints();
    expect(paths.length).toBeGreaterThanOrEqual(12);
    // Its address from QEMU's DHCP server, so that the DHCP client is tried too.
    const { machine, base, client } = await bootWithHttpApi([busy("alpha"), busy("beta")], TOKEN, { dhcp: true });
    const port = Number(new URL(base).port);
    try {
      await untilRunning(client, ["beta"], 60_000);
      const before = (await client.stats("beta")).cpu_ns;
      const statuses = new Map<number, number>();
      const samples = fc.sample(request(paths), { seed, numRuns: REQUESTS });
      for (const bytes of samples) {
        const { answer, closed } = await exchange(port, bytes);
        // A request cut short gets no answer until lwIP's idle abort closes it.
        if (answer.length === 0) {
          expect(closed, `no answer to ${JSON.stringify(bytes.toString("latin1").slice(0, 200))}`).toBe(true);
          continue;
        }
        checkAnswer(bytes, answer);
        const status = Number(answer.toString("latin1").slice(9, 12));
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
      console.log(`api fuzz: statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
      // The fuzz reached past the parser into the methods, and was refused by it too.
      for (const status of [200, 400, 401, 404]) expect(statuses.get(status) ?? 0).toBeGreaterThan(0);
      const beta = await client.stats("beta");
      expect(beta.state).toBe("running");
      expect(beta.cpu_ns).toBeGreaterThan(before);
      expect((await client.list()).vms.map((vm) => vm.name)).toContain("beta");
      expect(machine.output).not.toMatch(/panic|lwIP trapped/);
      expect(await client.shutdownHost()).toEqual({ shutting_down: true });
      const exit = await machine.waitForExit(60_000);
      expect(exit.killed).toBe(false);
      expect(machine.output).toContain("host: shutting down, asked by the management API");
      // The host ends as it powers beta off, before the API could tell of it: only the log does.
      expect(machine.output).toContain("vm beta: powered off by the management API");
      expect(machine.output).toContain("all virtual machines have stopped");
    } finally {
      machine.kill();
    }
  }, 900_000);
});
