// boot/vms.json as machines other than make run's QEMU have it: Bochs
// (which has no NVMe) and the USB stick on a PC whose disks and network are
// its own. The same VMs without their "disks", since a VM whose disk is
// missing does not start (vmm/setup/kernelvms.ts), their /init finding no
// disk to mount and saying so; and without the "uplink", so that a PC's
// Ethernet controller joins its network to the VMs' only when its owner
// writes that into the configuration.
//
//   tsx tools/disk/nodisks.ts IN OUT

import { readFileSync, writeFileSync } from "node:fs";

export function withoutHostDevices(text: string): string {
  const config = JSON.parse(text) as { vms: Record<string, unknown>[]; uplink?: unknown };
  for (const vm of config.vms) delete vm.disks;
  delete config.uplink;
  return JSON.stringify(config, null, 2) + "\n";
}

if (process.argv[1]?.endsWith("nodisks.ts")) {
  const [input, output] = process.argv.slice(2);
  if (!input || !output) {
    console.error("usage: tsx tools/disk/nodisks.ts IN OUT");
    process.exit(2);
  }
  writeFileSync(output, withoutHostDevices(readFileSync(input, "utf8")));
}
