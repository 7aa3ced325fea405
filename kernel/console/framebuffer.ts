// A linear framebuffer the boot loader set up (GRUB's graphics mode under
// BIOS VBE or UEFI GOP), drawn as a grid of character cells.
//
// Each cell is a glyph of the Debian console font (tools/build/font.ts, 8 by
// 16 pixels, a byte per row, high bit leftmost) in the cell's foreground
// colour on its background colour. Pixels are written, never read: reading
// a framebuffer is slow on real hardware, so the screen (screen.ts) knows
// what is drawn and redraws only cells that change.

import { fontGlyphs, physRead8, physWrite16, physWrite32, physWrite8 } from "../arch/shim";
import { Cell, Display, paletteRgb } from "./display";

// How the loader left the screen (Multiboot2 spec 3.6.12, framebuffer_type).
export const enum FramebufferKind {
  Indexed = 0,
  Rgb = 1,
  EgaText = 2,
}

// The loader's description: `address` physical, `pitch` bytes per line,
// width and height in pixels (in characters for EGA text); for Rgb, each
// colour's field in a pixel: its lowest bit and its width in bits.
export class Framebuffer {
  address: u64 = 0;
  pitch: u32 = 0;
  width: u32 = 0;
  height: u32 = 0;
  bitsPerPixel: u8 = 0;
  kind: FramebufferKind = FramebufferKind.Indexed;
  redShift: u8 = 0;
  redBits: u8 = 0;
  greenShift: u8 = 0;
  greenBits: u8 = 0;
  blueShift: u8 = 0;
  blueBits: u8 = 0;

  // The byte after the last line.
  get end(): u64 {
    return this.address + <u64>this.pitch * this.height;
  }

  // Pixels the screen can draw: direct colour of 16, 24 or 32 bits, below
  // 4 GiB, where the host's page tables map devices (kernel/mm/hostpaging.ts).
  get drawable(): bool {
    return this.kind == FramebufferKind.Rgb && (this.bitsPerPixel == 16 || this.bitsPerPixel == 24
      || this.bitsPerPixel == 32)
      && this.end <= (<u64>4 << 30);
  }

  // "WxHxB framebuffer at 0xADDRESS", and its kind unless it is direct colour.
  describe(): string {
    const kind = this.kind == FramebufferKind.Rgb
      ? ""
      : this.kind == FramebufferKind.Indexed
      ? ", indexed colour"
      : ", EGA text";
    return this.width.toString() + "x" + this.height.toString() + "x" + this.bitsPerPixel.toString()
      + " framebuffer at 0x" + this.address.toString(16) + kind;
  }
}

export const GLYPH_WIDTH = 8;
export const GLYPH_HEIGHT = 16;

export class PixelDisplay extends Display {
  private bytesPerPixel: u64;
  // The sixteen attribute colours as this framebuffer's pixel values.
  private colours: StaticArray<u32> = new StaticArray<u32>(16);

  constructor(private fb: Framebuffer) {
    super(<i32>(fb.width / GLYPH_WIDTH), <i32>(fb.height / GLYPH_HEIGHT));
    this.bytesPerPixel = <u64>fb.bitsPerPixel / 8;
    for (let i = 0; i < 16; i++) this.colours[i] = this.pixel(paletteRgb(i));
  }

  // Write-combining: kernel/mm/hostpaging.ts maps it so.
  get name(): string {
    return this.fb.describe() + ", write-combining";
  }

  draw(row: i32, column: i32, cell: Cell): void {
    const fg = unchecked(this.colours[cell >> 8 & 15]), bg = unchecked(this.colours[cell >> 12]);
    const glyph = fontGlyphs() + <u64>(cell & 0x7f) * GLYPH_HEIGHT;
    const pitch = <u64>this.fb.pitch, step = this.bytesPerPixel;
    let line = this.fb.address + <u64>(row * GLYPH_HEIGHT) * pitch + <u64>(column * GLYPH_WIDTH) * step;
    for (let y = 0; y < GLYPH_HEIGHT; y++, line += pitch) {
      const bits = <u32>physRead8(glyph + <u64>y);
      for (let x = 0; x < GLYPH_WIDTH; x++) this.put(line + <u64>x * step, (bits << x) & 0x80 ? fg : bg);
    }
  }

  private put(at: u64, value: u32): void {
    if (this.bytesPerPixel == 4) {
      physWrite32(at, value);
    } else if (this.bytesPerPixel == 2) {
      physWrite16(at, <u16>value);
    } else {
      physWrite16(at, <u16>value);
      physWrite8(at + 2, <u8>(value >> 16));
    }
  }

  // 0xRRGGBB in this framebuffer's layout: each 8-bit colour cut to its field's width.
  private pixel(rgb: u32): u32 {
    const fb = this.fb;
    return field(rgb >> 16, fb.redShift, fb.redBits) | field(rgb >> 8, fb.greenShift, fb.greenBits)
      | field(rgb, fb.blueShift, fb.blueBits);
  }
}

function field(colour: u32, shift: u8, bits: u8): u32 {
  return ((colour & 0xff) >> (8 - min<u32>(bits, 8))) << shift;
}
