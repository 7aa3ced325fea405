// boot/vms.json as machines without make run's NVMe disk have it: Bochs
// (which has no NVMe) and the USB stick on a PC whose disks are its own.
// The same VMs without their "disks", since a VM whose disk is missing does
// not start (vmm/setup/kernelvms.ts); their /init finds no disk to mount
// and says so.
//
//   tsx tools/disk/nodisks.ts IN OUT

import { readFileSync, writeFileSync } from "node:fs";

export function withoutDisks(text: string): string {
  const config = JSON.parse(text) as { vms: Record<string, unknown>[] };
  for (const vm of config.vms) delete vm.disks;
  return JSON.stringify(config, null, 2) + "\n";
}

if (process.argv[1]?.endsWith("nodisks.ts")) {
  const [input, output] = process.argv.slice(2);
  if (!input || !output) {
    console.error("usage: tsx tools/disk/nodisks.ts IN OUT");
    process.exit(2);
  }
  writeFileSync(output, withoutDisks(readFileSync(input, "utf8")));
}
