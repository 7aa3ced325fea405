/*
 * Freestanding math.h: the float functions wasm instructions map to.
 * Square roots and |x| are single SSE2 instructions; rounding needs SSE4.1
 * (ROUNDSD), which a baseline x86-64 CPU lacks, so runtime.c implements it.
 */
#ifndef TV_MATH_H
#define TV_MATH_H
#define isnan(x) __builtin_isnan(x)
#define signbit(x) __builtin_signbit(x)
#define INFINITY __builtin_inff()
#define NAN __builtin_nanf("")
static inline double sqrt(double x) { return __builtin_sqrt(x); }
static inline float sqrtf(float x) { return __builtin_sqrtf(x); }
static inline double fabs(double x) { return __builtin_fabs(x); }
static inline float fabsf(float x) { return __builtin_fabsf(x); }
static inline double copysign(double x, double y) { return __builtin_copysign(x, y); }
static inline float copysignf(float x, float y) { return __builtin_copysignf(x, y); }
double floor(double x);
double ceil(double x);
double trunc(double x);
double nearbyint(double x);
float floorf(float x);
float ceilf(float x);
float truncf(float x);
float nearbyintf(float x);
#endif
