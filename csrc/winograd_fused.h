/* Winograd's F(2x2, 3x3) with its tile transforms fused to its multiply-adds, a few rows of
 * tiles at a time.
 *
 * The BLAS path (winograd.pyx, ops/conv.py) writes the transformed tiles of a whole chunk of
 * images to memory, multiplies them there and reads the products back: at 64 channels and
 * 32x32 images those passes over memory cost about as much as the multiplications they save.
 * Here a block of tile rows is transformed into buffers that stay in the core's cache,
 * multiplied there by the direct convolution's micro-kernel (direct_conv.h with one tap:
 * for each of the 16 positions of a 4x4 tile, M[p] (K x tiles) = U[p] (K x C) @ V[p] (C x tiles)),
 * and transformed straight into the output. The weight gradient goes block by block the same
 * way, with small_gemm.h's kernel (below).
 *
 * The transforms are vectorised along a row of tiles. Each channel plane is padded to the
 * tiles' extent and split into its even and odd columns ("half-rows"), so tile tx reads
 * columns tx and tx + 1 of the 8 half-rows under it: the same offsets for every tile.
 */
#ifndef MINIDL_WINOGRAD_FUSED_H
#define MINIDL_WINOGRAD_FUSED_H

#include <stddef.h>
#include <string.h>

#include "direct_conv.h"
#include "isa.h"
#include "small_gemm.h"
#include "winograd_filter.h"

/* tiles a transform handles per pass through its local buffer */
#define WINOGRAD_SPAN 64
/* n rounded up to a multiple of 8 values (at most WINOGRAD_SPAN): a loop over a row of n tiles
 * ran its remainder past the last whole vector on scalars, at every row; the extra lanes are
 * computed and dropped */
#define WINOGRAD_WHOLE(n) (((n) + 7) & ~(ptrdiff_t)7)
/* so a row's last values are read up to 7 past its end: the split image's buffer has this much
 * more at its end, and the products' planes a gap of _PLANE_GAP (winograd.pyx) after each */
#define WINOGRAD_SLACK 8

/* Where the output planes are a multiple of WINOGRAD_STAGE_PLANES bytes apart (32x32 or 16x16
 * floats), the forward's output transform writes a tile row of a group of output channels into
 * a local buffer of WINOGRAD_STAGE_BYTES and copies it out, a channel's two rows at a time:
 * its stores straight into such planes, between its reads, took a quarter of the forward.
 * At other plane sizes the copy cost more than it saved (docs/performance.md). */
#define WINOGRAD_STAGE_BYTES (16 << 10)
#define WINOGRAD_STAGE_PLANES 1024

/* split(x, C, H, W, ph, pw, th, tw, row, halves): one image (C, H, W) zero-padded by (ph, pw)
 * to Hp = 2*th + 2 rows of Wp = 2*tw + 2 columns, each row stored as its even then its odd
 * columns: halves[((c*Hp + y)*2 + parity)*(tw + 1) + i] = padded[c][y][2*i + parity].
 * `row` is scratch for Wp values. */
#define WINOGRAD_SPLIT(LEVEL, ATTR, T)                                                                           \
    ATTR static void winograd_split_##LEVEL##_##T(const T *MINIDL_RESTRICT x, ptrdiff_t C, ptrdiff_t H,          \
                                                  ptrdiff_t W, ptrdiff_t ph, ptrdiff_t pw, ptrdiff_t th,         \
                                                  ptrdiff_t tw, T *MINIDL_RESTRICT row, T *MINIDL_RESTRICT halves) { \
        ptrdiff_t Hp = 2 * th + 2, Wp = 2 * tw + 2, te = tw + 1;                                                 \
        ptrdiff_t width = W < Wp - pw ? W : Wp - pw; /* columns of x inside the tiles' extent */                 \
        memset(row, 0, Wp * sizeof(T)); /* only the columns of x are written below: the padding stays zero */    \
        for (ptrdiff_t c = 0; c < C; c++)                                                                        \
            for (ptrdiff_t y = 0; y < Hp; y++) {                                                                 \
                T *even = halves + (c * Hp + y) * 2 * te, *odd = even + te;                                      \
                ptrdiff_t sy = y - ph;                                                                           \
                if (sy < 0 || sy >= H) {                                                                         \
                    memset(even, 0, 2 * te * sizeof(T));                                                         \
                    continue;                                                                                    \
                }                                                                                                \
                MINIDL_COPY(row + pw, x + (c * H + sy) * W, width);                                              \
                for (ptrdiff_t i = 0; i < te; i++) {                                                             \
                    even[i] = row[2 * i];                                                                        \
                    odd[i] = row[2 * i + 1];                                                                     \
                }                                                                                                \
            }                                                                                                    \
    }

/* row_in(h, h_stride, C, te, tw, v, v_stride, p_stride): V = B^T d B for the tw tiles of one tile
 * row of C channels; channel c's 8 half-rows start at h + c*h_stride (te = tw + 1 apart), and
 * position p of its tile tx goes to v[c*v_stride + p*p_stride + tx]. Reads up to WINOGRAD_SLACK
 * values past a half-row. */
#define WINOGRAD_ROW_IN(LEVEL, ATTR, T)                                                                          \
    ATTR static void winograd_row_in_##LEVEL##_##T(const T *MINIDL_RESTRICT h, ptrdiff_t h_stride, ptrdiff_t C,  \
                                                   ptrdiff_t te, ptrdiff_t tw, T *MINIDL_RESTRICT v,             \
                                                   ptrdiff_t v_stride, ptrdiff_t p_stride) {                     \
        T out[16][WINOGRAD_SPAN];                                                                                \
        for (ptrdiff_t c = 0; c < C; c++, h += h_stride, v += v_stride)                                          \
        for (ptrdiff_t t0 = 0; t0 < tw; t0 += WINOGRAD_SPAN) {                                                   \
            const T *e0 = h, *o0 = h + te, *e1 = h + 2 * te, *o1 = h + 3 * te;                                   \
            const T *e2 = h + 4 * te, *o2 = h + 5 * te, *e3 = h + 6 * te, *o3 = h + 7 * te;                      \
            ptrdiff_t n = tw - t0 < WINOGRAD_SPAN ? tw - t0 : WINOGRAD_SPAN;                                     \
            for (ptrdiff_t i = 0; i < WINOGRAD_WHOLE(n); i++) { /* past n: the next half-row's, dropped */      \
                ptrdiff_t a = t0 + i, b = a + 1; /* the tile's columns 0, 2 (even) and 1, 3 (odd) */             \
                T r00 = e0[a] - e2[a], r01 = o0[a] - o2[a], r02 = e0[b] - e2[b], r03 = o0[b] - o2[b];            \
                T r10 = e1[a] + e2[a], r11 = o1[a] + o2[a], r12 = e1[b] + e2[b], r13 = o1[b] + o2[b];            \
                T r20 = e2[a] - e1[a], r21 = o2[a] - o1[a], r22 = e2[b] - e1[b], r23 = o2[b] - o1[b];            \
                T r30 = e1[a] - e3[a], r31 = o1[a] - o3[a], r32 = e1[b] - e3[b], r33 = o1[b] - o3[b];            \
                out[0][i] = r00 - r02; out[1][i] = r01 + r02; out[2][i] = r02 - r01; out[3][i] = r01 - r03;      \
                out[4][i] = r10 - r12; out[5][i] = r11 + r12; out[6][i] = r12 - r11; out[7][i] = r11 - r13;      \
                out[8][i] = r20 - r22; out[9][i] = r21 + r22; out[10][i] = r22 - r21; out[11][i] = r21 - r23;    \
                out[12][i] = r30 - r32; out[13][i] = r31 + r32; out[14][i] = r32 - r31; out[15][i] = r31 - r33;  \
            }                                                                                                    \
            for (int p = 0; p < 16; p++) MINIDL_COPY(v + p * p_stride + t0, out[p], n);                         \
        }                                                                                                        \
    }

/* pairs(left, right, n, dst): dst = left[0], right[0], left[1], right[1], ... (n pairs). Not inlined:
 * inside row_out gcc no longer vectorises it. */
#define WINOGRAD_PAIRS(LEVEL, ATTR, T)                                                                           \
    ATTR __attribute__((noinline)) static void winograd_pairs_##LEVEL##_##T(const T *MINIDL_RESTRICT left, const T *MINIDL_RESTRICT right, \
                                                         ptrdiff_t n, T *MINIDL_RESTRICT dst) {                  \
        for (ptrdiff_t i = 0; i < n; i++) {                                                                      \
            dst[2 * i] = left[i];                                                                                \
            dst[2 * i + 1] = right[i];                                                                           \
        }                                                                                                        \
    }

/* row_out(m, p_stride, k_stride, K, tw, bias, y, y_stride, OW, two_rows): y = A^T m A + bias for
 * the tw tiles of one tile row of K output channels, position p of channel k's tile tx read
 * from m[k*k_stride + p*p_stride + tx]; the tiles' first output row goes to
 * y[k*y_stride : k*y_stride + OW], their second to the OW after it when two_rows, columns
 * past OW dropped. bias may be NULL. Reads up to WINOGRAD_SLACK values past a row of m. */
#define WINOGRAD_ROW_OUT(LEVEL, ATTR, T)                                                                         \
    ATTR static void winograd_row_out_##LEVEL##_##T(const T *MINIDL_RESTRICT m, ptrdiff_t p_stride, ptrdiff_t k_stride, \
                                                    ptrdiff_t K, ptrdiff_t tw, const T *bias, T *MINIDL_RESTRICT y, \
                                                    ptrdiff_t y_stride, ptrdiff_t OW, int two_rows) {            \
        T out[4][WINOGRAD_SPAN];                                                                                 \
        for (ptrdiff_t k = 0; k < K; k++, m += k_stride, y += y_stride)                                          \
        for (ptrdiff_t t0 = 0; t0 < tw; t0 += WINOGRAD_SPAN) {                                                   \
            T bias_k = bias ? bias[k] : 0;                                                                       \
            ptrdiff_t n = tw - t0 < WINOGRAD_SPAN ? tw - t0 : WINOGRAD_SPAN;                                     \
            const T *q = m + t0;                                                                                 \
            for (ptrdiff_t i = 0; i < WINOGRAD_WHOLE(n); i++) { /* A^T down the tile's columns, then along its rows */ \
                T m0 = q[i], m1 = q[p_stride + i], m2 = q[2 * p_stride + i], m3 = q[3 * p_stride + i];           \
                T m4 = q[4 * p_stride + i], m5 = q[5 * p_stride + i], m6 = q[6 * p_stride + i], m7 = q[7 * p_stride + i]; \
                T m8 = q[8 * p_stride + i], m9 = q[9 * p_stride + i], m10 = q[10 * p_stride + i];                \
                T m11 = q[11 * p_stride + i], m12 = q[12 * p_stride + i], m13 = q[13 * p_stride + i];            \
                T m14 = q[14 * p_stride + i], m15 = q[15 * p_stride + i];                                        \
                T a0 = m0 + m4 + m8, a1 = m1 + m5 + m9, a2 = m2 + m6 + m10, a3 = m3 + m7 + m11;                  \
                T b0 = m4 - m8 - m12, b1 = m5 - m9 - m13, b2 = m6 - m10 - m14, b3 = m7 - m11 - m15;              \
                out[0][i] = a0 + a1 + a2 + bias_k; out[1][i] = a1 - a2 - a3 + bias_k;                            \
                out[2][i] = b0 + b1 + b2 + bias_k; out[3][i] = b1 - b2 - b3 + bias_k;                            \
            }                                                                                                    \
            ptrdiff_t x0 = 2 * t0, pairs = (OW - x0) / 2 < n ? (OW - x0) / 2 : n;                                \
            for (int r = 0; r < 1 + two_rows; r++) {                                                             \
                winograd_pairs_##LEVEL##_##T(out[2 * r], out[2 * r + 1], pairs, y + r * OW + x0);                \
                if (pairs < n && x0 + 2 * pairs < OW) y[r * OW + x0 + 2 * pairs] = out[2 * r][pairs]; /* an odd last column */ \
            }                                                                                                    \
        }                                                                                                        \
    }

/* The weight gradient, dU[p] (K x C) = sum over tiles of dM[p] (K x tiles) @ V[p]^T, reduces over
 * tiles; small_gemm.h's kernel does that with the tiles as its depth, reading V^T packed in
 * panels of channels. So for it the input goes channels-last and its transform is vectorised
 * across a panel of channels, while dM's is vectorised along a row of tiles as above. */

/* tiles_in_cl(hwc, Wp, Cp, ty, tw, t_first, depth, vt, p_stride): V for the tw tiles of tile row
 * ty, from one padded image laid out (Hp, Wp, Cp) channels-last; position p of tile tx and
 * channel c goes to vt[p*p_stride + (c/PANEL)*depth*PANEL + (t_first + tx)*PANEL + c%PANEL]:
 * small_gemm.h's packed operand of `depth` rows. */
#define WINOGRAD_TILES_IN_CL_PANELS(NAME, ATTR, T, PANEL_BYTES)                                                  \
    ATTR static void NAME(const T *MINIDL_RESTRICT hwc, ptrdiff_t Wp, ptrdiff_t Cp, ptrdiff_t ty, ptrdiff_t tw,     \
                          ptrdiff_t t_first, ptrdiff_t depth, T *MINIDL_RESTRICT vt, ptrdiff_t p_stride) {          \
        enum { PANEL = (PANEL_BYTES) / sizeof(T) };                                                              \
        T out[16][PANEL];                                                                                        \
        for (ptrdiff_t tx = 0; tx < tw; tx++)                                                                    \
            for (ptrdiff_t q = 0; q < Cp / PANEL; q++) {                                                         \
                const T *d = hwc + ((2 * ty) * Wp + 2 * tx) * Cp + q * PANEL;                                    \
                ptrdiff_t row = Wp * Cp;                                                                         \
                for (ptrdiff_t l = 0; l < PANEL; l++) {                                                          \
                    T d00 = d[l], d01 = d[Cp + l], d02 = d[2 * Cp + l], d03 = d[3 * Cp + l];                     \
                    T d10 = d[row + l], d11 = d[row + Cp + l], d12 = d[row + 2 * Cp + l], d13 = d[row + 3 * Cp + l]; \
                    T d20 = d[2 * row + l], d21 = d[2 * row + Cp + l], d22 = d[2 * row + 2 * Cp + l];            \
                    T d23 = d[2 * row + 3 * Cp + l], d30 = d[3 * row + l], d31 = d[3 * row + Cp + l];            \
                    T d32 = d[3 * row + 2 * Cp + l], d33 = d[3 * row + 3 * Cp + l];                              \
                    T r00 = d00 - d20, r01 = d01 - d21, r02 = d02 - d22, r03 = d03 - d23;                        \
                    T r10 = d10 + d20, r11 = d11 + d21, r12 = d12 + d22, r13 = d13 + d23;                        \
                    T r20 = d20 - d10, r21 = d21 - d11, r22 = d22 - d12, r23 = d23 - d13;                        \
                    T r30 = d10 - d30, r31 = d11 - d31, r32 = d12 - d32, r33 = d13 - d33;                        \
                    out[0][l] = r00 - r02; out[1][l] = r01 + r02; out[2][l] = r02 - r01; out[3][l] = r01 - r03;  \
                    out[4][l] = r10 - r12; out[5][l] = r11 + r12; out[6][l] = r12 - r11; out[7][l] = r11 - r13;  \
                    out[8][l] = r20 - r22; out[9][l] = r21 + r22; out[10][l] = r22 - r21; out[11][l] = r21 - r23; \
                    out[12][l] = r30 - r32; out[13][l] = r31 + r32; out[14][l] = r32 - r31; out[15][l] = r31 - r33; \
                }                                                                                                \
                T *dst = vt + q * depth * PANEL + (t_first + tx) * PANEL;                                        \
                for (int p = 0; p < 16; p++) memcpy(dst + p * p_stride, out[p], sizeof out[p]);                  \
            }                                                                                                    \
    }

/* tiles_in_cl for small_gemm.h's wide panels, and tiles_in_cl_narrow for its narrow ones */
#define WINOGRAD_TILES_IN_CL(LEVEL, ATTR, T)                                                                     \
    WINOGRAD_TILES_IN_CL_PANELS(winograd_tiles_in_cl_##LEVEL##_##T, ATTR, T, SMALL_GEMM_PANEL_BYTES)             \
    WINOGRAD_TILES_IN_CL_PANELS(winograd_tiles_in_cl_narrow_##LEVEL##_##T, ATTR, T, SMALL_GEMM_NARROW_PANEL_BYTES)

/* grad_row(g, OH, OW, ty, tw, dm, p_stride): dM = A dy A^T for the tw tiles of tile row ty of one
 * output channel's gradient plane g (OH x OW; outside it, zero); position p of tile tx goes to
 * dm[p*p_stride + tx]. Returns the sum of the gradient values it read (rows 2ty and 2ty + 1):
 * over the tile rows, the channel's share of d bias. */
#define WINOGRAD_GRAD_ROW(LEVEL, ATTR, T)                                                                        \
    ATTR static double winograd_grad_row_##LEVEL##_##T(const T *MINIDL_RESTRICT g, ptrdiff_t OH, ptrdiff_t OW,   \
                                                       ptrdiff_t ty, ptrdiff_t tw, T *MINIDL_RESTRICT dm,        \
                                                       ptrdiff_t p_stride) {                                     \
        T even[2][WINOGRAD_SPAN], odd[2][WINOGRAD_SPAN], out[16][WINOGRAD_SPAN];                                 \
        double sum = 0;                                                                                          \
        for (ptrdiff_t t0 = 0; t0 < tw; t0 += WINOGRAD_SPAN) {                                                   \
            ptrdiff_t n = tw - t0 < WINOGRAD_SPAN ? tw - t0 : WINOGRAD_SPAN;                                     \
            ptrdiff_t pairs = (OW - 2 * t0) / 2 < n ? (OW - 2 * t0) / 2 : n;                                     \
            for (int r = 0; r < 2; r++) {                                                                        \
                if (2 * ty + r >= OH) {                                                                          \
                    memset(even[r], 0, sizeof even[r]);                                                          \
                    memset(odd[r], 0, sizeof odd[r]);                                                            \
                    continue;                                                                                    \
                }                                                                                                \
                const T *src = g + (2 * ty + r) * OW + 2 * t0;                                                   \
                for (ptrdiff_t i = 0; i < pairs; i++) {                                                          \
                    even[r][i] = src[2 * i];                                                                     \
                    odd[r][i] = src[2 * i + 1];                                                                  \
                }                                                                                                \
                if (pairs < n) { /* an odd last column */                                                        \
                    even[r][pairs] = src[2 * pairs];                                                             \
                    odd[r][pairs] = 0;                                                                           \
                }                                                                                                \
            }                                                                                                    \
            MINIDL_SIMD_SUM(sum)                                                                                 \
            for (ptrdiff_t i = 0; i < n; i++) sum += (double)even[0][i] + odd[0][i] + even[1][i] + odd[1][i];    \
            ptrdiff_t whole = WINOGRAD_WHOLE(n); /* whole vectors: past n the lanes are zeros, not copied out */ \
            for (int r = 0; r < 2; r++)                                                                          \
                for (ptrdiff_t i = n; i < whole; i++) even[r][i] = odd[r][i] = 0;                                \
            for (ptrdiff_t i = 0; i < whole; i++) { /* A down the tile's columns, then along its rows */         \
                T a0 = even[0][i], a1 = odd[0][i], b0 = even[1][i], b1 = odd[1][i];                              \
                T r00 = a0, r01 = a1, r10 = a0 + b0, r11 = a1 + b1, r20 = a0 - b0, r21 = a1 - b1;                \
                T r30 = -b0, r31 = -b1;                                                                          \
                out[0][i] = r00; out[1][i] = r00 + r01; out[2][i] = r00 - r01; out[3][i] = -r01;                 \
                out[4][i] = r10; out[5][i] = r10 + r11; out[6][i] = r10 - r11; out[7][i] = -r11;                 \
                out[8][i] = r20; out[9][i] = r20 + r21; out[10][i] = r20 - r21; out[11][i] = -r21;               \
                out[12][i] = r30; out[13][i] = r30 + r31; out[14][i] = r30 - r31; out[15][i] = -r31;             \
            }                                                                                                    \
            for (int p = 0; p < 16; p++) MINIDL_COPY(dm + p * p_stride + t0, out[p], n);                        \
        }                                                                                                        \
        return sum;                                                                                              \
    }

/* copy_out(stage, count, rows, OW, y, plane): count channels' `rows` output rows, 2*OW apart in the
 * stage, to y (channels `plane` apart). Compiled per instruction set, as the transforms: the
 * staged forward's stores into the output are made here, a cache line a store at AVX-512. */
#define WINOGRAD_COPY_OUT(LEVEL, ATTR, T)                                                                        \
    ATTR static void winograd_copy_out_##LEVEL##_##T(const T *MINIDL_RESTRICT stage, ptrdiff_t count, ptrdiff_t rows, \
                                                     ptrdiff_t OW, T *MINIDL_RESTRICT y, ptrdiff_t plane) {      \
        for (ptrdiff_t k = 0; k < count; k++) MINIDL_COPY(y + k * plane, stage + k * 2 * OW, rows * OW);         \
    }

#define WINOGRAD_FUSED_KERNELS(LEVEL, ATTR, T)                                                                   \
    WINOGRAD_SPLIT(LEVEL, ATTR, T) WINOGRAD_ROW_IN(LEVEL, ATTR, T) WINOGRAD_PAIRS(LEVEL, ATTR, T) WINOGRAD_ROW_OUT(LEVEL, ATTR, T) \
    WINOGRAD_TILES_IN_CL(LEVEL, ATTR, T) WINOGRAD_GRAD_ROW(LEVEL, ATTR, T) WINOGRAD_COPY_OUT(LEVEL, ATTR, T)

/* fused(x, N, C, H, W, ph, pw, packed, K, bias, out, OH, OW, rows, scratch...): the convolution
 * of N images x (N, C, H, W) into out (N, K, OH, OW), bias optional (NULL). packed is U
 * (16, K, C) laid out for the micro-kernel, (16, K4/4, C, 4) with K4 = K rounded up to 4.
 * Blocks of `rows` tile rows (of all the images' N*th, so a block may span two images) share
 * the scratch: halves (C*Hp*2*(tw + 1)), row (Wp), v (16 planes of C rows, v_stride apart) and
 * m (16 planes of K4 rows, m_stride apart), each plane's rows `positions` long: rows*tw rounded
 * up to the micro-kernel's tile width. */
/* pack_filter(weight, K, C, packed): U = G g G^T for every 3x3 filter g of weight (K, C, 3, 3),
 * laid out for the micro-kernel: packed[((p*K4/4 + k/4)*C + c)*4 + k%4], K4 = K rounded up to 4
 * with zero filters. Here and not as a BLAS product: a small threaded GEMM between these
 * kernels leaves OpenBLAS's workers spinning on the cores that the two halves of a batch use. */
#define WINOGRAD_PACK_FILTER(T)                                                                                  \
    static void winograd_pack_filter_##T(const T *MINIDL_RESTRICT weight, ptrdiff_t K, ptrdiff_t C,              \
                                         T *MINIDL_RESTRICT packed) {                                            \
        ptrdiff_t K4 = (K + 3) / 4 * 4, plane = K4 * C;                                                          \
        /* four output channels at a time, as the micro-kernel reads them: each of the 16 planes is */           \
        /* written in order, 4 values at a time */                                                               \
        for (ptrdiff_t k0 = 0; k0 < K4; k0 += 4)                                                                 \
            for (ptrdiff_t c = 0; c < C; c++) {                                                                  \
                T u[16][4] = {{0}};                                                                              \
                for (ptrdiff_t k = k0; k < k0 + 4 && k < K; k++) {                                               \
                    const T *g = weight + (k * C + c) * 9;                                                       \
                    T t[4][3];                                                                                   \
                    for (int j = 0; j < 3; j++) { /* G down the columns */                                       \
                        t[0][j] = g[j];                                                                          \
                        t[1][j] = (g[j] + g[3 + j] + g[6 + j]) / 2;                                              \
                        t[2][j] = (g[j] - g[3 + j] + g[6 + j]) / 2;                                              \
                        t[3][j] = g[6 + j];                                                                      \
                    }                                                                                            \
                    for (int i = 0; i < 4; i++) { /* and G^T along the rows */                                   \
                        u[4 * i][k - k0] = t[i][0];                                                              \
                        u[4 * i + 1][k - k0] = (t[i][0] + t[i][1] + t[i][2]) / 2;                                \
                        u[4 * i + 2][k - k0] = (t[i][0] - t[i][1] + t[i][2]) / 2;                                \
                        u[4 * i + 3][k - k0] = t[i][2];                                                          \
                    }                                                                                            \
                }                                                                                                \
                for (int p = 0; p < 16; p++) memcpy(packed + p * plane + k0 * C + 4 * c, u[p], sizeof u[p]);     \
            }                                                                                                    \
    }

#define WINOGRAD_FUSED(T)                                                                                        \
    MINIDL_EACH_LEVEL(WINOGRAD_FUSED_KERNELS, T)                                                                 \
    WINOGRAD_PACK_FILTER(T)                                                                                      \
    static void winograd_fused_##T(const T *x, ptrdiff_t N, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W, ptrdiff_t ph, \
                                   ptrdiff_t pw, const T *packed, ptrdiff_t K, const T *bias, T *out, ptrdiff_t OH, \
                                   ptrdiff_t OW, ptrdiff_t rows, T *halves, T *row, T *v, ptrdiff_t v_stride, T *m, \
                                   ptrdiff_t m_stride, ptrdiff_t positions) {                                    \
        ptrdiff_t th = (OH + 1) / 2, tw = (OW + 1) / 2, te = tw + 1, Hp = 2 * th + 2, K4 = (K + 3) / 4 * 4;      \
        ptrdiff_t tile = direct_conv_tile_##T(), zero = 0, loaded = -1;                                          \
        T stage[WINOGRAD_STAGE_BYTES / sizeof(T)];                                                               \
        /* output channels per staged pass; 0: the output planes' rows are written straight */                   \
        ptrdiff_t group = OH * OW * sizeof(T) % WINOGRAD_STAGE_PLANES ? 0 : WINOGRAD_STAGE_BYTES / sizeof(T) / (2 * OW); \
        for (ptrdiff_t g0 = 0; g0 < N * th; g0 += rows) {                                                        \
            ptrdiff_t R = N * th - g0 < rows ? N * th - g0 : rows;                                               \
            ptrdiff_t P = (R * tw + tile - 1) / tile * tile; /* this block's columns, in whole tiles */          \
            for (ptrdiff_t r = 0; r < R; r++) {                                                                  \
                ptrdiff_t n = (g0 + r) / th, ty = (g0 + r) % th;                                                 \
                if (n != loaded) {                                                                               \
                    MINIDL_AT_LEVEL(winograd_split, T, (x + n * C * H * W, C, H, W, ph, pw, th, tw, row, halves)); \
                    loaded = n;                                                                                  \
                }                                                                                                \
                MINIDL_AT_LEVEL(winograd_row_in, T, (halves + 2 * ty * 2 * te, Hp * 2 * te, C, te, tw,           \
                                                     v + r * tw, positions, v_stride));                          \
            }                                                                                                    \
            for (int p = 0; p < 16; p++)                                                                         \
                direct_conv_##T(v + p * v_stride, positions, C, &zero, 1, packed + p * K4 * C, K4, m + p * m_stride, P); \
            for (ptrdiff_t r = 0; r < R; r++) {                                                                  \
                ptrdiff_t n = (g0 + r) / th, ty = (g0 + r) % th, lines = 2 * ty + 1 < OH ? 2 : 1;               \
                T *y = out + (n * K * OH + 2 * ty) * OW;                                                         \
                if (group == 0) {                                                                                \
                    MINIDL_AT_LEVEL(winograd_row_out, T, (m + r * tw, m_stride, P, K, tw, bias, y, OH * OW, OW,  \
                                                          lines == 2));                                          \
                    continue;                                                                                    \
                }                                                                                                \
                for (ptrdiff_t k0 = 0; k0 < K; k0 += group) {                                                    \
                    ptrdiff_t k1 = K - k0 < group ? K : k0 + group;                                              \
                    MINIDL_AT_LEVEL(winograd_row_out, T, (m + r * tw + k0 * P, m_stride, P, k1 - k0, tw,         \
                                                          bias ? bias + k0 : NULL, stage, 2 * OW, OW, lines == 2)); \
                    MINIDL_AT_LEVEL(winograd_copy_out, T, (stage, k1 - k0, lines, OW, y + k0 * OH * OW, OH * OW)); \
                }                                                                                                \
            }                                                                                                    \
        }                                                                                                        \
    }

/* channels_last(x, C, H, W, ph, pw, Hp, Wp, Cp, out): one image (C, H, W), zero-padded by (ph, pw)
 * and cut to Hp x Wp, as (Hp, Wp, Cp), channels past C zero. */
/* The weight gradient's channels per panel of V^T for C input channels of `size` bytes: a narrow
 * panel where the channels fit one, so that half of each panel is not zeros. */
MINIDL_UNUSED static ptrdiff_t winograd_weight_grad_panel(ptrdiff_t C, ptrdiff_t size)
{
    return (C * size <= SMALL_GEMM_NARROW_PANEL_BYTES ? SMALL_GEMM_NARROW_PANEL_BYTES : SMALL_GEMM_PANEL_BYTES) / size;
}

#define WINOGRAD_CHANNELS_LAST(T)                                                                                \
    static void winograd_channels_last_##T(const T *MINIDL_RESTRICT x, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W,    \
                                           ptrdiff_t ph, ptrdiff_t pw, ptrdiff_t Hp, ptrdiff_t Wp, ptrdiff_t Cp, \
                                           T *MINIDL_RESTRICT out) {                                             \
        memset(out, 0, Hp * Wp * Cp * sizeof(T));                                                                \
        ptrdiff_t rows = H < Hp - ph ? H : Hp - ph, cols = W < Wp - pw ? W : Wp - pw;                            \
        for (ptrdiff_t y = 0; y < rows; y++) /* row y of every channel, (C, cols) -> (cols, C) */                \
            transpose_##T(x + y * W, H * W, out + ((y + ph) * Wp + pw) * Cp, Cp, C, cols);                       \
    }

/* fused_weight_grad(x, N, C, H, W, ph, pw, grad, K, OH, OW, rows, scratch..., du, sums): du (16, K, C)
 * += dM[p] V[p]^T and sums (K, double) += each output channel's gradient, over the N images' tiles, x (N, C, H, W) and grad (N, K, OH, OW), a block of
 * `rows` tile rows at a time. Scratch: hwc (Hp*Wp*Cp, Cp = C rounded up to the panel of
 * winograd_weight_grad_panel),
 * vt (16 planes, vt_stride apart, of Cp*rows*tw) and dm (16 planes, dm_stride apart, of K rows
 * `depth` = rows*tw long). */
#define WINOGRAD_FUSED_WEIGHT_GRAD(T)                                                                            \
    WINOGRAD_CHANNELS_LAST(T)                                                                                    \
    static void winograd_fused_weight_grad_##T(const T *x, ptrdiff_t N, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W,   \
                                               ptrdiff_t ph, ptrdiff_t pw, const T *grad, ptrdiff_t K,           \
                                               ptrdiff_t OH, ptrdiff_t OW, ptrdiff_t rows, T *hwc, T *vt,        \
                                               ptrdiff_t vt_stride, T *dm, ptrdiff_t dm_stride, ptrdiff_t depth, \
                                               T *du, double *sums) {                                            \
        const ptrdiff_t PANEL = winograd_weight_grad_panel(C, sizeof(T));                                        \
        const int narrow = PANEL * (ptrdiff_t)sizeof(T) == SMALL_GEMM_NARROW_PANEL_BYTES;                        \
        ptrdiff_t th = (OH + 1) / 2, tw = (OW + 1) / 2, Hp = 2 * th + 2, Wp = 2 * tw + 2;                        \
        ptrdiff_t Cp = (C + PANEL - 1) / PANEL * PANEL, loaded = -1;                                             \
        for (ptrdiff_t g0 = 0; g0 < N * th; g0 += rows) {                                                        \
            ptrdiff_t R = N * th - g0 < rows ? N * th - g0 : rows;                                               \
            for (ptrdiff_t r = 0; r < R; r++) {                                                                  \
                ptrdiff_t n = (g0 + r) / th, ty = (g0 + r) % th;                                                 \
                if (n != loaded) {                                                                               \
                    winograd_channels_last_##T(x + n * C * H * W, C, H, W, ph, pw, Hp, Wp, Cp, hwc);             \
                    loaded = n;                                                                                  \
                }                                                                                                \
                if (narrow)                                                                                      \
                    MINIDL_AT_LEVEL(winograd_tiles_in_cl_narrow, T, (hwc, Wp, Cp, ty, tw, r * tw, R * tw, vt, vt_stride)); \
                else                                                                                             \
                    MINIDL_AT_LEVEL(winograd_tiles_in_cl, T, (hwc, Wp, Cp, ty, tw, r * tw, R * tw, vt, vt_stride)); \
            }                                                                                                    \
            /* a channel's tile rows of the block one after another: its gradient rows are read in order, */  \
            /* not two rows of each channel's plane in turn */                                                   \
            for (ptrdiff_t k = 0; k < K; k++)                                                                    \
                for (ptrdiff_t r = 0; r < R; r++) {                                                              \
                    ptrdiff_t n = (g0 + r) / th, ty = (g0 + r) % th;                                             \
                    sums[k] += MINIDL_VALUE_AT_LEVEL(winograd_grad_row, T, (grad + (n * K + k) * OH * OW, OH, OW, ty, \
                                                                            tw, dm + k * depth + r * tw, dm_stride)); \
                }                                                                                                \
            for (int p = 0; p < 16; p++)                                                                         \
                (narrow ? small_gemm_narrow_##T : small_gemm_##T)(dm + p * dm_stride, depth, K, R * tw,          \
                                                                  vt + p * vt_stride, C, du + p * K * C, C, 1);  \
        }                                                                                                        \
    }

WINOGRAD_FUSED(float)
WINOGRAD_FUSED(double)
WINOGRAD_FUSED_WEIGHT_GRAD(float)
WINOGRAD_FUSED_WEIGHT_GRAD(double)

#endif
