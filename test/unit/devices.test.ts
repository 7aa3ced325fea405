// The PC platform devices (vmm/devices/), driven through their I/O ports as a
// guest drives them, with the IRQ lines, time and host-side inputs worked by
// the test as the VMM will work them. One module (as/devices.ts) holds the
// whole platform, and each test loads a fresh instance of it.
import { beforeEach, describe, expect, it } from "vitest";
import { AbortError, load, type Exports } from "./harness";

interface DevicesExports {
  ioRead(port: number, size: number): number;
  ioWrite(port: number, size: number, value: number): number;
  ioQuickRead(port: number, size: number): bigint;
  ioQuickWrite(port: number, size: number, value: number): number;
  ioMayBeQuick(port: number, isRead: number): number;
  irqSet(line: number, high: number): void;
  picHasInterrupt(): number;
  picAcknowledge(): number;
  irqRises(line: number): number;
  pitAdvance(nanoseconds: bigint): bigint;
  pitAdvanceClocks(clocks: number): number;
  pitClocks(): bigint;
  pitClocksUntilIrq(): bigint;
  irqLevel(line: number): number;
  uartFeed(byte: number): void;
  uartCanReceive(): number;
  uartSinkBusy(busy: number): void;
  serialText(): number;
  cmosSetTime(seconds: bigint, nanoseconds: number): void;
  cmosSetMemory(below4g: bigint, above4g: bigint): void;
  cmosNmiMasked(): number;
  cmosAfterReset(index: number): number;
  tscCatchUp(nowTsc: bigint, tscPerMs: bigint): void;
  tscRtcAt(tscPerMs: bigint): bigint;
  tscNextEventAt(tscPerMs: bigint): bigint;
  fwcfgCreate(ramSize: bigint, cpus: number, maxCpus: number): void;
  fwcfgAddFile(name: number, size: number): number;
  resetCount(): number;
  lastReset(): number;
}

let e: Exports<DevicesExports>;
beforeEach(async () => {
  e = (await load<DevicesExports>("devices.ts")).exports;
});

const inb = (port: number) => e.ioRead(port, 1);
// The exit fast path's read: the value, or -1n if declined.
const quickRead = (port: number, size: number) => BigInt.asIntN(64, e.ioQuickRead(port, size));
const outb = (port: number, v: number) => {
  e.ioWrite(port, 1, v);
};

// Linux's init_8259A(): ICW1 (edge, cascade, ICW4 needed), ICW2 vector bases
// 0x30 and 0x38, ICW3 cascade on IR2 / slave ID 2, ICW4 8086 mode; then the masks.
function initPic(icw4 = 0x01, masterMask = 0x00, slaveMask = 0x00): void {
  outb(0x21, 0xff);
  outb(0xa1, 0xff);
  outb(0x20, 0x11);
  outb(0x21, 0x30);
  outb(0x21, 0x04);
  outb(0x21, icw4);
  outb(0xa0, 0x11);
  outb(0xa1, 0x38);
  outb(0xa1, 0x02);
  outb(0xa1, icw4);
  outb(0x21, masterMask);
  outb(0xa1, slaveMask);
}

// The 8259A pair (vmm/devices/pic/pic8259.ts), programmed through ports 0x20/0x21,
// 0xA0/0xA1 and 0x4D0/0x4D1 the way Linux and PC firmware do (Intel 8259A
// datasheet), with IRQ lines driven and acknowledged as the VMM will.
describe("8259A PIC pair", () => {
  const raise = (line: number) => e.irqSet(line, 1);
  const lower = (line: number) => e.irqSet(line, 0);
  const pulse = (line: number) => {
    raise(line);
    lower(line);
  };
  const pending = () => e.picHasInterrupt() !== 0;
  const ack = () => e.picAcknowledge();

  const MASTER = 0x20, SLAVE = 0xa0;
  const READ_IRR = 0x0a, READ_ISR = 0x0b, EOI = 0x20, SPECIFIC_EOI = 0x60;

  const irr = (chip: number) => {
    outb(chip, READ_IRR);
    return inb(chip);
  };
  const isr = (chip: number) => {
    outb(chip, READ_ISR);
    return inb(chip);
  };

  describe("initialization and masking", () => {
    it("delivers nothing before the guest initializes it: every line starts masked", () => {
      expect(inb(0x21)).toBe(0xff);
      expect(inb(0xa1)).toBe(0xff);
      raise(1);
      expect(pending()).toBe(false);
    });

    it("acknowledges an IRQ with the ICW2 base plus the line, moving it from IRR to ISR", () => {
      initPic();
      expect(pending()).toBe(false);
      raise(1);
      expect(irr(MASTER)).toBe(0x02);
      expect(pending()).toBe(true);
      expect(ack()).toBe(0x31);
      expect(irr(MASTER)).toBe(0x00);
      expect(isr(MASTER)).toBe(0x02);
      expect(pending()).toBe(false);
      outb(MASTER, EOI);
      expect(isr(MASTER)).toBe(0x00);
    });

    it("reads the mask back from the data port and holds masked requests in IRR", () => {
      initPic(0x01, 0x08);
      expect(inb(0x21)).toBe(0x08);
      raise(3);
      expect(irr(MASTER)).toBe(0x08);
      expect(pending()).toBe(false);
      outb(0x21, 0x00);
      expect(pending()).toBe(true);
      expect(ack()).toBe(0x33);
    });

    it("ICW1 clears the mask and pending requests; the data port then takes ICW2", () => {
      initPic(0x01, 0xf0);
      pulse(5);
      outb(0x20, 0x11);
      expect(inb(0x21)).toBe(0x00);
      outb(0x21, 0x68);
      outb(0x21, 0x04);
      outb(0x21, 0x01);
      expect(irr(MASTER)).toBe(0x00);
      pulse(5);
      expect(ack()).toBe(0x6d);
    });

    it("skips ICW3 in single mode and ICW4 when IC4 is clear", () => {
      outb(0x20, 0x12); // single, no ICW4
      outb(0x21, 0x40); // ICW2
      outb(0x21, 0xfe); // already OCW1
      expect(inb(0x21)).toBe(0xfe);
      pulse(0);
      expect(ack()).toBe(0x40);
    });
  });

  describe("priorities and end of interrupt", () => {
    it("serves the lowest-numbered line first and lets only higher ones nest", () => {
      initPic();
      raise(5);
      raise(3);
      expect(ack()).toBe(0x33);
      expect(pending()).toBe(false); // IRQ5 waits behind IRQ3 in service
      raise(1);
      expect(pending()).toBe(true); // IRQ1 outranks it
      expect(ack()).toBe(0x31);
      expect(isr(MASTER)).toBe(0x0a);
      outb(MASTER, EOI); // non-specific: the highest in service, IRQ1
      expect(isr(MASTER)).toBe(0x08);
      outb(MASTER, EOI);
      expect(ack()).toBe(0x35);
    });

    it("a specific EOI ends only the named level", () => {
      initPic();
      raise(4);
      expect(ack()).toBe(0x34);
      raise(2 + 7); // IRQ9 through the cascade, higher than IRQ4
      expect(ack()).toBe(0x39);
      expect(isr(MASTER)).toBe(0x14);
      outb(MASTER, SPECIFIC_EOI | 4);
      expect(isr(MASTER)).toBe(0x04);
    });

    it("set priority (OCW2) rotates which line ranks first", () => {
      initPic();
      outb(MASTER, 0xc0 | 4); // IR4 lowest, so IR5 highest
      raise(3);
      raise(6);
      expect(ack()).toBe(0x36);
    });

    it("rotate on non-specific EOI makes the ended level the lowest", () => {
      initPic();
      raise(0);
      raise(1);
      expect(ack()).toBe(0x30);
      outb(MASTER, 0xa0); // rotate on non-specific EOI: IR0 becomes lowest
      lower(0);
      raise(0);
      expect(ack()).toBe(0x31); // IR1 now outranks IR0
    });

    it("auto-EOI (ICW4 bit 1) leaves nothing in service", () => {
      initPic(0x03);
      raise(6);
      expect(ack()).toBe(0x36);
      expect(isr(MASTER)).toBe(0x00);
    });

    it("a request that vanished before the acknowledge yields the spurious IR7 vector", () => {
      initPic();
      raise(4);
      expect(pending()).toBe(true);
      outb(0x21, 0x10); // masked between the check and INTA
      expect(ack()).toBe(0x37);
      expect(isr(MASTER)).toBe(0x00);
    });

    it("the poll command acknowledges and reports the level on the next read", () => {
      initPic();
      raise(5);
      outb(MASTER, 0x0c); // OCW3 with P=1
      expect(inb(MASTER)).toBe(0x85);
      expect(isr(MASTER)).toBe(0x20);
      outb(MASTER, 0x0c);
      expect(inb(MASTER)).toBe(0x00);
    });
  });

  describe("edge triggering", () => {
    it("a line held high requests once; it must fall and rise again", () => {
      initPic();
      raise(1);
      expect(ack()).toBe(0x31);
      outb(MASTER, EOI);
      raise(1);
      expect(pending()).toBe(false);
      lower(1);
      raise(1);
      expect(ack()).toBe(0x31);
    });

    it("latches a pulse that arrives while the line is in service, for after the EOI", () => {
      initPic();
      pulse(0);
      expect(ack()).toBe(0x30);
      pulse(0);
      expect(pending()).toBe(false);
      expect(irr(MASTER)).toBe(0x01);
      outb(MASTER, EOI);
      expect(ack()).toBe(0x30);
    });
  });

  describe("cascade", () => {
    it("delivers IRQ 8-15 with the slave's vector, in service on both chips", () => {
      initPic();
      raise(10);
      expect(irr(SLAVE)).toBe(0x04);
      expect(irr(MASTER)).toBe(0x04);
      expect(ack()).toBe(0x3a);
      expect(isr(SLAVE)).toBe(0x04);
      expect(isr(MASTER)).toBe(0x04);
      expect(irr(MASTER)).toBe(0x00);
      outb(SLAVE, EOI);
      outb(MASTER, EOI);
      expect(isr(SLAVE) | isr(MASTER)).toBe(0);
    });

    it("masking IR2 on the master holds back every slave line", () => {
      initPic(0x01, 0x04);
      raise(14);
      expect(pending()).toBe(false);
      outb(0x21, 0x00);
      expect(ack()).toBe(0x3e);
    });

    it("the slave orders its own lines, the master ranks them all at IR2", () => {
      initPic();
      raise(12);
      raise(9);
      raise(3);
      expect(ack()).toBe(0x39); // IR2 beats IR3, and IRQ9 beats IRQ12 on the slave
      outb(SLAVE, EOI);
      outb(MASTER, EOI);
      expect(ack()).toBe(0x3c);
      outb(SLAVE, EOI);
      outb(MASTER, EOI);
      expect(ack()).toBe(0x33);
    });

    it("sends a device's IRQ2 to IRQ9, as the AT wired it", () => {
      initPic();
      raise(2);
      expect(ack()).toBe(0x39);
    });
  });

  describe("ELCR level triggering", () => {
    it("keeps IRQ 0, 1, 2, 8 and 13 edge-triggered", () => {
      outb(0x4d0, 0xff);
      outb(0x4d1, 0xff);
      expect(inb(0x4d0)).toBe(0xf8);
      expect(inb(0x4d1)).toBe(0xde);
    });

    it("a level-triggered line requests again after EOI while it stays high, and not once it drops", () => {
      initPic();
      outb(0x4d1, 0x04); // IRQ10 level-triggered
      raise(10);
      expect(ack()).toBe(0x3a);
      outb(SLAVE, EOI);
      outb(MASTER, EOI);
      expect(pending()).toBe(true);
      expect(ack()).toBe(0x3a);
      lower(10);
      outb(SLAVE, EOI);
      outb(MASTER, EOI);
      expect(pending()).toBe(false);
      expect(irr(SLAVE)).toBe(0x00);
    });
  });
});

// The 8254 PIT (vmm/devices/timers/pit8254.ts) and port 61h, programmed through
// ports 0x40-0x43 as Linux and PC firmware do (Intel 8254 datasheet), with
// time advanced by the test the way the VMM will.
describe("8254 PIT", () => {
  const tick = (clocks: number) => e.pitAdvanceClocks(clocks);
  const irq0s = () => e.irqRises(0);
  const NEVER = 2n ** 64n - 1n;

  // Control words: counter << 6 | access << 4 | mode << 1.
  const control = (counter: number, access: number, mode: number) => (counter << 6) | (access << 4) | (mode << 1);
  const LSB = 1, MSB = 2, LSB_MSB = 3;

  function program(counter: number, mode: number, count: number): void {
    outb(0x43, control(counter, LSB_MSB, mode));
    outb(0x40 + counter, count & 0xff);
    outb(0x40 + counter, count >> 8);
  }
  function readCount(counter: number): number {
    outb(0x43, counter << 6); // counter latch command
    const lo = inb(0x40 + counter);
    return lo | (inb(0x40 + counter) << 8);
  }
  // Read-back of one counter's status: OUT in bit 7, null count in bit 6.
  function status(counter: number): number {
    outb(0x43, 0xe0 | (2 << counter));
    return inb(0x40 + counter);
  }
  const out = (counter: number) => (status(counter) & 0x80) !== 0;

  describe("counter 0 and IRQ0", () => {
    it("mode 2 raises IRQ0 once every period", () => {
      program(0, 2, 1193);
      tick(1192);
      expect(irq0s()).toBe(0);
      tick(1);
      expect(irq0s()).toBe(1);
      for (let i = 0; i < 100; i++) tick(119); // 11900 more clocks: 10 periods end
      expect(irq0s()).toBe(10);
    });

    it("delivers IRQ0 to the guest's vector through the 8259A", () => {
      initPic(0x01, 0xfe); // only IRQ0
      program(0, 2, 100);
      tick(99);
      expect(e.picHasInterrupt()).toBe(0);
      tick(1);
      expect(e.picAcknowledge()).toBe(0x30);
    });

    it("reports every period one advance covered, raising a single pulse for them", () => {
      program(0, 2, 1000);
      expect(tick(5500)).toBe(5);
      expect(irq0s()).toBe(1);
    });

    it("mode 0 interrupts once, at terminal count", () => {
      program(0, 0, 500);
      expect(out(0)).toBe(false);
      tick(499);
      expect(out(0)).toBe(false);
      tick(1);
      expect(out(0)).toBe(true);
      expect(irq0s()).toBe(1);
      tick(100_000);
      expect(irq0s()).toBe(1);
    });

    it("mode 0 restarts on a new count, as Linux's one-shot timer uses it", () => {
      program(0, 0, 300);
      tick(300);
      program(0, 0, 200);
      expect(out(0)).toBe(false);
      tick(200);
      expect(irq0s()).toBe(2);
    });

    it("counts the clocks until IRQ0 for the VMM to wait on", () => {
      expect(e.pitClocksUntilIrq()).toBe(NEVER);
      program(0, 2, 1000);
      tick(300);
      expect(e.pitClocksUntilIrq()).toBe(700n);
      tick(700);
      expect(e.pitClocksUntilIrq()).toBe(1000n);
      program(0, 0, 50);
      tick(60);
      expect(e.pitClocksUntilIrq()).toBe(NEVER);
    });

    it("a zero count means 65536", () => {
      program(0, 2, 0);
      tick(65535);
      expect(irq0s()).toBe(0);
      tick(1);
      expect(irq0s()).toBe(1);
    });
  });

  describe("clock", () => {
    it("converts nanoseconds to 1.193182 MHz clocks exactly, however time is sliced", () => {
      e.pitAdvance(1_000_000_000n);
      expect(e.pitClocks()).toBe(1_193_182n);
      for (let i = 0; i < 1000; i++) e.pitAdvance(1_000_000n);
      expect(e.pitClocks()).toBe(2n * 1_193_182n);
      for (let i = 0; i < 1000; i++) e.pitAdvance(838n); // less than a clock each
      expect(e.pitClocks()).toBe(2n * 1_193_182n + (838_000n * 1_193_182n) / 1_000_000_000n);
    });

    it("takes steps of days without overflowing", () => {
      e.pitAdvance(86_400n * 1_000_000_000n);
      expect(e.pitClocks()).toBe(86_400n * 1_193_182n);
    });
  });

  describe("reads", () => {
    it("the counter latch command freezes the count until both bytes are read", () => {
      program(0, 2, 1000);
      tick(250);
      outb(0x43, 0x00);
      tick(100);
      expect(inb(0x40)).toBe(750 & 0xff);
      tick(100);
      expect(inb(0x40)).toBe(750 >> 8);
      expect(readCount(0)).toBe(550);
    });

    it("mode 2 counts n..1 and reloads; mode 3 counts down by two each half", () => {
      program(0, 2, 10);
      tick(9);
      expect(readCount(0)).toBe(1);
      tick(1);
      expect(readCount(0)).toBe(10);
      program(1, 3, 10);
      tick(2);
      expect(readCount(1)).toBe(6);
    });

    it("mode 0 wraps past zero and keeps counting", () => {
      program(0, 0, 10);
      tick(12);
      expect(readCount(0)).toBe(0xfffe);
    });

    it("LSB-only and MSB-only access read and write one byte", () => {
      outb(0x43, control(1, LSB, 2));
      outb(0x41, 200);
      tick(50);
      expect(inb(0x41)).toBe(150);
      outb(0x43, control(1, MSB, 2));
      outb(0x41, 0x12); // count 0x1200
      tick(0x100);
      expect(inb(0x41)).toBe(0x11);
    });

    it("read-back returns status (OUT, null count, control bits) then the count", () => {
      outb(0x43, control(2, LSB_MSB, 3) | 1); // BCD bit only shows in the status
      expect(status(2)).toBe(0x80 | 0x40 | 0x37); // OUT high in mode 3; null count until a count is written
      outb(0x42, 100);
      outb(0x42, 0);
      outb(0x61, 0x01); // gate counter 2
      outb(0x43, 0xc0 | (1 << 3)); // latch count and status of counter 2
      expect(inb(0x42)).toBe(0x80 | 0x37);
      expect(inb(0x42) | (inb(0x42) << 8)).toBe(100);
    });
  });

  describe("counter 2 and port 61h", () => {
    it("a mode 3 square wave appears in bit 5 while bit 0 gates it", () => {
      outb(0x61, 0x01);
      program(2, 3, 10);
      const wave: number[] = [];
      for (let i = 0; i < 12; i++) {
        wave.push((inb(0x61) >> 5) & 1);
        tick(1);
      }
      expect(wave).toEqual([1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1]);
      tick(3); // 15 clocks: low half
      outb(0x61, 0x00);
      expect(inb(0x61) & 0x20).toBe(0x20); // gate low forces OUT high
      tick(1000);
      outb(0x61, 0x01); // the rising gate restarts the period
      expect(readCount(2)).toBe(10);
    });

    it("Linux's TSC calibration: gate on, mode 0, watch the MSB fall and OUT2 rise", () => {
      outb(0x61, (inb(0x61) & ~0x02) | 0x01);
      outb(0x43, 0xb0); // counter 2, LSB then MSB, mode 0
      outb(0x42, 0xff);
      outb(0x42, 0xff);
      expect(inb(0x61) & 0x20).toBe(0);
      tick(0x1000);
      inb(0x42);
      expect(inb(0x42)).toBe(0xef); // 0xffff - 0x1000
      tick(0xffff - 0x1000);
      expect(inb(0x61) & 0x20).toBe(0x20);
    });

    it("mode 0 stops counting while the gate is low", () => {
      program(2, 0, 100);
      expect(readCount(2)).toBe(100); // gate still low from reset
      outb(0x61, 0x01);
      tick(30);
      outb(0x61, 0x00);
      tick(500);
      expect(readCount(2)).toBe(70);
    });

    it("keeps bits 0-3 as written and toggles bit 4 with each refresh", () => {
      outb(0x61, 0xfe);
      expect(inb(0x61) & 0x0f).toBe(0x0e);
      const before = inb(0x61) & 0x10;
      tick(18);
      expect(inb(0x61) & 0x10).toBe(before ^ 0x10);
    });

    it("mode 1 waits for a gate edge, then holds OUT low for the count", () => {
      program(2, 1, 5);
      tick(10);
      expect(inb(0x61) & 0x20).toBe(0x20);
      outb(0x61, 0x01);
      tick(4);
      expect(inb(0x61) & 0x20).toBe(0);
      tick(1);
      expect(inb(0x61) & 0x20).toBe(0x20);
    });
  });
});

// The 16550A UART (vmm/devices/io/uart16550.ts) at COM1, driven through ports
// 0x3F8-0x3FF as Linux's 8250 driver and firmware do (PC16550D datasheet).
describe("16550A UART", () => {
  const COM1 = 0x3f8;
  const RBR = COM1, THR = COM1, DLL = COM1, IER = COM1 + 1, DLM = COM1 + 1, IIR = COM1 + 2, FCR = COM1 + 2;
  const LCR = COM1 + 3, MCR = COM1 + 4, LSR = COM1 + 5, MSR = COM1 + 6, SCR = COM1 + 7;
  const feed = (text: string) => {
    for (const c of text) e.uartFeed(c.charCodeAt(0));
  };
  const sent = () => e.__getString(e.serialText() >>> 0);
  const irq4High = () => e.irqLevel(4) !== 0;

  const IER_RDA = 0x01, IER_THRE = 0x02, IER_RLS = 0x04;
  const MCR_OUT2 = 0x08, MCR_LOOP = 0x10;
  const IIR_NONE = 0x01, IIR_RLS = 0x06, IIR_RDA = 0x04, IIR_TIMEOUT = 0x0c, IIR_THRE = 0x02, IIR_MS = 0x00;

  describe("registers", () => {
    it("comes out of reset with THR empty, nothing received, no interrupt", () => {
      expect(inb(LSR)).toBe(0x60);
      expect(inb(IIR)).toBe(IIR_NONE);
      expect([inb(IER), inb(LCR), inb(MCR)]).toEqual([0, 0, 0]);
      expect(inb(MSR)).toBe(0xb0); // CTS, DSR, DCD: a terminal is there
    });

    it("DLAB puts the divisor latch over RBR/THR and IER", () => {
      outb(IER, 0x05);
      outb(LCR, 0x83);
      outb(DLL, 0x01); // 115200 baud
      outb(DLM, 0x00);
      expect(inb(DLL)).toBe(0x01);
      expect(inb(DLM)).toBe(0x00);
      outb(LCR, 0x03);
      expect(inb(IER)).toBe(0x05);
      expect(sent()).toBe(""); // the divisor writes sent nothing
    });

    it("keeps the scratch register", () => {
      outb(SCR, 0xa5);
      expect(inb(SCR)).toBe(0xa5);
    });

    it("IER keeps only its four defined bits", () => {
      outb(IER, 0xff);
      expect(inb(IER)).toBe(0x0f);
    });
  });

  // The exit fast path's accesses: a read quick only while it changes
  // nothing (no byte taken, no interrupt cleared) and is not LSR, whose
  // reads move the host console along; writes to the registers that only
  // hold a value.
  describe("quick accesses", () => {
    const quick = (port: number) => Number(quickRead(port, 1));

    it("reads the registers that only hold a value quickly, and never the line status", () => {
      expect(quick(LSR)).toBe(-1);
      expect(quick(MSR)).toBe(0xb0);
      outb(IER, 0x05);
      outb(LCR, 0x83);
      outb(DLL, 0x01);
      expect([quick(DLL), quick(DLM), quick(LCR)]).toEqual([0x01, 0x00, 0x83]);
      outb(LCR, 0x03);
      expect([quick(IER), quick(LCR), quick(MCR), quick(SCR)]).toEqual([0x05, 0x03, 0x00, 0x00]);
      expect(sent()).toBe("");
    });

    it("declines a read of RBR with a byte to take, and of IIR while it reports THRE", () => {
      expect(quick(RBR)).toBe(0);
      feed("A");
      expect(quick(RBR)).toBe(-1);
      expect(inb(RBR)).toBe(0x41);
      outb(MCR, MCR_OUT2);
      outb(IER, IER_THRE);
      expect(quick(IIR)).toBe(-1);
      expect(inb(IIR)).toBe(IIR_THRE);
      expect(quick(IIR)).toBe(IIR_NONE);
      expect(irq4High()).toBe(false);
    });

    it("writes the scratch register, LCR and the divisor latch quickly, and nothing that sends or interrupts", () => {
      expect(e.ioQuickWrite(SCR, 1, 0x5a)).toBe(1);
      expect(inb(SCR)).toBe(0x5a);
      expect(e.ioQuickWrite(LCR, 1, 0x83)).toBe(1);
      expect(e.ioQuickWrite(DLL, 1, 0x01)).toBe(1);
      expect(inb(DLL)).toBe(0x01);
      expect(e.ioQuickWrite(LCR, 1, 0x03)).toBe(1);
      expect(e.ioQuickWrite(THR, 1, 0x41)).toBe(0);
      expect(e.ioQuickWrite(IER, 1, IER_THRE)).toBe(0);
      expect(e.ioQuickWrite(MCR, 1, MCR_OUT2)).toBe(0);
      expect(e.ioQuickWrite(FCR, 1, 0x07)).toBe(0);
      expect(sent()).toBe("");
    });
  });

  describe("transmit and receive", () => {
    it("sends each byte written to THR to the VMM's sink", () => {
      outb(LCR, 0x03);
      for (const c of "hello\n") outb(THR, c.charCodeAt(0));
      expect(sent()).toBe("hello\n");
      expect(inb(LSR) & 0x60).toBe(0x60);
    });

    it("shows THR and the transmitter busy while the VMM's sink waits, and raises THRE when it is ready", () => {
      outb(LCR, 0x03);
      outb(MCR, MCR_OUT2);
      outb(IER, IER_THRE);
      expect(inb(IIR)).toBe(IIR_THRE); // reading IIR takes the THRE interrupt
      e.uartSinkBusy(1);
      outb(THR, 0x41);
      expect(inb(LSR) & 0x60).toBe(0);
      expect(inb(IIR)).toBe(IIR_NONE);
      expect(irq4High()).toBe(false);
      e.uartSinkBusy(0);
      expect(inb(LSR) & 0x60).toBe(0x60);
      expect(irq4High()).toBe(true);
      expect(inb(IIR)).toBe(IIR_THRE);
      expect(sent()).toBe("A");
    });

    it("receives fed bytes: LSR.DR until RBR has been read empty", () => {
      feed("A");
      expect(inb(LSR) & 0x01).toBe(0x01);
      expect(inb(RBR)).toBe(0x41);
      expect(inb(LSR) & 0x01).toBe(0x00);
    });

    it("without FIFOs holds one byte; the next overruns it and sets OE until LSR is read", () => {
      feed("a");
      expect(e.uartCanReceive()).toBe(0);
      feed("b");
      expect(inb(LSR)).toBe(0x63);
      expect(inb(LSR)).toBe(0x61);
      expect(inb(RBR)).toBe(0x62);
    });

    it("with FIFOs holds 16 bytes in order and overruns on the 17th", () => {
      outb(FCR, 0x07);
      expect(inb(IIR) & 0xc0).toBe(0xc0);
      feed("0123456789abcdef");
      expect(e.uartCanReceive()).toBe(0);
      feed("X");
      expect(inb(LSR) & 0x02).toBe(0x02);
      let got = "";
      while (inb(LSR) & 0x01) got += String.fromCharCode(inb(RBR));
      expect(got).toBe("0123456789abcdef");
    });

    it("FCR bit 1 empties the receive FIFO; turning FIFOs off empties it too", () => {
      outb(FCR, 0x01);
      feed("abc");
      outb(FCR, 0x03);
      expect(inb(LSR) & 0x01).toBe(0);
      feed("abc");
      outb(FCR, 0x00);
      expect(inb(LSR) & 0x01).toBe(0);
      expect(inb(IIR) & 0xc0).toBe(0);
    });
  });

  describe("interrupt identification", () => {
    it("ranks line status over received data over THR empty", () => {
      outb(IER, IER_RDA | IER_THRE | IER_RLS);
      expect(inb(IIR)).toBe(IIR_THRE); // enabling it with THR empty raises it
      expect(inb(IIR)).toBe(IIR_NONE); // and reading IIR cleared it
      outb(IER, 0);
      outb(IER, IER_RDA | IER_THRE | IER_RLS);
      feed("xy"); // overrun without FIFOs
      expect(inb(IIR)).toBe(IIR_RLS);
      inb(LSR);
      expect(inb(IIR)).toBe(IIR_RDA);
      inb(RBR);
      expect(inb(IIR)).toBe(IIR_THRE);
      expect(inb(IIR)).toBe(IIR_NONE);
    });

    it("re-raises THRE after each byte written, as Linux's THRE test expects", () => {
      outb(IER, IER_THRE);
      expect(inb(IIR)).toBe(IIR_THRE);
      outb(IER, 0);
      outb(IER, IER_THRE);
      expect(inb(IIR)).toBe(IIR_THRE);
      outb(THR, 0x2e);
      expect(inb(IIR)).toBe(IIR_THRE);
    });

    it("with FIFOs reports data at the trigger level, and a timeout below it", () => {
      outb(FCR, 0x81); // trigger level 8
      outb(IER, IER_RDA);
      feed("abc");
      expect(inb(IIR)).toBe(0xc0 | IIR_TIMEOUT);
      feed("defgh");
      expect(inb(IIR)).toBe(0xc0 | IIR_RDA);
      for (let i = 0; i < 8; i++) inb(RBR);
      expect(inb(IIR)).toBe(0xc0 | IIR_NONE);
    });

    it("reports modem status changes when enabled, cleared by reading MSR", () => {
      outb(IER, 0x08);
      expect(inb(IIR)).toBe(IIR_NONE);
      outb(MCR, MCR_LOOP); // the inputs now follow the outputs: all drop
      expect(inb(IIR)).toBe(IIR_MS);
      expect(inb(MSR)).toBe(0x0b); // DCTS, DDSR, DDCD
      expect(inb(IIR)).toBe(IIR_NONE);
    });
  });

  describe("IRQ line", () => {
    it("raises IRQ4 only when IER enables the interrupt and MCR.OUT2 gates it on", () => {
      feed("a");
      expect(e.irqRises(4)).toBe(0);
      outb(IER, IER_RDA);
      expect(e.irqRises(4)).toBe(0); // OUT2 still off
      outb(MCR, MCR_OUT2 | 0x03);
      expect(irq4High()).toBe(true);
      inb(RBR);
      expect(irq4High()).toBe(false);
      expect(e.irqRises(4)).toBe(1);
    });

    it("reaches the guest's vector for IRQ4 through the 8259A", () => {
      initPic(0x01, 0xef); // only IRQ4
      outb(MCR, MCR_OUT2);
      outb(IER, IER_RDA);
      feed("z");
      expect(e.picAcknowledge()).toBe(0x34);
    });

    it("edges again for each transmit batch: the IIR read drops the line, the THR write raises it", () => {
      outb(MCR, MCR_OUT2);
      outb(IER, IER_THRE);
      expect(e.irqRises(4)).toBe(1);
      expect(inb(IIR)).toBe(IIR_THRE);
      expect(irq4High()).toBe(false);
      outb(THR, 0x41);
      expect(e.irqRises(4)).toBe(2);
      outb(IER, 0); // the driver stops transmitting
      expect(irq4High()).toBe(false);
    });
  });

  describe("loopback", () => {
    it("routes RTS and OUT2 to CTS and DCD, as Linux's probe checks (0x90)", () => {
      outb(MCR, MCR_LOOP | 0x0a);
      expect(inb(MSR) & 0xf0).toBe(0x90);
      outb(MCR, MCR_LOOP | 0x05); // DTR and OUT1: DSR and RI
      expect(inb(MSR) & 0xf0).toBe(0x60);
    });

    it("sets TERI when RI goes off", () => {
      outb(MCR, MCR_LOOP | 0x04);
      inb(MSR);
      outb(MCR, MCR_LOOP);
      expect(inb(MSR) & 0x04).toBe(0x04);
    });

    it("turns transmitted bytes back into received ones, sending nothing out", () => {
      outb(MCR, MCR_LOOP);
      outb(THR, 0x5a);
      expect(sent()).toBe("");
      expect(inb(LSR) & 0x01).toBe(0x01);
      expect(inb(RBR)).toBe(0x5a);
    });

    it("disconnects the receiver's input and the IRQ line", () => {
      outb(MCR, MCR_LOOP | MCR_OUT2);
      expect(e.uartCanReceive()).toBe(0);
      feed("q");
      expect(inb(LSR) & 0x01).toBe(0);
      outb(IER, IER_RDA | IER_THRE);
      outb(THR, 0x31);
      expect(inb(IIR)).toBe(IIR_RDA);
      expect(e.irqRises(4)).toBe(0);
      outb(MCR, MCR_OUT2); // back to normal: the pending interrupt reaches IRQ4
      expect(irq4High()).toBe(true);
    });
  });
});

// The MC146818 RTC and CMOS RAM (vmm/devices/timers/cmos.ts) through ports
// 0x70/0x71, checked against JavaScript's own UTC calendar.
describe("MC146818 RTC and CMOS", () => {
  const cmos = (index: number) => {
    e.ioWrite(0x70, 1, index);
    return e.ioRead(0x71, 1);
  };
  const setCmos = (index: number, v: number) => {
    e.ioWrite(0x70, 1, index);
    e.ioWrite(0x71, 1, v);
  };
  const setTime = (ms: number, nanoseconds = 0) => e.cmosSetTime(BigInt(Math.floor(ms / 1000)), nanoseconds);
  const MiB = 1024n * 1024n, GiB = 1024n * MiB;

  const SEC = 0x00, MIN = 0x02, HOUR = 0x04, WEEKDAY = 0x06, DAY = 0x07, MONTH = 0x08, YEAR = 0x09;
  const A = 0x0a, B = 0x0b, C = 0x0c, D = 0x0d, CENTURY = 0x32;
  const clock = () => [SEC, MIN, HOUR, WEEKDAY, DAY, MONTH, YEAR, CENTURY].map(cmos);

  describe("RTC time", () => {
    it("shows the VMM's time in BCD, 24-hour, by default", () => {
      setTime(Date.UTC(2024, 1, 29, 13, 45, 56)); // a Thursday
      expect(cmos(B)).toBe(0x02);
      expect(clock()).toEqual([0x56, 0x45, 0x13, 5, 0x29, 0x02, 0x24, 0x20]);
    });

    it("in binary when register B's DM bit is set", () => {
      setTime(Date.UTC(2024, 1, 29, 13, 45, 56));
      setCmos(B, 0x06);
      expect(clock()).toEqual([56, 45, 13, 5, 29, 2, 24, 20]);
    });

    it("in 12-hour mode marks PM in bit 7 and writes midnight and noon as 12", () => {
      setCmos(B, 0x00);
      setTime(Date.UTC(2030, 5, 1, 13, 0, 0));
      expect(cmos(HOUR)).toBe(0x81);
      setTime(Date.UTC(2030, 5, 1, 0, 30, 0));
      expect(cmos(HOUR)).toBe(0x12);
      setTime(Date.UTC(2030, 5, 1, 12, 30, 0));
      expect(cmos(HOUR)).toBe(0x92);
    });

    it("agrees with the Gregorian calendar across centuries, leap days and weekdays", () => {
      setCmos(B, 0x06);
      let ms = Date.UTC(1970, 0, 1);
      for (let i = 0; i < 500; i++) {
        ms += 86_400_000 * 97 + 3_600_123 * 7; // strides that cross leap days and 2000/2100
        setTime(ms);
        const d = new Date(Math.floor(ms / 1000) * 1000);
        expect(clock()).toEqual([
          d.getUTCSeconds(),
          d.getUTCMinutes(),
          d.getUTCHours(),
          d.getUTCDay() + 1,
          d.getUTCDate(),
          d.getUTCMonth() + 1,
          d.getUTCFullYear() % 100,
          Math.floor(d.getUTCFullYear() / 100),
        ]);
      }
    });

    it("follows the VMM's clock", () => {
      setTime(Date.UTC(1999, 11, 31, 23, 59, 59));
      expect(clock()).toEqual([0x59, 0x59, 0x23, 6, 0x31, 0x12, 0x99, 0x19]);
      setTime(Date.UTC(2000, 0, 1, 0, 0, 0));
      expect(clock()).toEqual([0x00, 0x00, 0x00, 7, 0x01, 0x01, 0x00, 0x20]);
    });

    it("keeps the time a guest sets under SET, running on with the host clock", () => {
      const host = Date.UTC(2024, 0, 1, 0, 0, 0);
      setTime(host);
      setCmos(B, 0x82); // SET: updates stop
      setTime(host + 5_000);
      expect(cmos(SEC)).toBe(0x00); // frozen while SET
      setCmos(YEAR, 0x30);
      setCmos(MONTH, 0x07);
      setCmos(DAY, 0x04);
      setCmos(HOUR, 0x12);
      setCmos(MIN, 0x00);
      setCmos(SEC, 0x00);
      setCmos(B, 0x02);
      expect(clock()).toEqual([0x00, 0x00, 0x12, 5, 0x04, 0x07, 0x30, 0x20]);
      setTime(host + 5_000 + 90_000);
      expect([cmos(MIN), cmos(SEC)]).toEqual([0x01, 0x30]);
    });

    it("takes a single field written without SET", () => {
      setTime(Date.UTC(2024, 4, 10, 8, 15, 0));
      setCmos(MIN, 0x40);
      expect(clock()).toEqual([0x00, 0x40, 0x08, 6, 0x10, 0x05, 0x24, 0x20]);
    });

    it("sets UIP from 244 us before the update cycle to its end: 73 ticks of 32.768 kHz", () => {
      setTime(Date.UTC(2024, 0, 1), 500_000_000);
      expect(cmos(A) & 0x80).toBe(0);
      setTime(Date.UTC(2024, 0, 1), 997_772_216); // 32694.99 ticks
      expect(cmos(A) & 0x80).toBe(0);
      setTime(Date.UTC(2024, 0, 1), 997_772_217); // 32695
      expect(cmos(A)).toBe(0x80 | 0x26);
      setCmos(B, 0x82);
      expect(cmos(A) & 0x80).toBe(0); // no updates under SET
    });
  });

  describe("CMOS registers and RAM", () => {
    it("register D reports valid RAM and time; C and D ignore writes; A's UIP is read-only", () => {
      expect(cmos(D)).toBe(0x80);
      expect(cmos(C)).toBe(0x00);
      setCmos(D, 0x00);
      setCmos(C, 0xff);
      expect([cmos(C), cmos(D)]).toEqual([0x00, 0x80]);
      setCmos(A, 0xa6);
      expect(cmos(A)).toBe(0x26);
    });

    it("keeps plain RAM bytes and records the NMI mask bit of the index", () => {
      setCmos(0x40, 0x5a);
      expect(e.cmosNmiMasked()).toBe(0);
      e.ioWrite(0x70, 1, 0x80 | 0x40);
      expect(e.cmosNmiMasked()).toBe(1);
      expect(e.ioRead(0x71, 1)).toBe(0x5a);
      expect(e.ioRead(0x70, 1)).toBe(0xff);
    });

    it("keeps RAM bytes 0Eh-7Fh across a reset of the machine, as its battery does; not the alarms", () => {
      setCmos(0x0e, 0x11);
      setCmos(0x50, 0x5a);
      setCmos(0x7f, 0xa5);
      setCmos(0x01, 0x30); // the seconds alarm
      expect([0x0e, 0x50, 0x7f, 0x01].map((i) => e.cmosAfterReset(i))).toEqual([0x11, 0x5a, 0xa5, 0x00]);
    });

    it("encodes the memory size where SeaBIOS reads it", () => {
      e.cmosSetMemory(3n * GiB, 5n * GiB);
      const word = (at: number) => cmos(at) | (cmos(at + 1) << 8);
      expect(word(0x15)).toBe(640);
      expect(word(0x17)).toBe(0xffff); // capped
      expect(word(0x30)).toBe(0xffff);
      expect(word(0x34)).toBe(Number((3n * GiB - 16n * MiB) / (64n * 1024n)));
      expect(word(0x5b) | (cmos(0x5d) << 16)).toBe(Number((5n * GiB) / (64n * 1024n)));
    });

    it("encodes a small machine exactly", () => {
      e.cmosSetMemory(48n * MiB, 0n);
      const word = (at: number) => cmos(at) | (cmos(at + 1) << 8);
      expect(word(0x17)).toBe(47 * 1024);
      expect(word(0x30)).toBe(47 * 1024);
      expect(word(0x34)).toBe(32 * 16);
      expect([cmos(0x5b), cmos(0x5c), cmos(0x5d)]).toEqual([0, 0, 0]);
    });
  });

  // The divider chain on the TSC (vmm/platform/pc/pcinterrupts.ts), one
  // tick a nanosecond: register C's flags, IRQ 8 through the 8259 pair
  // (vector 0x38) and when PcInterrupts says it comes.
  describe("RTC update cycle and interrupts", () => {
    const GHZ = 1_000_000n, START = 5_000_000n, NEVER = 0xffff_ffff_ffff_ffffn;
    const NOON = Date.UTC(2024, 0, 1, 12, 0, 0);
    const PF = 0x40, AF = 0x20, UF = 0x10, IRQF = 0x80;
    const PIE = 0x40, AIE = 0x20, UIE = 0x10, SET = 0x80, H24 = 0x02;
    const at = (ns: bigint) => e.tscCatchUp(START + ns, GHZ);
    const irq8 = () => e.irqLevel(8) !== 0;
    const next = () => { // in ns from the start
      const tsc = e.tscRtcAt(GHZ);
      return tsc === NEVER ? NEVER : tsc - START;
    };
    // Time zero at `ns` into a second of NOON, register C read empty.
    const start = (ns = 0) => {
      setTime(NOON, ns);
      at(0n);
      cmos(C);
    };
    // The 8259 pair with only IRQ 2 (the cascade) and IRQ 8 unmasked.
    const initPic = () => {
      for (const [port, v] of [[0x20, 0x11], [0x21, 0x30], [0x21, 0x04], [0x21, 0x01], [0x21, 0xfb]]) outb(port, v);
      for (const [port, v] of [[0xa0, 0x11], [0xa1, 0x38], [0xa1, 0x02], [0xa1, 0x01], [0xa1, 0xfe]]) outb(port, v);
    };

    it("ends an update cycle each second: UF as the seconds change and UIP falls, once a second", () => {
      start();
      at(997_772_216n);
      expect([cmos(A) & 0x80, cmos(C) & UF, cmos(SEC)]).toEqual([0, 0, 0x00]);
      at(997_772_217n); // 2228 us before the second: the cycle is on its way
      expect([cmos(A) & 0x80, cmos(C) & UF, cmos(SEC)]).toEqual([0x80, 0, 0x00]);
      at(999_999_999n);
      expect([cmos(A) & 0x80, cmos(C) & UF, cmos(SEC)]).toEqual([0x80, 0, 0x00]);
      at(1_000_000_000n);
      expect([cmos(A) & 0x80, cmos(C) & UF, cmos(SEC)]).toEqual([0, UF, 0x01]);
      // In steps of 100 ms for ten seconds: UF exactly when the seconds register has moved.
      let ufs = 0, seconds = 1;
      for (let ms = 1100n; ms <= 11_000n; ms += 100n) {
        at(ms * 1_000_000n);
        const c = cmos(C), sec = cmos(SEC);
        expect((c & UF) !== 0).toBe(sec !== seconds);
        if (c & UF) ufs++;
        seconds = sec;
      }
      expect([ufs, seconds]).toEqual([10, 0x11]);
    });

    it("raises IRQ 8 for UF with UIE, on time; reading C returns the flags with IRQF, clears them, drops it", () => {
      initPic();
      start(250_000_000);
      setCmos(B, UIE | H24);
      expect(next()).toBe(750_000_000n);
      expect(e.tscNextEventAt(GHZ)).toBe(START + 750_000_000n); // the PIT has nothing to say
      at(749_999_999n);
      expect([irq8(), e.picHasInterrupt()]).toEqual([false, 0]);
      at(750_000_000n);
      expect([irq8(), e.picHasInterrupt(), e.picAcknowledge()]).toEqual([true, 1, 0x38]);
      expect(next()).toBe(NEVER); // nothing more until C is read
      expect(cmos(C)).toBe(IRQF | PF | UF); // PF too: the 1024 Hz rate runs without PIE
      expect([irq8(), cmos(C)]).toEqual([false, 0]);
      expect(next()).toBe(1_750_000_000n);
    });

    it("has IRQF follow the enables: a pending flag raises IRQ 8 when enabled, and drops it when disabled", () => {
      start();
      at(1_000_000_000n); // UF, with UIE off: no interrupt
      expect(irq8()).toBe(false);
      setCmos(B, UIE | H24);
      expect([irq8(), e.irqRises(8)]).toEqual([true, 1]);
      setCmos(B, H24);
      expect(irq8()).toBe(false);
      expect(cmos(C)).toBe(PF | UF);
    });

    it("sets PF at the rate RS selects, and with PIE interrupts that often", () => {
      initPic();
      start();
      // RS 3 is 8192 Hz: 4 ticks, 122070.3 ns, rounded up to when catching up makes it.
      setCmos(A, 0x23);
      setCmos(B, PIE | H24);
      expect(next()).toBe(122_071n);
      let interrupts = 0;
      for (let t = next(); t <= 1_000_000_000n; t = next()) {
        at(t);
        expect(irq8()).toBe(true);
        expect(cmos(C)).toBe(IRQF | PF | (t === 1_000_000_000n ? UF : 0));
        interrupts++;
      }
      expect(interrupts).toBe(8192);
      // From that second on: RS 1 and 2 are 256 and 128 Hz; RS 6 1024 Hz; RS 15 2 Hz; RS 0 none.
      for (const [rs, ns] of [[1, 3_906_250n], [2, 7_812_500n], [6, 976_563n], [15, 500_000_000n]] as const) {
        setCmos(A, 0x20 | rs);
        expect(next()).toBe(1_000_000_000n + ns);
      }
      setCmos(A, 0x20);
      expect(next()).toBe(NEVER);
    });

    it("costs no interrupt while PIE is off, though PF is set at the rate", () => {
      start();
      setCmos(A, 0x23);
      expect(next()).toBe(NEVER);
      at(100_000n);
      expect([irq8(), cmos(C)]).toEqual([false, 0]);
      at(200_000n);
      expect([irq8(), cmos(C)]).toEqual([false, PF]);
    });

    it("sets AF when the time matches the alarm bytes, 0xC0-0xFF matching anything", () => {
      initPic();
      start();
      setCmos(0x01, 0x30); // seconds alarm :30
      setCmos(0x03, 0xc0); // any minute
      setCmos(0x05, 0x12); // hour 12
      setCmos(B, AIE | H24);
      expect(next()).toBe(1_000_000_000n); // every update is looked at
      const alarms: number[] = [];
      for (let s = 1n; s <= 95n; s++) {
        at(s * 1_000_000_000n);
        if (irq8()) {
          alarms.push(cmos(SEC));
          expect(cmos(C) & (IRQF | AF | UF)).toBe(IRQF | AF | UF);
        } else {
          expect(cmos(C) & AF).toBe(0);
        }
      }
      expect(alarms).toEqual([0x30, 0x30]); // 12:00:30, 12:01:30
      // Hours 11 never match at noon; three don't-cares match every second.
      setCmos(0x05, 0x11);
      at(200_000_000_000n);
      expect(cmos(C) & AF).toBe(0);
      for (const alarm of [0x01, 0x03, 0x05]) setCmos(alarm, 0xff);
      at(201_000_000_000n);
      expect(cmos(C) & AF).toBe(AF);
    });

    it("sets AF for an alarm passed while nobody looked", () => {
      start();
      setCmos(0x01, 0x45);
      setCmos(0x03, 0x59);
      setCmos(0x05, 0x12);
      at(3_599_000_000_000n); // 12:59:59: 12:59:45 has passed
      expect(cmos(C) & (AF | UF)).toBe(AF | UF);
      at(3_601_000_000_000n);
      expect(cmos(C) & (AF | UF)).toBe(UF);
    });

    it("stops updates under SET, which clears UIE: no UF, no UIP, no IRQ 8", () => {
      initPic();
      start();
      setCmos(B, UIE | H24);
      setCmos(B, SET | UIE | H24);
      expect(cmos(B)).toBe(SET | H24);
      setCmos(B, SET | UIE | H24); // UIE sticks while SET stays
      expect(cmos(B)).toBe(SET | UIE | H24);
      expect(next()).toBe(NEVER);
      for (let ms = 500n; ms <= 3000n; ms += 500n) {
        at(ms * 1_000_000n - 1_000n);
        expect([cmos(A) & 0x80, cmos(SEC), irq8()]).toEqual([0, 0x00, false]);
      }
      expect(cmos(C) & UF).toBe(0);
      setCmos(B, UIE | H24); // the clock runs on from here, on the divider's seconds
      expect(next()).toBe(3_000_000_000n);
      at(3_000_000_000n);
      expect([irq8(), cmos(C) & UF, cmos(SEC)]).toEqual([true, UF, 0x01]);
    });

    it("holds the divider in reset (DV 11x), and updates half a second after its release", () => {
      start();
      setCmos(A, 0x66);
      setCmos(B, UIE | H24);
      expect(next()).toBe(NEVER);
      at(2_000_000_000n);
      expect([cmos(C), cmos(SEC)]).toEqual([0, 0x00]);
      setCmos(A, 0x26);
      // The cycle begins 0.5 s later and takes 1984 us: 16449 ticks.
      expect(next()).toBe(2_000_000_000n + 501_983_643n);
      at(2_000_000_000n + 501_983_643n);
      expect([irq8(), cmos(SEC)]).toEqual([true, 0x01]);
    });
  });
});

// PCI configuration mechanism #1 (vmm/devices/pci/configports.ts, the host bridge of
// vmm/devices/pci/hostbridge.ts) through ports
// 0xCF8 and 0xCFC-0xCFF, as a guest's bus scan does it (PCI 3.0, 3.2.2.3.2).
describe("PCI host", () => {
  const ADDRESS = 0xcf8, DATA = 0xcfc;
  const address = (bus: number, dev: number, fn: number, reg: number) =>
    (0x8000_0000 | (bus << 16) | (dev << 11) | (fn << 8) | reg) >>> 0;
  const select = (bus: number, dev: number, fn: number, reg: number) =>
    e.ioWrite(ADDRESS, 4, address(bus, dev, fn, reg));
  const inl = (port: number) => e.ioRead(port, 4) >>> 0;
  const config32 = (bus: number, dev: number, fn: number, reg: number) => {
    select(bus, dev, fn, reg);
    return inl(DATA);
  };
  const write = (reg: number, size: number, offset: number, v: number) => {
    select(0, 0, 0, reg);
    e.ioWrite(DATA + offset, size, v);
  };

  describe("the host bridge at 00:00.0", () => {
    it("identifies as an Intel 82441FX host bridge", () => {
      expect(config32(0, 0, 0, 0x00)).toBe(0x1237_8086);
      expect(config32(0, 0, 0, 0x08)).toBe(0x0600_0002); // class 06/00/00, revision 2
      expect(config32(0, 0, 0, 0x0c)).toBe(0x0000_0000); // header type 0, single function
      expect(config32(0, 0, 0, 0x04) & 0xffff).toBe(0x0006);
    });

    it("answers byte and word reads on every CONFIG_DATA lane", () => {
      select(0, 0, 0, 0x00);
      expect(e.ioRead(0xcfe, 2)).toBe(0x1237);
      expect(e.ioRead(0xcfc, 2)).toBe(0x8086);
      expect(e.ioRead(0xcfd, 1)).toBe(0x80);
      expect(e.ioRead(0xcff, 1)).toBe(0x12);
      select(0, 0, 0, 0x08);
      expect(e.ioRead(0xcfe, 1)).toBe(0x00);
      expect(e.ioRead(0xcff, 1)).toBe(0x06);
    });

    it("ignores writes to its read-only identity and header", () => {
      write(0x00, 4, 0, 0xffff_ffff);
      write(0x08, 4, 0, 0xffff_ffff);
      expect(config32(0, 0, 0, 0x00)).toBe(0x1237_8086);
      expect(config32(0, 0, 0, 0x08)).toBe(0x0600_0002);
    });

    it("has no BARs: sizing writes read back as zero", () => {
      for (let reg = 0x10; reg <= 0x24; reg += 4) {
        write(reg, 4, 0, 0xffff_ffff);
        expect(config32(0, 0, 0, reg)).toBe(0);
      }
    });

    it("takes writes to the command register's defined bits, the cache line size and the interrupt line", () => {
      write(0x04, 2, 0, 0xffff);
      expect(config32(0, 0, 0, 0x04)).toBe(0x0000_0547); // status untouched
      write(0x0c, 1, 0, 0x10);
      write(0x3c, 1, 0, 0x0b);
      write(0x3c, 1, 1, 0x01); // interrupt pin: read-only
      expect(config32(0, 0, 0, 0x0c) & 0xff).toBe(0x10);
      expect(config32(0, 0, 0, 0x3c)).toBe(0x0000_000b);
    });

    it("has no chipset registers past the standard header", () => {
      write(0x58, 4, 0, 0x3333_3333);
      expect(config32(0, 0, 0, 0x58)).toBe(0);
    });
  });

  describe("configuration mechanism #1", () => {
    it("reads all ones from every absent function", () => {
      expect(config32(0, 1, 0, 0)).toBe(0xffff_ffff);
      expect(config32(0, 31, 0, 0)).toBe(0xffff_ffff);
      expect(config32(0, 0, 1, 0)).toBe(0xffff_ffff);
      expect(config32(1, 0, 0, 0)).toBe(0xffff_ffff);
      select(0, 3, 0, 0);
      expect(e.ioRead(0xcfe, 2)).toBe(0xffff);
    });

    it("finds exactly one device in a full scan of bus 0", () => {
      const found: string[] = [];
      for (let dev = 0; dev < 32; dev++) {
        for (let fn = 0; fn < 8; fn++) {
          if ((config32(0, dev, fn, 0) & 0xffff) !== 0xffff) found.push(`${dev}.${fn}`);
        }
      }
      expect(found).toEqual(["0.0"]);
    });

    it("reads CONFIG_ADDRESS back with bits 1-0 and the reserved bits 30-24 as zero", () => {
      e.ioWrite(ADDRESS, 4, 0xff00_0a07);
      expect(inl(ADDRESS)).toBe(0x8000_0a04);
    });

    it("takes only 32-bit accesses to 0xCF8 as CONFIG_ADDRESS", () => {
      select(0, 0, 0, 0x08);
      e.ioWrite(ADDRESS, 1, 0x00);
      e.ioWrite(ADDRESS + 2, 2, 0x0000);
      expect(inl(ADDRESS)).toBe(address(0, 0, 0, 0x08));
      expect(e.ioRead(ADDRESS, 1)).toBe(0xff);
    });

    it("passes CONFIG_DATA through as empty I/O while the enable bit is clear", () => {
      e.ioWrite(ADDRESS, 4, 0x0000_0004); // 00:00.0 register 4, enable bit clear
      expect(inl(DATA)).toBe(0xffff_ffff);
      e.ioWrite(DATA, 2, 0xffff); // would hit the command register if enabled
      expect(config32(0, 0, 0, 0x04) & 0xffff).toBe(0x0006);
    });
  });

  // The exit fast path latches the address and reads configuration space
  // itself; writes to CONFIG_DATA and the reset control byte are declined.
  it("answers the address latch and configuration reads quickly", () => {
    expect(e.ioQuickWrite(ADDRESS, 4, address(0, 0, 0, 0x08))).toBe(1);
    expect(quickRead(ADDRESS, 4)).toBe(BigInt(address(0, 0, 0, 0x08)));
    expect(quickRead(DATA, 4)).toBe(0x0600_0002n);
    expect(quickRead(DATA + 2, 2)).toBe(0x0600n);
    expect(e.ioQuickWrite(DATA, 4, 0)).toBe(0);
    expect(quickRead(ADDRESS + 1, 1)).toBe(-1n);
    expect(e.ioQuickWrite(ADDRESS + 1, 1, 0x06)).toBe(0);
    expect(e.resetCount()).toBe(0);
  });
});

// QEMU's fw_cfg (vmm/devices/io/fwcfg.ts) through the selector port 0x510 and
// the data port 0x511, as SeaBIOS and Linux's qemu_fw_cfg driver read it
// (QEMU docs/specs/fw_cfg.rst).
describe("fw_cfg", () => {
  beforeEach(() => e.fwcfgCreate(6n * 1024n * 1024n * 1024n, 2, 4));

  const select = (key: number) => e.ioWrite(0x510, 2, key);
  const bytes = (n: number) => Array.from({ length: n }, () => e.ioRead(0x511, 1));
  const item = (key: number, n: number) => {
    select(key);
    return bytes(n);
  };
  const le = (b: number[]) => b.reduceRight((v, x) => (v << 8n) | BigInt(x), 0n);
  const be = (b: number[]) => b.reduce((v, x) => (v << 8n) | BigInt(x), 0n);
  const addFile = (name: string, size: number) => e.fwcfgAddFile(e.__newString(name), size);

  describe("items", () => {
    it("signature reads QEMU, then zeros past the end", () => {
      expect(String.fromCharCode(...item(0x0000, 4))).toBe("QEMU");
      expect(bytes(2)).toEqual([0, 0]);
    });

    it("FW_CFG_ID offers the traditional interface only (no DMA)", () => {
      expect(le(item(0x0001, 4))).toBe(1n);
    });

    it("reports RAM size (64-bit LE) and CPU counts (16-bit LE)", () => {
      expect(le(item(0x0003, 8))).toBe(6n * 1024n * 1024n * 1024n);
      expect(le(item(0x0005, 2))).toBe(2n);
      expect(le(item(0x000f, 2))).toBe(4n);
    });

    it("reads zeros from an unknown selector", () => {
      expect(item(0x0002, 4)).toEqual([0, 0, 0, 0]);
      expect(item(0x8003, 4)).toEqual([0, 0, 0, 0]);
    });

    it("rewinds when the selector is written again; the write-channel bit selects the same item", () => {
      select(0x0000);
      bytes(3);
      expect(String.fromCharCode(...item(0x0000, 4))).toBe("QEMU");
      expect(String.fromCharCode(...item(0x4000, 4))).toBe("QEMU");
    });

    it("a wider data read returns the next bytes in address order", () => {
      select(0x0000);
      expect(e.ioRead(0x511, 2)).toBe(0x4551); // "QE"
      expect(e.ioRead(0x511, 1)).toBe(0x4d); // "M"
    });

    it("ignores data writes and byte-wide selector writes", () => {
      select(0x0000);
      e.ioWrite(0x511, 1, 0x58);
      e.ioWrite(0x510, 1, 0x01);
      expect(String.fromCharCode(...bytes(4))).toBe("QEMU");
    });
  });

  describe("file directory", () => {
    it("is an empty directory (count 0, big-endian) with no files", () => {
      expect(item(0x0019, 4)).toEqual([0, 0, 0, 0]);
      expect(bytes(1)).toEqual([0]);
    });

    it("lists added files with size, selector and name, and serves their contents", () => {
      expect(addFile("etc/boot-fail-wait", 4)).toBe(0x0020);
      expect(addFile("opt/org.typervisor/blob", 300)).toBe(0x0021);
      select(0x0019);
      expect(be(bytes(4))).toBe(2n);
      const entry = () => {
        const b = bytes(64);
        const nameBytes = b.slice(8);
        return {
          size: be(b.slice(0, 4)),
          select: be(b.slice(4, 6)),
          reserved: be(b.slice(6, 8)),
          name: String.fromCharCode(...nameBytes.slice(0, nameBytes.indexOf(0))),
          padding: nameBytes.slice(nameBytes.indexOf(0)).every((x) => x === 0),
        };
      };
      expect(entry()).toEqual({ size: 4n, select: 0x20n, reserved: 0n, name: "etc/boot-fail-wait", padding: true });
      expect(entry()).toEqual({
        size: 300n,
        select: 0x21n,
        reserved: 0n,
        name: "opt/org.typervisor/blob",
        padding: true,
      });
      expect(bytes(1)).toEqual([0]);
      const blob = item(0x0021, 301);
      expect(blob.slice(0, 300)).toEqual(Array.from({ length: 300 }, (_, i) => i & 0xff));
      expect(blob[300]).toBe(0);
    });

    it("refuses a name that does not fit the 56-byte field", () => {
      expect(addFile("x".repeat(55), 1)).toBe(0x0020);
      expect(() => addFile("y".repeat(56), 1)).toThrow(AbortError);
    });
  });
});

// The 8042 keyboard controller (vmm/devices/io/i8042.ts) through ports 0x60
// and 0x64, as Linux's i8042 driver and its keyboard reboot use it.
describe("8042 keyboard controller", () => {
  const status = () => e.ioRead(0x64, 1);
  const data = () => e.ioRead(0x60, 1);
  const command = (c: number) => {
    e.ioWrite(0x64, 1, c);
  };
  const send = (v: number) => {
    e.ioWrite(0x60, 1, v);
  };
  const OBF = 0x01, SYS = 0x04, A2 = 0x08, UNLOCKED = 0x10;

  describe("commands", () => {
    it("starts with an empty output buffer, the system flag set and the keylock open", () => {
      expect(status()).toBe(SYS | UNLOCKED);
    });

    it("answers the self test (0xAA) with 0x55 through the output buffer", () => {
      command(0xaa);
      expect(status() & (OBF | A2)).toBe(OBF | A2);
      expect(data()).toBe(0x55);
      expect(status() & OBF).toBe(0);
    });

    it("reads and writes the configuration byte (0x20 / 0x60)", () => {
      command(0x20);
      expect(data()).toBe(0x04);
      command(0x60);
      send(0x47);
      expect(status() & A2).toBe(0);
      command(0x20);
      expect(data()).toBe(0x47);
    });

    it("0xAD and 0xAE disable and enable the keyboard in the configuration byte", () => {
      command(0xad);
      command(0x20);
      expect(data() & 0x10).toBe(0x10);
      command(0xae);
      command(0x20);
      expect(data() & 0x10).toBe(0);
    });

    it("the system flag in the status follows the configuration byte", () => {
      command(0x60);
      send(0x00);
      expect(status() & SYS).toBe(0);
    });

    it("tests both interfaces (0xAB, 0xA9) as passing, and 0xA7 and 0xA8 disable and enable the auxiliary port", () => {
      command(0xab);
      expect(data()).toBe(0x00);
      command(0xa9);
      expect(data()).toBe(0x00);
      command(0xa7);
      command(0x20);
      expect(data() & 0x20).toBe(0x20);
      command(0xa8);
      command(0x20);
      expect(data() & 0x20).toBe(0);
    });

    it("loops a byte back as the mouse's (0xD3): auxiliary-data status, IRQ12 only when enabled", () => {
      const AUX = 0x20;
      command(0xd3);
      send(0x5a);
      expect(status() & (OBF | AUX)).toBe(OBF | AUX);
      expect(e.irqRises(12)).toBe(0);
      expect(data()).toBe(0x5a);
      expect(status() & (OBF | AUX)).toBe(0);
      command(0x60);
      send(0x06); // system flag, IRQ12 enabled
      command(0xd3);
      send(0xa5);
      expect(e.irqRises(12)).toBe(1);
      expect(e.irqRises(1)).toBe(0);
      expect(data()).toBe(0xa5);
      command(0x20); // the controller's own answers are not the mouse's
      expect(status() & (OBF | AUX)).toBe(OBF);
    });

    it("loops a byte back as the keyboard's (0xD2), with IRQ1 when enabled", () => {
      command(0x60);
      send(0x05);
      command(0xd2);
      send(0x1c);
      expect(status() & (OBF | 0x20)).toBe(OBF);
      expect(e.irqRises(1)).toBe(1);
      expect(data()).toBe(0x1c);
    });

    it("has no keyboard: bytes sent to it get no answer and raise no IRQ1", () => {
      send(0xff); // keyboard reset
      send(0xf2); // identify
      expect(status() & OBF).toBe(0);
      expect(e.irqRises(1)).toBe(0);
    });
  });

  describe("reset line", () => {
    it("pulses the reset line on 0xFE, Linux's keyboard reboot", () => {
      expect(e.resetCount()).toBe(0);
      command(0xfe);
      expect(e.resetCount()).toBe(1);
    });

    it("pulses it for any 0xF0-0xFF command with bit 0 clear, and not for 0xFF", () => {
      command(0xff);
      command(0xfd);
      expect(e.resetCount()).toBe(0);
      command(0xf0);
      expect(e.resetCount()).toBe(1);
    });

    it("resets when the output port is written with bit 0 clear (0xD1)", () => {
      command(0xd0);
      expect(data()).toBe(0x03);
      command(0xd1);
      send(0x03); // A20 on, no reset
      expect(e.resetCount()).toBe(0);
      command(0xd1);
      send(0x02);
      expect(e.resetCount()).toBe(1);
    });

    it("does not treat a data byte as a command's argument after another command intervened", () => {
      command(0x60);
      command(0xaa);
      data();
      send(0x00); // for the keyboard now, not the configuration byte
      command(0x20);
      expect(data()).toBe(0x04);
    });
  });
});

// The chipset's reset registers (vmm/devices/io/resetports.ts): port 0x92's
// fast reset, and the Reset Control Register at 0xCF9 as Linux's "cf9"
// reboot drives it (read, then SYS_RST, then SYS_RST | RST_CPU).
describe("reset registers", () => {
  const how = () => e.__getString(e.lastReset() >>> 0);

  it("resets through port 0x92 when bit 0 rises, and keeps the A20 bit", () => {
    outb(0x92, 0x02); // A20 on
    expect(inb(0x92)).toBe(0x02);
    expect(e.resetCount()).toBe(0);
    outb(0x92, 0x03);
    expect(e.resetCount()).toBe(1);
    expect(how()).toBe("port 0x92");
    outb(0x92, 0x03); // no new edge
    expect(e.resetCount()).toBe(1);
  });

  it("resets through 0xCF9 when RST_CPU rises, as Linux's cf9 reboot writes it", () => {
    const cf9 = inb(0xcf9) & ~0x06;
    outb(0xcf9, cf9 | 0x02);
    expect(e.resetCount()).toBe(0);
    expect(inb(0xcf9)).toBe(0x02);
    outb(0xcf9, cf9 | 0x06);
    expect(e.resetCount()).toBe(1);
    expect(how()).toBe("port 0xcf9");
  });

  it("leaves 0xCF8's 32-bit CONFIG_ADDRESS alone, and takes no other access to 0xCF9 as a reset", () => {
    e.ioWrite(0xcf8, 4, 0x8000_0000);
    e.ioWrite(0xcf9, 2, 0x0606);
    e.ioWrite(0xcf8, 4, 0x8000_0004);
    expect(e.ioRead(0xcf8, 4) >>> 0).toBe(0x8000_0004);
    expect(e.resetCount()).toBe(0);
  });
});

// The bus's quick accesses (vmm/devices/bus.ts): an unclaimed port is quick
// (all ones, writes dropped), a device that defines none declines them all.
describe("quick accesses on the bus", () => {
  it("answers an unclaimed port and declines a device without quick registers", () => {
    expect(quickRead(0x1234, 2)).toBe(0xffffn);
    expect(e.ioQuickWrite(0x1234, 1, 0)).toBe(1);
    expect(quickRead(0x40, 1)).toBe(-1n);
    expect(e.ioQuickWrite(0x43, 1, 0x34)).toBe(0);
  });

  // The fast path tries a quick access only where a device's masks say it
  // may take one: the UART's registers but LSR for reads, LCR and SCR for
  // writes; CONFIG_ADDRESS and CONFIG_DATA but not the reset control byte.
  it("hints where a quick access may be tried", () => {
    const may = (port: number, read: boolean) => e.ioMayBeQuick(port, read ? 1 : 0);
    expect([may(0x3f8 + 5, true), may(0x3f8 + 6, true), may(0x3f8 + 2, true)]).toEqual([0, 1, 1]);
    expect([may(0x3f8, false), may(0x3f8 + 3, false), may(0x3f8 + 7, false)]).toEqual([0, 1, 1]);
    expect([may(0xcf8, false), may(0xcf9, false), may(0xcfc, true), may(0xcf9, true)]).toEqual([1, 0, 1, 0]);
    expect([may(0x40, true), may(0x1234, true)]).toEqual([0, 0]);
  });
});
