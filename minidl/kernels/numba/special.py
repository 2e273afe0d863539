"""Special functions: erf (NumPy lacks it; libm's, exact to double precision), and fast float32 tanh and exp."""
import math

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload


# A plain loop, not @numba.vectorize with signatures: that compiles (or loads from
# the cache) when this module is imported, which cost every first kernel 0.3 s.
@numba.njit(cache=True)
def _erf(x, out):
    for i in range(x.size):
        out[i] = math.erf(x[i])


def erf(x):
    """erf, element-wise (libm's, exact to the dtype's precision)."""
    x = np.asarray(x, order="C")
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    out = np.empty_like(x)
    _erf(x.reshape(-1), out.reshape(-1))
    return out


def _lambert_tanh_coefficients(depth=13):
    """tanh x = x / (1 + x^2 / (3 + x^2 / (5 + ...))) (Lambert), cut at `depth` levels and
    written as x * N(u) / D(u) with u = x^2. All coefficients are positive, so Horner's
    rule in float32 has no cancellation; depth 13 is within 4.3e-7 relative error of
    tanh on all float32 inputs (tests/kernels/test_dispatch_and_erf.py checks it)."""
    from fractions import Fraction

    num, den = [Fraction(2 * depth - 1)], [Fraction(1)]  # the tail T = num / den, as polynomials in u
    for k in range(depth - 1, 0, -1):  # T_k = (2k - 1) + u / T_{k+1}
        grown = [Fraction(0)] * max(len(num), len(den) + 1)
        for i, c in enumerate(num):
            grown[i] += (2 * k - 1) * c
        for i, c in enumerate(den):
            grown[i + 1] += c
        num, den = grown, num
    return np.array([float(c) for c in den]), np.array([float(c) for c in num])  # tanh = x * den / num


_N, _D = _lambert_tanh_coefficients()
assert len(_N) == len(_D) == 7  # the kernel below unrolls Horner's rule for degree 6
# Tuples of float32 are compile-time constants for Numba: the loop below vectorises (AVX2).
N0, N1, N2, N3, N4, N5, N6 = (np.float32(c) for c in _N)
D0, D1, D2, D3, D4, D5, D6 = (np.float32(c) for c in _D)
# Past |x| = 9, tanh(x) rounds to +-1 in float32.
_CLAMP = np.float32(9.0)
_ONE = np.float32(1.0)


@numba.njit(inline="always", error_model="numpy", fastmath={"contract"})
def _tanh32_scalar(raw):
    v = _CLAMP if raw > _CLAMP else raw  # comparisons, not min/max: NaN passes through to the result
    v = -_CLAMP if v < -_CLAMP else v
    u = v * v
    n = ((((((N6 * u + N5) * u + N4) * u + N3) * u + N2) * u + N1) * u) + N0
    d = ((((((D6 * u + D5) * u + D4) * u + D3) * u + D2) * u + D1) * u) + D0
    r = v * n / d
    r = _ONE if raw >= _CLAMP else r
    return -_ONE if raw <= -_CLAMP else r


# error_model="numpy": Numba's default adds a ZeroDivisionError test to the division,
# which stops LLVM from vectorising the loop.
@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _tanh32(x, out):
    for i in range(x.size):
        out[i] = _tanh32_scalar(x[i])


# In place gets its own loop: with out aliasing x, LLVM's runtime overlap check
# sends _tanh32 down its scalar path.
@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _tanh32_inplace(x):
    for i in range(x.size):
        x[i] = _tanh32_scalar(x[i])


def _float32_map(x, out, kernel, in_place_kernel, numpy_ufunc):
    """out = f(x) with a float32 Numba kernel when both are contiguous float32, else NumPy's ufunc."""
    if out is None:
        out = np.empty_like(x)
    if x.dtype == np.float32 and x.flags.c_contiguous and out.flags.c_contiguous:
        if out is x:
            in_place_kernel(x.reshape(-1))
        elif np.shares_memory(x, out):
            out[...] = x
            in_place_kernel(out.reshape(-1))
        else:
            kernel(x.reshape(-1), out.reshape(-1))
        return out
    return numpy_ufunc(x, out=out)


def tanh(x, out=None):
    """tanh, element-wise: a vectorised rational approximation for float32 (NumPy's float32
    tanh is not SIMD in the builds measured), exact np.tanh otherwise."""
    return _float32_map(x, out, _tanh32, _tanh32_inplace, np.tanh)


# ---- exp ---------------------------------------------------------------------
# NumPy's float32 exp is not SIMD in those builds either (softmax, cross-entropy and
# attention spend much of their time in it). The classic vector
# recipe: exp(x) = 2^n * e^r with n = round(x / ln 2), r = x - n ln 2 (ln 2 split in
# two, Cody and Waite, so r is exact), e^r by its Taylor series to r^7 (|r| <= 0.347:
# truncation 5e-9), and 2^n built in the float's exponent bits.


@intrinsic
def _float32_from_bits(typingctx, bits):
    """Reinterpret an int32's bits as a float32 (LLVM bitcast; vectorises)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


_LOG2E = np.float32(1.4426950408889634)
_LN2_HI = np.float32(0.693359375)  # few mantissa bits: n * _LN2_HI is exact
_LN2_LO = np.float32(-2.12194440e-4)  # ln 2 - _LN2_HI
E2, E3, E4, E5, E6, E7 = (np.float32(1 / math.factorial(k)) for k in range(2, 8))
# exp underflows to 0 below -103.98 and overflows above 88.73 in float32; clamping
# just outside keeps n's two halves inside the exponent range.
_EXP_LO, _EXP_HI = np.float32(-104.0), np.float32(88.8)
_HALF = np.float32(0.5)
_ZERO = np.float32(0.0)
_BIAS, _MANTISSA = np.int32(127), np.int32(23)


@numba.njit(inline="always", error_model="numpy", fastmath={"contract"})
def _exp32_scalar(x):
    # Below _EXP_LO the result is 0 and is selected at the end; meanwhile those lanes compute
    # exp(0), since computing a result that underflows takes a slow microcoded path on x86
    # (masked attention scores are -inf, so this path is common).
    v = _ZERO if x < _EXP_LO else x  # comparisons, not min/max: NaN passes through to the result
    v = _EXP_HI if v > _EXP_HI else v
    n = np.floor(v * _LOG2E + _HALF)
    r = (v - n * _LN2_HI) - n * _LN2_LO
    p = (((((((E7 * r + E6) * r + E5) * r + E4) * r + E3) * r + E2) * r + _ONE) * r) + _ONE
    # 2^n as two factors 2^k1 * 2^k2: each stays a normal float even where e^x is
    # denormal (n down to -150) or at the top of the range (n = 128)
    k = np.int32(n)
    k1 = k >> np.int32(1)
    e = p * _float32_from_bits((k1 + _BIAS) << _MANTISSA) * _float32_from_bits((k - k1 + _BIAS) << _MANTISSA)
    return _ZERO if x < _EXP_LO else e


def _by_precision(fast32, exact):
    """A scalar function for use inside Numba kernels: `fast32` on float32 arguments,
    `exact` (libm's) on anything else, chosen when the calling kernel compiles."""

    def scalar(x):
        return exact(x)

    @overload(scalar)
    def _choose(x):
        if isinstance(x, types.Float) and x.bitwidth == 32:
            return lambda x: fast32(x)
        return lambda x: exact(x)

    return scalar


tanh_scalar = _by_precision(_tanh32_scalar, math.tanh)
exp_scalar = _by_precision(_exp32_scalar, math.exp)


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _exp32(x, out):
    for i in range(x.size):
        out[i] = _exp32_scalar(x[i])


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def _exp32_inplace(x):  # see _tanh32_inplace
    for i in range(x.size):
        x[i] = _exp32_scalar(x[i])


def exp(x, out=None):
    """exp, element-wise: vectorised for float32 (within 1e-7 relative of the exact
    value, denormals and overflow as NumPy), exact np.exp otherwise."""
    return _float32_map(x, out, _exp32, _exp32_inplace, np.exp)
