/* Freestanding alloca.h: the compiler's builtin. */
#ifndef TV_ALLOCA_H
#define TV_ALLOCA_H
#define alloca __builtin_alloca
#endif
