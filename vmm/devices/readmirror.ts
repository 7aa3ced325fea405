// A copy of what reading one of a device's ports gives, kept where a
// backend's exit fast path answers the read without the hypervisor lock
// and without the device (core/fastports.ts). The device publishes the
// value each time its state changes, for as long as a read would change
// nothing, and withdraws it while a read would (a UART's LSR read clears
// an overrun); such reads go to the device. A read answered from the copy
// while another CPU changes the device sees the state just before the
// change, as if it had come a moment earlier.

export abstract class ReadMirror {
  abstract publish(value: u8): void;
  abstract withdraw(): void;
}
