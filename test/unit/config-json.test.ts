// The JSON parser under the configuration file (vmm/setup/config/json.ts): values,
// escapes, numbers, where each array and object starts, and the line and
// column of the first error in malformed text.
import { beforeAll, describe, expect, it } from "vitest";
import { load, type Exports } from "./harness";

let e: Exports<any>;
beforeAll(async () => {
  e = (await load("config.ts")).exports;
});
// The parsed value rendered back (arrays and objects tagged @line:column), or "error: ...".
const json = (text: string): string => e.__getString(e.json(e.__newString(text)));

describe("JSON values", () => {
  it("parses literals, numbers, strings, arrays and objects", () => {
    expect(json(`null`)).toBe("null");
    expect(json(` true `)).toBe("true");
    expect(json(`false`)).toBe("false");
    // AS prints -0 as 0.0;
    expect(json(`[0, -0, 12, -3.25, 1e3, 2.5E-2, 1E+2]`)).toBe("[0.0,0.0,12.0,-3.25,1000.0,0.025,100.0]@1:1");
    expect(json(`{"a": {"b": []}, "c": [{}]}`)).toBe(`{"a":{"b":[]@1:13}@1:7,"c":[{}@1:24]@1:23}@1:1`);
    expect(json(`{"a": 1, "a": 2}`)).toBe(`{"a":1.0,"a":2.0}@1:1`); // duplicates are kept for the validator
  });

  it("decodes every escape, including surrogate pairs", () => {
    expect(json(`"q\\" b\\\\ s\\/ \\b\\f\\n\\r\\t"`)).toBe(`"q\\" b\\\\ s/ \b\f\n\r\t"`);
    expect(json(`"\\u00e9\\u00C9 \\ud83d\\ude00"`)).toBe(`"éÉ 😀"`);
    expect(json(`"plain é and 😀"`)).toBe(`"plain é and 😀"`);
  });

  it("counts lines and columns across LF and CRLF, tabs as one column", () => {
    expect(json(`\n\n   [1,\r\n\t[2]]`)).toBe("[1.0,[2.0]@4:2]@3:4");
  });

  it("skips a byte-order mark", () => {
    expect(json(`\ufeff[]`)).toBe("[]@1:2");
  });
});

describe("JSON errors", () => {
  const cases: Array<[string, string]> = [
    [``, "line 1, column 1: expected a value, found end of file"],
    [`   \n  `, "line 2, column 3: expected a value, found end of file"],
    [`[1 2]`, "line 1, column 4: expected ',' or ']'"],
    [`{"a": 1 "b": 2}`, "line 1, column 9: expected ',' or '}'"],
    [`{"a" 1}`, "line 1, column 6: expected ':' after the field name, found '1'"],
    [`{'a': 1}`, "line 1, column 2: expected a field name in double quotes, found '''"],
    [`[1,]`, "line 1, column 4: expected a value after ',' (no trailing commas in JSON)"],
    [`{"a": 1,}`, "line 1, column 9: expected a field name after ',' (no trailing commas in JSON)"],
    [`[tru]`, "line 1, column 2: expected a value, found 'tru' (strings need double quotes)"],
    [`[NaN]`, "line 1, column 2: expected a value, found 'NaN' (strings need double quotes)"],
    [`[-]`, "line 1, column 3: expected a digit in a number, found ']'"],
    [`[01]`, "line 1, column 3: expected ',' or ']'"],
    [`[1.]`, "line 1, column 4: expected a digit after the decimal point, found ']'"],
    [`[1e]`, "line 1, column 4: expected a digit in the exponent, found ']'"],
    [`[.5]`, "line 1, column 2: expected a value, found '.'"],
    [`["abc`, "line 1, column 2: unterminated string"],
    [`["abc\n"]`, "line 1, column 2: unterminated string"],
    [`["a\tb"]`, "line 1, column 4: control character 0x9 in a string (write it as an escape)"],
    [`["\\x"]`, "line 1, column 3: unknown escape \\x in a string"],
    [`["\\u12g4"]`, "line 1, column 4: \\u must be followed by four hexadecimal digits"],
    [`["\\u12`, "line 1, column 4: \\u must be followed by four hexadecimal digits"],
    [`[1] [2]`, "line 1, column 5: unexpected '[' after the end of the JSON value"],
    [`[1]\n/* no */`, "line 2, column 1: comments are not allowed in JSON"],
    [`[1, // one\n 2]`, "line 1, column 5: comments are not allowed in JSON"],
    [`[\u0001]`, "line 1, column 2: expected a value, found control character 0x1"],
    [`{"a": [}`, "line 1, column 8: expected a value, found '}'"],
  ];
  for (const [text, error] of cases) {
    it(JSON.stringify(text), () => expect(json(text)).toBe("error: " + error));
  }

  it("stops at 64 levels of nesting, however deep the input goes", () => {
    expect(json("[".repeat(64) + "]".repeat(64))).toMatch(/^\[\[/);
    expect(json("[".repeat(65) + "]".repeat(65))).toBe("error: line 1, column 65: nested more than 64 deep");
    expect(json(`{"a":`.repeat(200000))).toBe("error: line 1, column 321: nested more than 64 deep");
  });
});
