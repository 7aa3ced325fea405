// Who gets what is typed on the hypervisor's console, and what it shows.
//
// Every VM's console output appears on the one serial console, each line
// behind the VM's name (core/vmconsole.ts), sent as fast as the serial line
// takes it (pollConsoleOutput()). Input goes to one VM at a time: at first the
// first VM that has a console device, then whichever VM the user picks by
// typing the switch key, Ctrl-T, followed by the VM's number (0-9, in the
// order the hypervisor lists them); Ctrl-T then "s" prints the status of
// every vCPU (report.ts), Ctrl-T then "n" presses the focused VM's NMI
// button (a kernel's way into its debugger or crash dump,
// Vm.pressNmiButton()). A byte is taken from the host UART only when the
// focused VM's device can receive it, so nothing typed is lost to an
// overrun; the host UART and the emulator hold the rest.

import { drainConsole, println, readChar } from "../../kernel/console/console";
import { refreshScreen } from "../../kernel/console/screen";
import { ConsoleInput, Vm } from "../core/vm";
import { printStatus } from "./report";
import { updateStatusLine } from "./statusline";

const SWITCH_KEY: i32 = 0x14; // Ctrl-T
const DIGIT_0: i32 = 0x30;
const STATUS_KEY: i32 = 0x73; // "s"
const NMI_KEY: i32 = 0x6e; // "n"

let focus: i32 = -1;
let switching = false;
// The screen is redrawn at most every SCREEN_POLLS polls (10 times a
// second: a guest's burst of lines costs one redraw, not one each; a full
// redraw of 1024x768 pixels is about 3 MB of writes), its status line
// updated every STATUS_POLLS.
const SCREEN_POLLS: u32 = 100;
const STATUS_POLLS: u32 = 1000;
let polls: u32 = 0;

// Tells the user where typing goes and how to switch: once, as the VMs start.
export function announceConsoles(vms: Vm[]): void {
  focus = firstWithInput(vms);
  if (focus < 0) return;
  let list = "";
  for (let i = 0; i < vms.length; i++) {
    if (vms[i].input !== null) list += (list.length > 0 ? ", " : "") + i.toString() + " " + vms[i].name;
  }
  println("console: typing into vm " + vms[focus].name + "; Ctrl-T and a number switch (" + list + ")");
}

// Every millisecond on the boot CPU: sends what the UART takes now, lets
// each VM's waiting line have its turn, and now and then draws the screen.
export function pollConsoleOutput(vms: Vm[]): void {
  drainConsole();
  for (let i = 0; i < vms.length; i++) if (vms[i].running) vms[i].console.poll();
  if (polls % STATUS_POLLS == 0) updateStatusLine(vms, focus);
  if (polls % SCREEN_POLLS == 0) refreshScreen();
  polls++;
}

// Passes what was typed to the focused VM; true if a byte reached a VM.
export function pollConsoleInput(vms: Vm[]): bool {
  if (focus < 0 || focus >= vms.length || !vms[focus].running || vms[focus].input === null) focus = firstWithInput(vms);
  let delivered = false;
  while (true) {
    const target = focus >= 0 ? vms[focus].input : null;
    if (target !== null && !switching && !target.canReceive) break;
    const c = readChar();
    if (c < 0) break;
    if (switching) {
      switching = false;
      if (c == STATUS_KEY) printStatus(vms);
      else if (c == NMI_KEY) pressNmiButton(vms);
      else select(vms, c - DIGIT_0);
      continue;
    }
    if (c == SWITCH_KEY) {
      switching = true;
      continue;
    }
    if (target !== null) {
      target.put(<u8>c);
      delivered = true;
    }
  }
  return delivered;
}

// The VM at `index` leaves the list (destroyed): the focus stays on the
// VM it was on, or goes to the first with a console at the next poll.
export function consoleLeaves(index: i32): void {
  if (focus > index) focus--;
  else if (focus == index) focus = -1;
}

function select(vms: Vm[], index: i32): void {
  if (index < 0 || index >= vms.length || vms[index].input === null || !vms[index].running) {
    println("console: no VM " + index.toString() + " with a console to type into");
    return;
  }
  focus = index;
  println("console: typing into vm " + vms[index].name);
}

function pressNmiButton(vms: Vm[]): void {
  if (focus < 0) return;
  const vm = vms[focus];
  if (vm.pressNmiButton()) println("console: NMI to vm " + vm.name);
  else println("console: vm " + vm.name + " holds its NMIs off (port 70h bit 7); none sent");
}

function firstWithInput(vms: Vm[]): i32 {
  for (let i = 0; i < vms.length; i++) if (vms[i].running && vms[i].input !== null) return i;
  return -1;
}
