// A small JSON parser (RFC 8259) for the VM configuration file.
//
// AssemblyScript has no JSON.parse, and a configuration file is written by a
// person, so what matters most here is the error: the first mistake is
// reported as "line L, column C: what was expected", counting from 1 (columns
// in UTF-16 code units, a tab is one column). Every value remembers where it
// started, so the validator (config.ts) can point at a bad field too. The
// parser never traps: nesting deeper than MAX_DEPTH is an error, not a stack
// overflow, more than MAX_VALUES values is an error, not an exhausted heap
// (each value costs a few hundred bytes), and every character is checked
// before use.

export const enum JsonKind {
  Null,
  Bool,
  Number,
  String,
  Array,
  Object,
}

const MAX_DEPTH = 64;
// Far more than any configuration of MAX_VMS VMs (config.ts) holds.
export const MAX_VALUES = 10000;
// What a number, string, boolean or null has for items, keys and keyValues:
// one shared empty list instead of three of its own (only the parser fills
// lists, and only those of the arrays and objects it makes).
const NONE_VALUES: JsonValue[] = [];
const NONE_KEYS: string[] = [];

export class JsonValue {
  bool: bool = false;
  number: f64 = 0;
  // A string's value, or a number as it was written.
  text: string = "";
  // Array elements, or an object's member values in file order.
  items: JsonValue[];
  // An object's member names (duplicates kept), matching `items`, and where
  // each name was written.
  keys: string[];
  keyValues: JsonValue[];

  constructor(public kind: JsonKind, public line: i32, public column: i32) {
    const composite = kind == JsonKind.Array || kind == JsonKind.Object;
    this.items = composite ? [] : NONE_VALUES;
    this.keys = kind == JsonKind.Object ? [] : NONE_KEYS;
    this.keyValues = kind == JsonKind.Object ? [] : NONE_VALUES;
  }

  // The first member named `key`, or null.
  get(key: string): JsonValue | null {
    const i = this.keys.indexOf(key);
    return i < 0 ? null : this.items[i];
  }
}

export class JsonResult {
  value: JsonValue | null = null;
  error: string | null = null;
}

export function parseJson(text: string): JsonResult {
  const p = new Parser(text);
  const out = new JsonResult();
  if (p.peek() == 0xfeff) p.pos++; // a byte-order mark
  const value = p.value(0);
  if (value !== null && p.error === null) {
    p.skipSpace();
    if (p.pos < text.length) p.fail("unexpected " + p.found() + " after the end of the JSON value");
  }
  if (p.error !== null) out.error = p.error;
  else out.value = value;
  return out;
}

class Parser {
  pos: i32 = 0;
  values: i32 = 0;
  line: i32 = 1;
  lineStart: i32 = 0;
  error: string | null = null;

  constructor(public text: string) {}

  peek(): i32 {
    return this.pos < this.text.length ? <i32>this.text.charCodeAt(this.pos) : -1;
  }

  fail(message: string): JsonValue | null {
    if (this.peek() == 0x2f) message = "comments are not allowed in JSON"; // what else would '/' start?
    return this.failAt(this.line, this.pos - this.lineStart + 1, message);
  }

  failAt(line: i32, column: i32, message: string): JsonValue | null {
    if (this.error === null) this.error = "line " + line.toString() + ", column " + column.toString() + ": " + message;
    return null;
  }

  // What is at the current position, for messages.
  found(): string {
    const c = this.peek();
    if (c < 0) return "end of file";
    if (c == 0x0a) return "end of line";
    if (c < 0x20 || c == 0x7f) return "control character 0x" + c.toString(16);
    return "'" + String.fromCharCode(c) + "'";
  }

  skipSpace(): void {
    for (;;) {
      const c = this.peek();
      if (c == 0x0a) {
        this.pos++;
        this.line++;
        this.lineStart = this.pos;
      } else if (c == 0x20 || c == 0x09 || c == 0x0d) this.pos++;
      else return;
    }
  }

  value(depth: i32): JsonValue | null {
    this.skipSpace();
    if (++this.values > MAX_VALUES) {
      return this.fail("more than " + MAX_VALUES.toString() + " values: too large for a VM configuration");
    }
    const c = this.peek();
    if (c == 0x7b) return this.object(depth); // {
    if (c == 0x5b) return this.array(depth); // [
    if (c == 0x22) return this.string(); // "
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a)) return this.word();
    return this.fail("expected a value, found " + this.found());
  }

  private start(kind: JsonKind): JsonValue {
    return new JsonValue(kind, this.line, this.pos - this.lineStart + 1);
  }

  private object(depth: i32): JsonValue | null {
    if (depth >= MAX_DEPTH) return this.fail("nested more than " + MAX_DEPTH.toString() + " deep");
    const obj = this.start(JsonKind.Object);
    this.pos++;
    this.skipSpace();
    if (this.peek() == 0x7d) {
      this.pos++;
      return obj;
    }
    for (;;) {
      this.skipSpace();
      if (this.peek() != 0x22) {
        return this.fail(
          this.peek() == 0x7d
            ? "expected a field name after ',' (no trailing commas in JSON)"
            : "expected a field name in double quotes, found " + this.found(),
        );
      }
      const key = this.string();
      if (key === null) return null;
      this.skipSpace();
      if (this.peek() != 0x3a) return this.fail("expected ':' after the field name, found " + this.found());
      this.pos++;
      const v = this.value(depth + 1);
      if (v === null) return null;
      obj.keys.push(key.text);
      obj.keyValues.push(key);
      obj.items.push(v);
      this.skipSpace();
      const c = this.peek();
      this.pos++;
      if (c == 0x2c) continue; // ,
      if (c == 0x7d) return obj; // }
      this.pos--;
      return this.fail("expected ',' or '}'");
    }
  }

  private array(depth: i32): JsonValue | null {
    if (depth >= MAX_DEPTH) return this.fail("nested more than " + MAX_DEPTH.toString() + " deep");
    const arr = this.start(JsonKind.Array);
    this.pos++;
    this.skipSpace();
    if (this.peek() == 0x5d) {
      this.pos++;
      return arr;
    }
    for (;;) {
      this.skipSpace();
      if (this.peek() == 0x5d) return this.fail("expected a value after ',' (no trailing commas in JSON)");
      const v = this.value(depth + 1);
      if (v === null) return null;
      arr.items.push(v);
      this.skipSpace();
      const c = this.peek();
      this.pos++;
      if (c == 0x2c) continue;
      if (c == 0x5d) return arr;
      this.pos--;
      return this.fail("expected ',' or ']'");
    }
  }

  private string(): JsonValue | null {
    const s = this.start(JsonKind.String);
    this.pos++;
    const parts: string[] = [];
    let run = this.pos;
    for (;;) {
      const c = this.peek();
      if (c < 0 || c == 0x0a) return this.failAt(s.line, s.column, "unterminated string");
      if (c < 0x20) return this.fail("control character 0x" + c.toString(16) + " in a string (write it as an escape)");
      if (c == 0x22) {
        parts.push(this.text.substring(run, this.pos));
        this.pos++;
        s.text = parts.join("");
        return s;
      }
      if (c != 0x5c) {
        this.pos++;
        continue;
      }
      parts.push(this.text.substring(run, this.pos));
      this.pos++; // the backslash
      const e = this.peek();
      let decoded = "";
      if (e == 0x22 || e == 0x5c || e == 0x2f) decoded = String.fromCharCode(e);
      else if (e == 0x62) decoded = "\b";
      else if (e == 0x66) decoded = "\f";
      else if (e == 0x6e) decoded = "\n";
      else if (e == 0x72) decoded = "\r";
      else if (e == 0x74) decoded = "\t";
      else if (e == 0x75) {
        let code = 0;
        for (let i = 1; i <= 4; i++) {
          const h = this.pos + i < this.text.length ? <i32>this.text.charCodeAt(this.pos + i) : -1;
          const d = hexDigit(h);
          if (d < 0) return this.fail("\\u must be followed by four hexadecimal digits");
          code = (code << 4) | d;
        }
        this.pos += 4;
        decoded = String.fromCharCode(code);
      } else {
        this.pos--;
        return this.fail("unknown escape \\" + (e < 0x20 ? "" : String.fromCharCode(e)) + " in a string");
      }
      parts.push(decoded);
      this.pos++;
      run = this.pos;
    }
    return null; // not reached: the loop only ends by returning
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  private number(): JsonValue | null {
    const n = this.start(JsonKind.Number);
    const begin = this.pos;
    if (this.peek() == 0x2d) this.pos++;
    if (this.peek() == 0x30) this.pos++;
    else if (!this.digits()) return this.fail("expected a digit in a number, found " + this.found());
    if (this.peek() == 0x2e) {
      this.pos++;
      if (!this.digits()) return this.fail("expected a digit after the decimal point, found " + this.found());
    }
    if (this.peek() == 0x65 || this.peek() == 0x45) {
      this.pos++;
      if (this.peek() == 0x2b || this.peek() == 0x2d) this.pos++;
      if (!this.digits()) return this.fail("expected a digit in the exponent, found " + this.found());
    }
    n.text = this.text.substring(begin, this.pos);
    n.number = parseFloat(n.text);
    return n;
  }

  private digits(): bool {
    const begin = this.pos;
    while (this.peek() >= 0x30 && this.peek() <= 0x39) this.pos++;
    return this.pos > begin;
  }

  // true, false, null, or a bare word that should have been a string.
  private word(): JsonValue | null {
    let end = this.pos;
    while (end < this.text.length && end - this.pos < 32) {
      const c = this.text.charCodeAt(end);
      if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c == 0x5f)) break;
      end++;
    }
    const w = this.text.substring(this.pos, end);
    const v = this.start(w == "null" ? JsonKind.Null : JsonKind.Bool);
    if (w != "true" && w != "false" && w != "null") {
      return this.fail("expected a value, found '" + w + "' (strings need double quotes)");
    }
    v.bool = w == "true";
    this.pos = end;
    return v;
  }
}

function hexDigit(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}
