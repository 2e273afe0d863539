/* F(2x2, 3x3)'s filter transform U = G g G^T and its adjoint G^T dU G, vectorised across filters.
 *
 * U is stored as 16 planes, one per position of the 4x4 transformed filter: (16, K, C) for
 * weights (K, C, 3, 3). A filter's 9 taps are adjacent in memory while its 16 transformed
 * values are a plane apart, so a block of filters is first turned taps-major through a small
 * buffer; after that every step reads and writes whole runs, one vector of filters at a time.
 * A BLAS product with kron(G, G) does the same work with an inner dimension of 9, which keeps
 * it far from its speed: this pass is only memory traffic, 9 values in and 16 out.
 */
#ifndef MINIDL_WINOGRAD_FILTER_H
#define MINIDL_WINOGRAD_FILTER_H

#include <stddef.h>

#include "isa.h"
#include "transpose.h"

/* filters per pass through the taps-major buffer */
#define WINOGRAD_FILTER_BLOCK 64

/* filter(weight, filters, u, plane): u[p*plane + f] = (G g_f G^T)[p] for the 3x3 filters
 * g_f = weight[9f : 9f + 9], f < filters.
 * filter_grad(du, plane, filters, weight_grad): weight_grad[9f + t] = (G^T d_f G)[t] for the
 * 4x4 d_f = du[p*plane + f], p < 16: the adjoint. */
#define WINOGRAD_FILTER_KERNELS(LEVEL, ATTR, T)                                                                  \
    ATTR static void winograd_filter_##LEVEL##_##T(const T *MINIDL_RESTRICT weight, ptrdiff_t filters,          \
                                                   T *MINIDL_RESTRICT u, ptrdiff_t plane) {                      \
        T g[9][WINOGRAD_FILTER_BLOCK];                                                                           \
        for (ptrdiff_t f0 = 0; f0 < filters; f0 += WINOGRAD_FILTER_BLOCK) {                                      \
            ptrdiff_t n = filters - f0 < WINOGRAD_FILTER_BLOCK ? filters - f0 : WINOGRAD_FILTER_BLOCK;           \
            const T *w = weight + 9 * f0;                                                                        \
            transpose_##T(w, 9, g[0], WINOGRAD_FILTER_BLOCK, n, 9);                                              \
            T *o = u + f0;                                                                                       \
            MINIDL_PRAGMA(omp simd)                                                                              \
            for (ptrdiff_t i = 0; i < n; i++) {                                                                  \
                T r[4][3]; /* G down the filter's columns */                                                     \
                for (int j = 0; j < 3; j++) {                                                                    \
                    r[0][j] = g[j][i];                                                                           \
                    r[1][j] = (g[j][i] + g[3 + j][i] + g[6 + j][i]) / 2;                                         \
                    r[2][j] = (g[j][i] - g[3 + j][i] + g[6 + j][i]) / 2;                                         \
                    r[3][j] = g[6 + j][i];                                                                       \
                }                                                                                                \
                for (int a = 0; a < 4; a++) { /* then G^T along its rows */                                      \
                    o[(4 * a) * plane + i] = r[a][0];                                                            \
                    o[(4 * a + 1) * plane + i] = (r[a][0] + r[a][1] + r[a][2]) / 2;                              \
                    o[(4 * a + 2) * plane + i] = (r[a][0] - r[a][1] + r[a][2]) / 2;                              \
                    o[(4 * a + 3) * plane + i] = r[a][2];                                                        \
                }                                                                                                \
            }                                                                                                    \
        }                                                                                                        \
    }                                                                                                            \
    ATTR static void winograd_filter_grad_##LEVEL##_##T(const T *MINIDL_RESTRICT du, ptrdiff_t plane,           \
                                                        ptrdiff_t filters, T *MINIDL_RESTRICT weight_grad) {     \
        T g[9][WINOGRAD_FILTER_BLOCK];                                                                           \
        for (ptrdiff_t f0 = 0; f0 < filters; f0 += WINOGRAD_FILTER_BLOCK) {                                      \
            ptrdiff_t n = filters - f0 < WINOGRAD_FILTER_BLOCK ? filters - f0 : WINOGRAD_FILTER_BLOCK;           \
            const T *d = du + f0;                                                                                \
            MINIDL_PRAGMA(omp simd)                                                                              \
            for (ptrdiff_t i = 0; i < n; i++) {                                                                  \
                T r[3][4]; /* G^T down the columns */                                                            \
                for (int j = 0; j < 4; j++) {                                                                    \
                    T d0 = d[j * plane + i], d1 = d[(4 + j) * plane + i];                                        \
                    T d2 = d[(8 + j) * plane + i], d3 = d[(12 + j) * plane + i];                                 \
                    r[0][j] = d0 + (d1 + d2) / 2;                                                                \
                    r[1][j] = (d1 - d2) / 2;                                                                     \
                    r[2][j] = (d1 + d2) / 2 + d3;                                                                \
                }                                                                                                \
                for (int a = 0; a < 3; a++) { /* then G along the rows */                                        \
                    g[3 * a][i] = r[a][0] + (r[a][1] + r[a][2]) / 2;                                             \
                    g[3 * a + 1][i] = (r[a][1] - r[a][2]) / 2;                                                   \
                    g[3 * a + 2][i] = (r[a][1] + r[a][2]) / 2 + r[a][3];                                         \
                }                                                                                                \
            }                                                                                                    \
            T *w = weight_grad + 9 * f0;                                                                         \
            transpose_##T(g[0], WINOGRAD_FILTER_BLOCK, w, 9, 9, n);                                              \
        }                                                                                                        \
    }

#define WINOGRAD_FILTER(T)                                                                                       \
    MINIDL_EACH_LEVEL(WINOGRAD_FILTER_KERNELS, T)                                                                \
    MINIDL_UNUSED static void winograd_filter_##T(const T *weight, ptrdiff_t filters, T *u, ptrdiff_t plane) {    \
        MINIDL_AT_LEVEL(winograd_filter, T, (weight, filters, u, plane));                                        \
    }                                                                                                            \
    MINIDL_UNUSED static void winograd_filter_grad_##T(const T *du, ptrdiff_t plane, ptrdiff_t filters,          \
                                                       T *weight_grad) {                                         \
        MINIDL_AT_LEVEL(winograd_filter_grad, T, (du, plane, filters, weight_grad));                             \
    }

WINOGRAD_FILTER(float)
WINOGRAD_FILTER(double)

#endif
