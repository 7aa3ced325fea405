/*
 * The multiboot v1 header both test kernels carry (multiboot.S, fuzz.S):
 * magic, flags and checksum in the first 8 KiB of the file, 4-byte aligned
 * (Multiboot Specification 0.6.96, 3.1.1). The flags ask for page-aligned
 * modules and the memory information.
 */
#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x00000003

.macro multiboot1_header
    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)
.endm
