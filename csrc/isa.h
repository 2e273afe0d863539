/* The instruction set a SIMD kernel runs on, picked at run time from the CPU.
 *
 * Kernels are written once with GCC/clang vector types and compiled three times under
 * `target` attributes (AVX-512, AVX2+FMA, the SSE2 baseline); each call asks
 * minidl_isa_level() which one to run. Tests lower the cap to run every level the CPU
 * has. Each extension module that includes this header has its own cap.
 * MINIDL_SIMD is defined where vector types and the run-time choice are available;
 * elsewhere the kernels compile on scalars.
 */
#ifndef MINIDL_ISA_H
#define MINIDL_ISA_H

#include <stddef.h>
#include <string.h>

/* for a header's helper that some of the modules including it do not call */
#if defined(__GNUC__)
#define MINIDL_UNUSED __attribute__((unused))
#else
#define MINIDL_UNUSED
#endif
/* no other pointer reaches the same memory: lets a loop vectorise without run-time overlap tests */
#define MINIDL_RESTRICT __restrict
/* Before a loop that adds into s (and t): C may not reorder a sum, so without this the loop
 * is one chain of dependent adds; with it (-fopenmp-simd, no OpenMP runtime) the compiler
 * keeps one partial sum per vector lane. */
#define MINIDL_PRAGMA(text) _Pragma(#text)
#define MINIDL_SIMD_SUM(s) MINIDL_PRAGMA(omp simd reduction(+ : s))
#define MINIDL_SIMD_SUM2(s, t) MINIDL_PRAGMA(omp simd reduction(+ : s, t))
#define MINIDL_SIMD_MAX(m) MINIDL_PRAGMA(omp simd reduction(max : m))
/* dst[0:n] = src[0:n]: for the short rows that the Winograd transforms copy many thousand times
 * a call, a call to memcpy costs more than the copy, so a multiple of 16 values is copied 16 at a
 * time by fixed-size copies that compile to vector moves; other lengths by memcpy. */
#define MINIDL_COPY(dst, src, n)                                                                  \
    do {                                                                                          \
        if ((n) % 16 == 0)                                                                        \
            for (ptrdiff_t i_ = 0; i_ < (n); i_ += 16) memcpy((dst) + i_, (src) + i_, 16 * sizeof *(dst)); \
        else                                                                                      \
            memcpy((dst), (src), (n) * sizeof *(dst));                                            \
    } while (0)

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(MINIDL_PORTABLE_KERNELS)
#define MINIDL_SIMD 1
/* aligned(sizeof(T)) makes every load and store an unaligned one */
typedef float f16x __attribute__((vector_size(64), aligned(4)));
typedef float f8x __attribute__((vector_size(32), aligned(4)));
typedef float f4x __attribute__((vector_size(16), aligned(4)));
typedef double d8x __attribute__((vector_size(64), aligned(8)));
typedef double d4x __attribute__((vector_size(32), aligned(8)));
typedef double d2x __attribute__((vector_size(16), aligned(8)));
#define MINIDL_AVX512 __attribute__((target("avx512f")))
#define MINIDL_AVX2 __attribute__((target("avx2,fma")))
/* Keeps x in a vector register. Otherwise gcc may fold x's load into every multiply-add that
 * uses it, and a core that does one 512-bit load per cycle (AMD's AVX-512 ones) then waits on
 * the loads. */
#define MINIDL_IN_REGISTER(x) __asm__("" : "+v"(x))

/* 2 = AVX-512, 1 = AVX2 with FMA, 0 = the baseline (SSE2 on x86-64) */
static int minidl_cpu_level(void) {
    static int level = -1;
    if (level < 0) {
        __builtin_cpu_init();
        level = __builtin_cpu_supports("avx512f") ? 2 : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 1 : 0;
    }
    return level;
}
static int minidl_isa_cap = 2; /* the highest level used */
static int minidl_isa_level(void) {
    int level = minidl_cpu_level();
    return level < minidl_isa_cap ? level : minidl_isa_cap;
}
static const char *minidl_isa_names[] = {"sse2", "avx2", "avx512"};
static const char *minidl_isa(void) { return minidl_isa_names[minidl_isa_level()]; }
static int minidl_isa_levels(void) { return minidl_cpu_level() + 1; }
static const char *minidl_isa_level_name(int level) { return minidl_isa_names[level]; }
static void minidl_isa_set_cap(int level) { minidl_isa_cap = level; }
/* KERNEL##_<level>_##T called with ARGS, for the level in use: the value it returns */
#define MINIDL_VALUE_AT_LEVEL(KERNEL, T, ARGS) \
    (minidl_isa_level() == 2 ? KERNEL##_avx512_##T ARGS : minidl_isa_level() == 1 ? KERNEL##_avx2_##T ARGS : KERNEL##_sse_##T ARGS)
/* the same for a kernel that returns nothing */
#define MINIDL_AT_LEVEL(KERNEL, T, ARGS) ((void)MINIDL_VALUE_AT_LEVEL(KERNEL, T, ARGS))
/* KERNELS(LEVEL, ATTR, T) once per level: plain C loops that gcc vectorises at each width */
#define MINIDL_EACH_LEVEL(KERNELS, T) KERNELS(avx512, MINIDL_AVX512, T) KERNELS(avx2, MINIDL_AVX2, T) KERNELS(sse, , T)

#else
static int minidl_isa_level(void) { return 0; }
#define MINIDL_IN_REGISTER(x) ((void)0)
static const char *minidl_isa(void) { return "portable"; }
static int minidl_isa_levels(void) { return 1; }
static const char *minidl_isa_level_name(int level) { (void)level; return "portable"; }
static void minidl_isa_set_cap(int level) { (void)level; }
#define MINIDL_AT_LEVEL(KERNEL, T, ARGS) KERNEL##_sse_##T ARGS
#define MINIDL_VALUE_AT_LEVEL(KERNEL, T, ARGS) KERNEL##_sse_##T ARGS
#define MINIDL_EACH_LEVEL(KERNELS, T) KERNELS(sse, , T)
#endif

#endif
