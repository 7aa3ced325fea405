// Deliberate failures, for the system tests that check the failure paths:
// "crash=oob" makes a wasm out-of-bounds access (the guard region must catch
// it), "crash=unreachable" executes a wasm unreachable, "crash=abort" fails an
// AssemblyScript runtime check, "crash=stack" overflows the native stack.
// "crash=KIND@N" does the same on CPU N as its first slice of a guest ends,
// while the others run their guests. Any other value (or none) does nothing.

import * as log from "../console/log";

// A crash for later: which, and on which CPU (-1: none).
let laterKind = "";
let laterCpu: i32 = -1;

export function crashOnRequest(request: string): void {
  const at = request.indexOf("@");
  if (at < 0) {
    crash(request);
    return;
  }
  laterKind = request.slice(0, at);
  laterCpu = I32.parseInt(request.slice(at + 1), 10);
}

// Called by each CPU as a slice ends (at a slice's end rather than at each
// exit, to keep the check off the exit path).
export function crashOnSliceEnd(cpu: u32): void {
  if (laterCpu == <i32>cpu) crash(laterKind);
}

function crash(kind: string): void {
  if (kind.length == 0) return;
  log.warn("selftest: crashing on request (" + kind + ")");
  if (kind == "oob") {
    // The first byte past the end of the linear memory: the guard region.
    store<u8>(<usize>memory.size() << 16, 1);
  } else if (kind == "unreachable") {
    unreachable();
  } else if (kind == "stack") {
    log.info("recursion result " + recurse(1).toString());
  } else if (kind == "abort") {
    const list = new Array<i32>(1);
    log.info("unreachable value " + list[<i32>list.length + 1].toString());
  }
}

// Each level keeps a value live across the call, so none of it can be a loop.
function recurse(depth: u64): u64 {
  if (depth == 0) return 0;
  return recurse(depth + 1) * 3 + depth;
}
