"""Generic checks run on every entry of the op registry (tests/op_db.py)."""
import numpy as np
import pytest

import minidl as md
import minidl.functional as F
from minidl import ops
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


def test_unbind_gradient_is_laid_out_as_the_input():
    """Attention's packed q, k, v are unbound from a permuted view; the gathered gradient keeps
    that view's memory order, so the permute and reshape back to the projection are views."""
    base = np.arange(2 * 5 * 3 * 4 * 6, dtype=np.float64).reshape(2, 5, 3, 4, 6)
    view = base.transpose(2, 0, 3, 1, 4)  # (3, B, H, L, E) over a (B, L, 3, H, E) array
    op = ops.Unbind()
    outs = op.forward(view, dim=0)
    grads = [np.random.default_rng(i).standard_normal(o.shape) for i, o in enumerate(outs)]
    g = op.backward(*grads)
    np.testing.assert_array_equal(g, np.stack(grads))
    assert g.transpose(1, 3, 0, 2, 4).flags.c_contiguous  # back in the projection's (B, L, 3, H, E) order


def test_attention_output_and_gradients_are_laid_out_as_the_inputs():
    rng = np.random.default_rng(0)
    packed = md.tensor(rng.standard_normal((2, 5, 3, 4, 6)), requires_grad=True)  # (B, L, 3, H, E)
    q, k, v = packed.permute(2, 0, 3, 1, 4).unbind(0)  # (B, H, L, E) views, as MultiheadAttention's
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert out.numpy().transpose(0, 2, 1, 3).flags.c_contiguous  # heads merge back without a copy
    merged = out.transpose(1, 2).reshape(2, 5, 24)
    (merged * md.tensor(rng.standard_normal((2, 5, 24)))).sum().backward()
    assert packed.grad.numpy().flags.c_contiguous
