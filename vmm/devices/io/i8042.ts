// The PC keyboard controller (Intel 8042), with its keyboard and auxiliary
// (mouse) ports and nothing plugged into either.
//
// Guests meet it for two reasons: drivers probe it (self-test, the
// controller configuration byte, the auxiliary port), and it carries the
// CPU reset line, which Linux pulses to reboot when ACPI cannot; a reset
// request resets the machine (MachineControl). Port 0x60 is data, port 0x64
// status on reads and commands on writes. Command and bit names follow the
// IBM PC AT Technical Reference ("Keyboard Controller"), whose 8042 firmware
// PC controllers reproduce, and, for the auxiliary port, the IBM PS/2
// Hardware Interface Technical Reference ("Keyboard/Auxiliary Device
// Controller").

import { Device } from "../bus";
import { InterruptLines } from "../irq";
import { MachineControl } from "../machine";

export const I8042_DATA_PORT: u16 = 0x60;
export const I8042_COMMAND_PORT: u16 = 0x64;

// Status register.
const STATUS_OUTPUT_FULL: u8 = 0x01;
const STATUS_SYSTEM_FLAG: u8 = 0x04;
const STATUS_COMMAND: u8 = 0x08; // the last write went to port 0x64
const STATUS_NOT_INHIBITED: u8 = 0x10; // the keylock is open
const STATUS_AUX_DATA: u8 = 0x20; // the output buffer holds a byte from the auxiliary port
// Controller configuration byte ("command byte").
const CONFIG_KEYBOARD_INTERRUPT: u8 = 0x01;
const CONFIG_AUX_INTERRUPT: u8 = 0x02;
const CONFIG_SYSTEM_FLAG: u8 = 0x04;
const CONFIG_KEYBOARD_DISABLED: u8 = 0x10;
const CONFIG_AUX_DISABLED: u8 = 0x20;
const KEYBOARD_IRQ: u32 = 1;
const AUX_IRQ: u32 = 12;
// Output port: bit 0 drives the CPU's reset line, active low; bit 1 is A20,
// stored but masking nothing: guest memory never wraps at 1 MiB.
const OUTPUT_NOT_RESET: u8 = 0x01;
const OUTPUT_A20: u8 = 0x02;
// How a reset through the controller is named in the VM's stop message.
const RESET_HOW = "the 8042 keyboard controller";

const CMD_READ_CONFIG: u8 = 0x20;
const CMD_WRITE_CONFIG: u8 = 0x60;
const CMD_DISABLE_AUX: u8 = 0xa7;
const CMD_ENABLE_AUX: u8 = 0xa8;
const CMD_TEST_AUX: u8 = 0xa9;
const CMD_SELF_TEST: u8 = 0xaa;
const CMD_TEST_KEYBOARD: u8 = 0xab;
const CMD_DISABLE_KEYBOARD: u8 = 0xad;
const CMD_ENABLE_KEYBOARD: u8 = 0xae;
const CMD_READ_OUTPUT_PORT: u8 = 0xd0;
const CMD_WRITE_OUTPUT_PORT: u8 = 0xd1;
const CMD_WRITE_KEYBOARD_OUTPUT: u8 = 0xd2;
const CMD_WRITE_AUX_OUTPUT: u8 = 0xd3;
const CMD_PULSE: u8 = 0xf0; // 0xF0-0xFF pulse the output port bits that are 0 in the low nibble
const SELF_TEST_PASSED: u8 = 0x55;
const INTERFACE_TEST_PASSED: u8 = 0x00; // clock and data lines neither stuck low nor high

export class I8042 {
  readonly data: Device = new I8042Port(this, false);
  readonly command: Device = new I8042Port(this, true);
  // The system flag says the power-on self test passed; as no firmware runs
  // before a directly booted kernel, the controller starts with it set.
  private config: u8 = CONFIG_SYSTEM_FLAG;
  private outputPort: u8 = OUTPUT_NOT_RESET | OUTPUT_A20;
  private output: u8 = 0;
  private outputFull: bool = false;
  private outputFromAux: bool = false;
  private lastWasCommand: bool = false;
  private awaiting: u8 = 0; // a command whose data byte comes next

  // `lines`: where IRQ1 and IRQ12 go.
  constructor(private machine: MachineControl, private lines: InterruptLines) {}

  readStatus(): u8 {
    return (this.outputFull ? STATUS_OUTPUT_FULL : 0) | (this.config & CONFIG_SYSTEM_FLAG ? STATUS_SYSTEM_FLAG : 0)
      | (this.lastWasCommand ? STATUS_COMMAND : 0) | STATUS_NOT_INHIBITED
      | (this.outputFull && this.outputFromAux ? STATUS_AUX_DATA : 0);
  }

  // Reading the data port empties the output buffer (the byte stays readable).
  readData(): u8 {
    this.outputFull = false;
    return this.output;
  }

  writeCommand(cmd: u8): void {
    this.lastWasCommand = true;
    this.awaiting = 0;
    if (cmd == CMD_READ_CONFIG) this.respond(this.config);
    else if (
      cmd == CMD_WRITE_CONFIG || cmd == CMD_WRITE_OUTPUT_PORT || cmd == CMD_WRITE_KEYBOARD_OUTPUT
      || cmd == CMD_WRITE_AUX_OUTPUT
    ) this.awaiting = cmd;
    else if (cmd == CMD_SELF_TEST) this.respond(SELF_TEST_PASSED);
    else if (cmd == CMD_TEST_KEYBOARD || cmd == CMD_TEST_AUX) this.respond(INTERFACE_TEST_PASSED);
    else if (cmd == CMD_DISABLE_KEYBOARD) this.config |= CONFIG_KEYBOARD_DISABLED;
    else if (cmd == CMD_ENABLE_KEYBOARD) this.config &= ~CONFIG_KEYBOARD_DISABLED;
    else if (cmd == CMD_DISABLE_AUX) this.config |= CONFIG_AUX_DISABLED;
    else if (cmd == CMD_ENABLE_AUX) this.config &= ~CONFIG_AUX_DISABLED;
    else if (cmd == CMD_READ_OUTPUT_PORT) this.respond(this.outputPort);
    else if (cmd >= CMD_PULSE && !(cmd & OUTPUT_NOT_RESET)) this.machine.reset(RESET_HOW); // 0xFE and kin
    // Anything else does nothing.
  }

  writeData(v: u8): void {
    this.lastWasCommand = false;
    const cmd = this.awaiting;
    this.awaiting = 0;
    if (cmd == CMD_WRITE_CONFIG) {
      this.config = v;
    } else if (cmd == CMD_WRITE_OUTPUT_PORT) {
      this.outputPort = v;
      if (!(v & OUTPUT_NOT_RESET)) this.machine.reset(RESET_HOW);
    } else if (cmd == CMD_WRITE_KEYBOARD_OUTPUT) {
      this.fromDevice(v, false);
    } else if (cmd == CMD_WRITE_AUX_OUTPUT) {
      this.fromDevice(v, true);
    }
    // Otherwise the byte is for the keyboard, and none is attached: it goes
    // nowhere, as to an empty socket.
  }

  // The controller answers its own commands through the output buffer, with
  // no interrupt.
  private respond(v: u8): void {
    this.output = v;
    this.outputFull = true;
    this.outputFromAux = false;
  }

  // A byte as the keyboard or the mouse would send it, with its interrupt:
  // the loopback commands 0xD2 (keyboard) and 0xD3 (mouse, with the status's
  // auxiliary-data bit) raise IRQ1 or IRQ12 if the configuration byte enables
  // them. Linux's driver tests the auxiliary port and its IRQ that way, and
  // waits half a second for each answer that does not come.
  private fromDevice(v: u8, aux: bool): void {
    this.output = v;
    this.outputFull = true;
    this.outputFromAux = aux;
    if (this.config & (aux ? CONFIG_AUX_INTERRUPT : CONFIG_KEYBOARD_INTERRUPT)) {
      this.lines.pulse(aux ? AUX_IRQ : KEYBOARD_IRQ);
    }
  }
}

class I8042Port extends Device {
  constructor(private controller: I8042, private isCommand: bool) {
    super(isCommand ? "8042 status/command" : "8042 data");
  }

  read(offset: u64, size: u8): u64 {
    return this.isCommand ? this.controller.readStatus() : this.controller.readData();
  }

  write(offset: u64, size: u8, value: u64): void {
    if (this.isCommand) this.controller.writeCommand(<u8>value);
    else this.controller.writeData(<u8>value);
  }
}
