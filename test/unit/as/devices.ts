// Unit-test entry: the PC platform devices (vmm/devices/) on one I/O address
// space, wired as on a PC, so tests drive them with port accesses exactly as
// a guest would. Between the devices and the PIC sits a recorder that counts
// each IRQ line's rising edges; the UART's output and the 8042's reset
// requests are captured too, and PcInterrupts (vmm/platform/pc/pcinterrupts.ts) keeps
// the PIT and the RTC on a TSC the tests pass in (the HPET it also keeps
// there is as/hpet.ts's to test; here its I/O APIC inputs go nowhere). Each
// load() of this module is a fresh machine.

import { AddressSpace, Bus, DECLINED } from "../../../vmm/devices/bus";
import { AcpiPm } from "../../../vmm/devices/timers/acpipm";
import { RecordingMachine } from "./fakemachine";
import { Hpet } from "../../../vmm/devices/timers/hpet";
import { InterruptLines } from "../../../vmm/devices/irq";
import { ELCR_PORT, PIC_MASTER_PORT, PIC_SLAVE_PORT, Pic8259Pair } from "../../../vmm/devices/pic/pic8259";
import { PIT_PORT, PORT_B, Pit8254 } from "../../../vmm/devices/timers/pit8254";
import { ByteSink, COM1_IRQ, COM1_PORT, Uart16550 } from "../../../vmm/devices/io/uart16550";
import { CMOS_PORT, Cmos } from "../../../vmm/devices/timers/cmos";
import { PCI_CONFIG_PORT, PciConfigPorts } from "../../../vmm/devices/pci/configports";
import { hostBridge } from "../../../vmm/devices/pci/hostbridge";
import { IntxRouting, PciBus } from "../../../vmm/devices/pci/pcibus";
import { resetControl, SYSTEM_CONTROL_A_PORT, systemControlA } from "../../../vmm/devices/io/resetports";
import { FW_CFG_PORT, FwCfg } from "../../../vmm/devices/io/fwcfg";
import { I8042, I8042_COMMAND_PORT, I8042_DATA_PORT } from "../../../vmm/devices/io/i8042";
import { PcInterrupts } from "../../../vmm/platform/pc/pcinterrupts";
import { Deferred, NOT_DUE } from "../../../vmm/devices/timers/deferred";
import { newClockLook } from "../../../vmm/core/vm";

class Recorder extends InterruptLines {
  rises: StaticArray<u32> = new StaticArray<u32>(16);
  levels: StaticArray<bool> = new StaticArray<bool>(16);
  constructor(private next: InterruptLines) {
    super();
  }
  setLevel(line: u32, high: bool): void {
    if (high && !this.levels[line]) this.rises[line]++;
    this.levels[line] = high;
    this.next.setLevel(line, high);
  }
}

class Unwired extends InterruptLines {
  setLevel(line: u32, high: bool): void {}
}

class NoRouting extends IntxRouting {
  lineOf(device: u32, pin: u32): u32 {
    return 0;
  }
}

class Capture extends ByteSink {
  bytes: u8[] = [];
  busy: bool = false;
  get ready(): bool {
    return !this.busy;
  }
  put(byte: u8): void {
    this.bytes.push(byte);
  }
}

const io = new AddressSpace();
const pic = new Pic8259Pair();
const lines = new Recorder(pic);
const pit = new Pit8254(lines);
const serialOut = new Capture();
const uart = new Uart16550(lines, COM1_IRQ, serialOut);
const cmos = new Cmos(lines);
const resets = new RecordingMachine();
const kbc = new I8042(resets, lines);
let fwcfg: FwCfg | null = null;
const pm = new AcpiPm(new RecordingMachine(), lines);
const interrupts = new PcInterrupts(pic, pit, pm, new Hpet(lines, new Unwired()), cmos);

// A device's work put off until `due` (NOT_DUE: none), which counts its runs.
class PutOff extends Deferred {
  due: u64 = NOT_DUE;
  runs: i32 = 0;
  get dueAt(): u64 {
    return this.due;
  }
  run(): void {
    this.runs++;
    this.due = NOT_DUE;
  }
}
const putOff = new PutOff();
interrupts.deferred.push(putOff);

io.map(PIC_MASTER_PORT, 2, pic.master);
io.map(PIC_SLAVE_PORT, 2, pic.slave);
io.map(ELCR_PORT, 2, pic.elcr);
io.map(PIT_PORT, 4, pit);
io.map(PORT_B, 1, pit.portB);
io.map(COM1_PORT, 8, uart);
io.map(CMOS_PORT, 2, cmos);
const pci = new PciBus(new Bus(), new Unwired(), new NoRouting());
pci.attach(0, 0, hostBridge());
io.map(PCI_CONFIG_PORT, 8, new PciConfigPorts(pci, resetControl(resets)));
io.map(SYSTEM_CONTROL_A_PORT, 1, systemControlA(resets));
io.map(I8042_DATA_PORT, 1, kbc.data);
io.map(I8042_COMMAND_PORT, 1, kbc.command);

// Port I/O as the guest does it (values up to 32 bits).
export function ioRead(port: u32, size: u8): u32 {
  return <u32>io.read(port, size);
}
export function ioWrite(port: u32, size: u8, value: u32): bool {
  return io.write(port, size, value);
}
// The exit fast path's accesses (devices/bus.ts, "quickly"); a declined read is -1.
export function ioQuickRead(port: u32, size: u8): i64 {
  const value = io.quickRead(port, size);
  return value == DECLINED ? -1 : <i64>value;
}
export function ioQuickWrite(port: u32, size: u8, value: u32): bool {
  return io.quickWrite(port, size, value);
}
export function ioMayBeQuick(port: u32, isRead: bool): bool {
  return io.mayBeQuick(port, isRead);
}

// IRQ lines: drive one (through the recorder), read back edges and levels.
export function irqSet(line: u32, high: bool): void {
  lines.setLevel(line, high);
}
export function irqRises(line: u32): u32 {
  return lines.rises[line];
}
export function irqLevel(line: u32): bool {
  return lines.levels[line];
}
export function picHasInterrupt(): bool {
  return pic.hasInterrupt();
}
export function picAcknowledge(): u8 {
  return pic.acknowledge();
}

export function pitAdvance(nanoseconds: u64): u64 {
  return pit.advance(nanoseconds);
}
export function pitAdvanceClocks(clocks: u32): u32 {
  return <u32>pit.advanceClocks(clocks);
}
export function pitClocks(): u64 {
  return pit.clocks;
}
export function pitClocksUntilIrq(): u64 {
  return pit.clocksUntilIrq();
}
// The PIT on the TSC (vmm/platform/pc/pcinterrupts.ts).
export function tscCatchUp(nowTsc: u64, tscPerMs: u64): void {
  interrupts.catchUp(nowTsc, tscPerMs);
}
export function tscIrq0At(tscPerMs: u64): u64 {
  return interrupts.irq0At(tscPerMs);
}
export function tscRtcAt(tscPerMs: u64): u64 {
  return interrupts.rtcAt(tscPerMs);
}
export function tscNextEventAt(tscPerMs: u64): u64 {
  return interrupts.nextEventAt(tscPerMs);
}
// The deferred work: when it is due, how often it ran; a new look of the
// scheduler's; the device's word that its work moved earlier.
export function putOffUntil(due: u64): void {
  putOff.due = due;
}
export function putOffRuns(): i32 {
  return putOff.runs;
}
export function newLook(): void {
  newClockLook();
}
export function putOffMovedEarlier(): void {
  interrupts.forgetDeferred();
}
// What the scheduler's lane asks before it resumes a guest without a look.
export function pinSettled(): bool {
  return interrupts.settled();
}
// A guest's access to a timer's register (ClockedDevice).
export function pinTouched(): void {
  interrupts.touched();
}

export function uartFeed(byte: u8): void {
  uart.feedInput(byte);
}
export function uartCanReceive(): bool {
  return uart.canReceive;
}
// The VMM's side of the transmitter: the console makes the VM wait, or is ready again.
export function uartSinkBusy(busy: bool): void {
  serialOut.busy = busy;
  if (!busy) uart.transmitterReady();
}
export function serialText(): string {
  return String.fromCharCodes(serialOut.bytes.map<i32>((b: u8): i32 => b));
}

export function cmosSetTime(seconds: i64, nanoseconds: u32): void {
  cmos.setTime(seconds, nanoseconds);
}
export function cmosSetMemory(below4g: u64, above4g: u64): void {
  cmos.setMemory(below4g, above4g);
}
// The RTC of a machine reset after this one: what it reads at `index`
// once it took over this one's battery-backed RAM.
export function cmosAfterReset(index: u8): u8 {
  const next = new Cmos(lines);
  next.keepRamOf(cmos);
  next.write(0, 1, index);
  return <u8>next.read(1, 1);
}
export function cmosNmiMasked(): bool {
  return cmos.nmiMasked;
}

// fw_cfg is mapped on demand, with the machine facts it reports.
export function fwcfgCreate(ramSize: u64, cpus: u16, maxCpus: u16): void {
  const f = new FwCfg(ramSize, cpus, maxCpus);
  io.map(FW_CFG_PORT, 2, f);
  fwcfg = f;
}
// A file of `size` bytes 0, 1, 2, ... (mod 256); returns its selector.
export function fwcfgAddFile(name: string, size: i32): u16 {
  const data = new StaticArray<u8>(size);
  for (let i = 0; i < size; i++) data[i] = <u8>i;
  return fwcfg!.addFile(name, data);
}

export function resetCount(): i32 {
  return resets.resets;
}

export function lastReset(): string {
  return resets.lastReset;
}
