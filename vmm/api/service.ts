// The management API on the host's second serial port and, when the
// hypervisor has a management address, over HTTP on it (docs/api.md).
//
// The command line's `api_token=TOKEN` turns it on (vmm.ts); COM2 is the
// GDB stub's when the command line also names a VM for gdb, and then the
// serial API stays off and says so. CPU 0 polls COM2 with the console's input
// (sched/scheduler.ts), under the hypervisor lock: it takes at most
// MAX_BYTES_PER_POLL bytes, answers each complete line, adds the events a
// subscribed client is owed, and hands the serial line a bounded number of
// bytes of what waits for it. Input is read only while a reply of any size
// still fits in the output queue, so a client that never reads its replies
// stalls itself, not the hypervisor.

import * as log from "../../kernel/console/log";
import {
  COM2,
  serialInit,
  serialPresent,
  serialPut,
  serialRead,
  serialReady,
  TRANSMIT_FIFO,
} from "../../kernel/console/serial";
import { Vm } from "../core/vm";
import { Dispatcher } from "./dispatcher";
import { HostFacts } from "./hostfacts";
import { Framed, LineReader } from "./framing";
import { HTTP_PORT, HttpServer } from "./http";
import { hasManagement } from "../net/ip/management";
import { OutputQueue } from "./outputqueue";
import { errorReply, INTERNAL_ERROR, notification } from "./rpc";

// Per poll (a millisecond apart): bytes read, and bytes handed to the UART.
const MAX_BYTES_PER_POLL: i32 = 8192;
const MAX_SENT_PER_POLL: i32 = 4096;
const OUTPUT_BYTES: i32 = 128 * 1024;
// The room a reply needs before the next request is read: more than the
// largest reply (vms.list of every VM).
const REPLY_ROOM: i32 = 64 * 1024;

class Service {
  readonly reader: LineReader = new LineReader();
  readonly output: OutputQueue = new OutputQueue(OUTPUT_BYTES);
  constructor(readonly dispatcher: Dispatcher, readonly serial: bool, readonly http: HttpServer | null) {}

  send(text: string): void {
    if (!this.output.offer(text)) this.output.offer(errorReply("null", INTERNAL_ERROR, "reply too large to send"));
  }
}

let service: Service | null = null;

// Opens the API on COM2 for `vms` and the `host` (vmm/host.ts), unless gdb
// has COM2 (`gdbWantsCom2`) or the machine has none, and on HTTP_PORT of the
// management address if there is one.
export function startApi(vms: Vm[], host: HostFacts, token: string, gdbWantsCom2: bool): void {
  const dispatcher = new Dispatcher(vms, host, token);
  let http: HttpServer | null = new HttpServer(dispatcher);
  if (!hasManagement()) http = null;
  else if (http.listen(HTTP_PORT)) {
    log.info("api: the management API listens on HTTP, TCP port " + HTTP_PORT.toString());
  } else {
    log.error("api: lwIP cannot listen on TCP port " + HTTP_PORT.toString() + "; no HTTP");
    http = null;
  }
  let serial = false;
  if (gdbWantsCom2) {
    log.warn("api: COM2 belongs to the gdb stub (gdb=); the management API is off" + (http !== null ? " on it" : ""));
  } else if (!serialPresent(COM2)) {
    log.info("api: no UART answers at COM2; the management API is not on a serial line");
  } else {
    serialInit(COM2);
    serial = true;
    log.info("api: the management API listens on COM2 (JSON-RPC 2.0, one request per line)");
  }
  if (serial || http !== null) service = new Service(dispatcher, serial, http);
  else log.warn("api: neither COM2 nor a management address; the management API is off");
}

// Whether CPU 0 should look at COM2 or lwIP's requests even while it idles.
export function apiListens(): bool {
  return service !== null;
}

// On CPU 0: HTTP requests answered; on COM2, requests answered, events
// added, output moved on.
export function pollApi(): void {
  const s = service;
  if (s === null) return;
  // What changed since the last poll, for every subscriber.
  s.dispatcher.look();
  const http = s.http;
  if (http !== null) http.serve();
  s.dispatcher.typeAhead();
  if (!s.serial) return;
  const reader = s.reader, dispatcher = s.dispatcher;
  for (let i = 0; i < MAX_BYTES_PER_POLL && s.output.free >= REPLY_ROOM; i++) {
    const c = serialRead(COM2);
    if (c < 0) break;
    const framed = reader.feed(<u8>c);
    if (framed == Framed.Line && reader.line.trim().length > 0) s.send(dispatcher.answer(reader.line));
    else if (framed == Framed.TooLong) s.send(dispatcher.tooLong());
  }
  const events = dispatcher.serialEvents;
  if (events !== null) {
    const waiting = events.waiting;
    while (waiting.length > 0 && s.output.free >= REPLY_ROOM) s.send(notification("event", waiting.shift()));
  }
  transmit(s.output);
}

// A FIFO's worth at a time, while the UART takes it (serial.ts).
function transmit(output: OutputQueue): void {
  let sent = 0;
  while (!output.empty && sent < MAX_SENT_PER_POLL && serialReady(COM2)) {
    for (let i = 0; i < TRANSMIT_FIFO && !output.empty; i++) serialPut(COM2, output.take());
    sent += TRANSMIT_FIFO;
  }
}
