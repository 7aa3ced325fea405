/*
 * httpparse.c: reads one HTTP/1.1 request (RFC 9112) of the management
 * API and finds the JSON-RPC method its method and path stand for
 * (docs/api/openapi.yaml's /api/v1 paths).
 *
 * A request is a request line, header lines, an empty line and a body of
 * Content-Length bytes, all within `capacity`. Lines end with CRLF or, as
 * RFC 9112 section 2.2 lets a recipient accept, a bare LF. Of the headers
 * only Authorization (the bearer token, RFC 6750 section 2.1, or Basic
 * credentials, RFC 7617, for Redfish), X-Auth-Token (a Redfish session's,
 * DSP0266 "Redfish session login authentication"), Content-Length and
 * Transfer-Encoding mean anything; one credential at most. The body goes to
 * the method as it is (what is typed on a VM's console), and the methods
 * that take none ignore it. Each refusal is the status it gets: 400 for
 * what is not HTTP, 404 for an unknown path, 405 for a known path with
 * another method (under /redfish/ Redfish's own, so the path goes to
 * "redfish.missing" or "redfish.notallowed"), 413 for a body and 431 for
 * a header section that does not fit, 501 for a transfer coding, 505 for
 * an HTTP version other than 1.0 and 1.1. Nothing here is copied: the
 * request's parts are offsets.
 */
#include "httpparse.h"

#define CR 0x0d
#define LF 0x0a
#define SP 0x20
#define HTAB 0x09

struct route {
  const char* method;
  /* '*' stands for a VM's name (or a Redfish member's Id); with two, the
   * name is all from the first's start to the second's end: "vm/Processors/0". */
  const char* path;
  const char* rpc;
  /* The Content-Type of its answer: JSON unless given. */
  const char* content_type;
  /* Whether its answer is a stream that does not end. */
  uint32_t stream;
};

static const struct route routes[] = {
  {"GET", "/api/v1/host", "host.get"},
  {"POST", "/api/v1/host/shutdown", "host.shutdown"},
  {"GET", "/api/v1/vms", "vms.list"},
  /* The body is the VM's configuration. */
  {"POST", "/api/v1/vms", "vm.create"},
  {"GET", "/api/v1/vms/*", "vm.get"},
  {"DELETE", "/api/v1/vms/*", "vm.destroy"},
  {"GET", "/api/v1/vms/*/stats", "vm.stats"},
  {"POST", "/api/v1/vms/*/start", "vm.start"},
  {"POST", "/api/v1/vms/*/pause", "vm.pause"},
  {"POST", "/api/v1/vms/*/resume", "vm.resume"},
  {"POST", "/api/v1/vms/*/poweroff", "vm.poweroff"},
  {"POST", "/api/v1/vms/*/reboot", "vm.reboot"},
  {"POST", "/api/v1/vms/*/shutdown", "vm.shutdown"},
  /* The body is the boot override: {"source": ..., "continuous": ...}. */
  {"POST", "/api/v1/vms/*/boot", "vm.boot"},
  {"GET", "/api/v1/vms/*/console", "vm.console.read"},
  /* The body is what is typed. */
  {"POST", "/api/v1/vms/*/console", "vm.console.write"},
  /* Server-sent events (the HTML standard, section 9.2). */
  {"GET", "/api/v1/events", "events.subscribe", "text/event-stream", 1},
  /* The dashboard's page, which http.c serves itself: no method. */
  {"GET", "/", "", "text/html; charset=utf-8"},
  /* {name} is the address: "/api/v1/ping/10.0.0.21". */
  {"POST", "/api/v1/ping/*", "ping.start"},
  {"GET", "/api/v1/ping", "ping.get"},
  /* The Prometheus text exposition format, version 0.0.4. */
  {"GET", "/metrics", "metrics.get", "text/plain; version=0.0.4; charset=utf-8"},
  /* Redfish (DSP0266, docs/redfish.md): the VMs as ComputerSystems. */
  {"GET", "/redfish", "redfish.versions"},
  {"GET", "/redfish/v1", "redfish.root"},
  {"GET", "/redfish/v1/", "redfish.root"},
  {"GET", "/redfish/v1/odata", "redfish.odata"},
  /* The OData CSDL document (DSP0266 "Service metadata"). */
  {"GET", "/redfish/v1/$metadata", "redfish.metadata", "application/xml; charset=utf-8"},
  {"GET", "/redfish/v1/Systems", "redfish.systems"},
  {"GET", "/redfish/v1/Systems/*", "redfish.system"},
  {"PATCH", "/redfish/v1/Systems/*", "redfish.system.patch"},
  {"POST", "/redfish/v1/Systems/*/Actions/ComputerSystem.Reset", "redfish.system.reset"},
  {"GET", "/redfish/v1/Systems/*/Processors", "redfish.processors"},
  {"GET", "/redfish/v1/Systems/*/Processors/*", "redfish.processor"},
  {"GET", "/redfish/v1/Systems/*/Memory", "redfish.memorycollection"},
  {"GET", "/redfish/v1/Systems/*/Memory/*", "redfish.memory"},
  {"GET", "/redfish/v1/Managers", "redfish.managers"},
  {"GET", "/redfish/v1/Managers/*", "redfish.manager"},
  {"GET", "/redfish/v1/Chassis", "redfish.chassiscollection"},
  {"GET", "/redfish/v1/Chassis/*", "redfish.chassis"},
  {"GET", "/redfish/v1/SessionService", "redfish.sessionservice"},
  {"GET", "/redfish/v1/SessionService/Sessions", "redfish.sessions"},
  {"POST", "/redfish/v1/SessionService/Sessions", "redfish.session.create"},
  {"GET", "/redfish/v1/SessionService/Sessions/*", "redfish.session"},
  {"DELETE", "/redfish/v1/SessionService/Sessions/*", "redfish.session.delete"},
};
#define ROUTES (sizeof routes / sizeof routes[0])

/* The methods a path takes, for a 405's Allow: "GET, POST". */
static void allow(struct http_request* out, const char* method) {
  char* allowed = out->allowed;
  uint32_t at = 0;
  if (out->allow) {
    while (allowed[at]) at++;
    allowed[at++] = ',';
    allowed[at++] = ' ';
  }
  for (uint32_t i = 0; method[i] && at < sizeof out->allowed - 1; i++) allowed[at++] = method[i];
  allowed[at] = 0;
  out->allow = allowed;
}

struct span {
  uint32_t at, length;
};

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }
static int digit(uint8_t c) { return c >= '0' && c <= '9'; }
static int alnum(uint8_t c) { return digit(c) || (lower(c) >= 'a' && lower(c) <= 'z'); }

/* RFC 9110 section 5.6.2's tchar, the characters of a method or a header's name. */
static int tchar(uint8_t c) {
  for (const char* p = "!#$%&'*+-.^_`|~"; *p; p++)
    if (c == (uint8_t)*p) return 1;
  return alnum(c);
}

/* A VM's name in a path: what the configuration allows in one. */
static int name_char(uint8_t c) { return alnum(c) || c == '-' || c == '_' || c == '.'; }

/* Whether `s` is `text` (caseless: ASCII letters in either case). */
static int same(const uint8_t* b, struct span s, const char* text, int caseless) {
  uint32_t i = 0;
  for (; i < s.length && text[i]; i++) {
    int x = b[s.at + i], y = (uint8_t)text[i];
    if (caseless ? lower(x) != lower(y) : x != y) return 0;
  }
  return i == s.length && !text[i];
}

/* Whether `path` fits `pattern`; the name its '*' (or '*'s) stood for. */
static int fits(const uint8_t* b, struct span path, const char* pattern, struct span* name) {
  uint32_t i = path.at, end = path.at + path.length, stars = 0;
  for (; *pattern; pattern++) {
    if (*pattern == '*') {
      uint32_t from = i;
      if (stars++ == 0) name->at = i;
      while (i < end && name_char(b[i])) i++;
      if (i == from) return 0;
      name->length = i - name->at;
    } else if (i == end || b[i++] != (uint8_t)*pattern) {
      return 0;
    }
  }
  return i == end;
}

/* The next line from `*at`, without its CR LF; false if its LF has not come. */
static int next_line(const uint8_t* b, uint32_t length, uint32_t* at, struct span* line) {
  for (uint32_t i = *at; i < length; i++) {
    if (b[i] != LF) continue;
    line->at = *at;
    line->length = i - *at - (i > *at && b[i - 1] == CR);
    *at = i + 1;
    return 1;
  }
  return 0;
}

/* The leading run of `s` that `accept` takes, cut off `s`. */
static struct span take(const uint8_t* b, struct span* s, int (*accept)(uint8_t)) {
  struct span run = {s->at, 0};
  while (run.length < s->length && accept(b[s->at + run.length])) run.length++;
  s->at += run.length;
  s->length -= run.length;
  return run;
}

static int visible(uint8_t c) { return c > SP && c < 0x7f; }
static int white(uint8_t c) { return c == SP || c == HTAB; }
/* A field value's characters (RFC 9110 section 5.5): no controls but HTAB. */
static int value_char(uint8_t c) { return c == HTAB || (c >= SP && c != 0x7f); }

/* Takes one SP off `s`, if there is one. */
static int space(const uint8_t* b, struct span* s) {
  if (s->length == 0 || b[s->at] != SP) return 0;
  s->at++;
  s->length--;
  return 1;
}

static int request_line(const uint8_t* b, struct span line, struct span* method, struct span* target) {
  *method = take(b, &line, tchar);
  if (method->length == 0 || !space(b, &line)) return 400;
  *target = take(b, &line, visible);
  if (target->length == 0 || !space(b, &line)) return 400;
  if (same(b, line, "HTTP/1.1", 0) || same(b, line, "HTTP/1.0", 0)) return 0;
  /* HTTP-version is "HTTP/" DIGIT "." DIGIT (RFC 9112 section 2.3). */
  const uint8_t* v = b + line.at;
  int version = line.length == 8 && digit(v[5]) && v[6] == '.' && digit(v[7]);
  line.length = 5;
  return version && same(b, line, "HTTP/", 0) ? 505 : 400;
}

int http_parse(const uint8_t* b, uint32_t length, uint32_t capacity, struct http_request* out) {
  uint32_t at = 0, body = 0;
  int has_length = 0;
  struct span line, method, target;
  *out = (struct http_request){0};
  out->scheme = "";
  if (!next_line(b, length, &at, &line)) return length >= capacity ? 431 : HTTP_INCOMPLETE;
  int refused = request_line(b, line, &method, &target);
  if (refused) return refused;
  for (;;) {
    if (!next_line(b, length, &at, &line)) return length >= capacity ? 431 : HTTP_INCOMPLETE;
    if (line.length == 0) break;
    struct span name = take(b, &line, tchar);
    if (name.length == 0 || line.length == 0 || b[line.at] != ':') return 400;
    line.at++, line.length--;
    take(b, &line, white);
    while (line.length > 0 && white(b[line.at + line.length - 1])) line.length--;
    struct span value = line;
    if (take(b, &line, value_char).length != value.length) return 400;
    if (same(b, name, "transfer-encoding", 1)) return 501;
    if (same(b, name, "content-length", 1)) {
      struct span digits = take(b, &value, digit);
      if (has_length || digits.length == 0 || value.length != 0) return 400;
      has_length = 1;
      for (uint32_t i = 0; i < digits.length; i++) {
        body = body * 10 + (b[digits.at + i] - '0');
        if (body > capacity) return 413;
      }
    } else if (same(b, name, "authorization", 1)) {
      struct span scheme = take(b, &value, tchar);
      if (out->token_length != 0) return 400;
      int bearer = same(b, scheme, "bearer", 1);
      if ((!bearer && !same(b, scheme, "basic", 1)) || !space(b, &value)) continue;
      take(b, &value, white);
      out->token_at = value.at;
      out->token_length = value.length;
      out->scheme = bearer ? "" : "Basic ";
    } else if (same(b, name, "x-auth-token", 1)) {
      if (out->token_length != 0) return 400;
      out->token_at = value.at;
      out->token_length = value.length;
      out->scheme = "Session ";
    }
  }
  if (at > capacity || body > capacity - at) return 413;
  if (length < at + body) return HTTP_INCOMPLETE;
  out->length = at + body;
  out->body_at = at;
  out->body_length = body;
  for (uint32_t i = 0; i < ROUTES; i++) {
    struct span name = {0, 0};
    if (!fits(b, target, routes[i].path, &name)) continue;
    if (!same(b, method, routes[i].method, 0)) {
      allow(out, routes[i].method);
      continue;
    }
    out->rpc = routes[i].rpc;
    out->content_type = routes[i].content_type;
    out->stream = routes[i].stream;
    out->name_at = name.at;
    out->name_length = name.length;
    out->allow = 0;
    return HTTP_ROUTED;
  }
  /* Redfish answers for all under its root, with its error body (DSP0266
   * "Error responses"): a method the path does not take gets its 405, with
   * Allow, and an unknown resource its 404, once the client has shown a
   * credential; the path is the name. */
  static const char redfish[] = "/redfish/";
  struct span root = {target.at, sizeof redfish - 1};
  if (target.length <= root.length || !same(b, root, redfish, 0)) return out->allow ? 405 : 404;
  out->rpc = out->allow ? "redfish.notallowed" : "redfish.missing";
  out->content_type = 0;
  out->name_at = target.at;
  out->name_length = target.length;
  return HTTP_ROUTED;
}
