// Reading the fields of a VM configuration (config.ts, disks.ts, nics.ts): numbers,
// choices and boot module names checked against what is allowed, and the
// wording every message uses for where a value is and what it was.

import { JsonKind, JsonValue } from "./json";

const MAX_PARTITION_NAME: i32 = 36;

// A whole number in [min, max]; `fallback` (min) when absent and not required.
export function wholeNumber(
  v: JsonValue | null,
  min: u32,
  max: u32,
  required: bool,
  prefix: string,
  what: string,
  errors: string[],
): u32 {
  const expected = "expected " + what + " from " + min.toString() + " to " + max.toString();
  if (v === null) {
    if (required) errors.push(prefix + "missing (" + what + " from " + min.toString() + " to " + max.toString() + ")");
    return min;
  }
  if (v.kind != JsonKind.Number || !F64.isInteger(v.number) || v.number < <f64>min || v.number > <f64>max) {
    errors.push(prefix + expected + ", got " + describe(v));
    return min;
  }
  return <u32>v.number;
}

// One of the strings `choices`; `fallback` when absent or wrong (reported).
export function oneOf(
  v: JsonValue | null,
  choices: string[],
  fallback: string,
  prefix: string,
  errors: string[],
): string {
  if (v === null) return fallback;
  if (v.kind == JsonKind.String && choices.includes(v.text)) return v.text;
  errors.push(prefix + "expected " + alternatives(choices) + ", got " + describe(v));
  return fallback;
}

// The choices as a message offers them: "a", "b" or "c", each quoted.
export function alternatives(choices: string[]): string {
  let text = "";
  for (let i = 0; i < choices.length; i++) {
    text += (i == 0 ? "" : i == choices.length - 1 ? " or " : ", ") + quote(choices[i]);
  }
  return text;
}

// The name of a boot module; "" when absent (or null) and not required.
export function moduleName(
  v: JsonValue | null,
  required: bool,
  modules: string[] | null,
  prefix: string,
  errors: string[],
): string {
  if (v === null || (!required && v.kind == JsonKind.Null)) {
    if (required) errors.push(prefix + "missing (the name of a boot module)");
    return "";
  }
  if (v.kind != JsonKind.String || v.text.length == 0) {
    errors.push(prefix + "expected the name of a boot module, got " + describe(v));
    return "";
  }
  if (modules !== null && !modules.includes(v.text)) {
    errors.push(prefix + "no boot module named " + quote(v.text));
    return "";
  }
  return v.text;
}

// A GPT partition's name or unique GUID (storage/hostdisks.ts finds it);
// "" (reported) for anything else. A name is at most 36 UTF-16 code units
// (UEFI 2.10, 5.3.3), a GUID 36 characters.
export function partitionName(v: JsonValue, prefix: string, errors: string[]): string {
  if (v.kind == JsonKind.String && v.text.length > 0 && v.text.length <= MAX_PARTITION_NAME) return v.text;
  errors.push(prefix + "expected a partition's name or GUID, got " + describe(v));
  return "";
}

// The items of `v`, a list of at most `max` (`noun`: "disks"); none, and
// reported, if it is anything else.
export function listOf(v: JsonValue, max: i32, noun: string, prefix: string, errors: string[]): JsonValue[] {
  if (v.kind == JsonKind.Array && v.items.length <= max) return v.items;
  errors.push(prefix + "expected a list of at most " + max.toString() + " " + noun + ", got " + describe(v));
  return [];
}

// Whether `entry` is an object, as `example` shows one; one that is not is
// reported for the caller to skip. Its keys outside `fields` are reported.
export function isObjectOf(entry: JsonValue, fields: string[], example: string, label: string, errors: string[]): bool {
  if (entry.kind != JsonKind.Object) {
    errors.push(label + "expected an object such as " + example + ", got " + describe(entry));
    return false;
  }
  for (let k = 0; k < entry.keys.length; k++) {
    if (!fields.includes(entry.keys[k])) errors.push(label + "unknown field " + quote(entry.keys[k]));
  }
  return true;
}

// "line 3, column 5"
export function at(v: JsonValue): string {
  return "line " + v.line.toString() + ", column " + v.column.toString();
}

// A value as it was given, for "got ..." in messages.
export function describe(v: JsonValue): string {
  if (v.kind == JsonKind.String) return quote(v.text);
  if (v.kind == JsonKind.Number) return v.text;
  if (v.kind == JsonKind.Bool) return v.bool ? "true" : "false";
  if (v.kind == JsonKind.Null) return "null";
  if (v.kind == JsonKind.Array) return "a list";
  return "an object";
}

// JSON string syntax, shortened past 40 characters.
export function quote(text: string): string {
  let s = "\"";
  const n = text.length < 40 ? text.length : 40;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c == 0x22 || c == 0x5c) s += "\\" + String.fromCharCode(c);
    else if (c < 0x20) s += "\\u" + (c < 0x10 ? "000" : "00") + c.toString(16);
    else s += String.fromCharCode(c);
  }
  return s + (text.length > n ? "...\"" : "\"");
}
