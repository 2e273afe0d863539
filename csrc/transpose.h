/* Matrix transposes in 4x4 (float) and 2x2 (double) register blocks, for the layout kernels.
 *
 * dst[c*dst_step + r] = src[r*src_step + c] for r < rows, c < cols. A scalar loop reads or
 * writes one side an element at a time, a stride apart; here both sides move a vector per
 * row. SSE2 is x86-64's baseline, so there is no run-time choice; elsewhere the loop is scalar.
 */
#ifndef MINIDL_TRANSPOSE_H
#define MINIDL_TRANSPOSE_H
#include <stddef.h>
#include "isa.h"

static void transpose_scalar_float(const float *src, ptrdiff_t src_step, float *dst, ptrdiff_t dst_step,
                                   ptrdiff_t r0, ptrdiff_t rows, ptrdiff_t c0, ptrdiff_t cols) {
    for (ptrdiff_t r = r0; r < rows; r++)
        for (ptrdiff_t c = c0; c < cols; c++) dst[c * dst_step + r] = src[r * src_step + c];
}

static void transpose_scalar_double(const double *src, ptrdiff_t src_step, double *dst, ptrdiff_t dst_step,
                                    ptrdiff_t r0, ptrdiff_t rows, ptrdiff_t c0, ptrdiff_t cols) {
    for (ptrdiff_t r = r0; r < rows; r++)
        for (ptrdiff_t c = c0; c < cols; c++) dst[c * dst_step + r] = src[r * src_step + c];
}

#ifdef MINIDL_SIMD
typedef int i4x __attribute__((vector_size(16)));
typedef long long l2x __attribute__((vector_size(16)));

static void transpose_float(const float *src, ptrdiff_t src_step, float *dst, ptrdiff_t dst_step,
                            ptrdiff_t rows, ptrdiff_t cols) {
    const i4x lo = {0, 4, 1, 5}, hi = {2, 6, 3, 7}, first = {0, 1, 4, 5}, second = {2, 3, 6, 7};
    ptrdiff_t rows4 = rows & ~(ptrdiff_t)3, cols4 = cols & ~(ptrdiff_t)3;
    for (ptrdiff_t r = 0; r < rows4; r += 4) {
        const float *s = src + r * src_step;
        for (ptrdiff_t c = 0; c < cols4; c += 4) {
            f4x a = *(const f4x *)(s + c), b = *(const f4x *)(s + src_step + c);
            f4x e = *(const f4x *)(s + 2 * src_step + c), f = *(const f4x *)(s + 3 * src_step + c);
            f4x ab_lo = __builtin_shuffle(a, b, lo), ab_hi = __builtin_shuffle(a, b, hi);
            f4x ef_lo = __builtin_shuffle(e, f, lo), ef_hi = __builtin_shuffle(e, f, hi);
            float *d = dst + c * dst_step + r;
            *(f4x *)d = __builtin_shuffle(ab_lo, ef_lo, first);
            *(f4x *)(d + dst_step) = __builtin_shuffle(ab_lo, ef_lo, second);
            *(f4x *)(d + 2 * dst_step) = __builtin_shuffle(ab_hi, ef_hi, first);
            *(f4x *)(d + 3 * dst_step) = __builtin_shuffle(ab_hi, ef_hi, second);
        }
    }
    transpose_scalar_float(src, src_step, dst, dst_step, 0, rows4, cols4, cols);
    transpose_scalar_float(src, src_step, dst, dst_step, rows4, rows, 0, cols);
}

static void transpose_double(const double *src, ptrdiff_t src_step, double *dst, ptrdiff_t dst_step,
                             ptrdiff_t rows, ptrdiff_t cols) {
    const l2x first = {0, 2}, second = {1, 3};
    ptrdiff_t rows2 = rows & ~(ptrdiff_t)1, cols2 = cols & ~(ptrdiff_t)1;
    for (ptrdiff_t r = 0; r < rows2; r += 2) {
        const double *s = src + r * src_step;
        for (ptrdiff_t c = 0; c < cols2; c += 2) {
            d2x a = *(const d2x *)(s + c), b = *(const d2x *)(s + src_step + c);
            double *d = dst + c * dst_step + r;
            *(d2x *)d = __builtin_shuffle(a, b, first);
            *(d2x *)(d + dst_step) = __builtin_shuffle(a, b, second);
        }
    }
    transpose_scalar_double(src, src_step, dst, dst_step, 0, rows2, cols2, cols);
    transpose_scalar_double(src, src_step, dst, dst_step, rows2, rows, 0, cols);
}
#else
static void transpose_float(const float *src, ptrdiff_t src_step, float *dst, ptrdiff_t dst_step,
                            ptrdiff_t rows, ptrdiff_t cols) {
    transpose_scalar_float(src, src_step, dst, dst_step, 0, rows, 0, cols);
}
static void transpose_double(const double *src, ptrdiff_t src_step, double *dst, ptrdiff_t dst_step,
                             ptrdiff_t rows, ptrdiff_t cols) {
    transpose_scalar_double(src, src_step, dst, dst_step, 0, rows, 0, cols);
}
#endif

#endif
