// The profiles' reading of QEMU's execution log (tools/harness/execlog.ts),
// from a log shaped like QEMU 7.2's: blocks translated, then run, one of
// them translated again shorter, and a VM's block QEMU could not print.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BlockRun, blocksRun, holder, readable } from "../../tools/harness/execlog";

const HOST_FLAGS = "00000b3", GUEST_FLAGS = "18f0c2b0"; // bit 21, SVM guest mode, set in the second
const trace = (pc: string, flags: string) => `Trace 0: 0x7f134e260e00 [0000000000000000/${pc}/${flags}/ff020200] `;
const LOG = [
  "IN: ",
  "0x00101000:  48 89 e5                 movq     %rsp, %rbp",
  "0x00101003:  48 8b 07                 movq     (%rdi), %rax",
  "0x00101006:  c3                       retq     ",
  "",
  "IN: ",
  "0xffffffff81cf6ff0: unable to read memory",
  "",
  trace("0000000000101000", HOST_FLAGS),
  trace("ffffffff81cf6ff0", GUEST_FLAGS),
  "IN: ",
  "0x00101000:  48 89 e5                 movq     %rsp, %rbp",
  "",
  trace("0000000000101000", HOST_FLAGS),
].join("\n");

async function runs(log: string): Promise<BlockRun[]> {
  const path = join(mkdtempSync(join(tmpdir(), "execlog-")), "qemu.log");
  writeFileSync(path, log);
  const blocks: BlockRun[] = [];
  for await (const block of blocksRun(path)) blocks.push(block);
  return blocks;
}

describe("QEMU's execution log", () => {
  it("gives each block run its instructions, as last translated, and tells a VM's apart", async () => {
    expect(await runs(LOG)).toEqual([
      { pc: 0x101000, guest: false, instructions: 3 },
      { pc: 0xffffffff81cf6ff0, guest: true, instructions: 0 },
      { pc: 0x101000, guest: false, instructions: 1 },
    ]);
  });

  it("names the function holding an address, as the source spells it", () => {
    const table = [
      { address: 0x1000, name: "w2c_kernel_vmm0x2Fnet0x2Fswitch0x2FVirtualSwitch0x23deliver" },
      { address: 0x1200, name: "memcpy" },
    ];
    expect(readable(holder(table, 0x1100))).toBe("vmm/net/switch/VirtualSwitch#deliver");
    expect(holder(table, 0x1200)).toBe("memcpy");
    expect(holder(table, 0xfff)).toBe("?");
  });
});
