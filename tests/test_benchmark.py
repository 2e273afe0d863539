"""The benchmark workloads (minidl.benchmark) compute the same thing in minidl and PyTorch, else the ratios mean nothing."""
import numpy as np
import pytest

from minidl import benchmark as bench


@pytest.mark.parametrize("workload", bench.KERNEL_WORKLOADS, ids=[w.id for w in bench.KERNEL_WORKLOADS])
def test_minidl_and_torch_steps_agree(workload, torch_oracle):
    mine, theirs = workload.build("minidl")(), workload.build("torch")()
    assert len(mine) == len(theirs)
    for i, (a, b) in enumerate(zip(mine, theirs)):
        scale = max(1.0, float(np.abs(b).max()))
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-4 * scale, err_msg=f"{workload.id} array {i}")


@pytest.mark.parametrize("workload", bench.TRAINING_WORKLOADS, ids=[w.id for w in bench.TRAINING_WORKLOADS])
def test_training_steps_agree_for_three_steps(workload, torch_oracle):
    mine, theirs = workload.build("minidl"), workload.build("torch")
    for step in range(3):  # the same weights before and after each optimizer step
        a_all, b_all = mine(), theirs()
        # float32 rounding differences grow step by step through BatchNorm: in R18's third step
        # they reach 8e-5 with im2col and 1.4e-4 with Winograd (whose rounding differs more from oneDNN's)
        atol = 1e-4 * (1 + step)
        for i, (a, b) in enumerate(zip(a_all, b_all)):
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=atol, err_msg=f"{workload.id} step {step} array {i}")
