"""The BLAS floor of B1 and B4: only the GEMMs minidl's kernels run, nothing else.

Each step runs exactly the matrix products of the real op, with the same shapes and
memory layouts, and none of the data movement or gate math around them, so floor /
PyTorch tells how much of a gap the GEMMs alone explain. A developer's measurement:
`pytest --benchmark-only` prints it in its summary.

Each builder returns (step, macs); test_blas_floor_counts.py checks `macs` against the
real op's FLOP counter.
"""
import numpy as np


def _arrays(*shapes):
    rng = np.random.default_rng(0)
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


def conv_gemms():
    """B1's three GEMMs as ops.Conv2d's im2col path runs them (the batch folded into the
    columns, laid out by pixel: rows (N*L, taps*C), W with its taps outermost): out^T =
    rows @ W^T, d rows = d out @ W, d W = (rows^T @ d out)^T (few output channels:
    WEIGHT_GRAD_TRANSPOSED_UP_TO). (B1 itself now runs the fused Winograd, which has no BLAS
    GEMM; this is the floor of the path it replaced.)"""
    n, c, k, length, taps = 32, 16, 32, 32 * 32, 9
    rows, taps_first, grad = _arrays((n * length, taps * c), (k, taps * c), (n * length, k))

    def step():
        np.matmul(rows, taps_first.T)
        np.matmul(grad, taps_first)
        np.matmul(rows.T, grad)

    return step, 3 * k * c * taps * n * length


def lstm_gemms():
    """B4's GEMMs as F.lstm and the recurrent kernels run them: the input projection for all
    steps, one recurrent product per step forward and one per step backward, the input's and
    the projection weight's gradients, and d W_hh as two GEMMs on views."""
    steps, batch, inputs, hidden = 50, 32, 64, 128
    gates = 4 * hidden
    x, w_ih, w_hh, d_gates, hs = _arrays((steps * batch, inputs), (gates, inputs), (gates, hidden),
                                         (steps, batch, gates), (steps, batch, hidden))
    w_t = np.ascontiguousarray(w_hh.T)
    z, dh = np.empty((batch, gates), np.float32), np.empty((batch, hidden), np.float32)

    def step():
        x @ w_ih.T
        for t in range(steps):
            np.matmul(hs[t], w_t, out=z)
        for t in range(steps - 1, -1, -1):
            np.matmul(d_gates[t], w_hh, out=dh)
        flat = d_gates.reshape(-1, gates)
        flat @ w_ih
        flat.T @ x
        d_gates[0].T @ hs[0]
        d_gates[1:].reshape(-1, gates).T @ hs[:-1].reshape(-1, hidden)

    projection, recurrent = steps * batch * inputs * gates, steps * batch * hidden * gates
    return step, 3 * (projection + recurrent)


FLOORS = {"B1": conv_gemms, "B4": lstm_gemms}
