// The Linux x86 bzImage: its setup header (Documentation/arch/x86/boot.rst)
// and the compressed kernel inside it. From boot protocol 2.08 the header says
// where the payload is: payload_offset (0x248) and payload_length (0x24c),
// counted from the start of the protected-mode code, which follows the
// (setup_sects + 1) 512-byte sectors of real-mode setup. Decompressed, the
// payload is the kernel's ELF vmlinux (stripped of symbols), followed by the
// relocation table the decompressor applies when it moves the kernel.
//
// Debian 12's 6.1 kernels are XZ-compressed, its 6.12 kernels Zstandard. Every
// format but gzip has the uncompressed size appended as 4 little-endian bytes
// (the kernel Makefile's size_append), which is checked here.

import { spawnSync } from "node:child_process";
import { gunzipSync } from "node:zlib";
import { failed } from "./errors";

export interface SetupHeader {
  setupSects: number;
  // Boot protocol version, e.g. 0x020f = 2.15.
  protocol: number;
  protocolText: string;
  // The kernel's version string ("6.1.0-56-amd64 (debian-kernel@...) #1 SMP ...").
  kernelVersion: string;
  loadflags: number;
  xloadflags: number;
  payloadOffset: number;
  payloadLength: number;
  prefAddress: bigint;
  initSize: number;
  // File offset of the protected-mode code (the payload offset counts from here).
  protectedModeOffset: number;
}

export function parseSetupHeader(image: Buffer): SetupHeader {
  if (image.length < 0x268) throw failed(`bzImage: ${image.length} bytes is too short for a setup header`);
  const magic = image.toString("latin1", 0x202, 0x206);
  if (magic !== "HdrS") {
    throw failed(`bzImage: no "HdrS" magic at 0x202 (found ${JSON.stringify(magic)}): not a Linux x86 kernel`);
  }
  if (image.readUInt16LE(0x1fe) !== 0xaa55) throw failed("bzImage: no 0xAA55 boot signature at 0x1fe");
  const protocol = image.readUInt16LE(0x206);
  const setupSects = image[0x1f1] || 4;
  let kernelVersion = "";
  const kv = image.readUInt16LE(0x20e);
  if (kv) {
    const start = kv + 0x200;
    const end = image.indexOf(0, start);
    if (start < image.length && end > start) kernelVersion = image.toString("latin1", start, end);
  }
  return {
    setupSects,
    protocol,
    protocolText: `${protocol >> 8}.${(protocol & 0xff).toString().padStart(2, "0")}`,
    kernelVersion,
    loadflags: image[0x211],
    xloadflags: protocol >= 0x20c ? image.readUInt16LE(0x236) : 0,
    payloadOffset: image.readUInt32LE(0x248),
    payloadLength: image.readUInt32LE(0x24c),
    prefAddress: image.readBigUInt64LE(0x258),
    initSize: image.readUInt32LE(0x260),
    protectedModeOffset: (setupSects + 1) * 512,
  };
}

export type Compression = "gzip" | "xz" | "zstd" | "lzma" | "bzip2" | "lzo" | "lz4";

export function detectCompression(payload: Buffer): Compression | null {
  const starts = (...bytes: number[]) => bytes.every((b, i) => payload[i] === b);
  if (starts(0x1f, 0x8b)) return "gzip";
  if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return "xz";
  if (starts(0x28, 0xb5, 0x2f, 0xfd)) return "zstd";
  if (starts(0x42, 0x5a, 0x68)) return "bzip2";
  if (starts(0x89, 0x4c, 0x5a, 0x4f)) return "lzo";
  if (starts(0x02, 0x21, 0x4c, 0x18)) return "lz4";
  if (starts(0x5d, 0x00, 0x00)) return "lzma";
  return null;
}

// The system tool for each format, and the Debian package that has it.
const TOOLS: Record<Exclude<Compression, "gzip">, { cmd: string; args: string[]; pkg: string }> = {
  xz: { cmd: "xz", args: ["-dc", "--single-stream"], pkg: "xz-utils" },
  lzma: { cmd: "xz", args: ["-dc", "--format=lzma"], pkg: "xz-utils" },
  zstd: { cmd: "zstd", args: ["-dcq"], pkg: "zstd" },
  bzip2: { cmd: "bzip2", args: ["-dc"], pkg: "bzip2" },
  lzo: { cmd: "lzop", args: ["-dc"], pkg: "lzop" },
  lz4: { cmd: "lz4", args: ["-dc"], pkg: "lz4" },
};

export interface Payload {
  compression: Compression;
  compressedSize: number;
  // The decompressed payload: the ELF vmlinux plus whatever follows it.
  data: Buffer;
}

export function extractPayload(image: Buffer): Payload {
  const hdr = parseSetupHeader(image);
  if (hdr.protocol < 0x208) {
    throw failed(
      `bzImage: boot protocol ${hdr.protocolText} has no payload_offset/payload_length (needs 2.08 or later)`,
    );
  }
  const start = hdr.protectedModeOffset + hdr.payloadOffset;
  const end = start + hdr.payloadLength;
  if (!hdr.payloadLength || end > image.length) {
    throw failed(
      `bzImage: payload at 0x${start.toString(16)}+0x${hdr.payloadLength.toString(16)} lies outside the `
        + `${image.length}-byte file (truncated or corrupt)`,
    );
  }
  const payload = image.subarray(start, end);
  const compression = detectCompression(payload);
  if (!compression) {
    throw failed(
      `bzImage: unknown compression at 0x${start.toString(16)} (first bytes ${
        payload.subarray(0, 8).toString("hex")
      }): corrupt payload?`,
    );
  }
  return { compression, compressedSize: payload.length, data: decompress(compression, payload) };
}

export function decompress(compression: Compression, payload: Buffer): Buffer {
  if (compression === "gzip") {
    try {
      return gunzipSync(payload);
    } catch (e) {
      throw failed(`bzImage: gzip payload does not decompress (corrupt?): ${(e as Error).message}`);
    }
  }
  // Strip and check the appended size.
  const expected = payload.readUInt32LE(payload.length - 4);
  const stream = payload.subarray(0, payload.length - 4);
  const tool = TOOLS[compression];
  const r = spawnSync(tool.cmd, tool.args, { input: stream, maxBuffer: 1 << 30 });
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === "ENOENT") {
      throw failed(
        `bzImage: the payload is ${compression}-compressed and ${tool.cmd} is missing: install Debian's ${tool.pkg}`,
      );
    }
    throw failed(`bzImage: ${tool.cmd}: ${r.error.message}`);
  }
  if (r.status !== 0) {
    throw failed(`bzImage: ${compression} payload does not decompress (corrupt?): ${r.stderr.toString().trim()}`);
  }
  const data = r.stdout as Buffer;
  if (data.length % 2 ** 32 !== expected) {
    throw failed(`bzImage: decompressed ${data.length} bytes but the image says ${expected} (corrupt payload?)`);
  }
  return data;
}
