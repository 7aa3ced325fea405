// lwIP's instance as the build makes it (build/lwip.wasm, docs/lwip.md),
// for the unit tests that run it in node: its exports, and a fresh instance
// on a memory of its own, as the hypervisor gives it.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

export interface Stack {
  start(macHigh: number, macLow: number, address: number, netmask: number, gateway: number, seed: number): void;
  receive_buffer(): number;
  frame_capacity(): number;
  input(length: number): void;
  poll(nowMs: number): void;
  pending(): number;
  pending_frame(): number;
  pop(): void;
}

// Builds build/lwip.wasm if it is not up to date, and compiles it.
export function compileLwip(): WebAssembly.Module {
  execFileSync("make", ["--no-print-directory", "-s", "build/lwip.wasm"], { stdio: "inherit" });
  return new WebAssembly.Module(new Uint8Array(readFileSync("build/lwip.wasm")));
}

// The pages of lwIP's memory, as the Makefile links it.
const PAGES = Number(/^IP_STACK_PAGES := (\d+)$/m.exec(readFileSync("Makefile", "utf8"))![1]);

// An instance of `module` on its fixed pages, not started.
export function instantiate(module: WebAssembly.Module): { stack: Stack; memory: WebAssembly.Memory } {
  const memory = new WebAssembly.Memory({ initial: PAGES, maximum: PAGES });
  const stack = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Stack;
  return { stack, memory };
}
