// The emulators' networks, kept on this machine: a free TCP port on
// 127.0.0.1, and QEMU's user network restricted to it, with one port
// forwarded into a guest behind an e1000 (the hypervisor's uplink,
// docs/network.md).

import { createServer } from "node:net";

// A TCP port on 127.0.0.1 that no one listens on now: the kernel's pick.
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

// QEMU arguments for an e1000 on the user network with restrict=on: the
// guest reaches nothing outside, and `forwards`, QEMU's hostfwds
// ("127.0.0.1:8080-10.0.2.15:80"), are the only ways in.
export function forwardingUplink(...forwards: string[]): string[] {
  const hostfwds = forwards.map((f) => `,hostfwd=tcp:${f}`).join("");
  return ["-netdev", `user,id=uplink,restrict=on${hostfwds}`, "-device", "e1000,netdev=uplink"];
}

// A Linux guest's shell command (busybox) that takes one TCP connection on
// `port` into `file` in the background; its input never ends, so it stops
// only when the sender closes. It prints "listening-42" once the port
// listens, so a sender that starts after that finds it open.
export function tcpReceiver(port: number, file: string): string {
  return `(sleep 600 | nc -l -p ${port} > ${file}) & `
    + `until netstat -ltn | grep -q ':${port} '; do sleep 0.1; done; echo listening-$((6 * 7))`;
}
