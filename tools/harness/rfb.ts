// Bochs's screen as the tests see it: Bochs draws its VGA through its RFB
// display library (a VNC server), and this is the smallest client that
// takes a picture. The protocol: RFC 6143, version 3.3 (what Bochs 2.7
// speaks): the versions, a security type (1: none), ClientInit and
// ServerInit (the desktop's size and pixel format), then FramebufferUpdate
// messages of raw rectangles in answer to FramebufferUpdateRequest.
//
// Bochs listens on the first free port from 5900 and does not say which; the
// harness finds it as the listening TCP socket the Bochs process owns.

import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createConnection, Socket } from "node:net";
import type { Image } from "./screenshot";

// Bochs's RFB desktop puts a toolbar of this height above the VGA's picture.
const HEADERBAR_HEIGHT = 32;

interface PixelFormat {
  bytes: number;
  bigEndian: boolean;
  max: [number, number, number];
  shift: [number, number, number];
}

export class BochsScreen {
  private socket: Socket | null = null;
  private data = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private width = 0;
  private height = 0;
  private format: PixelFormat | null = null;
  private canvas = Buffer.alloc(0); // rgb, 3 bytes a pixel

  constructor(private readonly pid: number) {}

  // The VGA's picture, `width` by `height` pixels (a text mode's 720x400, say).
  async capture(width: number, height: number): Promise<Image> {
    await this.connect();
    // Raw pixels, and a pseudo-rectangle when the desktop changes size (-223, DesktopSize).
    const encodings = Buffer.alloc(12);
    encodings.writeUInt8(2, 0);
    encodings.writeUInt16BE(2, 2);
    encodings.writeInt32BE(0, 4);
    encodings.writeInt32BE(-223, 8);
    this.socket!.write(encodings);
    for (;;) {
      const request = Buffer.alloc(10);
      request.writeUInt8(3, 0); // FramebufferUpdateRequest, not incremental: all of it
      request.writeUInt16BE(this.width, 6);
      request.writeUInt16BE(this.height, 8);
      this.socket!.write(request);
      if (await this.readUpdate()) break;
    }
    const rgb = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) {
      const from = ((y + HEADERBAR_HEIGHT) * this.width) * 3;
      this.canvas.copy(rgb, y * width * 3, from, from + width * 3);
    }
    return { width, height, rgb };
  }

  close(): void {
    this.socket?.destroy();
  }

  private async connect(): Promise<void> {
    if (this.socket) return;
    const port = await listeningPort(this.pid, 30_000);
    this.socket = createConnection(port, "127.0.0.1");
    this.socket.on("data", (chunk) => {
      this.data = Buffer.concat([this.data, chunk]);
      this.wake?.();
    });
    this.socket.on("error", () => {});
    const version = (await this.read(12)).toString("latin1");
    if (!version.startsWith("RFB 003.")) throw new Error(`rfb: not an RFB server: ${JSON.stringify(version)}`);
    this.socket.write("RFB 003.003\n");
    const security = (await this.read(4)).readUInt32BE(0);
    if (security !== 1) throw new Error(`rfb: security type ${security}, not "none"`);
    this.socket.write(Buffer.from([1])); // ClientInit: share the desktop
    const init = await this.read(24);
    this.resize(init.readUInt16BE(0), init.readUInt16BE(2));
    // The pixel format from byte 4: bits per pixel, depth, big-endian, true colour, maxima, shifts.
    if (init[7] !== 1) throw new Error("rfb: a colour-mapped desktop");
    this.format = {
      bytes: init[4] / 8,
      bigEndian: init[6] !== 0,
      max: [init.readUInt16BE(8), init.readUInt16BE(10), init.readUInt16BE(12)],
      shift: [init[14], init[15], init[16]],
    };
    await this.read(init.readUInt32BE(20)); // the desktop's name
  }

  // Applies one server message; true if it was an update covering the whole desktop.
  private async readUpdate(): Promise<boolean> {
    const type = (await this.read(1))[0];
    if (type === 2) return false; // Bell
    if (type === 3) { // ServerCutText
      const header = await this.read(7);
      await this.read(header.readUInt32BE(3));
      return false;
    }
    if (type !== 0) throw new Error(`rfb: unexpected message type ${type}`);
    const count = (await this.read(3)).readUInt16BE(1);
    let whole = false, resized = false;
    for (let i = 0; i < count; i++) {
      const r = await this.read(12);
      const [x, y, w, h, encoding] = [
        r.readUInt16BE(0),
        r.readUInt16BE(2),
        r.readUInt16BE(4),
        r.readUInt16BE(6),
        r.readInt32BE(8),
      ];
      if (encoding === -223) {
        // The message's other rectangles follow all the same; ask again at the new size.
        this.resize(w, h);
        resized = true;
        continue;
      }
      if (encoding !== 0) throw new Error(`rfb: encoding ${encoding}, not raw`);
      this.paint(x, y, w, h, await this.read(w * h * this.format!.bytes));
      whole ||= x === 0 && y === 0 && w === this.width && h === this.height;
    }
    return whole && !resized;
  }

  private resize(width: number, height: number): void {
    [this.width, this.height] = [width, height];
    this.canvas = Buffer.alloc(width * height * 3);
  }

  private paint(x0: number, y0: number, w: number, h: number, pixels: Buffer): void {
    const f = this.format!;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const at = (y * w + x) * f.bytes;
        const value = f.bytes === 1
          ? pixels[at]
          : f.bigEndian
          ? pixels.readUIntBE(at, f.bytes)
          : pixels.readUIntLE(at, f.bytes);
        const out = ((y0 + y) * this.width + x0 + x) * 3;
        for (let c = 0; c < 3; c++) {
          this.canvas[out + c] = Math.round(((value >> f.shift[c]) & f.max[c]) * 255 / f.max[c]);
        }
      }
    }
  }

  private async read(n: number): Promise<Buffer> {
    while (this.data.length < n) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("rfb: no answer within 30 s")), 30_000);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const out = this.data.subarray(0, n);
    this.data = this.data.subarray(n);
    return out;
  }
}

// The TCP port process `pid` listens on: a socket among its file descriptors
// that /proc/net/tcp lists in state LISTEN (0A), found once it exists.
async function listeningPort(pid: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const inodes = new Set<string>();
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const target = (() => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          return "";
        }
      })();
      const socket = /^socket:\[(\d+)\]$/.exec(target);
      if (socket) inodes.add(socket[1]);
    }
    for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] === "0A" && inodes.has(fields[9])) return parseInt(fields[1].split(":")[1], 16);
    }
    if (Date.now() > deadline) throw new Error(`rfb: process ${pid} listens on no TCP port`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
