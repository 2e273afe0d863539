/* SGD's and Adam's update loops, compiled per instruction set (isa.h).
 *
 * Every value is loaded before it is chosen, and the flags are the same for the whole
 * loop, so gcc moves the tests out and vectorises each case. SGD without momentum has
 * its own loop, as it writes no buffer. This header's module is built without fused
 * multiply-adds (setup.py), so SGD's result is the NumPy twin's to the bit.
 */
#ifndef MINIDL_OPTIM_H
#define MINIDL_OPTIM_H
#include <math.h>
#include <stddef.h>
#include "isa.h"

#define R MINIDL_RESTRICT
#define OPTIM_KERNELS(LEVEL, ATTR, T)                                                                   \
    ATTR static void sgd_##LEVEL##_##T(const T *R value, const T *R grad, const T *R buf, T *R new_value, \
                                       T *R new_buf, ptrdiff_t n, T lr, T momentum, T keep, T wd,        \
                                       int has_momentum, int first, int nesterov, int maximize) {        \
        if (!has_momentum) {                                                                            \
            for (ptrdiff_t i = 0; i < n; i++) {                                                         \
                T p = value[i], g = maximize ? -grad[i] : grad[i];                                      \
                g = wd != 0 ? g + wd * p : g; /* a product with 0 would turn an infinite p into NaN */  \
                new_value[i] = p - lr * g;                                                              \
            }                                                                                           \
            return;                                                                                     \
        }                                                                                               \
        for (ptrdiff_t i = 0; i < n; i++) {                                                             \
            T p = value[i], g = maximize ? -grad[i] : grad[i], old = buf[i];                            \
            g = wd != 0 ? g + wd * p : g;                                                               \
            T b = first ? g : momentum * old + keep * g;                                                \
            new_buf[i] = b;                                                                             \
            new_value[i] = p - lr * (nesterov ? g + momentum * b : b);                                  \
        }                                                                                               \
    }                                                                                                   \
    /* c: lr, b1, 1 - b1, b2, 1 - b2, eps, weight decay, 1 - lr * weight decay, and the two        \
       bias corrections 1 / (1 - b^step) */                                                         \
    ATTR static void adam_##LEVEL##_##T(const T *R value, const T *R grad, const T *R m, const T *R v,  \
                                        T *R new_value, T *R new_m, T *R new_v, ptrdiff_t n,            \
                                        const T *c, int decoupled) {                                    \
        T lr = c[0], b1 = c[1], keep_g = c[2], b2 = c[3], keep_g2 = c[4], eps = c[5], wd = c[6];        \
        T shrink = c[7], m_scale = c[8], v_scale = c[9];                                                \
        for (ptrdiff_t i = 0; i < n; i++) {                                                             \
            T p = value[i], g = grad[i];                                                                \
            g = decoupled ? g : g + wd * p;                                                             \
            p = decoupled ? p * shrink : p;                                                             \
            T mi = b1 * m[i] + keep_g * g, vi = b2 * v[i] + keep_g2 * g * g;                            \
            new_m[i] = mi;                                                                              \
            new_v[i] = vi;                                                                              \
            new_value[i] = p - lr * (mi * m_scale) / (MINIDL_SQRT_##T(vi * v_scale) + eps);             \
        }                                                                                               \
    }

#define MINIDL_SQRT_float sqrtf
#define MINIDL_SQRT_double sqrt

#define OPTIM_DISPATCH(T)                                                                               \
    MINIDL_EACH_LEVEL(OPTIM_KERNELS, T)                                                                 \
    static void sgd_##T(const T *value, const T *grad, const T *buf, T *new_value, T *new_buf,          \
                        ptrdiff_t n, T lr, T momentum, T keep, T wd, int has_momentum, int first,       \
                        int nesterov, int maximize) {                                                   \
        MINIDL_AT_LEVEL(sgd, T, (value, grad, buf, new_value, new_buf, n, lr, momentum, keep, wd,       \
                                 has_momentum, first, nesterov, maximize));                             \
    }                                                                                                   \
    static void adam_##T(const T *value, const T *grad, const T *m, const T *v, T *new_value, T *new_m, \
                         T *new_v, ptrdiff_t n, const T *c, int decoupled) {                            \
        MINIDL_AT_LEVEL(adam, T, (value, grad, m, v, new_value, new_m, new_v, n, c, decoupled));        \
    }

OPTIM_DISPATCH(float)
OPTIM_DISPATCH(double)
#undef R

#endif
