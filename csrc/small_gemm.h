/* A GEMM for small products: those a recurrent layer makes at every time step, and those of
 * small convolutions (small_matmul.pyx).
 *
 * z (rows x cols) = a (rows x depth) @ W, or z += a @ W, where W is packed: panels of
 * SMALL_GEMM_PANEL_BYTES of columns, each panel's `depth` rows stored one after another,
 * zero past the last column. A recurrent layer packs its weights once for the whole
 * sequence. A BLAS packs its operand again on every call and, at a batch of 32, spends as
 * long handing work to its threads as on the product; here the packed weights stay in cache
 * from one step to the next.
 *
 * The register tile is 4 rows of a x 2 vectors of columns: each step along `depth`
 * loads 2 vectors of one panel row and 4 values of a, and does 8 multiply-adds.
 * a's rows are lda values apart and its values along `depth` sk apart: sk = 1 for a
 * row-major a, lda = 1 for a transposed view (small_matmul.pyx); the kernel is compiled
 * once with sk fixed at 1, which the recurrent loops and the fused Winograd call, and once
 * with sk as given.
 * Rows past the last multiple of 4 take a 1-row tile; columns past `cols` in the last
 * panel are computed and not stored.
 */
#ifndef MINIDL_SMALL_GEMM_H
#define MINIDL_SMALL_GEMM_H

#include <stddef.h>
#include <string.h>

#include "isa.h"

#define SMALL_GEMM_PANEL_BYTES 128 /* 32 floats or 16 doubles: 2 AVX-512 vectors, 4 AVX2, 8 SSE */
/* The narrow kernels' panels, for operands of at most 16 float or 8 double columns (the fused
 * Winograd weight gradient's 16 channels): half of each wide panel would be zeros. Their tile
 * is two 256-bit vectors wide at the AVX-512 level too. */
#define SMALL_GEMM_NARROW_PANEL_BYTES 64

#define SMALL_GEMM_STORE(T, V, VW, ROW, C0, C1, n, cols, accumulate)                                   \
    do {                                                                                               \
        T *row_ = (ROW);                                                                               \
        if ((n) + 2 * (VW) <= (cols)) {                                                                \
            if (accumulate) { C0 += *(const V *)row_; C1 += *(const V *)(row_ + (VW)); }               \
            *(V *)row_ = C0; *(V *)(row_ + (VW)) = C1;                                                 \
        } else { /* the last panel's valid columns only: a whole first vector as one */                \
            ptrdiff_t j_ = 0;                                                                          \
            if ((n) + (VW) <= (cols)) {                                                                \
                if (accumulate) C0 += *(const V *)row_;                                                \
                *(V *)row_ = C0;                                                                       \
                j_ = (VW);                                                                             \
            }                                                                                          \
            T lanes_[2 * (VW)];                                                                        \
            memcpy(lanes_, &C0, sizeof C0); memcpy(lanes_ + (VW), &C1, sizeof C1);                     \
            for (; j_ < (cols) - (n); j_++) row_[j_] = (accumulate ? row_[j_] : 0) + lanes_[j_];      \
        }                                                                                              \
    } while (0)

/* z[m*ldz + j] (+)= sum over k < depth of a[m*lda + k*SK] * packed[(j/P)*depth*P + k*P + j%P],
 * P = PANEL_BYTES / sizeof(T), for m < rows and j < cols; SK is 1 or sk. */
#define SMALL_GEMM_KERNEL(NAME, ATTR, T, V, VW, SK, PANEL_BYTES)                                       \
    ATTR static void NAME(const T *a, ptrdiff_t lda, ptrdiff_t sk, ptrdiff_t rows, ptrdiff_t depth,    \
                          const T *packed, ptrdiff_t cols, T *z, ptrdiff_t ldz, int accumulate) {       \
        const ptrdiff_t P = (PANEL_BYTES) / sizeof(T);                                                 \
        (void)sk;                                                                                      \
        for (ptrdiff_t n = 0; n < cols; n += 2 * (VW)) {                                               \
            const T *panel = packed + (n / P) * depth * P + n % P;                                     \
            ptrdiff_t m = 0;                                                                           \
            for (; m + 4 <= rows; m += 4) {                                                            \
                const T *a0 = a + m * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;             \
                V c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0}; \
                const T *q = panel;                                                                    \
                for (ptrdiff_t k = 0; k < depth; k++, q += P) {                                        \
                    V b0 = *(const V *)q, b1 = *(const V *)(q + (VW));                                 \
                    T x0 = a0[k * (SK)], x1 = a1[k * (SK)], x2 = a2[k * (SK)], x3 = a3[k * (SK)];      \
                    c00 += x0 * b0; c01 += x0 * b1; c10 += x1 * b0; c11 += x1 * b1;                    \
                    c20 += x2 * b0; c21 += x2 * b1; c30 += x3 * b0; c31 += x3 * b1;                    \
                }                                                                                      \
                T *d = z + m * ldz + n;                                                                \
                SMALL_GEMM_STORE(T, V, VW, d, c00, c01, n, cols, accumulate);                          \
                SMALL_GEMM_STORE(T, V, VW, d + ldz, c10, c11, n, cols, accumulate);                    \
                SMALL_GEMM_STORE(T, V, VW, d + 2 * ldz, c20, c21, n, cols, accumulate);                \
                SMALL_GEMM_STORE(T, V, VW, d + 3 * ldz, c30, c31, n, cols, accumulate);                \
            }                                                                                          \
            for (; m < rows; m++) {                                                                    \
                const T *a0 = a + m * lda;                                                             \
                V c00 = {0}, c01 = {0};                                                                \
                const T *q = panel;                                                                    \
                for (ptrdiff_t k = 0; k < depth; k++, q += P) {                                        \
                    c00 += a0[k * (SK)] * *(const V *)q;                                               \
                    c01 += a0[k * (SK)] * *(const V *)(q + (VW));                                      \
                }                                                                                      \
                SMALL_GEMM_STORE(T, V, VW, z + m * ldz + n, c00, c01, n, cols, accumulate);            \
            }                                                                                          \
        }                                                                                              \
    }

/* both variants of one kernel: contiguous (SK = 1) and strided; and the narrow one, on NV
 * vectors of NVW values compiled under NATTR (AVX2's at the AVX-512 level: there gcc fuses a
 * 256-bit multiply-add only with FMA enabled) */
#define SMALL_GEMM_KERNELS(LEVEL, ATTR, T, V, VW, NATTR, NV, NVW)                                      \
    SMALL_GEMM_KERNEL(small_gemm_##LEVEL##_##T, ATTR, T, V, VW, 1, SMALL_GEMM_PANEL_BYTES)             \
    SMALL_GEMM_KERNEL(small_gemm_strided_##LEVEL##_##T, ATTR, T, V, VW, sk, SMALL_GEMM_PANEL_BYTES)    \
    SMALL_GEMM_KERNEL(small_gemm_narrow_##LEVEL##_##T, NATTR, T, NV, NVW, 1, SMALL_GEMM_NARROW_PANEL_BYTES)

#ifdef MINIDL_SIMD
SMALL_GEMM_KERNELS(avx512, MINIDL_AVX512, float, f16x, 16, MINIDL_AVX2, f8x, 8)
SMALL_GEMM_KERNELS(avx2, MINIDL_AVX2, float, f8x, 8, MINIDL_AVX2, f8x, 8)
SMALL_GEMM_KERNELS(sse, , float, f4x, 4, , f4x, 4)
SMALL_GEMM_KERNELS(avx512, MINIDL_AVX512, double, d8x, 8, MINIDL_AVX2, d4x, 4)
SMALL_GEMM_KERNELS(avx2, MINIDL_AVX2, double, d4x, 4, MINIDL_AVX2, d4x, 4)
SMALL_GEMM_KERNELS(sse, , double, d2x, 2, , d2x, 2)
#else /* another compiler or CPU: the same tile on scalars */
SMALL_GEMM_KERNELS(sse, , float, float, 1, , float, 1)
SMALL_GEMM_KERNELS(sse, , double, double, 1, , double, 1)
#endif

/* small_gemm_T: a row-major (values along depth adjacent); small_gemm_strided_T: any sk;
 * small_gemm_narrow_T: a row-major, packed in narrow panels */
#define SMALL_GEMM_DISPATCH(T)                                                                         \
    MINIDL_UNUSED static void small_gemm_##T(const T *a, ptrdiff_t lda, ptrdiff_t rows, ptrdiff_t depth, \
                                             const T *packed, ptrdiff_t cols, T *z, ptrdiff_t ldz,     \
                                             int accumulate) {                                         \
        MINIDL_AT_LEVEL(small_gemm, T, (a, lda, 1, rows, depth, packed, cols, z, ldz, accumulate));    \
    }                                                                                                  \
    MINIDL_UNUSED static void small_gemm_strided_##T(const T *a, ptrdiff_t lda, ptrdiff_t sk, ptrdiff_t rows, \
                                                     ptrdiff_t depth, const T *packed, ptrdiff_t cols, \
                                                     T *z, ptrdiff_t ldz, int accumulate) {            \
        if (sk == 1)                                                                                   \
            MINIDL_AT_LEVEL(small_gemm, T, (a, lda, 1, rows, depth, packed, cols, z, ldz, accumulate)); \
        else                                                                                           \
            MINIDL_AT_LEVEL(small_gemm_strided, T, (a, lda, sk, rows, depth, packed, cols, z, ldz, accumulate)); \
    }                                                                                                  \
    MINIDL_UNUSED static void small_gemm_narrow_##T(const T *a, ptrdiff_t lda, ptrdiff_t rows, ptrdiff_t depth, \
                                                    const T *packed, ptrdiff_t cols, T *z, ptrdiff_t ldz, \
                                                    int accumulate) {                                  \
        MINIDL_AT_LEVEL(small_gemm_narrow, T, (a, lda, 1, rows, depth, packed, cols, z, ldz, accumulate)); \
    }
SMALL_GEMM_DISPATCH(float)
SMALL_GEMM_DISPATCH(double)

#endif
