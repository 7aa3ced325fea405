// `make usb`: what it refuses, and what it writes. The positive path writes to
// a loop device (an image file attached with losetup), where the machine
// allows it, and boots nothing: test/system/boot.test.ts boots the same bytes
// as a USB stick.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { refusal } from "../../tools/usb";

const ISO = "build/typervisor.iso";
const scratch = mkdtempSync(join(tmpdir(), "typervisor-usb-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function cli(device: string, answer: string): { status: number | null; output: string } {
  const r = spawnSync("node_modules/.bin/tsx", ["tools/cli.ts", "usb", "--device", device, "--image", ISO], {
    input: answer,
    encoding: "utf8",
  });
  return { status: r.status, output: r.stdout + r.stderr };
}

describe("make usb refuses what it must not overwrite", () => {
  it("refuses a path that does not exist", () => {
    expect(refusal(join(scratch, "missing"))).toMatch(/does not exist/);
  });

  it("refuses a regular file", () => {
    const file = join(scratch, "file.img");
    writeFileSync(file, "");
    expect(refusal(file)).toMatch(/is not a block device/);
  });

  const root = spawnSync("findmnt", ["-n", "-o", "SOURCE", "/"], { encoding: "utf8" }).stdout.trim();
  it.runIf(root.startsWith("/dev/"))("refuses the disk that holds the root file system", () => {
    const disk = execFileSync("lsblk", ["-n", "-d", "-o", "PKNAME", root], { encoding: "utf8" }).trim();
    expect(refusal(disk ? `/dev/${disk}` : root)).toMatch(/holds the root file system|not a whole disk/);
  });
});

// losetup needs root and loop devices; CI machines have both.
const canLoop = process.getuid?.() === 0 && existsSync("/dev/loop-control");

describe.runIf(canLoop)("make usb writes a whole disk after confirmation", () => {
  let device = "";
  const image = join(scratch, "stick.img");
  beforeAll(() => {
    writeFileSync(image, "");
    truncateSync(image, 64 << 20);
    device = execFileSync("losetup", ["-f", "--show", image], { encoding: "utf8" }).trim();
  });
  afterAll(() => {
    if (device) spawnSync("losetup", ["-d", device]);
  });

  it("writes nothing without a 'yes'", () => {
    const r = cli(device, "no\n");
    expect(r.status).toBe(1);
    expect(r.output).toContain("not written");
    expect(readFileSync(image).subarray(0, 4096).every((b) => b === 0)).toBe(true);
  });

  it("writes the ISO byte for byte after 'yes'", () => {
    const r = cli(device, "yes\n");
    expect(r.output).toContain(`wrote ${readFileSync(ISO).length} bytes`);
    expect(r.status).toBe(0);
    const iso = readFileSync(ISO);
    expect(readFileSync(image).subarray(0, iso.length).equals(iso)).toBe(true);
  });
});
