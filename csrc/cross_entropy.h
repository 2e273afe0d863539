/* Softmax cross-entropy's loops over rows [lo, hi), compiled per instruction set (isa.h).
 *
 * x is (rows, cols), C-contiguous. The forward reads each row twice, for its max and
 * then for the sum of exp(x - max), while the row is still in cache, and keeps only the
 * row's log-sum-exp for the backward. float32 uses the vectorised exp of fast_exp.h,
 * float64 libm's exact one. A NaN anywhere in a row makes its sum, so its loss, NaN.
 * Each returns -1, or the first row whose target is neither a class nor `ignore`, read
 * before that row is: the caller raises.
 */
#ifndef MINIDL_CROSS_ENTROPY_H
#define MINIDL_CROSS_ENTROPY_H
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include "fast_exp.h"
#include "isa.h"

#define MINIDL_EXP_float minidl_expf
#define MINIDL_EXP_double exp
#define MINIDL_LOG_float logf
#define MINIDL_LOG_double log
#define R MINIDL_RESTRICT

#define CROSS_ENTROPY_KERNELS(LEVEL, ATTR, T)                                                            \
    /* weight may be NULL (every class 1); a row whose target is `ignore` gets weight 0 */               \
    ATTR static ptrdiff_t cross_entropy_forward_##LEVEL##_##T(                                           \
            const T *R x, ptrdiff_t cols, const int64_t *target, const T *weight, int64_t ignore,        \
            T *R lse, T *R losses, T *R row_weight, ptrdiff_t lo, ptrdiff_t hi) {                        \
        for (ptrdiff_t i = lo; i < hi; i++) {                                                            \
            int64_t t = target[i];                                                                       \
            int valid = t != ignore;                                                                     \
            if (valid && (t < 0 || t >= cols)) return i;                                                 \
            const T *R row = x + i * cols;                                                               \
            T top = row[0], sum = 0;                                                                     \
            MINIDL_SIMD_MAX(top)                                                                         \
            for (ptrdiff_t j = 0; j < cols; j++) top = row[j] > top ? row[j] : top;                      \
            MINIDL_SIMD_SUM(sum)                                                                         \
            for (ptrdiff_t j = 0; j < cols; j++) sum += MINIDL_EXP_##T(row[j] - top);                    \
            T log_total = top + MINIDL_LOG_##T(sum);                                                     \
            int64_t safe = valid ? t : 0;                                                                \
            T w = !valid ? 0 : weight ? weight[safe] : 1;                                                \
            lse[i] = log_total;                                                                          \
            row_weight[i] = w;                                                                           \
            losses[i] = (log_total - row[safe]) * w;                                                     \
        }                                                                                                \
        return -1;                                                                                       \
    }                                                                                                    \
    /* out = softmax(x) * coef, minus coef at each row's target (an ignored row's coef is 0) */          \
    ATTR static ptrdiff_t cross_entropy_backward_##LEVEL##_##T(                                          \
            const T *R x, ptrdiff_t cols, const T *lse, const int64_t *target, int64_t ignore,           \
            const T *coef, T *R out, ptrdiff_t lo, ptrdiff_t hi) {                                       \
        for (ptrdiff_t i = lo; i < hi; i++) {                                                            \
            int64_t t = target[i];                                                                       \
            if (t != ignore && (t < 0 || t >= cols)) return i;                                           \
            const T *R row = x + i * cols;                                                               \
            T *R dst = out + i * cols;                                                                   \
            T top = lse[i], c = coef[i];                                                                 \
            for (ptrdiff_t j = 0; j < cols; j++) dst[j] = MINIDL_EXP_##T(row[j] - top) * c;              \
            dst[t != ignore ? t : 0] -= c;                                                               \
        }                                                                                                \
        return -1;                                                                                       \
    }

#define CROSS_ENTROPY_DISPATCH(T)                                                                        \
    MINIDL_EACH_LEVEL(CROSS_ENTROPY_KERNELS, T)                                                          \
    static ptrdiff_t cross_entropy_forward_##T(const T *x, ptrdiff_t cols, const int64_t *target,        \
                                               const T *weight, int64_t ignore, T *lse, T *losses,       \
                                               T *row_weight, ptrdiff_t lo, ptrdiff_t hi) {              \
        return MINIDL_VALUE_AT_LEVEL(cross_entropy_forward, T,                                           \
                                     (x, cols, target, weight, ignore, lse, losses, row_weight, lo, hi)); \
    }                                                                                                    \
    static ptrdiff_t cross_entropy_backward_##T(const T *x, ptrdiff_t cols, const T *lse,                \
                                                const int64_t *target, int64_t ignore, const T *coef,    \
                                                T *out, ptrdiff_t lo, ptrdiff_t hi) {                    \
        return MINIDL_VALUE_AT_LEVEL(cross_entropy_backward, T,                                          \
                                     (x, cols, lse, target, ignore, coef, out, lo, hi));                 \
    }

CROSS_ENTROPY_DISPATCH(float)
CROSS_ENTROPY_DISPATCH(double)
#undef R

#endif
