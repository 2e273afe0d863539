/* Convolution as one GEMM whose columns are never stored ("implicit GEMM"):
 *
 *     out (K, N*L) = W (K, R) @ cols (R, N*L),   R = C*kh*kw, L = OH*OW,
 *
 * im2col + BLAS writes the columns (R times the output's pixels) to memory and the BLAS
 * reads them back to pack them. Here each panel of NR columns is unfolded from the image
 * straight into the packed layout, a block of KC rows at a time, and multiplied while it is
 * still in cache; the products go straight to the (N, K, OH, OW) output.
 *
 * The loops are BLIS's: for each block of KC rows of R, for each panel of NR columns (pixels),
 * for each panel of MR rows of W (output channels): an MR x NR register tile, KC deep.
 * W arrives packed (implicit_conv.pyx): [row block][panel of MR channels][kc][MR], zero past K.
 * The register tile is 6 rows by 2 vectors (12 accumulators), as small_gemm.h's but taller:
 * each step along R loads 2 vectors of the panel and broadcasts 6 weights.
 */
#ifndef MINIDL_IMPLICIT_GEMM_H
#define MINIDL_IMPLICIT_GEMM_H

#include <stddef.h>
#include <string.h>

#include "isa.h"

#define IMPLICIT_GEMM_MR 6
#define IMPLICIT_GEMM_MAX_NR 32 /* 2 AVX-512 vectors of floats */

typedef struct {
    ptrdiff_t C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW;
} implicit_gemm_geometry;

/* The phase planes of one image: for a stride (sh, sw), the window's tap (i, j) at output (oy, ox)
 * reads padded pixel (oy*sh + i*dh, ox*sw + j*dw), which is pixel (oy + i*dh/sh, ox + j*dw/sw)
 * of phase (i*dh % sh, j*dw % sw): the padded image's rows a, a + sh, ... and columns b, b + sw, ...
 * In these planes every tap reads a row of outputs as a run of adjacent values, at any stride,
 * so a panel row is a few short copies. Planes are (C, sh, sw, HQ, WQ), zero outside the image. */
static MINIDL_UNUSED ptrdiff_t implicit_gemm_phase_rows(const implicit_gemm_geometry *g) { return g->OH + (g->kh - 1) * g->dh / g->sh; }
static MINIDL_UNUSED ptrdiff_t implicit_gemm_phase_cols(const implicit_gemm_geometry *g) { return g->OW + (g->kw - 1) * g->dw / g->sw; }

#define IMPLICIT_GEMM_PHASES(NAME, T)                                                                   \
    static void NAME(const T *x, const implicit_gemm_geometry *g, T *MINIDL_RESTRICT planes) {          \
        const ptrdiff_t HQ = implicit_gemm_phase_rows(g), WQ = implicit_gemm_phase_cols(g);             \
        for (ptrdiff_t c = 0; c < g->C; c++)                                                           \
            for (ptrdiff_t a = 0; a < g->sh; a++)                                                      \
                for (ptrdiff_t b = 0; b < g->sw; b++)                                                  \
                    for (ptrdiff_t u = 0; u < HQ; u++, planes += WQ) {                                 \
                        const ptrdiff_t iy = u * g->sh + a - g->ph;                                    \
                        if ((size_t)iy >= (size_t)g->H) {                                              \
                            memset(planes, 0, WQ * sizeof(T));                                         \
                            continue;                                                                  \
                        }                                                                              \
                        const T *row = x + (c * g->H + iy) * g->W;                                     \
                        for (ptrdiff_t v = 0; v < WQ; v++) {                                           \
                            const ptrdiff_t ix = v * g->sw + b - g->pw;                                \
                            planes[v] = (size_t)ix < (size_t)g->W ? row[ix] : (T)0;                    \
                        }                                                                              \
                    }                                                                                  \
    }
IMPLICIT_GEMM_PHASES(implicit_gemm_phases_float, float)
IMPLICIT_GEMM_PHASES(implicit_gemm_phases_double, double)

/* The panel of columns [col0, col0 + NR) (column j = image j / L, pixel j % L; none past ncols)
 * as runs along output rows: run k covers panel columns start[k] .. + length[k], image[k]'s
 * pixels from pixel[k] on. Returns the number of runs. */
static MINIDL_UNUSED ptrdiff_t implicit_gemm_runs(const implicit_gemm_geometry *g, ptrdiff_t NR, ptrdiff_t col0,
                                                  ptrdiff_t ncols, ptrdiff_t *start, ptrdiff_t *length,
                                                  ptrdiff_t *image, ptrdiff_t *pixel) {
    const ptrdiff_t L = g->OH * g->OW, end = col0 + NR < ncols ? col0 + NR : ncols;
    ptrdiff_t runs = 0;
    for (ptrdiff_t j = col0; j < end; runs++) {
        const ptrdiff_t p = j % L;
        ptrdiff_t len = g->OW - p % g->OW;
        if (len > end - j) len = end - j;
        start[runs] = j - col0, length[runs] = len, image[runs] = j / L, pixel[runs] = p;
        j += len;
    }
    return runs;
}

/* Where row r of cols (r = (c*kh + i)*kw + j) starts in an image's phase planes: tap (i, j)
 * of channel c reads its phase at an offset of (i*dh / sh, j*dw / sw). */
static MINIDL_UNUSED ptrdiff_t implicit_gemm_tap(const implicit_gemm_geometry *g, ptrdiff_t r) {
    const ptrdiff_t taps = g->kh * g->kw, c = r / taps, ty = (r % taps) / g->kw * g->dh, tx = r % g->kw * g->dw;
    const ptrdiff_t WQ = implicit_gemm_phase_cols(g);
    return ((c * g->sh + ty % g->sh) * g->sw + tx % g->sw) * implicit_gemm_phase_rows(g) * WQ + (ty / g->sh) * WQ + tx / g->sw;
}

/* implicit_gemm_tap for every row of cols, once per call: the divisions are not free. */
static MINIDL_UNUSED void implicit_gemm_tap_offsets(const implicit_gemm_geometry *g, ptrdiff_t *offsets) {
    for (ptrdiff_t r = 0; r < g->C * g->kh * g->kw; r++) offsets[r] = implicit_gemm_tap(g, r);
}

/* Where a run's first pixel is in its image's phase planes, the tap's offset aside. */
static MINIDL_UNUSED ptrdiff_t implicit_gemm_run_source(const implicit_gemm_geometry *g, ptrdiff_t image, ptrdiff_t pixel) {
    const ptrdiff_t WQ = implicit_gemm_phase_cols(g);
    return image * g->C * g->sh * g->sw * implicit_gemm_phase_rows(g) * WQ + pixel / g->OW * WQ + pixel % g->OW;
}

/* Rows [r0, r0 + kc) of cols for columns [col0, col0 + NR) of the thread's images, into
 * panel[(r - r0)*NR + q], from the images' phase planes (one image's after another; taps holds
 * implicit_gemm_tap of every row); zero past the last column. */
#define IMPLICIT_GEMM_PACK(NAME, ATTR, T)                                                               \
    ATTR static void NAME(const T *planes, const implicit_gemm_geometry *g, const ptrdiff_t *taps,      \
                          ptrdiff_t NR, ptrdiff_t col0, ptrdiff_t ncols, ptrdiff_t r0, ptrdiff_t kc,   \
                          T *MINIDL_RESTRICT panel) {                                                  \
        ptrdiff_t start[IMPLICIT_GEMM_MAX_NR], length[IMPLICIT_GEMM_MAX_NR], image[IMPLICIT_GEMM_MAX_NR]; \
        ptrdiff_t source[IMPLICIT_GEMM_MAX_NR];                                                        \
        const ptrdiff_t runs = implicit_gemm_runs(g, NR, col0, ncols, start, length, image, source);   \
        const ptrdiff_t filled = start[runs - 1] + length[runs - 1];                                   \
        for (ptrdiff_t k = 0; k < runs; k++) source[k] = implicit_gemm_run_source(g, image[k], source[k]); \
        for (ptrdiff_t r = r0; r < r0 + kc; r++, panel += NR) {                                        \
            const T *tap = planes + taps[r];                                                           \
            for (ptrdiff_t k = 0; k < runs; k++) {                                                     \
                const T *src = tap + source[k];                                                        \
                T *dst = panel + start[k];                                                             \
                for (ptrdiff_t q = 0; q < length[k]; q++) dst[q] = src[q];                             \
            }                                                                                          \
            for (ptrdiff_t q = filled; q < NR; q++) panel[q] = 0;                                      \
        }                                                                                              \
    }

/* acc (MR x 2*VW, row-major) = a (kc x MR, packed) @ b (kc x 2*VW, packed). */
#define IMPLICIT_GEMM_TILE(NAME, ATTR, T, V, VW)                                                        \
    ATTR static void NAME(ptrdiff_t kc, const T *a, const T *b, T *acc) {                               \
        V c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0};                            \
        V c30 = {0}, c31 = {0}, c40 = {0}, c41 = {0}, c50 = {0}, c51 = {0};                            \
        for (ptrdiff_t k = 0; k < kc; k++, a += IMPLICIT_GEMM_MR, b += 2 * (VW)) {                     \
            V b0 = *(const V *)b, b1 = *(const V *)(b + (VW));                                         \
            MINIDL_IN_REGISTER(b0);                                                                    \
            MINIDL_IN_REGISTER(b1);                                                                    \
            T x0 = a[0], x1 = a[1], x2 = a[2], x3 = a[3], x4 = a[4], x5 = a[5];                        \
            c00 += x0 * b0; c01 += x0 * b1; c10 += x1 * b0; c11 += x1 * b1;                            \
            c20 += x2 * b0; c21 += x2 * b1; c30 += x3 * b0; c31 += x3 * b1;                            \
            c40 += x4 * b0; c41 += x4 * b1; c50 += x5 * b0; c51 += x5 * b1;                            \
        }                                                                                              \
        V *out = (V *)acc;                                                                             \
        out[0] = c00; out[1] = c01; out[2] = c10; out[3] = c11; out[4] = c20; out[5] = c21;            \
        out[6] = c30; out[7] = c31; out[8] = c40; out[9] = c41; out[10] = c50; out[11] = c51;          \
    }

/* out (n_images, K, L) = W @ cols (+ bias) for images given as their phase planes, one image's
 * after another; panel: scratch of KC*NR values. The first block of rows stores, later ones add. */
#define IMPLICIT_GEMM_FORWARD(LEVEL, ATTR, T, V, VW)                                                   \
    IMPLICIT_GEMM_PACK(implicit_gemm_pack_##LEVEL##_##T, ATTR, T)                                      \
    IMPLICIT_GEMM_TILE(implicit_gemm_tile_##LEVEL##_##T, ATTR, T, V, VW)                               \
    ATTR static void implicit_gemm_forward_##LEVEL##_##T(                                              \
        const T *planes, ptrdiff_t n_images, const implicit_gemm_geometry *g, const ptrdiff_t *taps,   \
        const T *a_packed, ptrdiff_t K, const T *bias, ptrdiff_t KC, T *panel, T *out) {               \
        const ptrdiff_t NR = 2 * (VW), MR = IMPLICIT_GEMM_MR, L = g->OH * g->OW;                      \
        const ptrdiff_t R = g->C * g->kh * g->kw, ncols = n_images * L;                                \
        const ptrdiff_t Kp = (K + MR - 1) / MR * MR;                                                   \
        T acc[IMPLICIT_GEMM_MR * 2 * (VW)];                                                            \
        ptrdiff_t offset[IMPLICIT_GEMM_MAX_NR];                                                        \
        for (ptrdiff_t pc = 0; pc < R; pc += KC) {                                                     \
            const ptrdiff_t kc = R - pc < KC ? R - pc : KC;                                            \
            const T *a_block = a_packed + pc * Kp;                                                     \
            for (ptrdiff_t j0 = 0; j0 < ncols; j0 += NR) {                                             \
                const ptrdiff_t cols = ncols - j0 < NR ? ncols - j0 : NR;                              \
                implicit_gemm_pack_##LEVEL##_##T(planes, g, taps, NR, j0, ncols, pc, kc, panel);       \
                int within_image = (j0 % L) + cols <= L;                                               \
                for (ptrdiff_t q = 0; q < cols; q++)                                                   \
                    offset[q] = ((j0 + q) / L) * K * L + (j0 + q) % L;                                 \
                for (ptrdiff_t i0 = 0; i0 < Kp; i0 += MR) {                                            \
                    implicit_gemm_tile_##LEVEL##_##T(kc, a_block + i0 * kc, panel, acc);               \
                    const ptrdiff_t rows = K - i0 < MR ? K - i0 : MR;                                  \
                    for (ptrdiff_t i = 0; i < rows; i++) {                                             \
                        const T *src = acc + i * NR;                                                   \
                        const T shift = pc == 0 && bias ? bias[i0 + i] : (T)0;                         \
                        if (within_image) {                                                            \
                            T *dst = out + offset[0] + (i0 + i) * L;                                   \
                            if (pc == 0)                                                               \
                                for (ptrdiff_t q = 0; q < cols; q++) dst[q] = src[q] + shift;          \
                            else                                                                       \
                                for (ptrdiff_t q = 0; q < cols; q++) dst[q] += src[q];                 \
                        } else {                                                                       \
                            for (ptrdiff_t q = 0; q < cols; q++) {                                     \
                                T *d = out + offset[q] + (i0 + i) * L;                                 \
                                *d = (pc == 0 ? shift : *d) + src[q];                                  \
                            }                                                                          \
                        }                                                                              \
                    }                                                                                  \
                }                                                                                      \
            }                                                                                          \
        }                                                                                              \
    }

#ifdef MINIDL_SIMD
IMPLICIT_GEMM_FORWARD(avx512, MINIDL_AVX512, float, f16x, 16)
IMPLICIT_GEMM_FORWARD(avx2, MINIDL_AVX2, float, f8x, 8)
IMPLICIT_GEMM_FORWARD(sse, , float, f4x, 4)
IMPLICIT_GEMM_FORWARD(avx512, MINIDL_AVX512, double, d8x, 8)
IMPLICIT_GEMM_FORWARD(avx2, MINIDL_AVX2, double, d4x, 4)
IMPLICIT_GEMM_FORWARD(sse, , double, d2x, 2)
#define IMPLICIT_GEMM_LANES(T) (minidl_isa_level() == 2 ? 64 : minidl_isa_level() == 1 ? 32 : 16) / (ptrdiff_t)sizeof(T)
#else
IMPLICIT_GEMM_FORWARD(sse, , float, float, 1)
IMPLICIT_GEMM_FORWARD(sse, , double, double, 1)
#define IMPLICIT_GEMM_LANES(T) 1
#endif

/* NR: the columns of one panel at the instruction set in use (2 vectors). */
static MINIDL_UNUSED ptrdiff_t implicit_gemm_panel_width_float(void) { return 2 * IMPLICIT_GEMM_LANES(float); }
static MINIDL_UNUSED ptrdiff_t implicit_gemm_panel_width_double(void) { return 2 * IMPLICIT_GEMM_LANES(double); }

static MINIDL_UNUSED void implicit_gemm_forward_float(const float *planes, ptrdiff_t n_images, const implicit_gemm_geometry *g,
                                                      const ptrdiff_t *taps, const float *a_packed, ptrdiff_t K, const float *bias, ptrdiff_t KC,
                                                      float *panel, float *out) {
    MINIDL_AT_LEVEL(implicit_gemm_forward, float, (planes, n_images, g, taps, a_packed, K, bias, KC, panel, out));
}
static MINIDL_UNUSED void implicit_gemm_forward_double(const double *planes, ptrdiff_t n_images, const implicit_gemm_geometry *g,
                                                       const ptrdiff_t *taps, const double *a_packed, ptrdiff_t K, const double *bias, ptrdiff_t KC,
                                                       double *panel, double *out) {
    MINIDL_AT_LEVEL(implicit_gemm_forward, double, (planes, n_images, g, taps, a_packed, K, bias, KC, panel, out));
}

#endif
