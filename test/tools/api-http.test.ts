// The typervisor command's HTTP transport (tools/api/http.ts) against a
// stand-in server on 127.0.0.1 that answers as the hypervisor does: each
// method goes to its /api/v1 path and HTTP method with the bearer token,
// a result comes back as it is, and an error status becomes an ApiError
// with the JSON error's code and message; the event stream is read event
// by event, however its bytes are cut, keep-alive comments skipped.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError } from "../../tools/api/client";
import { HttpApiClient } from "../../tools/api/http";

const TOKEN = "t0ken";
let server: Server;
let base: string;
const seen: string[] = [];

beforeAll(async () => {
  server = createServer((request: IncomingMessage, response) => {
    seen.push(`${request.method} ${request.url} ${request.headers.authorization}`);
    const json = (status: number, body: object) => {
      response.writeHead(status, { "Content-Type": "application/json", Connection: "close" });
      response.end(JSON.stringify(body));
    };
    if (request.headers.authorization !== `Bearer ${TOKEN}`) {
      return json(401, { code: -32001, message: "unauthorized", data: { status: 401 } });
    }
    if (request.url === "/api/v1/events") {
      response.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store" });
      const stream = `event: vms\ndata: {"time_ns":1,"vms":[]}\n\n:\n\n`
        + `data: {"event":"paused","vm":"alpha","state":"paused","time_ns":2}\n\n`
        + `data: {"event":"stopped","vm":"beta","state":"stopped","time_ns":3,"reason":"x\\ny"}\n\n`;
      // In pieces of 7 bytes, a few milliseconds apart, as TCP may cut it.
      const pieces = stream.match(/[\s\S]{1,7}/g)!;
      const timer = setInterval(() => (pieces.length > 0 ? response.write(pieces.shift()) : clearInterval(timer)), 2);
      return;
    }
    if (request.url === "/api/v1/vms/ghost") {
      return json(404, { code: -32004, message: "no vm named 'ghost'", data: { status: 404 } });
    }
    json(200, { echo: request.url });
  });
  server.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => server.close());

describe("HttpApiClient", () => {
  it("sends each method to its /api/v1 path with the bearer token", async () => {
    const client = new HttpApiClient(base, TOKEN);
    seen.length = 0;
    await client.host();
    await client.list();
    await client.info("alpha");
    await client.stats("alpha");
    await client.pause("alpha");
    await client.resume("alpha");
    await client.powerOff("alpha");
    expect(await client.reboot("alpha")).toEqual({ echo: "/api/v1/vms/alpha/reboot" });
    const bearer = `Bearer ${TOKEN}`;
    expect(seen).toEqual([
      `GET /api/v1/host ${bearer}`,
      `GET /api/v1/vms ${bearer}`,
      `GET /api/v1/vms/alpha ${bearer}`,
      `GET /api/v1/vms/alpha/stats ${bearer}`,
      `POST /api/v1/vms/alpha/pause ${bearer}`,
      `POST /api/v1/vms/alpha/resume ${bearer}`,
      `POST /api/v1/vms/alpha/poweroff ${bearer}`,
      `POST /api/v1/vms/alpha/reboot ${bearer}`,
    ]);
  });

  it("reads the event stream: the list first, then each event, past keep-alive comments", async () => {
    const client = new HttpApiClient(base, TOKEN);
    const events: unknown[] = [];
    client.onEvent((e) => events.push(e));
    try {
      expect(await client.subscribe()).toEqual({ subscribed: true, now: { time_ns: 1, vms: [] } });
      const until = Date.now() + 5_000;
      while (events.length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      expect(events).toEqual([
        { event: "paused", vm: "alpha", state: "paused", time_ns: 2 },
        { event: "stopped", vm: "beta", state: "stopped", time_ns: 3, reason: "x\ny" },
      ]);
    } finally {
      client.close();
    }
    await expect(new HttpApiClient(base, "wrong").subscribe()).rejects.toMatchObject({ status: 401 });
  });

  it("turns an error status into an ApiError with the JSON error's code", async () => {
    await expect(new HttpApiClient(base, "wrong").list()).rejects.toMatchObject({ code: -32001, status: 401 });
    const missing = new HttpApiClient(base, TOKEN).info("ghost");
    await expect(missing).rejects.toBeInstanceOf(ApiError);
    await expect(missing).rejects.toMatchObject({ code: -32004, status: 404 });
  });
});
