/*
 * httpparse.h: one HTTP/1.1 request of the management API, read from the
 * bytes a connection received so far (httpparse.c, docs/api.md). Pure: it
 * names the parts of the request by offset and length in those bytes and
 * touches nothing else, so a unit test runs it on its own
 * (test/unit/httpparse.test.ts).
 */
#ifndef TV_HTTPPARSE_H
#define TV_HTTPPARSE_H
#include <stdint.h>

/* http_parse()'s answer when the request is not complete yet; a complete,
 * routed request is HTTP_ROUTED, anything else is the HTTP status of the
 * error it gets. */
#define HTTP_INCOMPLETE 0
#define HTTP_ROUTED 1

struct http_request {
  /* The JSON-RPC method the path and method stand for ("vms.list"), or
   * "" for the dashboard's page, which needs no method. */
  const char* rpc;
  /* {name} in the path, and the credential's token (length 0: none). */
  uint32_t name_at, name_length;
  uint32_t token_at, token_length;
  /* After a 405: the methods the path takes (RFC 9110 15.5.6's Allow), in
   * allowed below. */
  const char* allow;
  /* The bytes the request took, its body included. */
  uint32_t length;
  /* The Content-Type of a successful answer, or 0 for application/json. */
  const char* content_type;
  /* A stream, whose answer does not end (the events). */
  uint32_t stream;
  /* The body, by offset and length (0: none). */
  uint32_t body_at, body_length;
  /* What the token is: "" a bearer token, "Basic " Basic credentials,
   * "Session " a Redfish session's X-Auth-Token; put in front of it in
   * the hypervisor's record. */
  const char* scheme;
  /* allow's text, kept with its request: a Redfish path's 405 is answered
   * by the hypervisor, when other requests may have been read since. */
  char allowed[32];
};

/* Reads `bytes[0, length)`; `capacity` is the most a request may take. */
int http_parse(const uint8_t* bytes, uint32_t length, uint32_t capacity, struct http_request* out);

#endif
