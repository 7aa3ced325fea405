// The screen's font: a PC Screen Font from Debian's console-setup-linux,
// turned into the 128 ASCII glyphs the hypervisor draws with.
//
//   tsx tools/build/font.ts build/font.S
//
// The font is fetched with `apt-get download console-setup-linux` into
// .cache/fonts/ (never into the repository) and read from its
// Uni2-Terminus16.psf.gz: 8 pixels wide, 16 high. A PSF's glyphs are in the
// font's own order, so each ASCII character's glyph is found through the
// font's Unicode table (PSF1 and PSF2 formats, as kbd's psf.h and
// Documentation/admin-guide/unicode.rst describe them). The output is an
// assembly file that places the 2 KiB of glyphs, a byte per pixel row, high
// bit leftmost, at the symbol tv_font (kernel/console/framebuffer.ts draws
// them). The test harness reads screenshots with the same glyphs (asciiGlyphs()).

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { downloadDeb, extractFromDeb, resolveCandidate } from "../guests/apt";

const PACKAGE = "console-setup-linux";
const FONT_FILE = "usr/share/consolefonts/Uni2-Terminus16.psf.gz";
const CACHE = ".cache/fonts";
export const GLYPH_WIDTH = 8;
export const GLYPH_HEIGHT = 16;
export const GLYPH_COUNT = 128;

// PSF1: magic 36 04, mode, bytes per glyph; 256 or 512 glyphs 8 wide; the
// table is u16 code points, FFFE starting a sequence, FFFF ending a glyph.
const PSF1_MAGIC = 0x0436;
const PSF1_MODE512 = 1;
const PSF1_MODEHASTAB = 2;
// PSF2: magic 72 b5 4a 86, version, header size, flags, glyph count, bytes
// per glyph, height, width (u32 each); the table is UTF-8, FE starting a
// sequence, FF ending a glyph.
const PSF2_MAGIC = 0x864ab572;
const PSF2_HAS_UNICODE_TABLE = 1;

interface Psf {
  width: number;
  height: number;
  bytesPerGlyph: number;
  glyphs: Buffer;
  // The glyph each code point is drawn with (single code points only; sequences are skipped).
  glyphOf: Map<number, number>;
}

export function parsePsf(data: Buffer): Psf {
  if (data.readUInt16LE(0) === PSF1_MAGIC) {
    const mode = data[2], height = data[3], count = mode & PSF1_MODE512 ? 512 : 256;
    const glyphs = data.subarray(4, 4 + count * height);
    const glyphOf = new Map<number, number>();
    if (mode & PSF1_MODEHASTAB) {
      let at = 4 + count * height;
      for (let glyph = 0; glyph < count; glyph++) {
        let inSequence = false;
        for (let u = data.readUInt16LE(at); u !== 0xffff; at += 2, u = data.readUInt16LE(at)) {
          if (u === 0xfffe) inSequence = true;
          else if (!inSequence && !glyphOf.has(u)) glyphOf.set(u, glyph);
        }
        at += 2;
      }
    }
    return { width: 8, height, bytesPerGlyph: height, glyphs, glyphOf };
  }
  if (data.readUInt32LE(0) !== PSF2_MAGIC) throw new Error("not a PC Screen Font (PSF1 or PSF2)");
  const headerSize = data.readUInt32LE(8), flags = data.readUInt32LE(12), count = data.readUInt32LE(16);
  const bytesPerGlyph = data.readUInt32LE(20), height = data.readUInt32LE(24), width = data.readUInt32LE(28);
  const end = headerSize + count * bytesPerGlyph;
  const glyphOf = new Map<number, number>();
  if (flags & PSF2_HAS_UNICODE_TABLE) {
    let at = end;
    for (let glyph = 0; glyph < count; glyph++) {
      const stop = data.indexOf(0xff, at);
      const entry = data.subarray(at, stop);
      const sequence = entry.indexOf(0xfe);
      for (const ch of (sequence < 0 ? entry : entry.subarray(0, sequence)).toString("utf8")) {
        const u = ch.codePointAt(0)!;
        if (!glyphOf.has(u)) glyphOf.set(u, glyph);
      }
      at = stop + 1;
    }
  }
  return { width, height, bytesPerGlyph, glyphs: data.subarray(headerSize, end), glyphOf };
}

// The font file, fetched once into .cache/fonts/.
export function fontFile(log: (s: string) => void = () => {}): string {
  const path = join(CACHE, FONT_FILE);
  if (existsSync(path)) return path;
  mkdirSync(CACHE, { recursive: true });
  const pkg = { name: PACKAGE, version: resolveCandidate(PACKAGE) };
  const deb = downloadDeb(pkg, CACHE, log);
  extractFromDeb(join(CACHE, deb.file), CACHE, [`./${FONT_FILE}`]);
  return path;
}

// GLYPH_COUNT glyphs of GLYPH_HEIGHT bytes: ASCII code c at c * GLYPH_HEIGHT.
// Control characters are blank; a character the font lacks looks like '?'.
export function asciiGlyphs(psf: Psf = parsePsf(gunzipSync(readFileSync(fontFile())))): Uint8Array {
  if (psf.width !== GLYPH_WIDTH || psf.height !== GLYPH_HEIGHT) {
    throw new Error(`the font is ${psf.width}x${psf.height}; the screen draws ${GLYPH_WIDTH}x${GLYPH_HEIGHT}`);
  }
  const out = new Uint8Array(GLYPH_COUNT * GLYPH_HEIGHT);
  for (let c = 0x20; c < 0x7f; c++) {
    const glyph = psf.glyphOf.get(c) ?? psf.glyphOf.get(0x3f) ?? c;
    out.set(psf.glyphs.subarray(glyph * psf.bytesPerGlyph, glyph * psf.bytesPerGlyph + GLYPH_HEIGHT), c * GLYPH_HEIGHT);
  }
  return out;
}

function assembly(glyphs: Uint8Array): string {
  const lines = [
    `/* Generated by tools/build/font.ts from ${FONT_FILE} (${PACKAGE}): do not edit. */`,
    `    .section .rodata.tv_font, "a"`,
    `    .globl tv_font`,
    `tv_font:`,
  ];
  for (let c = 0; c < GLYPH_COUNT; c++) {
    const rows = Array.from(glyphs.subarray(c * GLYPH_HEIGHT, (c + 1) * GLYPH_HEIGHT), (b) => `0x${b.toString(16)}`);
    const label = c >= 0x20 && c < 0x7f ? JSON.stringify(String.fromCharCode(c)) : String(c);
    lines.push(`    .byte ${rows.join(", ")} /* ${label} */`);
  }
  return lines.join("\n") + "\n";
}

if (process.argv[1]?.endsWith("font.ts")) {
  const out = process.argv[2];
  if (!out) throw new Error("usage: tsx tools/build/font.ts OUT.S");
  writeFileSync(out, assembly(asciiGlyphs(parsePsf(gunzipSync(readFileSync(fontFile(console.log)))))));
}
