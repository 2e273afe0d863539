/* Direct ("shifted-GEMM") convolution at stride 1: the SIMD micro-kernel.
 *
 * An image's channels are laid out as zero-padded planes, each row Wp = W + 2*pw wide and
 * each plane `plane_stride` elements apart. Output pixel (oy, ox) is then plane position
 * o = oy*Wp + ox, and window tap t reads position o + shift[t] of every plane: one fixed
 * offset per tap. So the whole image's output is a GEMM, out(K, P) = W(K, C*taps) @ B,
 * whose operand B[c*taps + t, o] = plane_c[o + shift[t]] is read in place, never built.
 * The positions ox >= OW of each row are computed too and dropped by the caller.
 *
 * The register tile is 4 output channels x 3 vectors of positions: each step loads 3
 * vectors of one plane and 4 packed weights and does 12 multiply-adds, all in registers.
 *
 * The weight gradient is the same sum read the other way: d weight (k, c, t) is the dot
 * product of output-gradient row k (laid out like the output, zero in the padding
 * columns) with plane c read at offset shift[t]. Its tile is 4 output channels x 3 taps,
 * 12 vector accumulators over the positions, added into one vector per weight whose lanes
 * the caller sums after the last image; each gradient vector is loaded once into a register
 * for its 3 multiply-adds.
 * The same source compiles for AVX-512, AVX2+FMA and plain C; direct_conv_* picks one at
 * run time from the CPU, so one build runs anywhere and uses what the machine has.
 */
#ifndef MINIDL_DIRECT_CONV_H
#define MINIDL_DIRECT_CONV_H

#include <stddef.h>

#include "isa.h"

/* kernel(planes, plane_stride, channels, shifts, taps, packed, out_channels, out, positions):
 * out[k*positions + o] = sum over c, t of packed weight (k, c, t) * planes[c*plane_stride + o + shifts[t]]
 * for k < out_channels (a multiple of 4) and o < positions (a multiple of the tile width);
 * packed[((k/4)*channels*taps + c*taps + t)*4 + k%4] holds weight (k, c, t). */
#define DIRECT_CONV_KERNEL(NAME, ATTR, T, V, VW)                                                           \
    ATTR static void NAME(const T *planes, ptrdiff_t plane_stride, ptrdiff_t channels,                      \
                          const ptrdiff_t *shifts, ptrdiff_t taps, const T *packed, ptrdiff_t out_channels, \
                          T *out, ptrdiff_t positions) {                                                    \
        for (ptrdiff_t o = 0; o < positions; o += 3 * (VW)) {                                               \
            const T *w = packed;                                                                            \
            for (ptrdiff_t k = 0; k < out_channels; k += 4) {                                               \
                V a00 = {0}, a01 = {0}, a02 = {0}, a10 = {0}, a11 = {0}, a12 = {0};                         \
                V a20 = {0}, a21 = {0}, a22 = {0}, a30 = {0}, a31 = {0}, a32 = {0};                         \
                for (ptrdiff_t c = 0; c < channels; c++) {                                                  \
                    const T *plane = planes + c * plane_stride + o;                                         \
                    for (ptrdiff_t t = 0; t < taps; t++, w += 4) {                                          \
                        const T *s = plane + shifts[t];                                                     \
                        V v0 = *(const V *)s, v1 = *(const V *)(s + (VW)), v2 = *(const V *)(s + 2 * (VW)); \
                        T w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];                                       \
                        a00 += w0 * v0; a01 += w0 * v1; a02 += w0 * v2;                                    \
                        a10 += w1 * v0; a11 += w1 * v1; a12 += w1 * v2;                                    \
                        a20 += w2 * v0; a21 += w2 * v1; a22 += w2 * v2;                                    \
                        a30 += w3 * v0; a31 += w3 * v1; a32 += w3 * v2;                                    \
                    }                                                                                       \
                }                                                                                           \
                T *d = out + k * positions + o;                                                             \
                *(V *)d = a00; *(V *)(d + (VW)) = a01; *(V *)(d + 2 * (VW)) = a02; d += positions;          \
                *(V *)d = a10; *(V *)(d + (VW)) = a11; *(V *)(d + 2 * (VW)) = a12; d += positions;          \
                *(V *)d = a20; *(V *)(d + (VW)) = a21; *(V *)(d + 2 * (VW)) = a22; d += positions;          \
                *(V *)d = a30; *(V *)(d + (VW)) = a31; *(V *)(d + 2 * (VW)) = a32;                          \
            }                                                                                               \
        }                                                                                                   \
    }

/* wgrad(grads, positions, out_channels, planes, plane_stride, channels, shifts, taps, lanes):
 * lanes[(k*channels + c)*taps + t] (a vector) += grads[k*positions + o] * planes[c*plane_stride + o + shifts[t]]
 * over o < positions, lane l taking the positions o = l mod VW, for k < out_channels (a
 * multiple of 4), taps a multiple of 3 and positions a multiple of VW. The caller sums each
 * vector's lanes once, after the last image, not per image and tile. */
#define DIRECT_CONV_WGRAD_KERNEL(NAME, ATTR, T, V, VW)                                                     \
    ATTR static void NAME(const T *grads, ptrdiff_t positions, ptrdiff_t out_channels, const T *planes,     \
                          ptrdiff_t plane_stride, ptrdiff_t channels, const ptrdiff_t *shifts, ptrdiff_t taps, \
                          T *lanes) {                                                                       \
        for (ptrdiff_t k = 0; k < out_channels; k += 4) {                                                   \
            const T *g0 = grads + k * positions, *g1 = g0 + positions, *g2 = g1 + positions, *g3 = g2 + positions; \
            for (ptrdiff_t c = 0; c < channels; c++) {                                                      \
                const T *plane = planes + c * plane_stride;                                                 \
                for (ptrdiff_t t = 0; t < taps; t += 3) {                                                   \
                    const T *s0 = plane + shifts[t], *s1 = plane + shifts[t + 1], *s2 = plane + shifts[t + 2]; \
                    V a00 = {0}, a01 = {0}, a02 = {0}, a10 = {0}, a11 = {0}, a12 = {0};                     \
                    V a20 = {0}, a21 = {0}, a22 = {0}, a30 = {0}, a31 = {0}, a32 = {0};                     \
                    for (ptrdiff_t o = 0; o < positions; o += (VW)) {                                       \
                        V x0 = *(const V *)(s0 + o), x1 = *(const V *)(s1 + o), x2 = *(const V *)(s2 + o);  \
                        V d = *(const V *)(g0 + o); MINIDL_IN_REGISTER(d);                                  \
                        a00 += d * x0; a01 += d * x1; a02 += d * x2;                                        \
                        d = *(const V *)(g1 + o); MINIDL_IN_REGISTER(d);                                    \
                        a10 += d * x0; a11 += d * x1; a12 += d * x2;                                        \
                        d = *(const V *)(g2 + o); MINIDL_IN_REGISTER(d);                                    \
                        a20 += d * x0; a21 += d * x1; a22 += d * x2;                                        \
                        d = *(const V *)(g3 + o); MINIDL_IN_REGISTER(d);                                    \
                        a30 += d * x0; a31 += d * x1; a32 += d * x2;                                        \
                    }                                                                                       \
                    V *r = (V *)lanes + (k * channels + c) * taps + t;                                      \
                    ptrdiff_t next = channels * taps;                                                       \
                    r[0] += a00; r[1] += a01; r[2] += a02; r += next;                                       \
                    r[0] += a10; r[1] += a11; r[2] += a12; r += next;                                       \
                    r[0] += a20; r[1] += a21; r[2] += a22; r += next;                                       \
                    r[0] += a30; r[1] += a31; r[2] += a32;                                                  \
                }                                                                                           \
            }                                                                                               \
        }                                                                                                   \
    }

/* Copies an image's output-gradient plane for one channel (rows x cols, contiguous) into its
 * row-padded place (rows dst_stride apart) and returns its sum, the bias gradient's share.
 * Eight partial sums in double, which the compiler keeps in vectors: a single running sum is
 * a chain of dependent adds, slow next to the multiply-adds that this copy feeds. */
#define DIRECT_CONV_COPY_ROWS(T)                                                                           \
    MINIDL_UNUSED static double direct_conv_copy_rows_##T(const T *MINIDL_RESTRICT src, ptrdiff_t rows, ptrdiff_t cols,   \
                                            T *MINIDL_RESTRICT dst, ptrdiff_t dst_stride) {                  \
        double s[8] = {0};                                                                                  \
        for (ptrdiff_t i = 0; i < rows; i++, src += cols, dst += dst_stride) {                              \
            ptrdiff_t j = 0;                                                                                \
            for (; j + 8 <= cols; j += 8)                                                                   \
                for (int l = 0; l < 8; l++) { dst[j + l] = src[j + l]; s[l] += src[j + l]; }                \
            for (; j < cols; j++) { dst[j] = src[j]; s[j % 8] += src[j]; }                                  \
        }                                                                                                   \
        return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));                           \
    }
DIRECT_CONV_COPY_ROWS(float)
DIRECT_CONV_COPY_ROWS(double)

/* The weight gradient's lanes summed: lanes holds `groups` runs of `taps` vectors of `width`
 * lanes; out gets each run's first `used` sums, `used` apart. A halving tree, so that the
 * compiler keeps it in vectors (a single running sum would not be reordered). */
#define DIRECT_CONV_SUM_LANES(T)                                                                           \
    MINIDL_UNUSED static void direct_conv_sum_lanes_##T(const T *MINIDL_RESTRICT lanes, ptrdiff_t groups, ptrdiff_t taps, \
                                          ptrdiff_t used, ptrdiff_t width, T *MINIDL_RESTRICT out) {       \
        T buf[64];                                                                                          \
        for (ptrdiff_t g = 0; g < groups; g++)                                                              \
            for (ptrdiff_t t = 0; t < used; t++) {                                                          \
                const T *v = lanes + (g * taps + t) * width;                                                \
                for (ptrdiff_t l = 0; l < width; l++) buf[l] = v[l];                                        \
                for (ptrdiff_t w = width; w > 1; w /= 2)                                                    \
                    for (ptrdiff_t l = 0; l < w / 2; l++) buf[l] += buf[l + w / 2];                         \
                out[g * used + t] = buf[0];                                                                 \
            }                                                                                               \
    }
DIRECT_CONV_SUM_LANES(float)
DIRECT_CONV_SUM_LANES(double)

/* The other way, for the forward: rows x cols values, rows src_stride apart, plus the bias,
 * into a contiguous output plane (restrict lets the compiler vectorise the copy). */
#define DIRECT_CONV_COPY_OUT(T)                                                                            \
    MINIDL_UNUSED static void direct_conv_copy_out_##T(const T *MINIDL_RESTRICT src, ptrdiff_t src_stride, ptrdiff_t rows, \
                                         ptrdiff_t cols, T bias, T *MINIDL_RESTRICT dst) {                  \
        for (ptrdiff_t i = 0; i < rows; i++, src += src_stride, dst += cols)                                \
            for (ptrdiff_t j = 0; j < cols; j++) dst[j] = src[j] + bias;                                    \
    }
DIRECT_CONV_COPY_OUT(float)
DIRECT_CONV_COPY_OUT(double)

#ifdef MINIDL_SIMD
/* both kernels for one instruction-set level and element type */
#define DIRECT_CONV_KERNELS(LEVEL, ATTR, T, V, VW)                     \
    DIRECT_CONV_KERNEL(direct_conv_##LEVEL##_##T, ATTR, T, V, VW)      \
    DIRECT_CONV_WGRAD_KERNEL(direct_conv_wgrad_##LEVEL##_##T, ATTR, T, V, VW)
DIRECT_CONV_KERNELS(avx512, MINIDL_AVX512, float, f16x, 16)
DIRECT_CONV_KERNELS(avx2, MINIDL_AVX2, float, f8x, 8)
DIRECT_CONV_KERNELS(sse, , float, f4x, 4)
DIRECT_CONV_KERNELS(avx512, MINIDL_AVX512, double, d8x, 8)
DIRECT_CONV_KERNELS(avx2, MINIDL_AVX2, double, d4x, 4)
DIRECT_CONV_KERNELS(sse, , double, d2x, 2)

/* positions per tile: the caller rounds the output positions up to a multiple of this */
static ptrdiff_t direct_conv_tile_float(void) { return 3 * (minidl_isa_level() == 2 ? 16 : minidl_isa_level() == 1 ? 8 : 4); }
static ptrdiff_t direct_conv_tile_double(void) { return 3 * (minidl_isa_level() == 2 ? 8 : minidl_isa_level() == 1 ? 4 : 2); }
#define DIRECT_CONV_DISPATCH(T)                                                                                       \
    static void direct_conv_##T(const T *planes, ptrdiff_t plane_stride, ptrdiff_t channels, const ptrdiff_t *shifts, \
                                ptrdiff_t taps, const T *packed, ptrdiff_t out_channels, T *out, ptrdiff_t positions) { \
        MINIDL_AT_LEVEL(direct_conv, T, (planes, plane_stride, channels, shifts, taps, packed, out_channels, out, positions)); \
    }                                                                                                                 \
    MINIDL_UNUSED static void direct_conv_wgrad_##T(const T *grads, ptrdiff_t positions, ptrdiff_t out_channels, const T *planes,   \
                                      ptrdiff_t plane_stride, ptrdiff_t channels, const ptrdiff_t *shifts,            \
                                      ptrdiff_t taps, T *lanes) {                                                     \
        MINIDL_AT_LEVEL(direct_conv_wgrad, T, (grads, positions, out_channels, planes, plane_stride, channels, shifts, taps, lanes)); \
    }
DIRECT_CONV_DISPATCH(float)
DIRECT_CONV_DISPATCH(double)

#else /* another compiler or CPU: the same tile on scalars */
DIRECT_CONV_KERNEL(direct_conv_float, , float, float, 1)
DIRECT_CONV_KERNEL(direct_conv_double, , double, double, 1)
DIRECT_CONV_WGRAD_KERNEL(direct_conv_wgrad_float, , float, float, 1)
DIRECT_CONV_WGRAD_KERNEL(direct_conv_wgrad_double, , double, double, 1)
static ptrdiff_t direct_conv_tile_float(void) { return 3; }
static ptrdiff_t direct_conv_tile_double(void) { return 3; }
#endif

#endif
