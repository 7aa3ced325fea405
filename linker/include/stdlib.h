/* Freestanding stdlib.h: the generated code only names abort(). */
#ifndef TV_STDLIB_H
#define TV_STDLIB_H
#include <stddef.h>
void abort(void) __attribute__((noreturn));
#endif
