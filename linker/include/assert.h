/* Freestanding assert.h for the generated code: assertions compile away. */
#ifndef TV_ASSERT_H
#define TV_ASSERT_H
#define assert(x) ((void)0)
#endif
