/* Convolution as one GEMM whose columns are never stored ("implicit GEMM"):
 *
 *     out (K, N*L) = W (K, R) @ cols (R, N*L),   R = C*kh*kw, L = OH*OW,
 *
 * im2col + BLAS writes the columns (R times the output's pixels) to memory and the BLAS
 * reads them back to pack them. Here nothing is unfolded: a register tile of MP output pixels
 * by 2 vectors of output channels walks down R, loading two vectors of packed weights and
 * broadcasting each pixel's input value straight from the zero-padded image (an "indirect"
 * GEMM: one offset per pixel, one per row of cols). The products go to the (N, K, OH, OW)
 * output.
 *
 * The loops: for each block of KC rows of R, for each chunk of pixels, for each block of 2
 * vectors of output channels, every tile of MP pixels in the chunk, KC deep. The chunk's
 * input stays in L2 across the channel blocks, and a channel block's weights across the chunk.
 * W arrives packed (implicit_conv.pyx): [row block][block of NC channels][kc][NC], zero past K.
 *
 * The weight gradient, d W (K, R) = d out (K, N*L) @ cols^T, uses the same tile with the
 * roles turned: MP rows of cols by 2 vectors of output channels, walking down the pixels.
 * The input gradient uses it on d out: MP output pixels by 2 vectors of the columns'
 * gradient, K deep, each tile added onto the pixels (col2im) as soon as it is made.
 */
#ifndef MINIDL_IMPLICIT_GEMM_H
#define MINIDL_IMPLICIT_GEMM_H

#include <stddef.h>
#include <string.h>

#include "isa.h"
#include "transpose.h"

typedef struct {
    ptrdiff_t C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW;
} implicit_gemm_geometry;

/* The tiles read each image zero-padded, (C, HS, WS): tap (i, j) of output (oy, ox) is its
 * pixel (oy*sh + i*dh, ox*sw + j*dw). Without padding that is the input itself; with it, a
 * copy with zero borders, cut to the rows and columns the windows reach. */
static MINIDL_UNUSED int implicit_gemm_reads_input(const implicit_gemm_geometry *g) { return g->ph == 0 && g->pw == 0; }
static MINIDL_UNUSED ptrdiff_t implicit_gemm_source_rows(const implicit_gemm_geometry *g) {
    return implicit_gemm_reads_input(g) ? g->H : (g->OH - 1) * g->sh + (g->kh - 1) * g->dh + 1;
}
static MINIDL_UNUSED ptrdiff_t implicit_gemm_source_cols(const implicit_gemm_geometry *g) {
    return implicit_gemm_reads_input(g) ? g->W : (g->OW - 1) * g->sw + (g->kw - 1) * g->dw + 1;
}

#define IMPLICIT_GEMM_PADDED(NAME, T)                                                                   \
    static void NAME(const T *x, const implicit_gemm_geometry *g, T *MINIDL_RESTRICT padded) {          \
        const ptrdiff_t HS = implicit_gemm_source_rows(g), WS = implicit_gemm_source_cols(g);           \
        const ptrdiff_t left = g->pw < WS ? g->pw : WS;                                                \
        const ptrdiff_t width = g->W < WS - left ? g->W : WS - left;                                   \
        for (ptrdiff_t c = 0; c < g->C; c++)                                                           \
            for (ptrdiff_t y = 0; y < HS; y++, padded += WS) {                                         \
                const ptrdiff_t iy = y - g->ph;                                                        \
                if ((size_t)iy >= (size_t)g->H) {                                                      \
                    memset(padded, 0, WS * sizeof(T));                                                 \
                    continue;                                                                          \
                }                                                                                      \
                memset(padded, 0, left * sizeof(T));                                                   \
                memcpy(padded + left, x + (c * g->H + iy) * g->W, width * sizeof(T));                  \
                memset(padded + left + width, 0, (WS - left - width) * sizeof(T));                     \
            }                                                                                          \
    }
IMPLICIT_GEMM_PADDED(implicit_gemm_padded_float, float)
IMPLICIT_GEMM_PADDED(implicit_gemm_padded_double, double)

/* Where row r of cols (r = (c*kh + i)*kw + j) starts in an image's source: tap (i, j) of
 * channel c, read at output (0, 0). */
static MINIDL_UNUSED ptrdiff_t implicit_gemm_tap(const implicit_gemm_geometry *g, ptrdiff_t r) {
    const ptrdiff_t taps = g->kh * g->kw, c = r / taps, i = (r % taps) / g->kw, j = r % g->kw;
    return (c * implicit_gemm_source_rows(g) + i * g->dh) * implicit_gemm_source_cols(g) + j * g->dw;
}

/* implicit_gemm_tap for every row of cols, once per call: the divisions are not free. */
static MINIDL_UNUSED void implicit_gemm_tap_offsets(const implicit_gemm_geometry *g, ptrdiff_t *offsets) {
    for (ptrdiff_t r = 0; r < g->C * g->kh * g->kw; r++) offsets[r] = implicit_gemm_tap(g, r);
}

/* Where output pixel p of an image (row-major, p < L) reads tap (0, 0), from the first image's
 * source on. */
static MINIDL_UNUSED ptrdiff_t implicit_gemm_pixel_source(const implicit_gemm_geometry *g, ptrdiff_t image, ptrdiff_t pixel) {
    const ptrdiff_t HS = implicit_gemm_source_rows(g), WS = implicit_gemm_source_cols(g);
    return (image * g->C * HS + pixel / g->OW * g->sh) * WS + pixel % g->OW * g->sw;
}

/* Pixels per chunk: their offsets are worked out once per chunk, and each block of weights
 * serves all of them; the input gradient takes images a few at a time to reach as many. */
#define IMPLICIT_GEMM_CHUNK 64
/* the most pixels a tile has, at any instruction set */
#define IMPLICIT_GEMM_MAX_MP 8

/* acc (MP x 2*VW, row-major) = the MP pixels' column entries (kc x MP, pixel q's row r at
 * images[taps[r] + source[q]]) transposed, @ w (kc x 2*VW, packed). */
#define IMPLICIT_GEMM_TILE(NAME, ATTR, T, V, VW, MP)                                                    \
    ATTR static void NAME(ptrdiff_t kc, const T *w, const T *images, const ptrdiff_t *taps,            \
                          const ptrdiff_t *source, T *acc) {                                           \
        V lo[MP], hi[MP];                                                                              \
        ptrdiff_t at[MP];                                                                              \
        _Pragma("GCC unroll 8") for (int q = 0; q < (MP); q++) {                                       \
            lo[q] = (V){0};                                                                            \
            hi[q] = (V){0};                                                                            \
            at[q] = source[q];                                                                         \
        }                                                                                              \
        for (ptrdiff_t k = 0; k < kc; k++, w += 2 * (VW)) {                                            \
            const T *row = images + taps[k];                                                           \
            V w0 = *(const V *)w, w1 = *(const V *)(w + (VW));                                         \
            MINIDL_IN_REGISTER(w0);                                                                    \
            MINIDL_IN_REGISTER(w1);                                                                    \
            _Pragma("GCC unroll 8") for (int q = 0; q < (MP); q++) {                                   \
                const T x = row[at[q]];                                                                \
                lo[q] += x * w0;                                                                       \
                hi[q] += x * w1;                                                                       \
            }                                                                                          \
        }                                                                                              \
        V *out = (V *)acc;                                                                             \
        _Pragma("GCC unroll 8") for (int q = 0; q < (MP); q++) {                                       \
            out[2 * q] = lo[q];                                                                        \
            out[2 * q + 1] = hi[q];                                                                    \
        }                                                                                              \
    }

/* out (n_images, K, L) = W @ cols (+ bias) for images given as their sources, one image's
 * after another. The first block of rows stores, later ones add. MP pixels a tile: as many as
 * leave the 2*MP accumulators, two weight vectors and a broadcast in the vector registers. */
#define IMPLICIT_GEMM_FORWARD(LEVEL, ATTR, T, V, VW, MP)                                               \
    IMPLICIT_GEMM_TILE(implicit_gemm_tile_##LEVEL##_##T, ATTR, T, V, VW, MP)                           \
    ATTR static void implicit_gemm_forward_##LEVEL##_##T(                                              \
        const T *images, ptrdiff_t n_images, const implicit_gemm_geometry *g, const ptrdiff_t *taps,   \
        const T *w_packed, ptrdiff_t K, const T *bias, ptrdiff_t KC, T *out) {                         \
        const ptrdiff_t NC = 2 * (VW), L = g->OH * g->OW, R = g->C * g->kh * g->kw;                   \
        const ptrdiff_t pixels = n_images * L, Kp = (K + NC - 1) / NC * NC;                            \
        T acc[(MP) * 2 * (VW)];                                                                        \
        ptrdiff_t source[IMPLICIT_GEMM_CHUNK + (MP)], target[IMPLICIT_GEMM_CHUNK + (MP)];              \
        for (ptrdiff_t pc = 0; pc < R; pc += KC) {                                                     \
            const ptrdiff_t kc = R - pc < KC ? R - pc : KC;                                            \
            for (ptrdiff_t p0 = 0; p0 < pixels; p0 += IMPLICIT_GEMM_CHUNK) {                           \
                const ptrdiff_t chunk = pixels - p0 < IMPLICIT_GEMM_CHUNK ? pixels - p0 : IMPLICIT_GEMM_CHUNK; \
                /* a last tile's missing pixels read the chunk's first one, and are not stored */      \
                for (ptrdiff_t q = 0; q < chunk + (MP); q++) {                                         \
                    const ptrdiff_t p = p0 + (q < chunk ? q : 0), n = p / L, l = p % L;                \
                    source[q] = implicit_gemm_pixel_source(g, n, l);                                   \
                    target[q] = n * K * L + l;                                                         \
                }                                                                                      \
                for (ptrdiff_t j0 = 0; j0 < Kp; j0 += NC) {                                            \
                    const T *w_block = w_packed + pc * Kp + j0 * kc;                                   \
                    const ptrdiff_t channels = K - j0 < NC ? K - j0 : NC;                              \
                    for (ptrdiff_t t = 0; t < chunk; t += (MP)) {                                      \
                        const ptrdiff_t tile = chunk - t < (MP) ? chunk - t : (MP);                    \
                        implicit_gemm_tile_##LEVEL##_##T(kc, w_block, images, taps + pc, source + t, acc); \
                        const ptrdiff_t *to = target + t;                                              \
                        for (ptrdiff_t c = 0; c < channels; c++) {                                     \
                            T *dst = out + (j0 + c) * L;                                               \
                            const T *src = acc + c;                                                    \
                            if (pc == 0) {                                                             \
                                const T shift = bias ? bias[j0 + c] : (T)0;                            \
                                for (ptrdiff_t q = 0; q < tile; q++) dst[to[q]] = src[q * NC] + shift; \
                            } else {                                                                   \
                                for (ptrdiff_t q = 0; q < tile; q++) dst[to[q]] += src[q * NC];        \
                            }                                                                          \
                        }                                                                              \
                    }                                                                                  \
                }                                                                                      \
            }                                                                                          \
        }                                                                                              \
    }

/* The weight gradient the same way, its roles turned: d W (K, R) = d out (K, N*L) @ cols^T.
 * A tile is MP rows of cols (broadcast from the images: row r of pixel p at
 * images[taps[r] + pixels[p]]) by 2 vectors of output channels, walking down the pixels;
 * d out arrives packed as [block of NC channels][pixel][NC] (implicit_conv.pyx), zero past K.
 * out (K, R) is stored once per tile: the pixels are never split. */
#define IMPLICIT_GEMM_WEIGHT_GRAD(LEVEL, ATTR, T, V, VW, MP)                                           \
    ATTR static void implicit_gemm_weight_grad_##LEVEL##_##T(                                          \
        const T *images, const implicit_gemm_geometry *g, const ptrdiff_t *taps, const ptrdiff_t *pixels, \
        ptrdiff_t n_pixels, const T *grad_packed, ptrdiff_t K, T *out) {                               \
        const ptrdiff_t NC = 2 * (VW), R = g->C * g->kh * g->kw, Kp = (K + NC - 1) / NC * NC;          \
        T acc[(MP) * 2 * (VW)];                                                                        \
        ptrdiff_t rows[IMPLICIT_GEMM_CHUNK + (MP)];                                                    \
        for (ptrdiff_t r0 = 0; r0 < R; r0 += IMPLICIT_GEMM_CHUNK) {                                    \
            const ptrdiff_t chunk = R - r0 < IMPLICIT_GEMM_CHUNK ? R - r0 : IMPLICIT_GEMM_CHUNK;       \
            /* a last tile's missing rows read the chunk's first one, and are not stored */            \
            for (ptrdiff_t q = 0; q < chunk + (MP); q++) rows[q] = taps[r0 + (q < chunk ? q : 0)];     \
            for (ptrdiff_t j0 = 0; j0 < Kp; j0 += NC) {                                                \
                const T *grad_block = grad_packed + j0 * n_pixels;                                     \
                const ptrdiff_t channels = K - j0 < NC ? K - j0 : NC;                                  \
                for (ptrdiff_t t = 0; t < chunk; t += (MP)) {                                          \
                    const ptrdiff_t tile = chunk - t < (MP) ? chunk - t : (MP);                        \
                    implicit_gemm_tile_##LEVEL##_##T(n_pixels, grad_block, images, pixels, rows + t, acc); \
                    for (ptrdiff_t c = 0; c < channels; c++) {                                         \
                        T *dst = out + (j0 + c) * R + r0 + t;                                          \
                        for (ptrdiff_t q = 0; q < tile; q++) dst[q] = acc[q * NC + c];                 \
                    }                                                                                  \
                }                                                                                      \
            }                                                                                          \
        }                                                                                              \
    }

/* The input gradient: the columns' gradient d cols^T (N*L, R) = d out^T @ W, with its columns
 * in the filter's tap-major order (r = (i*kw + j)*C + c), added straight back onto the pixels
 * (col2im) instead of being stored. A tile is MP output pixels (broadcast from d out, (K, L)
 * per image) by 2 vectors of those columns, K deep; where the 2 vectors are one tap's adjacent
 * channels, its rows are added as runs into channels-last zero-padded scratch images
 * (H + 2ph, W + 2pw, C), which then go to NCHW. W arrives packed as [block of NC
 * columns][K][NC], zero past R. Images go `group` at a time (scratch holds that many), so that
 * each block of W serves at least a few dozen pixels; pixels and at hold group*L + MP entries. */
#define IMPLICIT_GEMM_INPUT_GRAD(LEVEL, ATTR, T, V, VW, MP)                                            \
    ATTR static void implicit_gemm_input_grad_##LEVEL##_##T(                                           \
        const T *grad, ptrdiff_t n_images, const implicit_gemm_geometry *g, ptrdiff_t K,             \
        const ptrdiff_t *channel_rows, const T *w_packed, ptrdiff_t group, ptrdiff_t *pixels,         \
        ptrdiff_t *at, T *scratch, T *out) {                                                           \
        const ptrdiff_t NC = 2 * (VW), C = g->C, R = C * g->kh * g->kw, L = g->OH * g->OW;            \
        const ptrdiff_t HP = g->H + 2 * g->ph, WP = g->W + 2 * g->pw, plane = HP * WP * C;            \
        T acc[(MP) * 2 * (VW)];                                                                        \
        ptrdiff_t column_at[2 * (VW)];                                                                 \
        for (ptrdiff_t n0 = 0; n0 < n_images; n0 += group) {                                           \
            const ptrdiff_t images = n_images - n0 < group ? n_images - n0 : group, count = images * L; \
            memset(scratch, 0, images * plane * sizeof(T));                                            \
            /* a last tile's missing pixels read the first one, and are not added */                  \
            for (ptrdiff_t q = 0; q < count + (MP); q++) {                                             \
                const ptrdiff_t p = q < count ? q : 0, n = p / L, l = p % L;                           \
                pixels[q] = n * K * L + l;                                                             \
                at[q] = n * plane + (l / g->OW * g->sh * WP + l % g->OW * g->sw) * C;                  \
            }                                                                                          \
            for (ptrdiff_t j0 = 0; j0 < R; j0 += NC) {                                                 \
                const ptrdiff_t columns = R - j0 < NC ? R - j0 : NC;                                   \
                for (ptrdiff_t c = 0; c < columns; c++) {                                              \
                    const ptrdiff_t r = j0 + c, tap = r / C;                                           \
                    column_at[c] = (tap / g->kw * g->dh * WP + tap % g->kw * g->dw) * C + r % C;       \
                }                                                                                      \
                const int run = columns == NC && column_at[NC - 1] - column_at[0] == NC - 1;           \
                for (ptrdiff_t t = 0; t < count; t += (MP)) {                                          \
                    const ptrdiff_t tile = count - t < (MP) ? count - t : (MP);                        \
                    implicit_gemm_tile_##LEVEL##_##T(K, w_packed + j0 * K, grad + n0 * K * L,          \
                                                     channel_rows, pixels + t, acc);                   \
                    for (ptrdiff_t q = 0; q < tile; q++) {                                             \
                        T *dst = scratch + at[t + q];                                                  \
                        const T *src = acc + q * NC;                                                   \
                        if (run) {                                                                     \
                            dst += column_at[0];                                                       \
                            for (ptrdiff_t c = 0; c < NC; c++) dst[c] += src[c];                       \
                        } else {                                                                       \
                            for (ptrdiff_t c = 0; c < columns; c++) dst[column_at[c]] += src[c];       \
                        }                                                                              \
                    }                                                                                  \
                }                                                                                      \
            }                                                                                          \
            for (ptrdiff_t n = 0; n < images; n++) /* (W, C) rows of the scratch -> (C, W) rows */    \
                for (ptrdiff_t y = 0; y < g->H; y++)                                                   \
                    transpose_##T(scratch + n * plane + ((y + g->ph) * WP + g->pw) * C, C,             \
                                  out + ((n0 + n) * C * g->H + y) * g->W, g->H * g->W, g->W, C);       \
        }                                                                                              \
    }

#define IMPLICIT_GEMM_KERNELS(LEVEL, ATTR, T, V, VW, MP)                                               \
    IMPLICIT_GEMM_FORWARD(LEVEL, ATTR, T, V, VW, MP)                                                   \
    IMPLICIT_GEMM_WEIGHT_GRAD(LEVEL, ATTR, T, V, VW, MP)                                               \
    IMPLICIT_GEMM_INPUT_GRAD(LEVEL, ATTR, T, V, VW, MP)

#ifdef MINIDL_SIMD
IMPLICIT_GEMM_KERNELS(avx512, MINIDL_AVX512, float, f16x, 16, 8)
IMPLICIT_GEMM_KERNELS(avx2, MINIDL_AVX2, float, f8x, 8, 6)
IMPLICIT_GEMM_KERNELS(sse, , float, f4x, 4, 6)
IMPLICIT_GEMM_KERNELS(avx512, MINIDL_AVX512, double, d8x, 8, 8)
IMPLICIT_GEMM_KERNELS(avx2, MINIDL_AVX2, double, d4x, 4, 6)
IMPLICIT_GEMM_KERNELS(sse, , double, d2x, 2, 6)
#define IMPLICIT_GEMM_LANES(T) (minidl_isa_level() == 2 ? 64 : minidl_isa_level() == 1 ? 32 : 16) / (ptrdiff_t)sizeof(T)
#else
IMPLICIT_GEMM_KERNELS(sse, , float, float, 1, 6)
IMPLICIT_GEMM_KERNELS(sse, , double, double, 1, 6)
#define IMPLICIT_GEMM_LANES(T) 1
#endif

/* NC: the output channels of one block at the instruction set in use (2 vectors). */
static MINIDL_UNUSED ptrdiff_t implicit_gemm_channel_block_float(void) { return 2 * IMPLICIT_GEMM_LANES(float); }
static MINIDL_UNUSED ptrdiff_t implicit_gemm_channel_block_double(void) { return 2 * IMPLICIT_GEMM_LANES(double); }

static MINIDL_UNUSED void implicit_gemm_forward_float(const float *images, ptrdiff_t n_images, const implicit_gemm_geometry *g,
                                                      const ptrdiff_t *taps, const float *w_packed, ptrdiff_t K, const float *bias, ptrdiff_t KC,
                                                      float *out) {
    MINIDL_AT_LEVEL(implicit_gemm_forward, float, (images, n_images, g, taps, w_packed, K, bias, KC, out));
}
static MINIDL_UNUSED void implicit_gemm_forward_double(const double *images, ptrdiff_t n_images, const implicit_gemm_geometry *g,
                                                       const ptrdiff_t *taps, const double *w_packed, ptrdiff_t K, const double *bias, ptrdiff_t KC,
                                                       double *out) {
    MINIDL_AT_LEVEL(implicit_gemm_forward, double, (images, n_images, g, taps, w_packed, K, bias, KC, out));
}

static MINIDL_UNUSED void implicit_gemm_weight_grad_float(const float *images, const implicit_gemm_geometry *g, const ptrdiff_t *taps,
                                                          const ptrdiff_t *pixels, ptrdiff_t n_pixels, const float *grad_packed,
                                                          ptrdiff_t K, float *out) {
    MINIDL_AT_LEVEL(implicit_gemm_weight_grad, float, (images, g, taps, pixels, n_pixels, grad_packed, K, out));
}
static MINIDL_UNUSED void implicit_gemm_weight_grad_double(const double *images, const implicit_gemm_geometry *g, const ptrdiff_t *taps,
                                                           const ptrdiff_t *pixels, ptrdiff_t n_pixels, const double *grad_packed,
                                                           ptrdiff_t K, double *out) {
    MINIDL_AT_LEVEL(implicit_gemm_weight_grad, double, (images, g, taps, pixels, n_pixels, grad_packed, K, out));
}

static MINIDL_UNUSED void implicit_gemm_input_grad_float(const float *grad, ptrdiff_t n_images, const implicit_gemm_geometry *g,
                                                         ptrdiff_t K, const ptrdiff_t *channel_rows, const float *w_packed,
                                                         ptrdiff_t group, ptrdiff_t *pixels, ptrdiff_t *at, float *scratch,
                                                         float *out) {
    MINIDL_AT_LEVEL(implicit_gemm_input_grad, float, (grad, n_images, g, K, channel_rows, w_packed, group, pixels, at, scratch, out));
}
static MINIDL_UNUSED void implicit_gemm_input_grad_double(const double *grad, ptrdiff_t n_images, const implicit_gemm_geometry *g,
                                                          ptrdiff_t K, const ptrdiff_t *channel_rows, const double *w_packed,
                                                          ptrdiff_t group, ptrdiff_t *pixels, ptrdiff_t *at, double *scratch,
                                                          double *out) {
    MINIDL_AT_LEVEL(implicit_gemm_input_grad, double, (grad, n_images, g, K, channel_rows, w_packed, group, pixels, at, scratch, out));
}

#endif
