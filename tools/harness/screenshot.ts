// Reading the hypervisor's screen from a screenshot (QEMU's screendump, a
// PPM file, or the framebuffer's memory): the text is found by matching each character cell against the
// glyphs of the font the hypervisor draws with (tools/build/font.ts), so it
// is exact, with no OCR. Cells are 8x16 pixels on a framebuffer and 9x16 in
// the VGA's text mode (its ninth column is blank for these characters).

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { deflateSync } from "node:zlib";
import { asciiGlyphs, GLYPH_HEIGHT, GLYPH_WIDTH } from "../build/font";
import type { Machine } from "./machine";

// VGA text mode's picture: 80x25 cells of 9x16 pixels.
const VGA_TEXT_WIDTH = 720;
const VGA_TEXT_HEIGHT = 400;

export interface Image {
  width: number;
  height: number;
  rgb: Buffer; // 3 bytes per pixel, row by row
}

// A binary PPM ("P6", maxval 255), as QEMU writes it.
export function readPpm(file: string): Image {
  const data = readFileSync(file);
  const header = /^P6\s+(\d+)\s+(\d+)\s+255\s/.exec(data.subarray(0, 64).toString("latin1"));
  if (!header) throw new Error(`${file}: not a binary PPM with 8-bit samples`);
  const width = Number(header[1]), height = Number(header[2]);
  return { width, height, rgb: data.subarray(header[0].length, header[0].length + width * height * 3) };
}

// A 32-bit linear framebuffer's memory (`width` pixels of 4 bytes a line),
// as QEMU's pmemsave writes it. QEMU's displays (VBE and GOP alike) are
// x8r8g8b8: blue, green, red, then a spare byte, in memory order.
export function readFramebuffer(file: string, width: number, height: number): Image {
  const data = readFileSync(file);
  const rgb = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    rgb[i * 3] = data[i * 4 + 2];
    rgb[i * 3 + 1] = data[i * 4 + 1];
    rgb[i * 3 + 2] = data[i * 4];
  }
  return { width, height, rgb };
}

// The text on the screen, a string per row of cells; a cell that matches
// no glyph reads as U+FFFD. Each cell's background is its most common colour.
export function readScreen(image: Image): string[] {
  const cellWidth = image.width === VGA_TEXT_WIDTH && image.height === VGA_TEXT_HEIGHT ? 9 : GLYPH_WIDTH;
  const byBitmap = new Map<string, string>();
  const glyphs = asciiGlyphs();
  for (let c = 0x20; c < 0x7f; c++) {
    byBitmap.set(
      Buffer.from(glyphs.subarray(c * GLYPH_HEIGHT, (c + 1) * GLYPH_HEIGHT)).toString("hex"),
      String.fromCharCode(c),
    );
  }
  const rows: string[] = [];
  for (let y0 = 0; y0 + GLYPH_HEIGHT <= image.height; y0 += GLYPH_HEIGHT) {
    let line = "";
    for (let x0 = 0; x0 + cellWidth <= image.width; x0 += cellWidth) {
      line += byBitmap.get(cellBitmap(image, x0, y0).toString("hex")) ?? "\ufffd";
    }
    rows.push(line.trimEnd());
  }
  return rows;
}

function cellBitmap(image: Image, x0: number, y0: number): Buffer {
  const colour = (x: number, y: number) => image.rgb.readUIntBE((y * image.width + x) * 3, 3);
  const counts = new Map<number, number>();
  for (let y = y0; y < y0 + GLYPH_HEIGHT; y++) {
    for (let x = x0; x < x0 + GLYPH_WIDTH; x++) counts.set(colour(x, y), (counts.get(colour(x, y)) ?? 0) + 1);
  }
  const background = [...counts].sort((a, b) => b[1] - a[1])[0][0];
  const rows = Buffer.alloc(GLYPH_HEIGHT);
  for (let y = 0; y < GLYPH_HEIGHT; y++) {
    for (let x = 0; x < GLYPH_WIDTH; x++) if (colour(x0 + x, y0 + y) !== background) rows[y] |= 0x80 >> x;
  }
  return rows;
}

// The image as a PNG file (RGB, no filtering), for people to look at.
export function writePng(image: Image, file: string): void {
  const raw = Buffer.alloc((image.width * 3 + 1) * image.height);
  for (let y = 0; y < image.height; y++) {
    image.rgb.copy(raw, y * (image.width * 3 + 1) + 1, y * image.width * 3, (y + 1) * image.width * 3);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(image.width, 0);
  header.writeUInt32BE(image.height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits per sample, RGB, deflate, no filter, no interlace
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  writeFileSync(
    file,
    Buffer.concat([signature, chunk("IHDR", header), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]),
  );
}

function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

// What a machine's screen shows. Under QEMU a framebuffer is read from the
// memory the hypervisor draws into: QEMU 7.2's screendump renders only the
// pages its dirty tracking caught, and on a loaded host it misses some,
// leaving rows stale. VGA text mode is read through screendump. Bochs draws
// either on its RFB display (rfb.ts).
async function screenshot(machine: Machine, file: string): Promise<Image> {
  const framebuffer = /screen: (\d+)x(\d+)x32 framebuffer at 0x([0-9a-f]+)/.exec(machine.output);
  if (machine.bochsScreen) {
    const image = await machine.bochsScreen.capture(
      framebuffer ? Number(framebuffer[1]) : VGA_TEXT_WIDTH,
      framebuffer ? Number(framebuffer[2]) : VGA_TEXT_HEIGHT,
    );
    writeFileSync(file, image.rgb);
    return image;
  }
  if (framebuffer === null) {
    await machine.monitor!.screendump(file);
    return readPpm(file);
  }
  const [width, height] = [Number(framebuffer[1]), Number(framebuffer[2])];
  await machine.monitor!.physicalMemory(BigInt("0x" + framebuffer[3]), width * height * 4, file);
  return readFramebuffer(file, width, height);
}

// The screen as text once it shows `expected` (the hypervisor draws it a
// little after it prints), or after a minute; kept as `dir`/`name`.png.
export async function screenShowing(machine: Machine, dir: string, name: string, expected: RegExp): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const file = resolve(dir, `${name}.raw`);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const image = await screenshot(machine, file);
    const text = readScreen(image).join("\n");
    if (expected.test(text) || Date.now() > deadline) {
      writePng(image, file.replace(/\.raw$/, ".png"));
      return text;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}
