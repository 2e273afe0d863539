"""What the recurrent loops call at every step: the small GEMM (csrc/small_gemm.h) against
its NumPy twin, a @ w, at every instruction set this CPU has; and the barrier."""
import numpy as np
import pytest

small_gemm = pytest.importorskip("minidl.kernels._recurrent_steps")  # test_extensions_built fails CI without it

# (rows, depth, cols): whole tiles, row and column edges, one of everything, no depth, no rows
SHAPES = [(32, 128, 512), (5, 7, 33), (1, 1, 1), (7, 13, 100), (4, 3, 64), (3, 0, 5), (0, 4, 6), (9, 65, 17)]


@pytest.fixture(params=small_gemm.instruction_sets())
def isa(request):
    previous = small_gemm.limit_instruction_set(request.param)
    assert small_gemm.instruction_set() == request.param
    yield request.param
    small_gemm.limit_instruction_set(previous)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_gemm_matches_numpy(isa, dtype, shape):
    rows, depth, cols = shape
    rng = np.random.default_rng(1)
    a = rng.standard_normal((rows, depth)).astype(dtype)
    w = rng.standard_normal((depth, cols)).astype(dtype)
    packed = small_gemm.pack(w)
    tol = dict(rtol=1e-5, atol=1e-5 * max(depth, 1)) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    got = small_gemm.gemm(a, packed, cols)
    assert got.dtype == dtype and got.shape == (rows, cols)
    np.testing.assert_allclose(got, a.astype(np.float64) @ w.astype(np.float64), **tol)
    out = rng.standard_normal((rows, cols)).astype(dtype)
    want = out.astype(np.float64) + a.astype(np.float64) @ w.astype(np.float64)
    assert small_gemm.gemm(a, packed, cols, out=out) is out
    np.testing.assert_allclose(out, want, **tol)


def test_packing_pads_the_last_panel_with_zeros():
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    width = small_gemm.panel_width(np.float32)
    packed = small_gemm.pack(w).reshape(-1, 2, width)
    assert packed.shape == (1, 2, width)
    np.testing.assert_array_equal(packed[0, :, :3], w)
    assert not packed[0, :, 3:].any()
    assert small_gemm.panel_width(np.float64) == width // 2


def test_bad_input_is_named():
    with pytest.raises(TypeError, match=r"small_gemm.pack: .*int64"):
        small_gemm.pack(np.zeros((2, 2), dtype=np.int64))
    packed = small_gemm.pack(np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"small_gemm.gemm: packed float32 .* not a \(5, 4\) float64"):
        small_gemm.gemm(np.zeros((2, 5)), packed, 4)


def test_the_addresses_are_the_functions_numba_calls():
    from minidl.kernels.numba import recurrent_loops

    assert set(small_gemm.addresses()) == {"small_gemm_float32", "small_gemm_float64", "step_barrier"}
    assert all(address > 0 for address in small_gemm.addresses().values())
    assert recurrent_loops.steps is small_gemm


def test_no_thread_passes_the_barrier_before_the_others_finish_the_step():
    """Two threads, 2000 steps: at the start of step s each has seen every thread finish
    step s - 1, and none finish step s + 1."""
    import threading

    parties, steps = 2, 2000
    done, log = small_gemm.barrier_slots(parties), np.zeros(parties * steps, dtype=np.int64)
    workers = [threading.Thread(target=small_gemm.barrier_demo, args=(done, parties, me, log, steps))
               for me in range(parties)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seen = log.reshape(parties, steps)
    floor = parties * np.arange(steps)  # every thread has published step s - 1
    assert (seen >= floor).all() and (seen <= floor + parties - 1).all()
    assert (done[:: len(done) // parties] == steps - 1).all()
