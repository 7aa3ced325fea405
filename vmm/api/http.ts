// The management API over HTTP/1.1 on the hypervisor's own address
// (docs/api.md, docs/lwip.md).
//
// The HTTP itself, TCP connections, parsing, routing /api/v1 paths to the
// JSON-RPC methods and refusing what is malformed, happens inside lwIP's
// instance (linker/lwip/http.c). What comes out of it is a record per
// well-formed request,
//   slot byte, JSON-RPC method, LF, {name}, LF, bearer token,
// which the dispatcher answers like a JSON-RPC request; the reply goes back
// as a status and the JSON body the OpenAPI document gives: the method's
// result, or the same error object JSON-RPC sends. CPU 0 serves it with
// the serial line (service.ts), under the hypervisor lock.

import { ipHttpListen, ipHttpReply, ipHttpTake } from "../../kernel/arch/shim";
import { Dispatcher } from "./dispatcher";
import { errorObject, httpStatus } from "./rpc";

export const HTTP_PORT: u32 = 80;
// A record holds at most a request's 4 KiB (http.c's REQUEST_BYTES) and a little.
const RECORD_BYTES: i32 = 4096 + 64;
// Requests answered per poll, so one poll stays short.
const REQUESTS_PER_POLL: i32 = 4;
const OK: u32 = 200;

// A request as http.c hands it over.
export class HttpRecord {
  constructor(readonly slot: u32, readonly method: string, readonly name: string | null, readonly token: string) {}
}

// Reads a record's `length` bytes at `at`.
export function readRecord(at: usize, length: i32): HttpRecord {
  const fields = String.UTF8.decodeUnsafe(at + 1, <usize>(length - 1)).split("\n", 3);
  const name = fields.length > 1 && fields[1].length > 0 ? fields[1] : null;
  return new HttpRecord(load<u8>(at), fields[0], name, fields.length > 2 ? fields[2] : "");
}

export class HttpServer {
  private readonly record: Uint8Array = new Uint8Array(RECORD_BYTES);

  constructor(private readonly dispatcher: Dispatcher) {}

  // Listens on `port` of the management address; false if lwIP cannot.
  listen(port: u32): bool {
    return ipHttpListen(port);
  }

  // Answers the requests waiting in lwIP.
  serve(): void {
    for (let i = 0; i < REQUESTS_PER_POLL; i++) {
      const length = ipHttpTake(this.record.dataStart, RECORD_BYTES);
      if (length == 0) break;
      const request = readRecord(this.record.dataStart, length);
      const outcome = this.dispatcher.call(request.method, request.token, request.name);
      const ok = outcome.code == 0;
      const body = String.UTF8.encode(ok ? outcome.text : errorObject(outcome.code, outcome.text));
      ipHttpReply(request.slot, ok ? OK : <u32>httpStatus(outcome.code), changetype<usize>(body), body.byteLength);
    }
  }
}
