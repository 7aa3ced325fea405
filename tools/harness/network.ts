// The emulators' networks, kept on this machine: a free TCP port on
// 127.0.0.1, and QEMU's user network restricted to it, with one port
// forwarded into a guest behind an e1000 (the hypervisor's uplink,
// docs/network.md).

import { createHash } from "node:crypto";
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

// What the network tests send over TCP: the numbers 1 to 20000, a line
// each (108,894 bytes), as `seq 1 20000` prints them in a guest; its SHA-256.
const SEQ_PAYLOAD = Array.from({ length: 20000 }, (_, i) => `${i + 1}\n`).join("");
export const SEQ_PAYLOAD_SHA = createHash("sha256").update(SEQ_PAYLOAD).digest("hex");

// A guest's shell command that sends the payload to `ip`:`port` and prints
// "sent-0" if nc succeeded.
export function tcpSend(ip: string, port: number): string {
  return `seq 1 20000 > /tmp/payload; nc ${ip} ${port} < /tmp/payload; echo sent-$?`;
}

// A guest's shell command that waits (60 s at most) for `file` to hold
// the whole payload, then prints its SHA-256 as sha256sum does.
export function tcpReceived(file: string): string {
  return `for i in $(seq 60); do [ $(wc -c < ${file}) -ge ${SEQ_PAYLOAD.length} ] && break; sleep 1; done; `
    + `sha256sum ${file}`;
}

// busybox ping's summary: how many echoes went, how many came back.
export const PING_RECEIVED = /(\d+) packets transmitted, (\d+) packets received/;
