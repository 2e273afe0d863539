"""Special functions NumPy lacks, as Numba ufuncs (libm's erf, exact to double precision)."""
import math

import numba


@numba.vectorize(["float32(float32)", "float64(float64)"], cache=True)
def erf(x):
    return math.erf(x)
