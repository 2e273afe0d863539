"""minidl.kernels.blas_threads: a stack of GEMMs split over two threads gives np.matmul's
products, runs the BLAS single-threaded only inside the call, and falls back to one matmul."""
import numpy as np
import pytest
from threadpoolctl import ThreadpoolController

from minidl.kernels import blas_threads, threads


def _numpy_blas_threads():
    found = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas" and "numpy" in c.filepath]
    return found[0].get_num_threads() if found else None


@pytest.fixture
def split(monkeypatch):
    """Two threads and a BLAS whose thread count can be set, whatever imported NumPy first."""
    monkeypatch.setenv("MINIDL_THREADS", "2")
    monkeypatch.setattr(threads, "_CORES", 2)
    monkeypatch.setattr(blas_threads, "blas_spin_is_short", lambda: True)
    monkeypatch.setattr(blas_threads, "_blas", blas_threads._UNSET)  # monkeypatch puts the cached one back


def _stack(shape_a, shape_b, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape_a).astype(dtype), rng.standard_normal(shape_b).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("stack", [16, 3, 2])
def test_split_stack_matches_numpy_and_restores_the_blas_thread_count(split, dtype, stack):
    a, b = _stack((stack, 7, 33), (stack, 33, 5), dtype)
    before = _numpy_blas_threads()
    out = np.full((stack, 7, 5), np.nan, dtype=dtype)
    result = blas_threads.stacked_matmul(a, b, out=out)
    assert result is out
    np.testing.assert_allclose(out, np.matmul(a, b), rtol=1e-6 if dtype == np.float32 else 1e-13, atol=1e-6)
    assert blas_threads._blas is not None  # the split path ran, not the fallback
    assert _numpy_blas_threads() == before


def test_strided_views_as_the_winograd_layer_passes_them(split):
    a, b = _stack((16, 12, 9), (16, 10, 9), np.float64)
    b_t = b.transpose(0, 2, 1)  # read transposed in place, as U^T and V^T are
    out = np.empty((16, 12, 10))
    np.testing.assert_allclose(blas_threads.stacked_matmul(a, b_t, out=out), np.matmul(a, b_t), rtol=1e-13)


def test_a_failing_half_still_restores_the_blas_thread_count(split):
    a, b = _stack((4, 3, 2), (4, 2, 3), np.float32)
    before = _numpy_blas_threads()
    with pytest.raises(ValueError):
        blas_threads.stacked_matmul(a, b, out=np.empty((4, 3, 4), dtype=np.float32))  # the wrong width
    assert _numpy_blas_threads() == before


def test_one_thread_or_a_long_blas_spin_runs_one_matmul(monkeypatch):
    calls = []
    monkeypatch.setattr(blas_threads, "run_pair", lambda part: calls.append(part))
    a, b = _stack((16, 4, 4), (16, 4, 4), np.float32)
    monkeypatch.setattr(threads, "_CORES", 2)
    monkeypatch.setenv("MINIDL_THREADS", "1")
    np.testing.assert_allclose(blas_threads.stacked_matmul(a, b, out=np.empty((16, 4, 4), np.float32)), a @ b, rtol=1e-6)
    monkeypatch.setenv("MINIDL_THREADS", "2")
    monkeypatch.setattr(blas_threads, "blas_spin_is_short", lambda: False)
    monkeypatch.setattr(blas_threads, "_blas", blas_threads._UNSET)
    np.testing.assert_allclose(blas_threads.stacked_matmul(a, b, out=np.empty((16, 4, 4), np.float32)), a @ b, rtol=1e-6)
    assert calls == [] and blas_threads._blas is None
