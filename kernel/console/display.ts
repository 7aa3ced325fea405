// What the screen's console draws on: a grid of character cells.
//
// A cell is a 16-bit word in the format of the VGA's text mode, so the VGA
// driver stores it as it is: the character in the low byte, the attribute
// in the high byte, foreground colour in bits 0-3 and background in bits
// 4-7, from the CGA's sixteen colours (IBM VGA Technical Reference, "Text
// Modes" and "Attribute Controller"). A pixel framebuffer (framebuffer.ts)
// draws the same cells with the font's glyphs.

export type Cell = u16;

// Attributes the console uses: background << 4 | foreground.
export const enum Attribute {
  Log = 0x07, // light grey on black
  Status = 0x30, // black on cyan
  Panic = 0x4f, // bright white on red
}

export const SPACE: u8 = 0x20;

export function makeCell(character: u8, attribute: Attribute): Cell {
  return <u16>character | (<u16>attribute << 8);
}

export abstract class Display {
  constructor(
    public columns: i32,
    public rows: i32,
  ) {}
  // A short description for the log, such as "VGA text mode".
  abstract get name(): string;
  abstract draw(row: i32, column: i32, cell: Cell): void;
}

// The CGA palette, the colours an attribute names, as 0xRRGGBB (static
// data: the panic path may draw before any initializer has run).
const PALETTE: usize = memory.data<u32>([
  0x000000,
  0x0000aa,
  0x00aa00,
  0x00aaaa,
  0xaa0000,
  0xaa00aa,
  0xaa5500,
  0xaaaaaa,
  0x555555,
  0x5555ff,
  0x55ff55,
  0x55ffff,
  0xff5555,
  0xff55ff,
  0xffff55,
  0xffffff,
]);

export function paletteRgb(colour: u32): u32 {
  return load<u32>(PALETTE + <usize>(colour & 15) * 4);
}
