// Property tests (fast-check) of the code a guest or a configuration file
// feeds with arbitrary bytes: the MMIO instruction decoder, the JSON parser
// and configuration checker, the kernel loaders, and the register interfaces
// of the legacy devices, the local and I/O APICs and the HPET. Whatever the input, none of them may trap (a wasm
// trap here is a JavaScript exception), and each keeps its promises about
// what it returns. A failure prints the shrunk input and the seed to
// replay it with (fc.assert's report).
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { load, PhysMemory, type Exports } from "./harness";

const RUNS = 2000;

describe("the MMIO instruction decoder, on random bytes", () => {
  let e: Exports<any>;
  beforeAll(async () => {
    e = (await load("mmio.ts")).exports;
  });
  const decode = (bytes: number[], available: number, bits: number): boolean => {
    bytes.forEach((b, i) => e.setByte(i, b));
    return e.decode(available, bits) !== 0;
  };
  // Random bytes, and as often instructions that start like the MMIO forms
  // it knows (prefixes, MOV, MOVZX/MOVSX, MOV moffs, with random operands).
  const byte = fc.integer({ min: 0, max: 255 });
  const start = fc.constantFrom(
    [0x88],
    [0x89],
    [0x8a],
    [0x8b],
    [0xc6],
    [0xc7],
    [0xa1],
    [0xa3],
    [0x0f, 0xb6],
    [0x0f, 0xb7],
    [
      0x0f,
      0xbe,
    ],
    [0x0f, 0xbf],
    [0x66],
    [0x67],
    [0x48],
    [0x41],
    [0xf3],
  );
  const bytes = fc.oneof(
    fc.array(byte, { minLength: 1, maxLength: 15 }),
    fc.tuple(start, fc.array(byte, { maxLength: 12 })).map(([head, tail]) => [...head, ...tail]),
  );
  const bits = fc.constantFrom(16, 32, 64);

  it("never traps; what it decodes fits the bytes given, and needs exactly its own bytes", () => {
    let decoded = 0;
    fc.assert(
      fc.property(bytes, bits, (code, mode) => {
        if (!decode(code, code.length, mode)) return;
        decoded++;
        const length = e.decodedLength(), size = e.decodedAccessSize();
        expect(length).toBeGreaterThanOrEqual(1);
        expect(length).toBeLessThanOrEqual(code.length);
        expect([1, 2, 4, 8]).toContain(size);
        if (e.decodedHasImmediate() === 0) expect(e.decodedRegister()).toBeLessThan(16);
        // The instruction is its first `length` bytes: given only those, it
        // decodes the same; given one fewer, not at all.
        const again = { size, write: e.decodedIsWrite() };
        expect(decode(code.slice(0, length), length, mode)).toBe(true);
        expect({ size: e.decodedAccessSize(), write: e.decodedIsWrite() }).toEqual(again);
        expect(decode(code.slice(0, length - 1), length - 1, mode)).toBe(false);
      }),
      { numRuns: RUNS * 5 },
    );
    expect(decoded).toBeGreaterThan(RUNS / 2); // the property was about something
  });
});

describe("the JSON parser and the configuration checker", () => {
  let e: Exports<any>;
  beforeAll(async () => {
    e = (await load("config.ts")).exports;
  });
  const json = (text: string): string => e.__getString(e.json(e.__newString(text)));

  it("reads every JSON document JSON.stringify writes", () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 6 }), (text) => {
        expect(json(text)).not.toMatch(/^error: /);
      }),
      { numRuns: RUNS },
    );
  });

  it("answers any text with a value or one error at a line and column, never a trap", () => {
    const text = fc.oneof(
      fc.string({ maxLength: 200, unit: "binary" }),
      fc.json().map((j) => j.slice(0, Math.floor(j.length / 2))), // cut short
      fc.json().chain((j) => fc.nat(j.length).map((at) => j.slice(0, at) + "}" + j.slice(at))),
    );
    fc.assert(
      fc.property(text, (t) => {
        const out = json(t);
        if (out.startsWith("error: ")) expect(out).toMatch(/^error: line \d+, column \d+: /);
      }),
      { numRuns: RUNS },
    );
  });

  it("checks any configuration-shaped document without a trap, naming VM and field", () => {
    const field = fc.constantFrom("name", "memory", "cpus", "kernel", "initrd", "cmdline", "console", "affinity", "x");
    const vm = fc.dictionary(field, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 8 });
    fc.assert(
      fc.property(fc.array(vm, { maxLength: 6 }), (vms) => {
        e.parse(e.__newString(JSON.stringify({ vms })));
        for (let i = 0; i < e.errorCount(); i++) expect(e.__getString(e.error(i))).toMatch(/^vm \d+/);
      }),
      { numRuns: RUNS },
    );
  });
});

describe("the kernel loaders, on random images", () => {
  const RAM_HPA = 0x1_0000_0000n, IMAGE_HPA = 0x2_0000_0000n; // as loaders-bzimage.test.ts
  let phys: PhysMemory;
  let e: Exports<any>;
  beforeAll(async () => {
    phys = new PhysMemory();
    e = (await load("loaders.ts", { phys })).exports;
  });

  it("refuse or load a random image or a damaged bzImage header, never trap", () => {
    // A bzImage's setup header is at 0x1f1, "HdrS" at 0x202 (Linux boot protocol).
    const header = fc.record({
      setupSects: fc.integer({ min: 0, max: 255 }),
      version: fc.integer({ min: 0, max: 0xffff }),
      loadFlags: fc.integer({ min: 0, max: 255 }),
      tail: fc.uint8Array({ maxLength: 64 }),
    });
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 4096 }), header, fc.boolean(), (image, h, bz) => {
        const bytes = new Uint8Array(Math.max(image.length, bz ? 0x280 : 0));
        bytes.set(image);
        if (bz) {
          bytes[0x1f1] = h.setupSects;
          bytes.set([0x48, 0x64, 0x72, 0x53], 0x202);
          bytes[0x206] = h.version & 0xff;
          bytes[0x207] = h.version >> 8;
          bytes[0x211] = h.loadFlags;
          bytes.set(h.tail.subarray(0, 0x280 - 0x212), 0x212);
        }
        e.reset();
        e.ramAdd(0n, RAM_HPA, 64n << 20n);
        phys.writeBytes(IMAGE_HPA, bytes);
        e.loadBz(IMAGE_HPA, BigInt(bytes.length));
      }),
      { numRuns: RUNS / 4 },
    );
  });
});

describe("the legacy devices' ports, under random reads and writes", () => {
  let e: Exports<any>;
  beforeAll(async () => {
    e = (await load("devices.ts")).exports;
  });
  // The PIC pair and its ELCR, the PIT, port B, CMOS, the i8042, PCI's
  // configuration ports, COM1.
  const port = fc.constantFrom(
    0x20,
    0x21,
    0xa0,
    0xa1,
    0x4d0,
    0x4d1,
    0x40,
    0x41,
    0x42,
    0x43,
    0x61,
    0x70,
    0x71,
    0x60,
    0x64,
    0xcf8,
    0xcfc,
    ...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => 0x3f8 + i),
  );
  const access = fc.record({
    port,
    size: fc.constantFrom(1, 2, 4),
    write: fc.boolean(),
    value: fc.integer({ min: 0, max: 0xffff_ffff }),
  });

  it("take any sequence of accesses without a trap", () => {
    fc.assert(
      fc.property(fc.array(access, { maxLength: 200 }), (accesses) => {
        for (const a of accesses) {
          if (a.write) e.ioWrite(a.port, a.size, a.value);
          else e.ioRead(a.port, a.size);
          if (e.picHasInterrupt()) e.picAcknowledge();
        }
      }),
      { numRuns: RUNS / 4 },
    );
  });
});

// The local APIC (its MMIO page and x2APIC MSRs), the I/O APIC and the
// HPET: a guest reaches each register with any value, in any order, and
// time passes between its accesses.
describe("the interrupt controllers' and timers' registers, under random accesses", () => {
  it("the local APIC takes any MMIO and MSR access, and never offers a vector below 16", async () => {
    const e = (await load("lapic.ts")).exports as Exports<any>;
    const access = fc.record({
      apic: fc.integer({ min: 0, max: 3 }),
      offset: fc.integer({ min: 0, max: 0x3ff }).map((o) => o & ~3),
      msr: fc.integer({ min: 0x800, max: 0x83f }),
      kind: fc.constantFrom("mmioRead", "mmioWrite", "msrRead", "msrWrite", "time"),
      value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    });
    let now = 1_000_000n;
    fc.assert(
      fc.property(fc.array(access, { maxLength: 200 }), (accesses) => {
        for (const a of accesses) {
          if (a.kind === "mmioRead") e.mmioRead(a.apic, a.offset, 4);
          else if (a.kind === "mmioWrite") e.mmioWrite(a.apic, a.offset, 4, a.value & 0xffff_ffffn);
          else if (a.kind === "msrRead") e.msrRead(a.apic, a.msr);
          else if (a.kind === "msrWrite") e.msrWrite(a.apic, a.msr, a.value);
          else e.advance(a.apic, now += a.value & 0xf_ffffn);
          const vector = e.pendingVector(a.apic);
          expect(vector === -1 || (vector >= 16 && vector <= 255)).toBe(true);
          if (vector >= 0) e.acknowledge(a.apic, vector);
        }
      }),
      { numRuns: RUNS / 4 },
    );
  });

  it("the I/O APIC takes any register access and any pin activity", async () => {
    const e = (await load("ioapic.ts")).exports as Exports<any>;
    const access = fc.record({
      kind: fc.constantFrom("select", "read", "write", "level", "pulse", "eoi"),
      value: fc.integer({ min: 0, max: 0xffff_ffff }),
      pin: fc.integer({ min: 0, max: 31 }),
      high: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(access, { maxLength: 200 }), (accesses) => {
        e.reset();
        for (const a of accesses) {
          if (a.kind === "select") e.write(0n, 4, BigInt(a.value & 0xff));
          else if (a.kind === "read") e.read(0x10n, 4);
          else if (a.kind === "write") e.write(0x10n, 4, BigInt(a.value));
          else if (a.kind === "level") e.setLevel(a.pin, a.high);
          else if (a.kind === "pulse") e.pulse(a.pin);
          else e.endOfInterrupt(a.value & 0xff);
        }
        for (let n = 0; n < e.messageCount(); n++) expect(e.__getString(e.message(n))).toMatch(/\S/);
      }),
      { numRuns: RUNS / 4 },
    );
  });

  it("the HPET takes any register access as time passes", async () => {
    const e = (await load("hpet.ts")).exports as Exports<any>;
    const access = fc.record({
      offset: fc.integer({ min: 0, max: 0x3ff }).map((o) => o & ~3),
      size: fc.constantFrom(4, 8),
      write: fc.boolean(),
      value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      ns: fc.bigInt({ min: 0n, max: 10_000_000n }),
    });
    fc.assert(
      fc.property(fc.array(access, { maxLength: 200 }), (accesses) => {
        for (const a of accesses) {
          const offset = BigInt(a.size === 8 ? a.offset & ~7 : a.offset);
          if (a.write) e.write(offset, a.size, a.size === 8 ? a.value : a.value & 0xffff_ffffn);
          else e.read(offset, a.size);
          e.advance(a.ns);
          e.nsUntilInterrupt();
        }
      }),
      { numRuns: RUNS / 4 },
    );
  });
});
