/* exp for float32 in plain C that compilers vectorise (libm's expf is a call per value).
 *
 * exp(x) = 2^n * e^r with n = round(x / ln 2) and r = x - n ln 2, ln 2 split in two
 * (Cody and Waite) so that r is exact; e^r by its Taylor series to r^7 (|r| <= 0.347,
 * truncation 5e-9); 2^n built in the float's exponent bits, as two factors so that each
 * stays a normal float where e^x is denormal or at the top of the range. Within 1e-7 of
 * the exact value, as the Numba kernels' exp (minidl/kernels/numba/special.py).
 */
#ifndef MINIDL_FAST_EXP_H
#define MINIDL_FAST_EXP_H
#include <stdint.h>
#include <string.h>

static inline float minidl_float_from_bits(int32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f); /* a register move, which vectorises */
    return f;
}

/* Inlined into each instruction set's loop, and vectorised there. */
static inline __attribute__((always_inline)) float minidl_expf(float x) {
    /* Below -104 exp is 0 in float32 and above 88.72 it overflows: clamping just outside keeps
       n's halves inside the exponent range. Lanes below compute exp(0) and select 0 at the
       end, since computing a result that underflows takes a slow path on x86 (masked
       attention scores and -inf logits are common). Comparisons, not fminf: NaN passes. */
    float v = x < -104.0f ? 0.0f : x;
    v = v > 88.8f ? 88.8f : v;
    /* round to nearest by the 1.5 * 2^23 trick: one add and one subtract, at any width */
    float n = (v * 1.44269504f + 12582912.0f) - 12582912.0f;
    float r = (v - n * 0.693359375f) - n * -2.12194440e-4f; /* ln 2 = 0.693359375 - 2.12194440e-4 */
    float p = (((((((1.0f / 5040 * r + 1.0f / 720) * r + 1.0f / 120) * r + 1.0f / 24) * r + 1.0f / 6) * r + 0.5f) * r
                + 1.0f) * r) + 1.0f;
    int32_t k = (int32_t)n, k1 = k >> 1;
    float e = p * minidl_float_from_bits((k1 + 127) << 23) * minidl_float_from_bits((k - k1 + 127) << 23);
    return x < -104.0f ? 0.0f : e;
}

#endif
