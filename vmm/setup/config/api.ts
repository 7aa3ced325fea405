// The "api" of a configuration file: the management API's token
// (api/service.ts, docs/api.md), for machines whose boot command line is
// not the place for it:
//   "api": { "token": "c2VjcmV0LXRva2Vu" }
// The token is what every request must carry as its bearer token, so it
// must be one (RFC 6750 section 2.1's b64token: letters, digits and
// -._~+/, then any "="s), of MIN_TOKEN to MAX_TOKEN characters. A token
// on the command line (api_token=) overrides it.

import { describe, isObjectOf } from "./fields";
import { JsonKind, JsonValue } from "./json";

const API_FIELDS: string[] = ["token"];
const LABEL = "api: ";
const MIN_TOKEN = 8;
const MAX_TOKEN = 128;

// The token `v` gives, or "" (with errors added) if it is wrong.
export function checkApi(v: JsonValue, errors: string[]): string {
  if (!isObjectOf(v, API_FIELDS, "{ \"token\": \"c2VjcmV0LXRva2Vu\" }", LABEL, errors)) return "";
  const token = v.get("token");
  if (token === null) {
    errors.push(LABEL + "token: missing (the token every request of the management API must carry)");
    return "";
  }
  if (token.kind != JsonKind.String || !isBearerToken(token.text)) {
    errors.push(
      LABEL + "token: expected " + MIN_TOKEN.toString() + " to " + MAX_TOKEN.toString()
        + " characters of letters, digits and -._~+/ (then any '='), got " + describe(token),
    );
    return "";
  }
  return token.text;
}

function isBearerToken(text: string): bool {
  if (text.length < MIN_TOKEN || text.length > MAX_TOKEN) return false;
  let padding = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const letter = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39);
    if (c == 0x3d) padding = true;
    else if (padding || !(letter || c == 0x2d || c == 0x2e || c == 0x5f || c == 0x7e || c == 0x2b || c == 0x2f)) {
      return false;
    }
  }
  return true;
}
