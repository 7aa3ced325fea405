// The PC devices a kernel-loaded VM (setup/kernelvms.ts) finds at their
// usual ports and addresses: QEMU's isa-debug-exit and fw_cfg, the UART as
// the VM's console, the 8259 pair and the I/O APIC at FEC00000h, the PIT,
// the HPET at FED00000h, the ACPI PM block, the RTC with the host's time
// (kernel/time/wallclock.ts) and its interrupts, the PCI bus (pcibus.ts)
// and the 8042.
//
// The ISA lines reach both interrupt controllers (isalines.ts); the 8259
// pair's INTR is the boot vCPU's, and the timers follow the TSC, brought up
// to date before every guest access to them (pcinterrupts.ts). The ACPI
// tables describe the HPET, the PM block and the interrupt controllers
// (acpitables.ts).

import { HostWallClock } from "../../../kernel/time/wallclock";
import { ConsoleInput, NmiGate, PowerButton, Vm } from "../../core/vm";
import { ConsoleWaiter } from "../../core/vmconsole";
import { IoApicDelivery } from "../../core/vmapics";
import { IoApic, IOAPIC_BASE, IOAPIC_SIZE } from "../../devices/apic/ioapic";
import { DebugExit, DEBUG_EXIT_PORT } from "../../devices/io/debugexit";
import { FwCfg, FW_CFG_PORT } from "../../devices/io/fwcfg";
import { I8042, I8042_COMMAND_PORT, I8042_DATA_PORT } from "../../devices/io/i8042";
import { POST_PORT } from "../../devices/io/null";
import { resetControl, SYSTEM_CONTROL_A_PORT, systemControlA } from "../../devices/io/resetports";
import { ByteSink, COM1_IRQ, COM1_PORT, Uart16550 } from "../../devices/io/uart16550";
import { ELCR_PORT, PIC_MASTER_PORT, PIC_SLAVE_PORT, Pic8259Pair } from "../../devices/pic/pic8259";
import { AcpiPm, ACPI_PM_BASE, ACPI_PM_PORTS } from "../../devices/timers/acpipm";
import { Cmos, CMOS_PORT } from "../../devices/timers/cmos";
import { Hpet, HPET_BASE, HPET_SIZE } from "../../devices/timers/hpet";
import { Waker } from "../../devices/timers/deferred";
import { Pit8254, PIT_PORT, PORT_B } from "../../devices/timers/pit8254";
import { IsaLines } from "./isalines";
import { ClockedDevice, PcInterrupts } from "./pcinterrupts";
import { VirtioBlock } from "../../devices/virtio/block";
import { VirtioConsole } from "../../devices/virtio/console";
import { VirtioEntropy } from "../../devices/virtio/entropy";
import { VirtioNet } from "../../devices/virtio/net";
import { VmPort } from "../../net/port";
import { VirtualSwitch } from "../../net/switch";
import { hasRdrand, hasRdseed } from "../../../kernel/cpu/random";
import { VmDisk } from "../../storage/vmdisk";
import { VirtioPci } from "../../devices/virtio/pcitransport";
import { PcPciBus } from "./pcibus";
import { LOW_RAM_END } from "./pcimap";

export const COM2_PORT: u16 = 0x2f8;
export const COM2_IRQ: u32 = 3;
// The PCI slots of the virtio console, the entropy device, the first
// virtio disk and the first NIC: the NICs come after the eight slots the
// disks may take (config/disks.ts, MAX_DISKS), so that adding a NIC moves
// no other device.
const HVC_SLOT: u32 = 1;
const RNG_SLOT: u32 = 2;
const FIRST_DISK_SLOT: u32 = 3;
const FIRST_NIC_SLOT: u32 = 11;

// A console device's transmitter (the UART's, virtio-console's): each byte
// the guest sends is a byte of the VM's console (core/vmconsole.ts), busy
// while the console makes it wait.
class ConsoleOutput extends ByteSink {
  constructor(private vm: Vm) {
    super();
  }
  get ready(): bool {
    return this.vm.console.ready;
  }
  put(byte: u8): void {
    this.vm.console.write(byte);
  }
}

// The console took the line the UART's transmitter waited on.
class UartTransmitter extends ConsoleWaiter {
  constructor(private uart: Uart16550) {
    super();
  }
  wakeUp(): void {
    this.uart.transmitterReady();
  }
}

// The NMI line's gate on a PC: bit 7 of the last write to port 70h (the
// RTC's index register) holds NMIs from the board shut.
class RtcNmiMask extends NmiGate {
  constructor(private cmos: Cmos) {
    super();
  }
  get closed(): bool {
    return this.cmos.nmiMasked;
  }
}

// The VM's power button is ACPI's fixed power button, in the PM block.
// A device's deferred work came due sooner than the clock last asked:
// the clock runs on the boot vCPU's way into its guest, so that vCPU's CPU
// looks again, and sets its alarm for it.
class BootVcpuWaker extends Waker {
  constructor(private vm: Vm, private clock: PcInterrupts) {
    super();
  }
  wake(): void {
    this.clock.forgetDeferred();
    this.vm.apics.notify(this.vm.vcpus[0]);
  }
}

class AcpiPowerButton extends PowerButton {
  constructor(private pm: AcpiPm) {
    super();
  }
  press(): void {
    this.pm.pressPowerButton();
  }
}

// The console took the bytes virtio-console's transmit queue waited on.
class VirtioConsoleTransmitter extends ConsoleWaiter {
  constructor(private hvc: VirtioConsole) {
    super();
  }
  wakeUp(): void {
    this.hvc.flush();
  }
}

// What is typed on the console, into virtio-console's receive queue.
class VirtioConsoleKeyboard extends ConsoleInput {
  constructor(private hvc: VirtioConsole) {
    super();
  }
  get canReceive(): bool {
    return this.hvc.canReceive;
  }
  put(byte: u8): void {
    this.hvc.receive(byte);
  }
}

// What is typed on the console, into the UART's receiver.
class UartKeyboard extends ConsoleInput {
  constructor(private uart: Uart16550) {
    super();
  }
  get canReceive(): bool {
    return this.uart.canReceive;
  }
  put(byte: u8): void {
    this.uart.feedInput(byte);
  }
}

export class PcPlatform {
  readonly pic: Pic8259Pair;
  readonly ioapic: IoApic;
  readonly pit: Pit8254;
  readonly hpet: Hpet;
  readonly cmos: Cmos;
  readonly fwcfg: FwCfg;
  readonly keyboard: I8042;
  readonly pci: PcPciBus;
  // The UART on the console port, or null (console "none").
  uart: Uart16550 | null = null;

  // `console` is "com1", "com2" or "none" (config.ts); `cpus` the vCPUs the
  // guest really has, which fw_cfg reports; `previousRtc` the RTC of the
  // devices these replace at a restart, whose battery-backed RAM they keep.
  // `disks`: what stands behind the VM's virtio disks, in order; `nics`:
  // the VM's ports on the host's switch `net`, a virtio NIC each.
  constructor(
    vm: Vm,
    ramBytes: u64,
    cpus: u16,
    console: string,
    disks: VmDisk[],
    nics: VmPort[],
    net: VirtualSwitch,
    previousRtc: Cmos | null,
  ) {
    const pic = new Pic8259Pair(), ioapic = new IoApic(new IoApicDelivery(vm.apics));
    const lines = new IsaLines(pic, ioapic, vm);
    this.pic = pic;
    this.ioapic = ioapic;
    vm.apics.ioapic = ioapic;
    this.pci = new PcPciBus(vm, ioapic, resetControl(vm));
    const hpet = new Hpet(lines, ioapic);
    this.hpet = hpet;
    // The HPET interrupts through I/O APIC inputs 20-23 or, in legacy
    // replacement mode, takes IRQ 0 from the PIT and IRQ 8 from the RTC
    // (devices/timers/hpet.ts).
    this.pit = new Pit8254(hpet.legacyLines);
    const cmos = new Cmos(hpet.legacyLines, new HostWallClock());
    if (previousRtc !== null) cmos.keepRamOf(previousRtc);
    this.cmos = cmos;
    vm.nmiGate = new RtcNmiMask(cmos);
    this.fwcfg = new FwCfg(ramBytes, cpus, cpus);
    this.keyboard = new I8042(vm, lines);
    const io = vm.bus.io;
    io.map(DEBUG_EXIT_PORT, 4, new DebugExit(vm));
    vm.addQuietPort(POST_PORT);
    io.map(FW_CFG_PORT, 2, this.fwcfg);
    io.map(PIC_MASTER_PORT, 2, this.pic.master);
    io.map(PIC_SLAVE_PORT, 2, this.pic.slave);
    io.map(ELCR_PORT, 2, this.pic.elcr);
    const pm = new AcpiPm(vm, lines);
    vm.powerButton = new AcpiPowerButton(pm);
    const interrupts = new PcInterrupts(this.pic, this.pit, pm, this.hpet, this.cmos);
    vm.intr = interrupts;
    io.map(PIT_PORT, 4, new ClockedDevice(interrupts, this.pit));
    io.map(PORT_B, 1, new ClockedDevice(interrupts, this.pit.portB));
    io.map(ACPI_PM_BASE, ACPI_PM_PORTS, new ClockedDevice(interrupts, pm));
    vm.bus.mmio.map(IOAPIC_BASE, IOAPIC_SIZE, this.ioapic.window);
    vm.bus.mmio.map(HPET_BASE, HPET_SIZE, new ClockedDevice(interrupts, this.hpet));
    io.map(CMOS_PORT, 2, new ClockedDevice(interrupts, this.cmos));
    io.map(SYSTEM_CONTROL_A_PORT, 1, systemControlA(vm));
    io.map(I8042_DATA_PORT, 1, this.keyboard.data);
    io.map(I8042_COMMAND_PORT, 1, this.keyboard.command);
    // Where PC firmware leaves the memory size for the OS (cmos.ts).
    const low = min(ramBytes, LOW_RAM_END);
    this.cmos.setMemory(low, ramBytes - low);
    const hvc = this.addVirtioDevices(vm, cpus, disks, nics, net, interrupts);
    // What is typed goes to the UART, or to hvc0 when there is no UART.
    vm.console.waiters = [new VirtioConsoleTransmitter(hvc)];
    vm.input = new VirtioConsoleKeyboard(hvc);
    if (console != "none") {
      const com1 = console == "com1";
      const uart = new Uart16550(lines, com1 ? COM1_IRQ : COM2_IRQ, new ConsoleOutput(vm));
      vm.console.waiters.push(new UartTransmitter(uart));
      io.map(com1 ? COM1_PORT : COM2_PORT, 8, uart);
      this.uart = uart;
      vm.input = new UartKeyboard(uart);
    }
  }

  // The virtio devices on the PCI bus, placed as firmware would: a second
  // console (/dev/hvc0 in Linux), whose output joins the UART's; an
  // entropy device where the host CPU has a random number generator; the
  // disks, in order, a request queue for each of the `cpus` vCPUs, whose
  // held-back requests the platform's clock resumes and whose batches at
  // the host disk it looks at; the NICs, a queue pair for each vCPU, whose
  // held-back frames it resumes likewise. Returns the console.
  private addVirtioDevices(
    vm: Vm,
    cpus: u16,
    disks: VmDisk[],
    nics: VmPort[],
    net: VirtualSwitch,
    clock: PcInterrupts,
  ): VirtioConsole {
    const bus = this.pci.bus, messages = this.pci.messages;
    const hvc = new VirtioConsole(new ConsoleOutput(vm));
    bus.attach(HVC_SLOT, 0, new VirtioPci(hvc, vm.memory, messages));
    if (hasRdrand() || hasRdseed()) {
      bus.attach(RNG_SLOT, 0, new VirtioPci(new VirtioEntropy(hasRdseed()), vm.memory, messages));
    }
    const waker = new BootVcpuWaker(vm, clock);
    for (let i = 0; i < disks.length; i++) {
      const block = new VirtioBlock(disks[i], cpus);
      clock.deferred.push(block.resume);
      block.resume.waker = waker;
      bus.attach(FIRST_DISK_SLOT + <u32>i, 0, new VirtioPci(block, vm.memory, messages));
    }
    for (let i = 0; i < nics.length; i++) {
      const nic = new VirtioNet(nics[i], net, cpus);
      clock.deferred.push(nic.resume);
      nic.resume.waker = waker;
      bus.attach(FIRST_NIC_SLOT + <u32>i, 0, new VirtioPci(nic, vm.memory, messages));
    }
    this.pci.assignResources();
    return hvc;
  }
}
