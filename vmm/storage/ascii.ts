// Text fields in the structures disks describe themselves with (an NVMe
// Identify Controller's model and serial, an ATA IDENTIFY DEVICE's):
// fixed-length ASCII, padded with spaces.

// The field of `length` bytes at `at` without its padding; a control
// character counts as a space and anything else not ASCII shows as "?".
export function asciiField(b: Uint8Array, at: i32, length: i32): string {
  let text = "";
  for (let i = 0; i < length; i++) {
    const c = b[at + i];
    text += String.fromCharCode(c < 0x20 ? 0x20 : c < 0x7f ? c : 0x3f);
  }
  return text.trimEnd();
}
