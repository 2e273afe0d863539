"""The BLAS-floor steps (benchmarks/blas_floor.py) do exactly the real ops' multiply-adds."""
import numpy as np

import minidl as md
import minidl.functional as F
from benchmarks.blas_floor import conv_gemms, lstm_gemms


def _forward_macs(run):
    with md.autograd.count_flops() as counter:
        run()
    return counter.macs


def test_conv_floor_does_three_times_the_forward_macs_of_b1():
    x, w, b = md.randn(32, 16, 32, 32), md.randn(32, 16, 3, 3), md.randn(32)
    forward = _forward_macs(lambda: F.conv2d(x, w, b, padding=1))
    step, macs = conv_gemms()
    assert macs == 3 * forward  # forward, d input, d weight: one GEMM each
    step()


def test_lstm_floor_does_three_times_the_forward_macs_of_b4():
    x = md.randn(50, 32, 64)
    weights = md.randn(512, 64), md.randn(512, 128), md.randn(512), md.randn(512)
    forward = _forward_macs(lambda: F.lstm(x, None, *weights))
    step, macs = lstm_gemms()
    assert macs == 3 * forward  # projection and recurrence, each forward and twice backward
    step()


def test_conv_floor_runs_the_products_of_the_real_conv(monkeypatch):
    """Same operand shapes, dtypes and memory layouts (strides) as ops.Conv2d's np.matmul calls
    on its im2col path."""
    monkeypatch.setenv("MINIDL_CONV_ALGO", "im2col")
    calls = []
    real_matmul = np.matmul

    def spy(a, b, *args, **kwargs):
        calls.append((a.shape, a.strides, b.shape, b.strides, a.dtype, b.dtype))
        return real_matmul(a, b, *args, **kwargs)

    monkeypatch.setattr(np, "matmul", spy)
    x = md.Tensor(np.ones((32, 16, 32, 32), np.float32), requires_grad=True)
    w = md.Tensor(np.ones((32, 16, 3, 3), np.float32), requires_grad=True)
    b = md.Tensor(np.ones(32, np.float32), requires_grad=True)
    F.conv2d(x, w, b, padding=1).sum().backward()
    real = sorted(calls)
    calls.clear()
    conv_gemms()[0]()
    assert sorted(calls) == real and len(real) == 3
