/*
 * http.c: the management API's HTTP/1.1 server on lwIP's raw TCP API,
 * inside lwIP's instance (docs/api.md, docs/lwip.md).
 *
 * A few connections at a time, each with a fixed request buffer and reply
 * buffer in this memory. Bytes come in from lwIP's receive callback until
 * httpparse.c finds a whole request; a malformed one is answered here with
 * its 4xx JSON error. A well-formed one waits, as a record
 *   slot byte, JSON-RPC method, LF, {name}, LF, credential, LF, body
 * (the credential is a bearer token, or "Basic " or "Session " and the
 * token: httpparse.h) until the hypervisor takes it (http_next), runs the
 * method with its dispatcher (vmm/api/http.ts), writes the JSON body into
 * the slot's reply buffer, led by any header fields of its own (Redfish's
 * X-Auth-Token, Location, OData-Version), and calls http_respond with the
 * status. The reply leaves as the
 * send buffer frees; every reply ends with Connection: close. A connection
 * that makes no progress for IDLE_SECONDS is aborted, so none holds a slot
 * for ever (a request the hypervisor never answered included). Nothing here
 * calls the hypervisor.
 *
 * GET / is the dashboard (dashboard.html, made into C at build time), a
 * page of the API's that holds no data: it is answered here, with no
 * token, as the refusals are.
 *
 * The event stream (GET /api/v1/events, a text/event-stream of the HTML
 * standard's server-sent events) is the one reply that does not end: after
 * its first body the connection stays STREAMING, and the hypervisor adds
 * each event with http_stream. Its reply buffer is then a queue of what
 * the client has not taken; a client that lets it fill up is cut off, and
 * one that closes its side ends the stream. A comment line every
 * KEEPALIVE_SECONDS keeps quiet streams moving, so a client that vanished
 * is found by TCP. At most STREAMS connections stream at once, so one is
 * always left for requests.
 */
#include "httpparse.h"
#include "lwip/tcp.h"

#define EXPORT(name) __attribute__((export_name(name)))

#define CONNECTIONS 3
#define REQUEST_BYTES 4096
#define REPLY_BYTES (64 * 1024)
/* Room for the status line and headers in front of the body. */
#define HEAD_ROOM 256
#define RECORD_BYTES (REQUEST_BYTES + 32)
/* tcp_poll's interval is in TCP's coarse ticks of 500 ms: once a second. */
#define POLL_TICKS 2
#define IDLE_SECONDS 10
#define KEEPALIVE_SECONDS 10
#define STREAMS (CONNECTIONS - 1)
#define LISTEN_BACKLOG 2

/* JSON-RPC error codes the HTTP errors carry, as vmm/api/rpc.ts names them. */
#define INVALID_REQUEST (-32600)
#define METHOD_NOT_FOUND (-32601)
#define TOO_LARGE (-32013)
#define INTERNAL_ERROR (-32603)
#define BUSY (-32005)

enum state { FREE, READING, READY, HANDED, SENDING, STREAMING };

struct connection {
  struct tcp_pcb* pcb;
  enum state state;
  uint32_t idle, received, reply_at, reply_end;
  struct http_request request;
  uint8_t in[REQUEST_BYTES];
  uint8_t out[REPLY_BYTES];
};

extern const uint8_t dashboard_html[];
extern const uint32_t dashboard_html_length;

static struct connection connections[CONNECTIONS];
static uint8_t record[RECORD_BYTES];

/* Appends to out[*at, limit): a string, a decimal number. */
static void put(struct connection* c, uint32_t* at, uint32_t limit, const char* s) {
  while (*s && *at < limit) c->out[(*at)++] = (uint8_t)*s++;
}
static void put_number(struct connection* c, uint32_t* at, uint32_t limit, int32_t n) {
  char digits[12];
  int i = sizeof digits - 1;
  uint32_t u = n < 0 ? -(uint32_t)n : (uint32_t)n;
  digits[i] = 0;
  do digits[--i] = (char)('0' + u % 10);
  while ((u /= 10) != 0);
  if (n < 0) digits[--i] = '-';
  put(c, at, limit, digits + i);
}

static const char* reason(uint32_t status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Internal Server Error";
  }
}

/* Unhooks and closes `c`'s connection; ERR_ABRT if it had to be aborted. */
static err_t finish(struct connection* c) {
  struct tcp_pcb* pcb = c->pcb;
  c->state = FREE;
  c->pcb = NULL;
  tcp_arg(pcb, NULL);
  tcp_recv(pcb, NULL);
  tcp_sent(pcb, NULL);
  tcp_err(pcb, NULL);
  tcp_poll(pcb, NULL, 0);
  if (tcp_close(pcb) == ERR_OK) return ERR_OK;
  tcp_abort(pcb);
  return ERR_ABRT;
}

/* As much of the reply as the send buffer takes; closes after the last
 * byte, unless the reply is a stream. tcp_write copies what it takes. */
static err_t send_more(struct connection* c) {
  while (c->reply_at < c->reply_end) {
    uint32_t n = c->reply_end - c->reply_at, room = tcp_sndbuf(c->pcb);
    if (n > room) n = room;
    if (n == 0 || tcp_write(c->pcb, c->out + c->reply_at, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK) break;
    c->reply_at += n;
  }
  tcp_output(c->pcb);
  return c->reply_at == c->reply_end && c->state == SENDING ? finish(c) : ERR_OK;
}

/* Queues `length` bytes at `bytes` on a stream, behind what is not sent
 * yet; false if they do not fit. */
static int stream_append(struct connection* c, const uint8_t* bytes, uint32_t length) {
  uint32_t unsent = c->reply_end - c->reply_at;
  if (length > REPLY_BYTES - c->reply_end) {
    __builtin_memmove(c->out, c->out + c->reply_at, unsent);
    c->reply_at = 0;
    c->reply_end = unsent;
  }
  if (length > REPLY_BYTES - c->reply_end) return 0;
  __builtin_memcpy(c->out + c->reply_end, bytes, length);
  c->reply_end += length;
  return 1;
}

/* Adds `length` bytes to `c`'s stream and sends what it can; a client
 * that has not taken the last REPLY_BYTES is cut off. */
static err_t stream(struct connection* c, const uint8_t* bytes, uint32_t length) {
  if (!stream_append(c, bytes, length)) return finish(c);
  c->idle = 0;
  return send_more(c);
}

/* The status line and headers in front of the `length` bytes at HEAD_ROOM:
 * the first `fields` of them (0: none) are more header fields, each ending
 * CRLF, and the empty line that ends the header section; the body follows. */
static err_t respond(struct connection* c, uint32_t status, uint32_t fields, uint32_t length) {
  uint8_t* body = c->out + HEAD_ROOM;
  uint32_t at = 0;
  put(c, &at, HEAD_ROOM, "HTTP/1.1 ");
  put_number(c, &at, HEAD_ROOM, (int32_t)status);
  put(c, &at, HEAD_ROOM, " ");
  put(c, &at, HEAD_ROOM, reason(status));
  /* Errors are JSON on every path; a success is what its route says. A
   * stream has no length: it ends when the connection closes. */
  int streaming = status == 200 && c->request.stream;
  const char* type = status == 200 && c->request.content_type ? c->request.content_type : "application/json";
  put(c, &at, HEAD_ROOM, "\r\nContent-Type: ");
  put(c, &at, HEAD_ROOM, type);
  put(c, &at, HEAD_ROOM, "\r\nConnection: close");
  if (streaming) {
    put(c, &at, HEAD_ROOM, "\r\nCache-Control: no-store");
  } else {
    put(c, &at, HEAD_ROOM, "\r\nContent-Length: ");
    put_number(c, &at, HEAD_ROOM, (int32_t)(length - fields));
  }
  /* RFC 9110 sections 11.6.1 and 15.5.6: what a 401 and a 405 must say. */
  if (status == 401) put(c, &at, HEAD_ROOM, "\r\nWWW-Authenticate: Bearer");
  if (status == 405) {
    put(c, &at, HEAD_ROOM, "\r\nAllow: ");
    put(c, &at, HEAD_ROOM, c->request.allow);
  }
  put(c, &at, HEAD_ROOM, fields == 0 ? "\r\n\r\n" : "\r\n");
  c->reply_at = HEAD_ROOM - at;
  __builtin_memmove(body - at, c->out, at);
  c->reply_end = HEAD_ROOM + length;
  c->state = streaming ? STREAMING : SENDING;
  c->idle = 0;
  return send_more(c);
}

/* A refusal of the HTTP request itself, as the API's JSON error. */
static err_t refuse(struct connection* c, uint32_t status) {
  const char* message = status == 404   ? "no such path in /api/v1"
                        : status == 405 ? "method not allowed on this path"
                        : status == 413 ? "request body too large"
                        : status == 431 ? "request header section too large"
                        : status == 501 ? "transfer codings are not supported"
                        : status == 505 ? "HTTP version not supported"
                        : status == 500 ? "reply too large to send"
                        : status == 503 ? "too many event streams open"
                                        : "malformed HTTP request";
  int32_t code = status == 404 || status == 405 ? METHOD_NOT_FOUND
                 : status == 413 || status == 431 ? TOO_LARGE
                 : status == 500                  ? INTERNAL_ERROR
                 : status == 503                  ? BUSY
                                                  : INVALID_REQUEST;
  uint32_t at = HEAD_ROOM;
  put(c, &at, REPLY_BYTES, "{\"code\":");
  put_number(c, &at, REPLY_BYTES, code);
  put(c, &at, REPLY_BYTES, ",\"message\":\"");
  put(c, &at, REPLY_BYTES, message);
  put(c, &at, REPLY_BYTES, "\",\"data\":{\"status\":");
  put_number(c, &at, REPLY_BYTES, (int32_t)status);
  put(c, &at, REPLY_BYTES, "}}");
  return respond(c, status, 0, at - HEAD_ROOM);
}

/* Connections that stream, or whose request for a stream waits for the
 * hypervisor. */
static uint32_t streaming(void) {
  uint32_t n = 0;
  for (int i = 0; i < CONNECTIONS; i++) {
    const struct connection* c = &connections[i];
    n += c->state == STREAMING || ((c->state == READY || c->state == HANDED) && c->request.stream);
  }
  return n;
}

static err_t received(void* arg, struct tcp_pcb* pcb, struct pbuf* p, err_t err) {
  struct connection* c = arg;
  /* The client closed its side: a reply still goes out if one is due; a
   * stream has no end but this. */
  if (p == NULL) return c->state == READING || c->state == STREAMING ? finish(c) : ERR_OK;
  tcp_recved(pcb, p->tot_len);
  if (c->state == READING) {
    c->idle = 0;
    c->received += pbuf_copy_partial(p, c->in + c->received, (u16_t)(REQUEST_BYTES - c->received), 0);
  }
  pbuf_free(p);
  if (c->state != READING) return ERR_OK;
  int status = http_parse(c->in, c->received, REQUEST_BYTES, &c->request);
  if (status == HTTP_INCOMPLETE) return ERR_OK;
  if (status != HTTP_ROUTED) return refuse(c, (uint32_t)status);
  if (c->request.stream && streaming() >= STREAMS) return refuse(c, 503);
  if (c->request.rpc[0] == 0) {
    if (dashboard_html_length > REPLY_BYTES - HEAD_ROOM) return refuse(c, 500);
    __builtin_memcpy(c->out + HEAD_ROOM, dashboard_html, dashboard_html_length);
    return respond(c, 200, 0, dashboard_html_length);
  }
  c->state = READY;
  return ERR_OK;
}

static err_t sent(void* arg, struct tcp_pcb* pcb, u16_t length) {
  struct connection* c = arg;
  c->idle = 0;
  return c->state == SENDING || c->state == STREAMING ? send_more(c) : ERR_OK;
}

static const uint8_t keepalive[] = ":\n\n";

static err_t polled(void* arg, struct tcp_pcb* pcb) {
  struct connection* c = arg;
  if (c->state == STREAMING) {
    return ++c->idle < KEEPALIVE_SECONDS ? send_more(c) : stream(c, keepalive, sizeof keepalive - 1);
  }
  if (++c->idle < IDLE_SECONDS) {
    return c->state == SENDING ? send_more(c) : ERR_OK;
  }
  c->state = FREE;
  c->pcb = NULL;
  tcp_abort(pcb);
  return ERR_ABRT;
}

/* lwIP freed the connection (a reset, or memory it could not get). */
static void failed(void* arg, err_t err) {
  struct connection* c = arg;
  c->state = FREE;
  c->pcb = NULL;
}

static err_t accepted(void* arg, struct tcp_pcb* pcb, err_t err) {
  if (err != ERR_OK || pcb == NULL) return ERR_VAL;
  for (int i = 0; i < CONNECTIONS; i++) {
    struct connection* c = &connections[i];
    if (c->state != FREE) continue;
    c->pcb = pcb;
    c->state = READING;
    c->idle = c->received = 0;
    tcp_arg(pcb, c);
    tcp_recv(pcb, received);
    tcp_sent(pcb, sent);
    tcp_err(pcb, failed);
    tcp_poll(pcb, polled, POLL_TICKS);
    return ERR_OK;
  }
  tcp_abort(pcb);
  return ERR_ABRT;
}

/* Listens on TCP `port` of the management address; false if it cannot. */
EXPORT("http_listen")
uint32_t http_listen(uint32_t port) {
  struct tcp_pcb* pcb = tcp_new();
  if (pcb == NULL || port == 0 || port > 0xffff || tcp_bind(pcb, IP_ADDR_ANY, (u16_t)port) != ERR_OK) return 0;
  struct tcp_pcb* listening = tcp_listen_with_backlog(pcb, LISTEN_BACKLOG);
  if (listening == NULL) return 0;
  tcp_accept(listening, accepted);
  return 1;
}

static void append(uint32_t* at, const uint8_t* bytes, uint32_t length) {
  for (uint32_t i = 0; i < length && *at < RECORD_BYTES; i++) record[(*at)++] = bytes[i];
}

/* The next request for the hypervisor as a record at http_record(): its
 * length, 0 if none waits. */
EXPORT("http_next")
uint32_t http_next(void) {
  for (uint32_t i = 0; i < CONNECTIONS; i++) {
    struct connection* c = &connections[i];
    if (c->state != READY) continue;
    struct http_request* r = &c->request;
    uint32_t at = 0, rpc_length = 0;
    while (r->rpc[rpc_length]) rpc_length++;
    record[at++] = (uint8_t)i;
    append(&at, (const uint8_t*)r->rpc, rpc_length);
    append(&at, (const uint8_t*)"\n", 1);
    append(&at, c->in + r->name_at, r->name_length);
    append(&at, (const uint8_t*)"\n", 1);
    uint32_t scheme_length = 0;
    while (r->token_length != 0 && r->scheme[scheme_length]) scheme_length++;
    append(&at, (const uint8_t*)r->scheme, scheme_length);
    append(&at, c->in + r->token_at, r->token_length);
    append(&at, (const uint8_t*)"\n", 1);
    append(&at, c->in + r->body_at, r->body_length);
    c->state = HANDED;
    return at;
  }
  return 0;
}
EXPORT("http_record") uint8_t* http_record(void) { return record; }

/* Where the hypervisor writes the body of a reply, and how much fits. */
EXPORT("http_body") uint8_t* http_body(uint32_t slot) { return connections[slot % CONNECTIONS].out + HEAD_ROOM; }
EXPORT("http_body_capacity") uint32_t http_body_capacity(void) { return REPLY_BYTES - HEAD_ROOM; }

/* The reply to the request of `slot`, its `length` bytes in place: header
 * fields in the first `fields` (respond()), then the body; a length over
 * http_body_capacity() (a body that did not fit) is a 500. For the event
 * stream it is the stream's first piece. */
EXPORT("http_respond")
void http_respond(uint32_t slot, uint32_t status, uint32_t fields, uint32_t length) {
  if (slot >= CONNECTIONS || connections[slot].state != HANDED) return;
  struct connection* c = &connections[slot];
  if (length > REPLY_BYTES - HEAD_ROOM || fields > length) refuse(c, 500);
  else respond(c, status, fields, length);
}

/* Adds the `length` bytes at http_record() to the event stream of `slot`;
 * false if that slot streams no more (the client left, or was cut off). */
EXPORT("http_stream")
uint32_t http_stream(uint32_t slot, uint32_t length) {
  if (slot >= CONNECTIONS || connections[slot].state != STREAMING || length > RECORD_BYTES) return 0;
  struct connection* c = &connections[slot];
  stream(c, record, length);
  return c->state == STREAMING;
}
