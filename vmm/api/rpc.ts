// A JSON-RPC 2.0 request of the management API, read and checked
// (JSON-RPC 2.0 specification, sections 4 and 5; docs/api.md).
//
// A line is parsed with the configuration's JSON parser
// (setup/config/json.ts) and must be one request object with exactly the
// members "jsonrpc": "2.0", "id" (a number or a string), "method" and,
// optionally, "params" (an object). The API has no notifications from the
// client, so a request without an id is refused. Every refusal is an error
// reply whose data carries the HTTP status the same request will get over
// /api/v1 (docs/api/openapi.yaml).

import { describe, quote } from "../setup/config/fields";
import { JsonKind, JsonValue, parseJson } from "../setup/config/json";
import { JsonObject, jsonString } from "./jsontext";

// JSON-RPC 2.0 section 5.1's codes, and the server's own in -32000..-32099.
export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;
export const UNAUTHORIZED = -32001;
export const NOT_FOUND = -32004;
export const CONFLICT = -32009;
export const TOO_LARGE = -32013;

const MEMBERS: string[] = ["jsonrpc", "id", "method", "params"];

// What a method gave: its result's JSON (code 0), or an error's code and
// message. A `plain` result is text (metrics.get's), which JSON-RPC sends
// as a string and HTTP as it is.
export class Outcome {
  constructor(readonly code: i32, readonly text: string, readonly plain: bool = false) {}
}

// The HTTP status an error code stands for.
export function httpStatus(code: i32): i32 {
  if (code == UNAUTHORIZED) return 401;
  if (code == NOT_FOUND || code == METHOD_NOT_FOUND) return 404;
  if (code == CONFLICT) return 409;
  if (code == TOO_LARGE) return 413;
  if (code == INTERNAL_ERROR) return 500;
  return 400;
}

export class ApiRequest {
  // The id as JSON text ("null" until one was read), for the reply.
  id: string = "null";
  method: string = "";
  // The params object, or null if there was none.
  params: JsonValue | null = null;
  // An error reply, if the request is not well formed.
  error: string | null = null;

  fail(code: i32, message: string): ApiRequest {
    this.error = errorReply(this.id, code, message);
    return this;
  }
}

export function readRequest(line: string): ApiRequest {
  const request = new ApiRequest();
  const parsed = parseJson(line);
  if (parsed.error !== null) return request.fail(PARSE_ERROR, "not JSON: " + parsed.error!);
  const root = parsed.value!;
  if (root.kind == JsonKind.Array) return request.fail(INVALID_REQUEST, "batches are not supported");
  if (root.kind != JsonKind.Object) {
    return request.fail(INVALID_REQUEST, "expected a request object, got " + describe(root));
  }
  const id = root.get("id");
  if (id !== null && (id.kind == JsonKind.Number || id.kind == JsonKind.String)) {
    request.id = id.kind == JsonKind.Number ? id.text : jsonString(id.text);
  }
  for (let i = 0; i < root.keys.length; i++) {
    const key = root.keys[i];
    if (!MEMBERS.includes(key)) return request.fail(INVALID_REQUEST, "unknown member " + quote(key));
    if (root.keys.indexOf(key) != i) return request.fail(INVALID_REQUEST, quote(key) + " given twice");
  }
  const version = root.get("jsonrpc");
  if (version === null || version.kind != JsonKind.String || version.text != "2.0") {
    return request.fail(INVALID_REQUEST, "jsonrpc: expected \"2.0\"");
  }
  if (id === null || request.id == "null") {
    return request.fail(INVALID_REQUEST, "id: expected a number or a string (every request is answered)");
  }
  const method = root.get("method");
  if (method === null || method.kind != JsonKind.String) {
    return request.fail(INVALID_REQUEST, "method: expected a string");
  }
  request.method = method.text;
  const params = root.get("params");
  if (params !== null && params.kind != JsonKind.Object) {
    return request.fail(INVALID_PARAMS, "params: expected an object, got " + describe(params));
  }
  request.params = params;
  return request;
}

// Whether `given` is `expected`, in a time that depends on the length of
// `expected` only: a client timing its refusals learns nothing of the token.
export function sameToken(given: string, expected: string): bool {
  let difference = given.length ^ expected.length;
  for (let i = 0; i < expected.length; i++) {
    const g = i < given.length ? <i32>given.charCodeAt(i) : 0;
    difference |= g ^ <i32>expected.charCodeAt(i);
  }
  return difference == 0;
}

export function resultReply(id: string, result: string): string {
  return new JsonObject().str("jsonrpc", "2.0").raw("id", id).raw("result", result).toString();
}

export function errorReply(id: string, code: i32, message: string): string {
  return new JsonObject().str("jsonrpc", "2.0").raw("id", id).raw("error", errorObject(code, message)).toString();
}

// The error object both transports send: JSON-RPC's error member, HTTP's body.
export function errorObject(code: i32, message: string): string {
  const data = new JsonObject().int("status", httpStatus(code));
  return new JsonObject().int("code", code).str("message", message).raw("data", data.toString()).toString();
}

export function notification(method: string, params: string): string {
  return new JsonObject().str("jsonrpc", "2.0").str("method", method).raw("params", params).toString();
}
