// The management API over HTTP/1.1 on the hypervisor's own address
// (docs/api.md, docs/lwip.md).
//
// The HTTP itself, TCP connections, parsing, routing /api/v1 paths to the
// JSON-RPC methods and refusing what is malformed, happens inside lwIP's
// instance (linker/lwip/http.c). What comes out of it is a record per
// well-formed request,
//   slot byte, JSON-RPC method, LF, {name}, LF, credential, LF, body,
// which the dispatcher answers like a JSON-RPC request; the reply goes back
// as a status and the JSON body the OpenAPI document gives: the method's
// result, or the same error object JSON-RPC sends. The "redfish.*"
// methods are Redfish's (redfish.ts), whose answers have header fields of
// their own. CPU 0 serves it with the serial line (service.ts), under the
// hypervisor lock.
//
// GET /api/v1/events is a stream of server-sent events (the HTML
// standard, 9.2): its first piece is an event named "vms" whose data is
// the list, as events.subscribe's `now` gives it; then each event is a
// message whose data is the Event object. A stream lasts until lwIP says
// its connection is gone.

import { ipHttpListen, ipHttpReply, ipHttpStream, ipHttpTake } from "../../kernel/arch/shim";
import { Dispatcher, EventQueue } from "./dispatcher";
import { RedfishService } from "./redfish";
import { errorObject, httpStatus } from "./rpc";

export const HTTP_PORT: u32 = 80;
// A record holds at most a request's 4 KiB (http.c's REQUEST_BYTES) and a little.
const RECORD_BYTES: i32 = 4096 + 64;
// Requests answered per poll, so one poll stays short.
const REQUESTS_PER_POLL: i32 = 4;
const OK: u32 = 200;
const SUBSCRIBE = "events.subscribe";

// The answer to a request: its connection's slot, the status and the
// body; `stream` if it opens the event stream; header fields of its own,
// each ending CRLF, then an empty line (or nothing).
export class HttpAnswer {
  constructor(
    readonly slot: u32,
    readonly status: u32,
    readonly body: string,
    readonly stream: bool = false,
    readonly fields: string = "",
  ) {}
}

// One server-sent event: its name if not a message, then its data line
// (JSON holds no line break).
export function serverSentEvent(name: string, data: string): string {
  return (name.length > 0 ? "event: " + name + "\n" : "") + "data: " + data + "\n\n";
}

// Answers the record of `length` bytes at `at` with `dispatcher`, or `redfish`.
export function answerRecord(dispatcher: Dispatcher, redfish: RedfishService, at: usize, length: i32): HttpAnswer {
  // The body comes last, and may hold LFs of its own.
  const record = String.UTF8.decodeUnsafe(at + 1, <usize>(length - 1));
  const fields: string[] = [];
  let from = 0;
  for (let i = 0; i < 3; i++) {
    const end = record.indexOf("\n", from);
    fields.push(record.substring(from, end < 0 ? record.length : end));
    from = end < 0 ? record.length : end + 1;
  }
  const name = fields[1].length > 0 ? fields[1] : null;
  const token = fields[2], body = record.substring(from);
  const slot = <u32>load<u8>(at);
  if (fields[0].startsWith("redfish.")) {
    const reply = redfish.answer(fields[0], token, name, body);
    return new HttpAnswer(slot, reply.status, reply.body, false, reply.fields);
  }
  const outcome = dispatcher.call(fields[0], token, name, body);
  if (outcome.code == 0 && fields[0] == SUBSCRIBE) {
    return new HttpAnswer(slot, OK, serverSentEvent("vms", dispatcher.list()), true);
  }
  if (outcome.code == 0) return new HttpAnswer(slot, OK, outcome.text);
  return new HttpAnswer(slot, <u32>httpStatus(outcome.code), errorObject(outcome.code, outcome.text));
}

// An open event stream: the connection's slot and the events for it.
class EventStream {
  constructor(readonly slot: u32, readonly queue: EventQueue) {}
}

export class HttpServer {
  private readonly record: Uint8Array = new Uint8Array(RECORD_BYTES);
  private readonly streams: EventStream[] = [];
  private readonly redfish: RedfishService;

  constructor(private readonly dispatcher: Dispatcher) {
    this.redfish = new RedfishService(dispatcher);
  }

  // Listens on `port` of the management address; false if lwIP cannot.
  listen(port: u32): bool {
    return ipHttpListen(port);
  }

  // Answers the requests waiting in lwIP, and sends the event streams
  // what happened since the dispatcher last looked.
  serve(): void {
    for (let i = 0; i < REQUESTS_PER_POLL; i++) {
      const length = ipHttpTake(this.record.dataStart, RECORD_BYTES);
      if (length == 0) break;
      const answer = answerRecord(this.dispatcher, this.redfish, this.record.dataStart, length);
      // A slot that streamed before has lost its client: lwIP gave it to this request.
      this.close(answer.slot);
      if (answer.stream) this.streams.push(new EventStream(answer.slot, this.dispatcher.subscribe()));
      // The fields are ASCII: as many bytes as characters.
      const bytes = String.UTF8.encode(answer.fields + answer.body);
      ipHttpReply(answer.slot, answer.status, answer.fields.length, changetype<usize>(bytes), bytes.byteLength);
    }
    // Backwards: a stream whose client left is taken out as it is found.
    for (let i = this.streams.length - 1; i >= 0; i--) this.flush(this.streams[i]);
  }

  private flush(stream: EventStream): void {
    const waiting = stream.queue.waiting;
    while (waiting.length > 0) {
      const text = String.UTF8.encode(serverSentEvent("", waiting.shift()));
      if (!ipHttpStream(stream.slot, changetype<usize>(text), text.byteLength)) {
        this.close(stream.slot);
        return;
      }
    }
  }

  private close(slot: u32): void {
    for (let i = 0; i < this.streams.length; i++) {
      if (this.streams[i].slot != slot) continue;
      this.dispatcher.unsubscribe(this.streams[i].queue);
      this.streams.splice(i, 1);
      return;
    }
  }
}
