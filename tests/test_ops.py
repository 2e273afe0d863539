"""Generic checks run on every entry of the op registry (tests/op_db.py)."""
import numpy as np
import pytest

import minidl as md
from tests.op_db import OPS

ids = [op.name for op in OPS]


def _md_inputs(op, dtype, requires_grad=True):
    return [md.tensor(x, requires_grad=requires_grad) for x in op.sample(dtype)]


def _torch_inputs(torch, op, dtype):
    return [torch.tensor(x, requires_grad=True) for x in op.sample(dtype)]


@pytest.mark.parametrize("op", [op for op in OPS if op.finite_differences], ids=[o.name for o in OPS if o.finite_differences])
def test_gradcheck_float64(op):
    assert md.gradcheck(op.op, _md_inputs(op, np.float64))


@pytest.mark.parametrize("op", OPS, ids=ids)
def test_forward_float64_matches_torch(op, torch_oracle):
    out = op.op(*_md_inputs(op, np.float64, requires_grad=False))
    expected = op.ref(*[torch_oracle.tensor(x) for x in op.sample(np.float64)])
    assert out.dtype == np.float64
    assert out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("op", OPS, ids=ids)
def test_forward_float32_matches_torch(op, torch_oracle):
    out = op.op(*_md_inputs(op, np.float32, requires_grad=False))
    expected = op.ref(*[torch_oracle.tensor(x) for x in op.sample(np.float32)])
    assert out.dtype == np.float32, "float32 inputs must give a float32 result"
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op", OPS, ids=ids)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_gradients_match_torch(op, dtype, torch_oracle):
    inputs = _md_inputs(op, dtype)
    out = op.op(*inputs)
    upstream = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    out.backward(upstream)

    t_inputs = _torch_inputs(torch_oracle, op, dtype)
    t_out = op.ref(*t_inputs)
    t_out.backward(torch_oracle.tensor(upstream))

    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5)
    for i, (x, t) in enumerate(zip(inputs, t_inputs)):
        assert x.grad is not None, f"input {i} got no gradient"
        assert x.grad.dtype == dtype and x.grad.shape == x.shape
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **tol, err_msg=f"input {i}")


@pytest.mark.parametrize("op", [op for op in OPS if op.flops is not None], ids=[o.name for o in OPS if o.flops])
def test_flop_rule(op):
    inputs = _md_inputs(op, np.float64, requires_grad=False)
    with md.count_flops() as counter:
        op.op(*inputs)
    assert counter.total == op.flops(*op.shapes)


def test_registry_covers_every_primitive():
    """Each primitive in minidl.ops is exercised by at least one registry entry."""
    seen = set()

    def record(ctx, out, arrays):
        seen.add(type(ctx).__name__)

    from minidl.autograd.function import _observers

    _observers.append(record)
    try:
        for op in OPS:
            op.op(*_md_inputs(op, np.float64))
    finally:
        _observers.remove(record)
    missing = set(md.ops.__all__) - seen - {"Cast"}  # Cast: tests/test_tensor.py
    assert not missing, f"primitives without a registry entry: {sorted(missing)}"
