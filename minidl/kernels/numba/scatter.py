"""Row scatter-add: the gradient of an embedding lookup.

np.add.at is unbuffered and slow; a plain loop adding each gradient row into its
embedding row is memory-bound.
"""
import numba
import numpy as np


@numba.njit(cache=True)
def _scatter_add_rows(indices, rows, out):
    for i in range(indices.size):
        target = out[indices[i]]
        source = rows[i]
        for j in range(source.size):
            target[j] += source[j]


def scatter_add_rows(indices, rows, num_rows):
    """out[indices[i]] += rows[i] for every i, into zeros (repeated indices add up).

    Shape: indices (M,) int, rows (M, D) -> out (num_rows, D). Indices must be in range.
    """
    rows = np.ascontiguousarray(rows)
    out = np.zeros((num_rows, rows.shape[1]), dtype=rows.dtype)
    _scatter_add_rows(np.ascontiguousarray(indices, dtype=np.int64), rows, out)
    return out
