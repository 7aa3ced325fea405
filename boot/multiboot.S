/*
 * Multiboot headers: how boot loaders recognise and load the image.
 *
 * Two headers sit at the very start of the loadable segment:
 *  - Multiboot 1 (for QEMU's -kernel and older loaders). QEMU refuses ELF64
 *    images unless flag bit 16 ("address fields") describes one contiguous
 *    loadable range, so we give it load/bss/entry addresses explicitly.
 *    Multiboot Specification 0.6.96, section 3.1.
 *  - Multiboot 2 (for GRUB on BIOS and UEFI). GRUB loads the ELF program
 *    headers; we ask it to page-align modules and, if it can, to set a
 *    graphics mode for the screen's console. Multiboot2 spec 3.1.
 * Both loaders enter _start32 in 32-bit protected mode with paging off.
 */
#define MB1_MAGIC 0x1BADB002
#define MB1_FLAGS ((1 << 0) | (1 << 1) | (1 << 16)) /* align modules, memory map, address fields */
#define MB2_MAGIC 0xE85250D6

    .section .multiboot, "a"
    .align 4
mb1_header:
    .long MB1_MAGIC
    .long MB1_FLAGS
    .long -(MB1_MAGIC + MB1_FLAGS)
    .long mb1_header        /* header_addr */
    .long __image_start     /* load_addr */
    .long __load_end        /* load_end_addr: file bytes end here */
    .long __bss_end         /* bss_end_addr: the loader zeroes up to here */
    .long _start32          /* entry_addr */

    .align 8
mb2_header:
    .long MB2_MAGIC
    .long 0                 /* architecture: i386 protected mode */
    .long mb2_header_end - mb2_header
    .long -(MB2_MAGIC + (mb2_header_end - mb2_header))
    .align 8                /* tag: module alignment (type 6) */
    .short 6, 0
    .long 8
    .align 8                /* tag: framebuffer (type 5, 3.1.10), optional: 1024x768, 32 bits per pixel */
    .short 5, 1
    .long 20
    .long 1024, 768, 32
    .align 8                /* tag: end */
    .short 0, 0
    .long 8
mb2_header_end:
