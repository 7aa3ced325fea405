// make bench's network figures (tools/netbench.ts) read from console logs
// shaped like the real ones: a bare machine's, with both ends of the
// transfer on its console, and the hypervisor's, with each VM's lines behind
// its name and, when it stops, its exits and its card's frames; and the
// machines' command lines, which must agree where the comparison needs them to.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_APPEND } from "../../tools/guests/boot";
import { BootFailure } from "../../tools/linuxbench";
import {
  bareCmdline,
  bareFigures,
  COUNT_DEVICE,
  countDisk,
  median,
  parseCounters,
  parseNic,
  parseReceived,
  parseRetransmissions,
  parseSent,
  PORT,
  RECEIVER,
  receiverCmdline,
  SENDER,
  senderCmdline,
  vmFigures,
} from "../../tools/netbench";

const BARE = [
  "netbench: veth pair nb-a (namespace of process 145), nb-b (namespace of process 146)",
  "netbench: nb-a before: received        0 packets, sent        0 packets",
  "netbench: received   67108864 bytes: first byte at tsc    2392545162, last at tsc    2763139954,     "
  + "370594792 ticks",
  "netbench: sent   67108864 bytes: connected at tsc    2391914982, closed at tsc    2767868954,     375953972 ticks",
  "netbench: nb-a after: received     1338 packets, sent      328 packets",
  "netbench: tcp sent    46454 segments, retransmitted      2,    0 timeouts,    2 loss probes",
  "[    3.337037] ACPI: PM: Preparing to enter system sleep state S5",
  "",
].join("\r\n");

// The hypervisor's console with the two VMs; `received`, `exits` and `frames` differ between a run and its baseline.
function vmLog(received: string, exitsA: number, exitsB: number, framesIn: number, dropped: number): string {
  return [
    "[info ] vm net-a: entered at tsc 12535970",
    "[info ] vm net-b: entered at tsc 32536105",
    "[net-a] tscstamp: /init at tsc 2300000000",
    "[net-b] tscstamp: /init at tsc 2310000000",
    "[net-a] netbench: eth0 before: received        0 packets, sent        0 packets",
    `[net-a] netbench: received ${received}`,
    "[net-a] netbench: eth0 after: received    46354 packets, sent      612 packets",
    "[net-b] netbench: sent   67108864 bytes: connected at tsc    5580628447, closed at tsc    6992706423,    "
    + "1412077976 ticks",
    "[net-b] netbench: tcp sent    46351 segments, retransmitted    440,    0 timeouts,    0 loss probes",
    "[info ] vm net-a: powered off",
    `vm net-a: stopped after ${exitsA} exits`,
    `vm net-a: exits handled: cpuid 956, io 96109, mmio ${exitsA - 97065}; 0 finished in the backend`,
    `vm net-a: vcpu 0 cpu time ${2000000000 + exitsA} ns on 0:${2000000000 + exitsA}`,
    `[info ] vm net-a: nic 52:54:00:12:00:00: sent 612, received ${framesIn}`
    + (dropped ? `, dropped ${dropped} (queue full ${dropped})` : ""),
    "[info ] vm net-b: powered off",
    `vm net-b: stopped after ${exitsB} exits`,
    `vm net-b: exits handled: cpuid 942, io 92082, mmio ${exitsB - 93024}; 0 finished in the backend`,
    `vm net-b: vcpu 0 cpu time ${3000000000 + exitsB} ns on 0:${3000000000 + exitsB}`,
    `[info ] vm net-b: nic 52:54:00:12:01:00: sent ${framesIn + dropped}, received 612`,
    "",
  ].join("\r\n");
}

const RUN = vmLog(
  "  67108864 bytes: first byte at tsc    5600860701, last at tsc    6988791270,    1387930569 ticks",
  104703,
  102548,
  46355,
  440,
);
const BASELINE = vmLog(
  "         0 bytes: first byte at tsc             0, last at tsc             0,             0 ticks",
  102157,
  97886,
  5,
  0,
);

describe("network bench", () => {
  it("reads both ends of the bare machine's transfer, its packets and its retransmissions", () => {
    expect(bareFigures({ output: BARE, wallSeconds: 7.6 }, 64 << 20, "bare")).toEqual({
      instructions: 370594792,
      senderTicks: 375953972,
      packets: { received: 1338, sent: 328 },
      retransmissions: { segments: 46454, retransmitted: 2, timeouts: 0, lossProbes: 2 },
      wallSeconds: 7.6,
    });
  });

  it("takes the VMs' lines from behind their names only", () => {
    expect(parseReceived(RUN, "vm", RECEIVER.name).ticks).toBe(1387930569);
    expect(parseSent(RUN, "vm", SENDER.name).ticks).toBe(1412077976);
    expect(() => parseReceived(RUN, "vm", SENDER.name)).toThrow(BootFailure);
    expect(parseCounters(RUN, "eth0", RECEIVER.name)).toEqual({ received: 46354, sent: 612 });
    expect(parseRetransmissions(RUN, SENDER.name).retransmitted).toBe(440);
  });

  it("reads a card's frames with and without drops", () => {
    expect(parseNic(RUN, RECEIVER.name)).toEqual({ sent: 612, received: 46355, dropped: 440 });
    expect(parseNic(BASELINE, SENDER.name)).toEqual({ sent: 5, received: 612, dropped: 0 });
  });

  it("counts the transfer's exits and frames as the run's less its baseline's", () => {
    const figures = vmFigures({ output: RUN, wallSeconds: 80 }, { output: BASELINE, wallSeconds: 60 }, 64 << 20);
    expect(figures).toMatchObject({
      instructions: 1387930569,
      receiverExits: 104703 - 102157,
      senderExits: 102548 - 97886,
      exits: 104703 - 102157 + 102548 - 97886,
      exitsByKind: { mmio: 104703 - 102157 + 102548 - 97886 },
      packets: { received: 46350, sent: 0 },
      dropped: 440,
      inGuests: 104703 - 102157 + 102548 - 97886,
    });
    expect(figures.exitsPerPacket).toBeCloseTo(figures.exits / 46350, 3);
  });

  it("refuses a transfer that fell short", () => {
    expect(() => vmFigures({ output: RUN, wallSeconds: 0 }, { output: BASELINE, wallSeconds: 0 }, 128 << 20)).toThrow(
      /received 67108864 bytes of 134217728/,
    );
  });

  it("says why a machine printed no figures", () => {
    expect(() => parseReceived("netbench: cannot create the veth pair nb-a: error 95\n", "bare")).toThrow(
      /no "netbench: received" line \(netbench: cannot create the veth pair nb-a: error 95\)/,
    );
  });

  it("gives run and baseline the same command lines, the byte count on a disk of the same length", () => {
    expect(receiverCmdline(2)).toBe(
      `${DEFAULT_APPEND} typervisor.run=2 typervisor.ip=${RECEIVER.address}/24 `
        + `typervisor.netbench=recv,${PORT},@${COUNT_DEVICE}`,
    );
    expect(senderCmdline(2)).toContain(`typervisor.netbench=send,${RECEIVER.address},${PORT},@${COUNT_DEVICE}`);
    expect(bareCmdline(2, 1024, true)).toBe(
      `${DEFAULT_APPEND} typervisor.run=2 typervisor.netbench=veth,1024,no-offloads`,
    );
    const folder = mkdtempSync(join(tmpdir(), "netbench-"));
    try {
      const [a, b] = [countDisk(67108864, 67108864, folder), countDisk(0, 67108864, folder)].map((p) =>
        readFileSync(p)
      );
      expect(a.length).toBe(b.length);
      expect(a.length % 512).toBe(0);
      expect(a.toString("latin1").split("\n")[0]).toBe("67108864");
      expect(b.toString("latin1").split("\n")[0]).toBe("00000000");
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it("takes medians", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});
