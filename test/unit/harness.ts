// The unit-test harness: kernel modules compiled to wasm and run in Node.
//
// An entry file under test/unit/as/ imports the kernel modules under test and
// exports plain functions. compile() turns it into wasm with the
// AssemblyScript compiler (once per entry file and test run); load()
// instantiates it with @assemblyscript/loader and a stub for every import the
// kernel declares in kernel/arch/shim.ts. Physical memory is a sparse fake the
// test fills in, the linear memory sits at a fixed fake physical address, the
// serial port's output is captured, and halt() throws, so a kernel panic
// surfaces as an exception carrying the panic text.

import asc from "assemblyscript/asc";
import { instantiateSync, type ASUtil } from "@assemblyscript/loader";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, "../..");
const SHIM_FILE = join(REPO, "kernel/arch/shim.ts");

// Where the stubs pretend the wasm linear memory lives, physically.
export const LINEAR_PHYS_BASE = 0x4000_0000n;
// The virtual window the linear memory is mapped at, and its PDPT.
export const LINEAR_BASE = 0x100_0000_0000n;
export const LINEAR_WINDOW_PDPT = 0x7fe0_0000n;
export const IMAGE_START = 0x20_0000n;
export const IMAGE_END = 0x60_0000n;
export const BOOT_STACK_BOTTOM = 0x40_0000n;
export const COM1 = 0x3f8;

// ---------------------------------------------------------------------------
// Compiling

export interface CompileOptions {
  // Binaryen optimisation level; the kernel itself is built with 3.
  optimize?: 1 | 3;
  // The kernel's own "minimal" runtime, which collects only when called:
  // for tests that watch the heap grow. Default: "incremental" (below).
  runtime?: "incremental" | "minimal";
}

// The same memory layout and features as the kernel (asconfig.json), but
// (unless asked otherwise) the incremental runtime with its helpers exported (for the loader's
// __getString/__getArray) and runtime checks kept (no --noAssert), so an
// out-of-range index traps with a location instead of corrupting memory.
function ascArgs(entry: string, optimize: number, runtime: string): string[] {
  return [
    entry,
    `-O${optimize}`,
    "--runtime",
    runtime,
    "--exportRuntime",
    "--disable",
    "simd",
    "--initialMemory",
    "16",
    "--maximumMemory",
    "4096",
    "--memoryBase",
    "65536",
    // Not the kernel's asconfig.json: its options (such as an abort alias)
    // must not leak into the unit builds. This file only holds "options": {}.
    "--config",
    "test/unit/as/asconfig.json",
    "--baseDir",
    REPO, // entries and --config are relative to the repo root
    "--outFile",
    "unit.wasm",
  ];
}

const compiled = new Map<string, Promise<WebAssembly.Module>>();

function defaultOptimize(): 1 | 3 {
  return process.env.UNIT_OPT === "1" ? 1 : 3;
}

// `entry` is a file name in test/unit/as/ ("multiboot.ts") or a repo-relative path.
export function compile(entry: string, opts: CompileOptions = {}): Promise<WebAssembly.Module> {
  const path = entry.includes("/") ? entry : `test/unit/as/${entry}`;
  const optimize = opts.optimize ?? defaultOptimize(), runtime = opts.runtime ?? "incremental";
  const key = `${path} -O${optimize} ${runtime}`;
  let module = compiled.get(key);
  if (!module) {
    module = compileNow(path, optimize, runtime);
    compiled.set(key, module);
  }
  return module;
}

async function compileNow(path: string, optimize: number, runtime: string): Promise<WebAssembly.Module> {
  let binary: Uint8Array | null = null;
  let log = "";
  const stream = {
    write(chunk: Uint8Array | string) {
      log += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString();
    },
  };
  const result = await asc.main(ascArgs(path, optimize, runtime), {
    stdout: stream as never,
    stderr: stream as never,
    writeFile(name: string, contents: Uint8Array | string) {
      if (name.endsWith(".wasm") && typeof contents !== "string") binary = contents;
    },
  });
  if (result.error) throw new Error(`asc failed on ${path}: ${result.error.message}\n${log}`);
  if (!binary) throw new Error(`asc produced no wasm for ${path}\n${log}`);
  return new WebAssembly.Module(binary);
}

// ---------------------------------------------------------------------------
// Fake physical memory: sparse 4 KiB pages, zero where nothing was written.

const PAGE = 4096;

export class PhysMemory {
  private pages = new Map<number, Uint8Array>();
  // Every address the kernel read, when tracing (set `trace` to an array).
  trace: number[] | null = null;

  private page(addr: number, create: boolean): Uint8Array | undefined {
    const n = Math.floor(addr / PAGE);
    let p = this.pages.get(n);
    if (!p && create) {
      p = new Uint8Array(PAGE);
      this.pages.set(n, p);
    }
    return p;
  }

  read8(addr: bigint | number): number {
    const a = toAddr(addr);
    if (this.trace) this.trace.push(a);
    const p = this.page(a, false);
    return p ? p[a % PAGE] : 0;
  }
  write8(addr: bigint | number, value: number): void {
    const a = toAddr(addr);
    this.page(a, true)![a % PAGE] = value & 0xff;
  }
  // Pages never written stay absent: they read as zero already.
  zero(addr: bigint | number, bytes: number): void {
    const a = toAddr(addr);
    for (let at = a; at < a + bytes;) {
      const end = Math.min(a + bytes, (Math.floor(at / PAGE) + 1) * PAGE);
      this.page(at, false)?.fill(0, at % PAGE, (end - 1) % PAGE + 1);
      at = end;
    }
  }
  // Little-endian, `bytes` wide, as a BigInt.
  read(addr: bigint | number, bytes: number): bigint {
    const a = toAddr(addr);
    let v = 0n;
    for (let i = bytes - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.read8(a + i));
    return v;
  }
  write(addr: bigint | number, bytes: number, value: bigint | number): void {
    const a = toAddr(addr);
    let v = BigInt.asUintN(bytes * 8, BigInt(value));
    for (let i = 0; i < bytes; i++) {
      this.write8(a + i, Number(v & 0xffn));
      v >>= 8n;
    }
  }
  read16(addr: bigint | number): number {
    return Number(this.read(addr, 2));
  }
  read32(addr: bigint | number): number {
    return Number(this.read(addr, 4));
  }
  read64(addr: bigint | number): bigint {
    return this.read(addr, 8);
  }
  write16(addr: bigint | number, v: number): void {
    this.write(addr, 2, v);
  }
  write32(addr: bigint | number, v: number | bigint): void {
    this.write(addr, 4, v);
  }
  write64(addr: bigint | number, v: number | bigint): void {
    this.write(addr, 8, v);
  }
  writeBytes(addr: bigint | number, bytes: ArrayLike<number>): void {
    const a = toAddr(addr);
    for (let i = 0; i < bytes.length; i++) this.write8(a + i, bytes[i]);
  }
  readBytes(addr: bigint | number, length: number): Uint8Array {
    const a = toAddr(addr), out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.read8(a + i);
    return out;
  }
  // ASCII text, NUL-terminated unless `terminate` is false.
  writeString(addr: bigint | number, text: string, terminate = true): void {
    const a = toAddr(addr);
    for (let i = 0; i < text.length; i++) this.write8(a + i, text.charCodeAt(i));
    if (terminate) this.write8(a + text.length, 0);
  }
  fill(addr: bigint | number, length: number, value: number): void {
    const a = toAddr(addr);
    for (let i = 0; i < length; i++) this.write8(a + i, value);
  }
}

function toAddr(addr: bigint | number): number {
  const a = typeof addr === "bigint" ? Number(BigInt.asUintN(64, addr)) : addr;
  if (!Number.isSafeInteger(a) || a < 0) throw new Error(`fake physical memory: address ${addr} out of range`);
  return a;
}

// ---------------------------------------------------------------------------
// The shim stubs

// Every import kernel/arch/shim.ts declares: import name -> AS name.
export function shimDeclarations(): Map<string, string> {
  const text = readFileSync(SHIM_FILE, "utf8");
  const out = new Map<string, string>();
  const re = /@external\(\s*"shim"\s*,\s*"(\w+)"\s*\)\s*export\s+declare\s+function\s+(\w+)/g;
  for (let m; (m = re.exec(text));) out.set(m[1], m[2]);
  if (out.size === 0) throw new Error(`no @external("shim", ...) declarations found in ${SHIM_FILE}`);
  return out;
}

export class HaltError extends Error {
  constructor(public status: number, public serial: string) {
    super(`halt ${status}${serial ? `\n--- serial output ---\n${serial}` : ""}`);
    this.name = "HaltError";
  }
}

export class AbortError extends Error {
  constructor(
    public abortMessage: string | null,
    public file: string | null,
    public line: number,
    public column: number,
  ) {
    super(`abort: ${abortMessage ?? "(no message)"} at ${file ?? "?"}:${line}:${column}`);
    this.name = "AbortError";
  }
}

// A stub receives the import's arguments (u64 as BigInt, others as numbers)
// and must return a BigInt for u64 results.
export type Stub = (...args: any[]) => any;

export interface LoadOptions extends CompileOptions {
  phys?: PhysMemory;
  // Overrides by import name ("phys_read32") or AS name ("physRead32").
  shim?: Record<string, Stub>;
}

export interface Machine {
  phys: PhysMemory;
  // Bytes written to COM1's data register (divisor writes excluded), CR LF as LF.
  serial(): string;
  // Every port write, in order.
  portWrites: Array<{ port: number; value: number; width: number }>;
  msrs: Map<number, bigint>;
  cr: { cr0: bigint; cr2: bigint; cr3: bigint; cr4: bigint };
  linearGrants: Array<{ phys: bigint; bytes: bigint }>;
  // How often each import was called, by import name.
  calls: Map<string, number>;
}

export type Exports<T> = ASUtil & T & { memory: WebAssembly.Memory };
export type Unit<T> = { exports: Exports<T>; machine: Machine };

function defaultStubs(m: Machine, getExports: () => ASUtil & { memory: WebAssembly.Memory }): Record<string, Stub> {
  let lcr = 0, tsc = 0n;
  const serialBytes: number[] = [];
  m.serial = () => Buffer.from(serialBytes).toString("latin1").replace(/\r\n/g, "\n");
  const out = (width: number) => (port: number, value: number) => {
    m.portWrites.push({ port, value, width });
    if (width === 1 && port === COM1 + 3) lcr = value;
    if (width === 1 && port === COM1 && (lcr & 0x80) === 0) serialBytes.push(value);
  };
  // Reads of ports nobody emulates float high; COM1's line status says
  // "transmitter empty, nothing received".
  const inp = (ones: number) => (port: number) => (port === COM1 + 5 ? 0x60 : ones);
  const p = m.phys;
  return {
    inb: inp(0xff),
    inw: inp(0xffff),
    inl: inp(0xffffffff),
    outb: out(1),
    outw: out(2),
    outl: out(4),
    rdmsr: (msr: number) => m.msrs.get(msr >>> 0) ?? 0n,
    wrmsr: (msr: number, value: bigint) => {
      m.msrs.set(msr >>> 0, value);
    },
    cpuid: (_leaf: number, _sub: number, outPtr: number) => {
      new Uint32Array(getExports().memory.buffer, outPtr >>> 0, 4).fill(0);
    },
    read_cr0: () => m.cr.cr0,
    read_cr2: () => m.cr.cr2,
    read_cr3: () => m.cr.cr3,
    read_cr4: () => m.cr.cr4,
    write_cr0: (v: bigint) => {
      m.cr.cr0 = v;
    },
    write_cr3: (v: bigint) => {
      m.cr.cr3 = v;
    },
    write_cr4: (v: bigint) => {
      m.cr.cr4 = v;
    },
    rdtsc: () => (tsc += 1000n),
    invlpg: () => {},
    pause: () => {},
    memory_fence: () => {},
    hw_random: () => 0,
    interrupt_window: () => {},
    phys_read8: (a: bigint) => p.read8(a),
    phys_read16: (a: bigint) => p.read16(a),
    phys_read32: (a: bigint) => p.read32(a),
    phys_read64: (a: bigint) => p.read64(a),
    phys_write8: (a: bigint, v: number) => p.write(a, 1, v),
    phys_write16: (a: bigint, v: number) => p.write(a, 2, v),
    phys_write32: (a: bigint, v: number) => p.write(a, 4, v >>> 0),
    phys_write64: (a: bigint, v: bigint) => p.write(a, 8, v),
    phys_zero: (a: bigint, bytes: bigint) => p.zero(a, Number(bytes)),
    // Either side may be the linear memory's window (GuestMemory.copyLinear()).
    phys_copy: (to: bigint, from: bigint, bytes: bigint) => {
      const linear = (a: bigint) => a >= LINEAR_BASE ? new Uint8Array(getExports().memory.buffer) : null;
      const into = linear(to), outOf = linear(from);
      for (let i = 0n; i < bytes; i++) {
        const v = outOf !== null ? outOf[Number(from + i - LINEAR_BASE)] : p.read8(from + i);
        if (into !== null) into[Number(to + i - LINEAR_BASE)] = v;
        else p.write8(to + i, v);
      }
    },
    linear_to_phys: (offset: number) => BigInt(offset >>> 0) + LINEAR_PHYS_BASE,
    linear_base: () => LINEAR_BASE,
    linear_window_pdpt: () => LINEAR_WINDOW_PDPT,
    linear_grant: (phys: bigint, bytes: bigint) => {
      m.linearGrants.push({ phys, bytes });
    },
    image_start: () => IMAGE_START,
    image_end: () => IMAGE_END,
    boot_stack_bottom: () => BOOT_STACK_BOTTOM,
    boot_tsc: () => 0n,
    lidt: () => {},
    set_emulator_exit: () => {},
    this_cpu: () => 0,
    hv_trylock: () => 1,
    hv_unlock: () => {},
    halt: (status: number) => {
      throw new HaltError(status, m.serial());
    },
    backtrace: () => {},
    print_symbol: () => {},
  };
}

// Instantiates a fresh module (own linear memory, own fake machine) for `entry`.
export async function load<T extends object = Record<string, any>>(
  entry: string,
  opts: LoadOptions = {},
): Promise<Unit<T>> {
  const module = await compile(entry, opts);
  const declared = shimDeclarations();
  const byAsName = new Map([...declared].map(([imp, as]) => [as, imp]));

  const machine: Machine = {
    phys: opts.phys ?? new PhysMemory(),
    serial: () => "",
    portWrites: [],
    msrs: new Map(),
    cr: { cr0: 0x8000_0011n, cr2: 0n, cr3: 0n, cr4: 0x20n },
    linearGrants: [],
    calls: new Map(),
  };
  let exportsRef: (ASUtil & { memory: WebAssembly.Memory }) | null = null;
  const getExports = () => {
    if (!exportsRef) throw new Error("shim stub called before the module was instantiated");
    return exportsRef;
  };
  const defaults = defaultStubs(machine, getExports);
  const overrides: Record<string, Stub> = {};
  for (const [name, fn] of Object.entries(opts.shim ?? {})) {
    const imp = declared.has(name) ? name : byAsName.get(name);
    if (!imp) throw new Error(`shim override "${name}" names no import declared in kernel/arch/shim.ts`);
    overrides[imp] = fn;
  }

  const shim: Record<string, Stub> = {};
  for (const [imp, asName] of declared) {
    const impl = overrides[imp] ?? defaults[imp];
    shim[imp] = (...args: unknown[]) => {
      machine.calls.set(imp, (machine.calls.get(imp) ?? 0) + 1);
      if (!impl) throw new Error(`shim.${imp} (${asName}) was called but has no stub in this test`);
      return impl(...args.map(unsigned)); // every i64 the shim passes is a u64
    };
  }

  // The module may import only what shim.ts declares, plus the runtime's env.
  for (const i of WebAssembly.Module.imports(module)) {
    if (i.module === "shim" && !declared.has(i.name)) {
      throw new Error(`${entry} imports shim.${i.name}, which kernel/arch/shim.ts does not declare`);
    }
    if (i.module !== "shim" && !(i.module === "env" && ["abort", "trace", "seed"].includes(i.name))) {
      throw new Error(`${entry} imports ${i.module}.${i.name}, which the harness does not provide`);
    }
  }

  const env = {
    abort(msg: number, file: number, line: number, column: number) {
      const e = getExports();
      const str = (ptr: number) => (ptr ? e.__getString(ptr >>> 0) : null);
      throw new AbortError(str(msg), str(file), line, column);
    },
    trace(msg: number, n: number, ...args: number[]) {
      console.log(`trace: ${getExports().__getString(msg >>> 0)} ${args.slice(0, n).join(", ")}`);
    },
    seed: () => 0x1234_5678, // deterministic
  };
  const { exports: raw } = instantiateSync<Record<string, unknown>>(module, { shim, env } as never);
  exportsRef = raw as never;
  // i64 results arrive as signed BigInts; the kernel's 64-bit values are u64.
  const exports: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(raw)) {
    exports[name] = typeof value === "function" && !name.startsWith("__")
      ? (...args: unknown[]) => unsigned((value as Stub)(...args))
      : value;
  }
  return { exports: exports as never, machine };
}

function unsigned(v: unknown): unknown {
  return typeof v === "bigint" ? BigInt.asUintN(64, v) : v;
}
