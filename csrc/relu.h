/* ReLU's forward and backward loops, compiled per instruction set (isa.h).
 *
 * Each value is loaded before the test, so the select needs no branch and vectorises.
 * NaN is not <= 0: it passes through the forward, and its gradient passes the backward,
 * as PyTorch.
 */
#ifndef MINIDL_RELU_H
#define MINIDL_RELU_H
#include <stddef.h>
#include "isa.h"

#define RELU_KERNELS(LEVEL, ATTR, T)                                                                  \
    ATTR static void relu_forward_##LEVEL##_##T(const T *MINIDL_RESTRICT x, T *MINIDL_RESTRICT out,   \
                                                 ptrdiff_t n) {                                        \
        for (ptrdiff_t i = 0; i < n; i++) {                                                           \
            T v = x[i];                                                                               \
            out[i] = v <= 0 ? 0 : v;                                                                  \
        }                                                                                             \
    }                                                                                                 \
    ATTR static void relu_backward_##LEVEL##_##T(const T *MINIDL_RESTRICT grad,                       \
                                                  const T *MINIDL_RESTRICT out,                        \
                                                  T *MINIDL_RESTRICT dx, ptrdiff_t n) {                \
        for (ptrdiff_t i = 0; i < n; i++) {                                                           \
            T g = grad[i];                                                                            \
            dx[i] = out[i] <= 0 ? 0 : g;                                                              \
        }                                                                                             \
    }

#define RELU_DISPATCH(T)                                                                          \
    MINIDL_EACH_LEVEL(RELU_KERNELS, T)                                                            \
    static void relu_forward_##T(const T *x, T *out, ptrdiff_t n) {                               \
        MINIDL_AT_LEVEL(relu_forward, T, (x, out, n));                                            \
    }                                                                                             \
    static void relu_backward_##T(const T *grad, const T *out, T *dx, ptrdiff_t n) {              \
        MINIDL_AT_LEVEL(relu_backward, T, (grad, out, dx, n));                                    \
    }

RELU_DISPATCH(float)
RELU_DISPATCH(double)

#endif
