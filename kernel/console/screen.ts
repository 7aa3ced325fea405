// The console on the PC's own screen: every byte the serial console prints
// (console.ts) is also put here, in a grid of character cells that a
// display (vgatext.ts, framebuffer.ts) draws.
//
// Printing must stay cheap, because guests' lines pass through here while
// the printing CPU holds the hypervisor lock. So a byte only goes into
// `wanted`, a shadow of the screen in linear memory whose log rows form a
// ring: a new line moves the ring's start and blanks one row, a few hundred
// stores, instead of moving the framebuffer's megabytes. The display is
// brought up to date lazily (refreshScreen()): by the scheduler a few times
// a second, and by flushConsole() before the machine stops. A refresh
// compares `wanted` with `shown`, what the display shows, and draws only the
// cells that differ. The last row is a status line the VMM writes
// (setStatusLine()); after a failure it turns red and so does what follows.

import { rdtsc } from "../arch/shim";
import { Attribute, Cell, Display, makeCell, SPACE } from "./display";

// Up to 1920x1280 pixels of 8x16 glyphs; a larger framebuffer shows its top-left part.
const MAX_COLUMNS = 240;
const MAX_ROWS = 80;
const ROW_BYTES: usize = MAX_COLUMNS * 2;
const GRID_BYTES: i32 = MAX_COLUMNS * MAX_ROWS * 2;
const STATUS_ROW = MAX_ROWS - 1;
const TAB = 8;
const QUESTION_MARK: u32 = 0x3f;
// Static memory: the panic path prints before any initializer may have run.
const wanted: usize = memory.data(GRID_BYTES);
const shown: usize = memory.data(GRID_BYTES);

let display: Display | null = null;
// Set while the screen's code runs: if a fault happens there, its report
// finds it set and the screen stays dark from then on (the serial console goes on).
let busy = false;
let broken = false;
let columns = MAX_COLUMNS;
let rows = MAX_ROWS;
let top = 0; // the ring row shown first
let row = 0; // the cursor, in log rows from the top of the screen
let column = 0;
let attribute = Attribute.Log;
let stopped = false;
let changed = false;
// Measurements (TSC ticks): a new line in the shadow, and redraws.
let lines: u64 = 0;
let lineTicks: u64 = 0;
let redraws: u64 = 0;
let redrawTicks: u64 = 0;

function logRows(): i32 {
  return rows - 1;
}

// The address of log row `r` (from the top of the screen), column 0, in `wanted`.
function logRow(r: i32): usize {
  return wanted + <usize>((top + r) % logRows()) * ROW_BYTES;
}

function fill(at: usize, count: i32, cell: Cell): void {
  for (let i = 0; i < count; i++) store<u16>(at + <usize>i * 2, cell);
}

// Shows the console on `d` from now on; everything printed so far is drawn.
export function attachScreen(d: Display): void {
  columns = min(d.columns, MAX_COLUMNS);
  rows = min(d.rows, MAX_ROWS);
  if (top != 0 || row >= logRows()) { // the ring's rows would move: start afresh
    memory.fill(wanted, 0, GRID_BYTES);
    top = row = column = 0;
  }
  memory.fill(shown, 0xff, GRID_BYTES); // no cell is 0xFFFF: all are drawn
  display = d;
  refreshScreen();
}

export function screenName(): string {
  return display !== null ? display!.name + ", " + columns.toString() + "x" + rows.toString() + " cells" : "none";
}

// "N lines at T ticks each, R redraws at T ticks each".
export function screenCosts(): string {
  return lines.toString() + " lines at " + (lines > 0 ? lineTicks / lines : 0).toString() + " TSC ticks each, "
    + redraws.toString() + " redraws at " + (redraws > 0 ? redrawTicks / redraws : 0).toString() + " each";
}

// A byte the console printed: LF ends the line, CR is dropped (the serial
// line's), TAB moves to the next multiple of 8, non-ASCII shows as '?'.
export function screenPut(c: u32): void {
  if (!enter()) return;
  if (c == 10) {
    newLine();
  } else if (c == 9) {
    do putVisible(SPACE); while (column % TAB != 0);
  } else if (c >= 0x20) {
    putVisible(<u8>(c < 0x7f ? c : QUESTION_MARK));
  }
  busy = false;
}

function putVisible(c: u8): void {
  if (column >= columns) newLine();
  store<u16>(logRow(row) + <usize>column * 2, makeCell(c, attribute));
  column++;
  changed = true;
}

function newLine(): void {
  const start = rdtsc();
  column = 0;
  if (row < logRows() - 1) {
    row++;
  } else {
    top = (top + 1) % logRows();
  }
  fill(logRow(row), columns, makeCell(SPACE, attribute));
  changed = true;
  lines++;
  lineTicks += rdtsc() - start;
}

// The status line's text (cut to the screen's width).
export function setStatusLine(text: string): void {
  if (stopped || !enter()) return;
  writeStatus(text, Attribute.Status);
  busy = false;
}

function writeStatus(text: string, attr: Attribute): void {
  const at = wanted + <usize>STATUS_ROW * ROW_BYTES;
  for (let i = 0; i < columns; i++) {
    store<u16>(at + <usize>i * 2, makeCell(i < text.length ? <u8>text.charCodeAt(i) : SPACE, attr));
  }
  changed = true;
}

// The hypervisor is failing: the status line says so in red, and what is
// printed from now on (the reason, registers, backtrace) is red too.
export function screenStopped(): void {
  if (stopped || !enter()) return;
  stopped = true;
  attribute = Attribute.Panic;
  if (column > 0) newLine();
  writeStatus(" TYPERVISOR HAS STOPPED: the reason is below; the serial console has the whole log", Attribute.Panic);
  busy = false;
}

// Draws the cells that changed since the last refresh.
export function refreshScreen(): void {
  if (!changed || display === null || !enter()) return;
  const start = rdtsc();
  const d = display!;
  for (let r = 0; r < rows; r++) {
    const from = r < logRows() ? logRow(r) : wanted + <usize>STATUS_ROW * ROW_BYTES;
    const to = shown + <usize>r * ROW_BYTES;
    for (let c = 0; c < columns; c++) {
      const cell = load<u16>(from + <usize>c * 2);
      if (cell == load<u16>(to + <usize>c * 2)) continue;
      d.draw(r, c, cell);
      store<u16>(to + <usize>c * 2, cell);
    }
  }
  changed = false;
  redraws++;
  redrawTicks += rdtsc() - start;
  busy = false;
}

function enter(): bool {
  if (busy) broken = true;
  if (broken) return false;
  busy = true;
  return true;
}
