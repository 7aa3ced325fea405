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

// The answer to a request: its connection's slot, the status and the JSON body.
export class HttpAnswer {
  constructor(readonly slot: u32, readonly status: u32, readonly body: string) {}
}

// Answers the record of `length` bytes at `at` with `dispatcher`.
export function answerRecord(dispatcher: Dispatcher, at: usize, length: i32): HttpAnswer {
  const fields = String.UTF8.decodeUnsafe(at + 1, <usize>(length - 1)).split("\n", 3);
  const name = fields.length > 1 && fields[1].length > 0 ? fields[1] : null;
  const token = fields.length > 2 ? fields[2] : "";
  const outcome = dispatcher.call(fields[0], token, name);
  const slot = <u32>load<u8>(at);
  if (outcome.code == 0) return new HttpAnswer(slot, OK, outcome.text);
  return new HttpAnswer(slot, <u32>httpStatus(outcome.code), errorObject(outcome.code, outcome.text));
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
      const answer = answerRecord(this.dispatcher, this.record.dataStart, length);
      const body = String.UTF8.encode(answer.body);
      ipHttpReply(answer.slot, answer.status, changetype<usize>(body), body.byteLength);
    }
  }
}
