/* Batch normalisation's loops over channels [lo, hi), compiled per instruction set (isa.h).
 *
 * x is (n, channels, length): each (image, channel) plane of `length` values is contiguous.
 * A plane is summed in its own type, in vector registers (MINIDL_SIMD_SUM lets the
 * compiler reorder the sum); the planes' sums add up in double.
 */
#ifndef MINIDL_BATCH_NORM_H
#define MINIDL_BATCH_NORM_H
#include <math.h>
#include <stddef.h>
#include "isa.h"

#define R MINIDL_RESTRICT

#define BATCH_NORM_KERNELS(LEVEL, ATTR, T)                                                               \
    /* sum(p - centre), or sum((p - centre)^2) when squared */                                           \
    ATTR static double bn_sum_##LEVEL##_##T(const T *R p, ptrdiff_t n, T centre, int squared) {          \
        T s = 0;                                                                                         \
        MINIDL_SIMD_SUM(s)                                                                               \
        for (ptrdiff_t j = 0; j < n; j++) {                                                              \
            T d = p[j] - centre;                                                                         \
            s += squared ? d * d : d;                                                                    \
        }                                                                                                \
        return s;                                                                                        \
    }                                                                                                    \
    ATTR static void batch_norm_forward_##LEVEL##_##T(                                                   \
            const T *R x, ptrdiff_t n, ptrdiff_t channels, ptrdiff_t length, const T *weight,            \
            const T *bias, double eps, T *R out, T *R xhat, double *mean, double *var, double *inv_std,  \
            ptrdiff_t lo, ptrdiff_t hi) {                                                                \
        double count = (double)n * length;                                                               \
        for (ptrdiff_t c = lo; c < hi; c++) {                                                            \
            double total = 0, square = 0;                                                                \
            for (ptrdiff_t i = 0; i < n; i++)                                                            \
                total += bn_sum_##LEVEL##_##T(x + (i * channels + c) * length, length, 0, 0);            \
            double m = total / count;                                                                    \
            T centre = (T)m;                                                                             \
            for (ptrdiff_t i = 0; i < n; i++)                                                            \
                square += bn_sum_##LEVEL##_##T(x + (i * channels + c) * length, length, centre, 1);      \
            double v = square / count, r = 1.0 / sqrt(v + eps);                                          \
            mean[c] = m;                                                                                 \
            var[c] = v;                                                                                  \
            inv_std[c] = r;                                                                              \
            T scale = (T)r, w = weight[c], b = bias[c];                                                  \
            for (ptrdiff_t i = 0; i < n; i++) {                                                          \
                ptrdiff_t at = (i * channels + c) * length;                                              \
                const T *R plane = x + at;                                                               \
                T *R h_out = xhat + at, *R y_out = out + at;                                             \
                for (ptrdiff_t j = 0; j < length; j++) {                                                 \
                    T h = (plane[j] - centre) * scale;                                                   \
                    h_out[j] = h;                                                                        \
                    y_out[j] = h * w + b;                                                                \
                }                                                                                        \
            }                                                                                            \
        }                                                                                                \
    }                                                                                                    \
    ATTR static void batch_norm_backward_##LEVEL##_##T(                                                  \
            const T *R grad, const T *R xhat, ptrdiff_t n, ptrdiff_t channels, ptrdiff_t length,         \
            const T *inv_std, const T *weight, T *R dx, double *dweight, double *dbias, ptrdiff_t lo,     \
            ptrdiff_t hi) {                                                                              \
        double count = (double)n * length;                                                               \
        for (ptrdiff_t c = lo; c < hi; c++) {                                                            \
            double sum_g = 0, sum_gh = 0;                                                                \
            for (ptrdiff_t i = 0; i < n; i++) {                                                          \
                const T *R g = grad + (i * channels + c) * length, *R h = xhat + (i * channels + c) * length; \
                T a = 0, b = 0;                                                                          \
                MINIDL_SIMD_SUM2(a, b)                                                                   \
                for (ptrdiff_t j = 0; j < length; j++) {                                                 \
                    a += g[j];                                                                           \
                    b += g[j] * h[j];                                                                    \
                }                                                                                        \
                sum_g += a;                                                                              \
                sum_gh += b;                                                                             \
            }                                                                                            \
            dbias[c] = sum_g;                                                                            \
            dweight[c] = sum_gh;                                                                         \
            T k = weight[c] * inv_std[c], mean_g = (T)(sum_g / count), mean_gh = (T)(sum_gh / count);    \
            for (ptrdiff_t i = 0; i < n; i++) {                                                          \
                ptrdiff_t at = (i * channels + c) * length;                                              \
                const T *R g = grad + at, *R h = xhat + at;                                              \
                T *R d = dx + at;                                                                        \
                for (ptrdiff_t j = 0; j < length; j++) d[j] = (g[j] - mean_g - h[j] * mean_gh) * k;     \
            }                                                                                            \
        }                                                                                                \
    }

#define BATCH_NORM_DISPATCH(T)                                                                           \
    MINIDL_EACH_LEVEL(BATCH_NORM_KERNELS, T)                                                             \
    static void batch_norm_forward_##T(const T *x, ptrdiff_t n, ptrdiff_t channels, ptrdiff_t length,    \
                                       const T *weight, const T *bias, double eps, T *out, T *xhat,      \
                                       double *mean, double *var, double *inv_std, ptrdiff_t lo,         \
                                       ptrdiff_t hi) {                                                   \
        MINIDL_AT_LEVEL(batch_norm_forward, T,                                                           \
                        (x, n, channels, length, weight, bias, eps, out, xhat, mean, var, inv_std, lo, hi)); \
    }                                                                                                    \
    static void batch_norm_backward_##T(const T *grad, const T *xhat, ptrdiff_t n, ptrdiff_t channels,   \
                                        ptrdiff_t length, const T *inv_std, const T *weight, T *dx,      \
                                        double *dweight, double *dbias, ptrdiff_t lo, ptrdiff_t hi) {    \
        MINIDL_AT_LEVEL(batch_norm_backward, T,                                                          \
                        (grad, xhat, n, channels, length, inv_std, weight, dx, dweight, dbias, lo, hi)); \
    }

BATCH_NORM_DISPATCH(float)
BATCH_NORM_DISPATCH(double)
#undef R

#endif
