// The VGA's text mode: the screen a PC's BIOS leaves, 80 by 25 cells at
// 0xB8000, each cell a character byte and an attribute byte (display.ts).
//
// It is the fallback when the loader set no framebuffer (QEMU's -kernel,
// which speaks multiboot 1 and sets no video mode); UEFI firmware has no
// text mode, so there it is never used. The characters are drawn by the
// VGA itself from the font in its plane 2, which we replace with the
// Debian console font the framebuffer console uses, so that both look the
// same. Registers: IBM VGA Technical Reference, "Sequencer Registers" and
// "Graphics Controller Registers".

import { fontGlyphs, outb, physRead8, physWrite16, physWrite8 } from "../arch/shim";
import { Cell, Display } from "./display";

const TEXT_BUFFER: u64 = 0xb8000;
const COLUMNS = 80;
const ROWS = 25;

const SEQUENCER_INDEX: u16 = 0x3c4;
const GRAPHICS_INDEX: u16 = 0x3ce;
const CRTC_INDEX: u16 = 0x3d4;
const SEQ_MAP_MASK: u8 = 2;
const SEQ_MEMORY_MODE: u8 = 4;
const GC_READ_MAP: u8 = 4;
const GC_MODE: u8 = 5;
const GC_MISC: u8 = 6;
const CRTC_CURSOR_START: u8 = 0x0a;
// Plane 2 seen at 0xA0000: each character's glyph has a 32-byte slot.
const FONT_WINDOW: u64 = 0xa0000;
const FONT_SLOT: u64 = 32;
const GLYPH_BYTES: u64 = 16;
const GLYPHS: u64 = 128;

function setRegister(indexPort: u16, index: u8, value: u8): void {
  outb(indexPort, index);
  outb(indexPort + 1, value);
}

export class VgaText extends Display {
  constructor() {
    super(COLUMNS, ROWS);
    loadFont();
    // Cursor Start bit 5 turns the blinking hardware cursor off: the log has no insertion point.
    setRegister(CRTC_INDEX, CRTC_CURSOR_START, 0x20);
  }

  get name(): string {
    return "VGA text mode";
  }

  draw(row: i32, column: i32, cell: Cell): void {
    physWrite16(TEXT_BUFFER + <u64>(row * COLUMNS + column) * 2, cell);
  }
}

// Opens plane 2 alone at 0xA0000 (sequential addressing, no odd/even),
// writes the glyphs, then restores the text mode's planes 0 and 1 at
// 0xB8000 with odd/even addressing.
function loadFont(): void {
  setRegister(SEQUENCER_INDEX, SEQ_MAP_MASK, 0x04);
  setRegister(SEQUENCER_INDEX, SEQ_MEMORY_MODE, 0x06);
  setRegister(GRAPHICS_INDEX, GC_READ_MAP, 0x02);
  setRegister(GRAPHICS_INDEX, GC_MODE, 0x00);
  setRegister(GRAPHICS_INDEX, GC_MISC, 0x04);
  const glyphs = fontGlyphs();
  for (let c: u64 = 0; c < GLYPHS; c++) {
    for (let y: u64 = 0; y < GLYPH_BYTES; y++) {
      physWrite8(FONT_WINDOW + c * FONT_SLOT + y, physRead8(glyphs + c * GLYPH_BYTES + y));
    }
  }
  setRegister(SEQUENCER_INDEX, SEQ_MAP_MASK, 0x03);
  setRegister(SEQUENCER_INDEX, SEQ_MEMORY_MODE, 0x02);
  setRegister(GRAPHICS_INDEX, GC_READ_MAP, 0x00);
  setRegister(GRAPHICS_INDEX, GC_MODE, 0x10);
  setRegister(GRAPHICS_INDEX, GC_MISC, 0x0e);
}
