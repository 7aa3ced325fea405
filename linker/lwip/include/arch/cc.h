/*
 * arch/cc.h: lwIP's view of the compiler and platform, here clang building
 * freestanding wasm32 (docs/lwip.md). There is no libc: lwIP's own
 * character classes and byte-order helpers stand in for <ctype.h> and
 * htons(); diagnostics go nowhere (lwIP has no console of its own), and a
 * failed assertion executes `unreachable`, which traps the instance.
 */
#ifndef TV_LWIP_CC_H
#define TV_LWIP_CC_H

#include <stddef.h>
#include <stdint.h>

#define BYTE_ORDER LITTLE_ENDIAN
#define LWIP_NO_INTTYPES_H 1
#define LWIP_NO_CTYPE_H 1
#define X8_F "02x"
#define U16_F "u"
#define S16_F "d"
#define X16_F "x"
#define U32_F "u"
#define S32_F "d"
#define X32_F "x"
#define SZT_F "zu"

#define LWIP_PLATFORM_DIAG(x) \
  do { \
  } while (0)
#define LWIP_PLATFORM_ASSERT(x) __builtin_trap()

/* Initial sequence numbers and ports: a generator the hypervisor seeds (stack.c). */
uint32_t tv_random(void);
#define LWIP_RAND() tv_random()

#endif
