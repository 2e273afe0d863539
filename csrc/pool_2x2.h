/* The flat passes of 2x2 max pooling on short rows (pool.pyx), compiled per instruction set:
 * each is one long loop over a whole batch that the compiler vectorises, as wide as the CPU
 * allows. A NaN wins, the right or lower value wins only when strictly greater: PyTorch's
 * `val > max || isnan(val)`, scanning the window in row-major order. */
#ifndef MINIDL_POOL_2X2_H
#define MINIDL_POOL_2X2_H

#include <stddef.h>

#include "isa.h"

/* pairs(x, h, column, n): h[j] = the larger of x[2j] and x[2j + 1], column[j] = 1 when the
 * right one won. */
#define POOL_MAX_OF_PAIRS(LEVEL, ATTR, T)                                                                   \
    ATTR static void pool_max_of_pairs_##LEVEL##_##T(const T *MINIDL_RESTRICT x, T *MINIDL_RESTRICT h,     \
                                                     unsigned char *MINIDL_RESTRICT column, ptrdiff_t n) {  \
        for (ptrdiff_t j = 0; j < n; j++) {                                                                 \
            T a = x[2 * j], b = x[2 * j + 1];                                                               \
            unsigned char take = (b > a) | (b != b);                                                        \
            h[j] = take ? b : a;                                                                            \
            column[j] = take;                                                                               \
        }                                                                                                   \
    }

/* row_pairs(h, column, v, code, n, OW): v[u] = the larger of h[u] and h[u + OW] (the row below),
 * code[u] its window code 2*row + column, for u < n. */
#define POOL_MAX_OF_ROW_PAIRS(LEVEL, ATTR, T)                                                               \
    ATTR static void pool_max_of_row_pairs_##LEVEL##_##T(const T *MINIDL_RESTRICT h,                        \
                                                         const unsigned char *MINIDL_RESTRICT column,       \
                                                         T *MINIDL_RESTRICT v, unsigned char *MINIDL_RESTRICT code, \
                                                         ptrdiff_t n, ptrdiff_t OW) {                       \
        for (ptrdiff_t u = 0; u < n; u++) {                                                                 \
            T t = h[u], b = h[u + OW];                                                                      \
            unsigned char take = (b > t) | (b != b);                                                        \
            v[u] = take ? b : t;                                                                            \
            /* arithmetic, not a second select: it keeps the loop one vector loop */                       \
            code[u] = column[u] + take * (2 + column[u + OW] - column[u]);                                  \
        }                                                                                                   \
    }

#define POOL_2X2_KERNELS(LEVEL, ATTR, T) POOL_MAX_OF_PAIRS(LEVEL, ATTR, T) POOL_MAX_OF_ROW_PAIRS(LEVEL, ATTR, T)
MINIDL_EACH_LEVEL(POOL_2X2_KERNELS, float)
MINIDL_EACH_LEVEL(POOL_2X2_KERNELS, double)

#define POOL_2X2_DISPATCH(T)                                                                                \
    static MINIDL_UNUSED void pool_max_of_pairs_##T(const T *x, T *h, unsigned char *column, ptrdiff_t n) { \
        MINIDL_AT_LEVEL(pool_max_of_pairs, T, (x, h, column, n));                                           \
    }                                                                                                       \
    static MINIDL_UNUSED void pool_max_of_row_pairs_##T(const T *h, const unsigned char *column, T *v,      \
                                                        unsigned char *code, ptrdiff_t n, ptrdiff_t OW) {   \
        MINIDL_AT_LEVEL(pool_max_of_row_pairs, T, (h, column, v, code, n, OW));                             \
    }
POOL_2X2_DISPATCH(float)
POOL_2X2_DISPATCH(double)

#endif
