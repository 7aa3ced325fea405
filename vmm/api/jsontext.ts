// JSON text for the management API's replies and events (docs/api.md).
//
// The configuration's parser (setup/config/json.ts) reads JSON; this writes
// it. A reply is built as text, member by member, with every string escaped
// as RFC 8259 section 7 requires: the quote, the backslash and the control
// characters below 0x20.

export class JsonObject {
  private body: string = "";

  // A member whose value is already JSON text.
  raw(key: string, json: string): JsonObject {
    this.body += (this.body.length == 0 ? "" : ",") + jsonString(key) + ":" + json;
    return this;
  }

  str(key: string, value: string): JsonObject {
    return this.raw(key, jsonString(value));
  }

  num(key: string, value: u64): JsonObject {
    return this.raw(key, value.toString());
  }

  int(key: string, value: i64): JsonObject {
    return this.raw(key, value.toString());
  }

  bool(key: string, value: bool): JsonObject {
    return this.raw(key, value ? "true" : "false");
  }

  toString(): string {
    return "{" + this.body + "}";
  }
}

export class JsonArray {
  private body: string = "";

  add(json: string): JsonArray {
    this.body += (this.body.length == 0 ? "" : ",") + json;
    return this;
  }

  toString(): string {
    return "[" + this.body + "]";
  }
}

// The numbers of the CPUs in `mask`, as a JSON list.
export function cpuList(mask: u32): string {
  const list = new JsonArray();
  for (let c: u32 = 0; c < 32; c++) if ((mask & (<u32>1 << c)) != 0) list.add(c.toString());
  return list.toString();
}

// `values` as a JSON list of strings.
export function stringList(values: string[]): string {
  const list = new JsonArray();
  for (let i = 0; i < values.length; i++) list.add(jsonString(values[i]));
  return list.toString();
}

export function jsonString(text: string): string {
  let out = "\"";
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20 && c != 0x22 && c != 0x5c) continue;
    out += text.substring(run, i);
    if (c == 0x22 || c == 0x5c) out += "\\" + String.fromCharCode(c);
    else out += "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
    run = i + 1;
  }
  return out + text.substring(run) + "\"";
}
