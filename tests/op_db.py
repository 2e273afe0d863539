"""The op registry: one entry per op sample. `tests/test_ops.py` runs every generic
check (forward and gradients against PyTorch in float64 and float32, gradcheck,
dtype, FLOP rule) on every entry, so adding an op means adding a line here.

An entry's `op` takes minidl Tensors and `ref` takes torch tensors; when the
two APIs agree, one lambda serves both (`same`).
"""
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

import minidl as md
import minidl.functional as F

try:
    import torch
    import torch.nn.functional as TF
except ImportError:
    torch = TF = None


@dataclass
class OpInfo:
    name: str
    op: Callable
    ref: Callable
    shapes: list
    domain: object = (-2.0, 2.0)  # (low, high) for every input, or one pair per input
    kinks: tuple = ()  # points where the op is not differentiable: samples keep away from them
    flops: Optional[Callable] = None  # expected FLOPs of one call, from the input shapes (primitives)
    # False where the gradient is not the derivative on purpose (padding_idx rows get none)
    finite_differences: bool = True

    def sample(self, dtype, seed=0):
        rng = np.random.default_rng(seed)
        domains = self.domain if isinstance(self.domain[0], (tuple, list)) else [self.domain] * len(self.shapes)
        arrays = []
        for shape, (low, high) in zip(self.shapes, domains):
            x = rng.uniform(low, high, size=shape)
            for k in self.kinks:
                near = np.abs(x - k) < 0.05
                x = np.where(near, k + np.where(x >= k, 0.1, -0.1), x)
            arrays.append(x.astype(dtype))
        return arrays


def same(name, fn, shapes, **kw):
    return OpInfo(name, fn, fn, shapes, **kw)


def numel(*shapes):
    return int(np.prod(np.broadcast_shapes(*shapes)))


def _t(x):
    return torch.tensor(x) if torch is not None else None


def _torch_recurrent(kind, nonlinearity="tanh"):
    """PyTorch's own RNN/LSTM/GRU with the given parameters, outputs flattened and joined."""

    def run(x, h0, *rest):
        c0, (wih, whh, bih, bhh) = (rest[0], rest[1:]) if kind == "LSTM" else (None, rest)
        kwargs = {"nonlinearity": nonlinearity} if kind == "RNN" else {}
        module = getattr(torch.nn, kind)(x.shape[2], whh.shape[1], **kwargs)
        params = {"weight_ih_l0": wih, "weight_hh_l0": whh, "bias_ih_l0": bih, "bias_hh_l0": bhh}
        state = (h0[None], c0[None]) if kind == "LSTM" else h0[None]
        out, last = torch.func.functional_call(module, params, (x, state))
        last = last if kind == "LSTM" else (last,)
        return torch.cat([out.reshape(-1)] + [s.reshape(-1) for s in last])

    return run


def _md_recurrent(kind, nonlinearity="tanh"):
    def run(x, h0, *rest):
        if kind == "LSTM":
            out, (hn, cn) = F.lstm(x, (h0, rest[0]), *rest[1:])
            last = (hn, cn)
        elif kind == "GRU":
            out, hn = F.gru(x, h0, *rest)
            last = (hn,)
        else:
            out, hn = F.rnn(x, h0, *rest, nonlinearity=nonlinearity)
            last = (hn,)
        return md.cat([out.reshape(-1)] + [s.reshape(-1) for s in last])

    return run


def _recurrent(name, kind, steps, nonlinearity="tanh", batch=2, inputs=3, hidden=4):
    gates = {"RNN": 1, "LSTM": 4, "GRU": 3}[kind]
    states = [(batch, hidden)] * (2 if kind == "LSTM" else 1)
    shapes = [(steps, batch, inputs), *states, (gates * hidden, inputs), (gates * hidden, hidden), (gates * hidden,), (gates * hidden,)]
    domain = [(-2, 2)] * (1 + len(states)) + [(-0.6, 0.6)] * 4
    return OpInfo(name, _md_recurrent(kind, nonlinearity), _torch_recurrent(kind, nonlinearity), shapes, domain=domain)


# fixed integer data used by the index / embedding / loss entries
ROWS = np.array([0, 2, 2, 1])
COND = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, False]])
MASK = np.array([True, False, True])
IDX = np.array([[1, 0, 3], [4, 4, 2]])
TARGET = np.array([0, 2, 1, 2, 1])
TARGET_SPATIAL = np.array([[0, 1, 2, 1], [2, 2, 0, 1]])
TARGET_IGNORED = np.array([0, -100, 1, 2, -100])
CLASS_WEIGHT = np.array([0.2, 1.0, 2.5])
ATTN_MASK = np.array([[True, False, True, True], [False, False, False, False], [True, True, False, True]])  # row 1: nothing
ATTN_BIAS = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
BINARY = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
POS_WEIGHT = np.array([0.5, 2.0, 3.0])


def _like(x, array):
    """The fixed `array` as a constant in x's library and dtype."""
    if isinstance(x, md.Tensor):
        return md.tensor(array.astype(x.dtype))
    return torch.tensor(array, dtype=x.dtype)


OPS = [
    # ------------------------------------------------------------ arithmetic
    same("add", lambda a, b: a + b, [(3, 4), (3, 4)], flops=lambda a, b: numel(a, b)),
    same("add_broadcast", lambda a, b: a + b, [(2, 1, 4), (3, 1)], flops=lambda a, b: numel(a, b)),
    same("add_scalar", lambda a: a + 2.5, [(3, 4)]),
    same("radd_scalar", lambda a: 2.5 + a, [(3,)]),
    same("sub_broadcast", lambda a, b: a - b, [(3, 4), (4,)], flops=lambda a, b: numel(a, b)),
    same("rsub_scalar", lambda a: 1.0 - a, [(2, 3)]),
    same("mul", lambda a, b: a * b, [(3, 4), (3, 4)], flops=lambda a, b: numel(a, b)),
    same("mul_broadcast", lambda a, b: a * b, [(2, 3, 4), (3, 1)]),
    same("mul_scalar", lambda a: a * -3.0, [(4,)]),
    same("div", lambda a, b: a / b, [(3, 4), (3, 4)], domain=[(-2, 2), (0.5, 2)], flops=lambda a, b: numel(a, b)),
    same("div_broadcast", lambda a, b: a / b, [(3, 4), (1, 4)], domain=[(-2, 2), (0.5, 2)]),
    same("rdiv_scalar", lambda a: 2.0 / a, [(5,)], domain=(0.5, 2)),
    same("pow_tensor", lambda a, b: a**b, [(3, 4), (3, 4)], domain=[(0.5, 2), (-1.5, 1.5)]),
    same("pow_scalar_int", lambda a: a**3, [(3, 4)], flops=lambda a: numel(a)),
    same("pow_scalar_fraction", lambda a: a**0.5, [(3,)], domain=(0.5, 2)),
    same("rpow_scalar", lambda a: 2.0**a, [(4,)]),
    same("neg", lambda a: -a, [(2, 3)], flops=lambda a: numel(a)),
    # --------------------------------------------------------------- matmul
    same("matmul", lambda a, b: a @ b, [(3, 4), (4, 5)], flops=lambda a, b: 2 * 3 * 4 * 5),
    same("matmul_batched", lambda a, b: a @ b, [(2, 3, 4), (2, 4, 5)], flops=lambda a, b: 2 * 2 * 3 * 4 * 5),
    same("matmul_broadcast_batch", lambda a, b: a @ b, [(2, 1, 3, 4), (5, 4, 2)], flops=lambda a, b: 2 * 10 * 3 * 4 * 2),
    same("matmul_vec_mat", lambda a, b: a @ b, [(4,), (4, 5)]),
    same("matmul_mat_vec", lambda a, b: a @ b, [(3, 4), (4,)]),
    same("matmul_dot", lambda a, b: a @ b, [(4,), (4,)]),
    # ----------------------------------------------------------- element-wise
    same("exp", lambda a: a.exp(), [(3, 4)], flops=lambda a: numel(a)),
    same("log", lambda a: a.log(), [(3, 4)], domain=(0.2, 3), flops=lambda a: numel(a)),
    same("sqrt", lambda a: a.sqrt(), [(3, 4)], domain=(0.2, 3), flops=lambda a: numel(a)),
    same("abs", lambda a: a.abs(), [(3, 4)], kinks=(0.0,), flops=lambda a: numel(a)),
    same("tanh", lambda a: a.tanh(), [(3, 4)], flops=lambda a: numel(a)),
    same("sigmoid", lambda a: a.sigmoid(), [(3, 4)], domain=(-8, 8), flops=lambda a: numel(a)),
    same("relu", lambda a: a.relu(), [(3, 4)], kinks=(0.0,), flops=lambda a: numel(a)),
    same("clip", lambda a: a.clip(-0.5, 0.5), [(3, 4)], kinks=(-0.5, 0.5), flops=lambda a: numel(a)),
    same("clip_min_only", lambda a: a.clip(min=-0.5), [(3, 4)], kinks=(-0.5,)),
    same("clip_max_only", lambda a: a.clip(max=0.25), [(3, 4)], kinks=(0.25,)),
    OpInfo("where", lambda a, b: md.where(COND, a, b), lambda a, b: torch.where(_t(COND), a, b), [(3, 4), (3, 4)]),
    OpInfo("where_broadcast", lambda a, b: md.where(COND, a, b), lambda a, b: torch.where(_t(COND), a, b), [(3, 1), (4,)]),
    # ------------------------------------------------------------- reductions
    same("sum_all", lambda a: a.sum(), [(3, 4)], flops=lambda a: numel(a)),
    same("sum_dim", lambda a: a.sum(dim=1), [(3, 4)]),
    same("sum_dims_keepdim", lambda a: a.sum(dim=(0, 2), keepdim=True), [(2, 3, 4)]),
    same("sum_negative_dim", lambda a: a.sum(dim=-1), [(2, 3, 4)]),
    same("mean_all", lambda a: a.mean(), [(3, 4)], flops=lambda a: numel(a)),
    same("mean_dim_keepdim", lambda a: a.mean(dim=0, keepdim=True), [(3, 4)]),
    same("mean_dims", lambda a: a.mean(dim=(1, 2)), [(2, 3, 4)]),
    OpInfo("max_all", lambda a: a.max(), lambda a: torch.amax(a), [(3, 4)], flops=lambda a: numel(a)),
    OpInfo("amax_dim", lambda a: a.amax(dim=1), lambda a: torch.amax(a, dim=1), [(3, 4)]),
    OpInfo("amax_dims_keepdim", lambda a: a.amax(dim=(0, 2), keepdim=True), lambda a: torch.amax(a, dim=(0, 2), keepdim=True), [(2, 3, 4)]),
    OpInfo("amin_dim", lambda a: a.amin(dim=0), lambda a: torch.amin(a, dim=0), [(3, 4)]),
    OpInfo("min_all", lambda a: a.min(), lambda a: torch.amin(a), [(2, 5)]),
    same("max_dim_values", lambda a: a.max(dim=1).values, [(3, 4)]),
    same("min_dim_keepdim_values", lambda a: a.min(-1, keepdim=True)[0], [(2, 3, 4)]),
    same("var_dim", lambda a: a.var(dim=1), [(3, 4)]),
    same("var_all_biased", lambda a: a.var(correction=0), [(3, 4)]),
    same("var_keepdim", lambda a: a.var(dim=0, keepdim=True), [(5, 2)]),
    same("std_dim", lambda a: a.std(dim=1), [(3, 4)]),
    # --------------------------------------------------------------- movement
    same("reshape", lambda a: a.reshape(4, 3), [(3, 4)]),
    same("reshape_tuple", lambda a: a.reshape((2, 6)), [(3, 4)]),
    same("view_infer", lambda a: a.view(-1, 2), [(3, 4)]),
    same("flatten", lambda a: a.flatten(1), [(2, 3, 4)]),
    same("transpose", lambda a: a.transpose(0, 2), [(2, 3, 4)]),
    same("permute", lambda a: a.permute(2, 0, 1), [(2, 3, 4)]),
    same("T", lambda a: a.T, [(3, 4)]),
    same("unsqueeze", lambda a: a.unsqueeze(1), [(3, 4)]),
    same("squeeze_all", lambda a: a.squeeze(), [(3, 1, 4, 1)]),
    same("squeeze_dim", lambda a: a.squeeze(1), [(3, 1, 4, 1)]),
    same("expand", lambda a: a.expand(2, 3, 4), [(3, 1)]),
    same("index_int", lambda a: a[1], [(3, 4)]),
    same("index_slices", lambda a: a[1:, ::2], [(3, 4)]),
    same("index_ellipsis_none", lambda a: a[..., None, 1], [(2, 3, 4)]),
    OpInfo("index_negative_step", lambda a: a[::-1], lambda a: a.flip(0), [(4, 3)]),
    OpInfo("index_int_array_repeats", lambda a: a[ROWS], lambda a: a[_t(ROWS)], [(3, 4)]),
    OpInfo("index_pair_arrays", lambda a: a[ROWS, ROWS], lambda a: a[_t(ROWS), _t(ROWS)], [(3, 4)]),
    OpInfo("index_bool_mask", lambda a: a[MASK], lambda a: a[_t(MASK)], [(3, 4)]),
    OpInfo("index_tensor", lambda a: a[md.tensor(ROWS)], lambda a: a[_t(ROWS)], [(3, 2)]),
    OpInfo("cat", lambda a, b: md.cat([a, b], dim=1), lambda a, b: torch.cat([a, b], dim=1), [(2, 3), (2, 4)]),
    same("clone", lambda a: a.clone() * 2, [(3, 4)]),
    same("mT", lambda a: a.mT, [(2, 3, 4)]),
    same("t", lambda a: a.t(), [(3, 4)]),
    same("repeat", lambda a: a.repeat(2, 1, 3), [(3, 2)]),
    same("repeat_0d", lambda a: a.repeat(3), [()]),
    OpInfo("masked_fill", lambda a: a.masked_fill(md.tensor(COND), -1.5), lambda a: a.masked_fill(_t(COND), -1.5), [(3, 4)]),
    OpInfo("masked_fill_broadcast", lambda a: a.masked_fill(MASK[:, None], 2.0), lambda a: a.masked_fill(_t(MASK[:, None]), 2.0), [(3, 4)]),
    OpInfo("gather_like_max_dim0", lambda a: a.max(0).values, lambda a: a.max(0).values, [(4, 3)]),
    same("type_as", lambda a, b: a.type_as(b) * b, [(3,), (3,)]),
    same("pow_method", lambda a: a.pow(3), [(3, 4)]),
    same("softmax_method", lambda a: a.softmax(0), [(3, 4)]),
    same("log_softmax_method", lambda a: a.log_softmax(-1), [(3, 4)]),
    OpInfo("clamp_tensor_bounds", lambda a, lo, hi: a.clamp(lo, hi), lambda a, lo, hi: a.clamp(lo, hi),
           [(3, 4), (4,), (3, 1)], domain=[(-2.0, 2.0), (-1.0, -0.2), (0.2, 1.0)]),
    OpInfo("clamp_tensor_min_only", lambda a, lo: a.clamp(min=lo), lambda a, lo: a.clamp(min=lo), [(3, 4), (3, 4)]),
    OpInfo("F.pad_constant", lambda a: F.pad(a, (1, 2, 0, 1), value=0.5), lambda a: TF.pad(a, (1, 2, 0, 1), value=0.5), [(2, 3, 4)]),
    OpInfo("F.pad_constant_crop", lambda a: F.pad(a, (-1, 2)), lambda a: TF.pad(a, (-1, 2)), [(2, 3, 4)]),
    OpInfo("F.pad_reflect", lambda a: F.pad(a, (2, 1, 1, 2), mode="reflect"), lambda a: TF.pad(a, (2, 1, 1, 2), mode="reflect"), [(1, 2, 4, 5)]),
    OpInfo("F.pad_replicate", lambda a: F.pad(a, (3, 1, 2, 0), mode="replicate"), lambda a: TF.pad(a, (3, 1, 2, 0), mode="replicate"), [(1, 2, 3, 4)]),
    OpInfo("F.pad_circular", lambda a: F.pad(a, (1, 2), mode="circular"), lambda a: TF.pad(a, (1, 2), mode="circular"), [(2, 3, 4)]),
    OpInfo("cat_three", lambda a, b, c: md.cat([a, b, c]), lambda a, b, c: torch.cat([a, b, c]), [(1, 3), (2, 3), (3, 3)]),
    OpInfo("stack", lambda a, b: md.stack([a, b], dim=1), lambda a, b: torch.stack([a, b], dim=1), [(2, 3), (2, 3)]),
    OpInfo("stack_last", lambda a, b: md.stack([a, b], dim=-1), lambda a, b: torch.stack([a, b], dim=-1), [(4,), (4,)]),
    # ------------------------------------------------------- F: activations
    OpInfo("F.relu", F.relu, TF.relu if TF else None, [(3, 4)], kinks=(0.0,)),
    OpInfo("F.elu", F.elu, TF.elu if TF else None, [(3, 4)], domain=(-3, 3), kinks=(0.0,)),
    OpInfo("F.elu_alpha", lambda a: F.elu(a, alpha=0.3), lambda a: TF.elu(a, alpha=0.3), [(3, 4)], kinks=(0.0,)),
    OpInfo("F.leaky_relu", lambda a: F.leaky_relu(a, 0.1), lambda a: TF.leaky_relu(a, 0.1), [(3, 4)], kinks=(0.0,)),
    OpInfo("F.gelu", F.gelu, TF.gelu if TF else None, [(3, 4)], domain=(-4, 4)),
    OpInfo("F.gelu_tanh", lambda a: F.gelu(a, approximate="tanh"), lambda a: TF.gelu(a, approximate="tanh"), [(3, 4)],
           domain=(-5, 5), flops=lambda a: 8 * 12),
    OpInfo("F.erf", F.erf, torch.erf if torch else None, [(3, 4)], domain=(-3, 3)),
    OpInfo("F.sigmoid", F.sigmoid, torch.sigmoid if torch else None, [(3, 4)], domain=(-10, 10)),
    OpInfo("F.tanh", F.tanh, torch.tanh if torch else None, [(3, 4)]),
    OpInfo("F.softmax", lambda a: F.softmax(a, dim=-1), lambda a: TF.softmax(a, dim=-1), [(3, 5)], domain=(-4, 4)),
    OpInfo("F.softmax_dim0", lambda a: F.softmax(a, dim=0), lambda a: TF.softmax(a, dim=0), [(3, 2, 4)]),
    OpInfo("F.log_softmax", lambda a: F.log_softmax(a, dim=-1), lambda a: TF.log_softmax(a, dim=-1), [(3, 5)]),
    OpInfo("F.log_softmax_dim1", lambda a: F.log_softmax(a, dim=1), lambda a: TF.log_softmax(a, dim=1), [(2, 3, 4)]),
    # ----------------------------------------------------------- F: layers
    OpInfo("F.linear", F.linear, TF.linear if TF else None, [(4, 3), (5, 3), (5,)]),
    OpInfo("F.linear_no_bias", F.linear, TF.linear if TF else None, [(4, 3), (5, 3)]),
    OpInfo("F.linear_3d_input", F.linear, TF.linear if TF else None, [(2, 4, 3), (5, 3), (5,)]),
    same("Tensor.unbind", lambda x: (lambda a, b, c: a * 1 + b * 2 + c * 3)(*x.unbind(1)), [(2, 3, 4)]),
    OpInfo("F.batch_norm_training", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
           lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True), [(4, 3, 5, 2), (3,), (3,)],
           flops=lambda x, w, b: 7 * numel(x)),
    OpInfo("F.batch_norm_training_2d_no_affine", lambda x: F.batch_norm(x, None, None, training=True, eps=1e-3),
           lambda x: TF.batch_norm(x, None, None, training=True, eps=1e-3), [(6, 4)]),
    OpInfo("F.layer_norm", lambda x, w, b: F.layer_norm(x, 5, w, b), lambda x, w, b: TF.layer_norm(x, (5,), w, b),
           [(2, 3, 5), (5,), (5,)], flops=lambda x, w, b: 7 * 2 * 3 * 5 + 2 * 2 * 3),
    OpInfo("F.layer_norm_no_affine_one_row", lambda x: F.layer_norm(x, 7), lambda x: TF.layer_norm(x, (7,)), [(1, 7)]),
    OpInfo("F.layer_norm_two_dims_weight_only", lambda x, w: F.layer_norm(x, (3, 4), w, eps=1e-3),
           lambda x, w: TF.layer_norm(x, (3, 4), w, eps=1e-3), [(2, 3, 4), (3, 4)]),
    OpInfo("F.linear_1d_input", F.linear, TF.linear if TF else None, [(3,), (5, 3), (5,)]),
    OpInfo("F.embedding", lambda w: F.embedding(IDX, w), lambda w: TF.embedding(_t(IDX), w), [(5, 3)]),
    OpInfo(
        "F.embedding_padding_idx",
        lambda w: F.embedding(IDX, w, padding_idx=4),
        lambda w: TF.embedding(_t(IDX), w, padding_idx=4),
        [(5, 3)],
        finite_differences=False,
    ),
    OpInfo("F.dropout_eval", lambda a: F.dropout(a, 0.5, training=False), lambda a: TF.dropout(a, 0.5, training=False), [(3, 4)]),
    # ------------------------------------------------------- F: convolution
    OpInfo("F.conv2d", lambda x, w, b: F.conv2d(x, w, b, padding=1), lambda x, w, b: TF.conv2d(x, w, b, padding=1),
           [(2, 3, 5, 5), (4, 3, 3, 3), (4,)], flops=lambda x, w, b: 2 * (2 * 4 * 5 * 5) * (3 * 3 * 3) + 2 * 4 * 5 * 5),
    OpInfo("F.conv2d_stride2_nonsquare_no_bias", lambda x, w: F.conv2d(x, w, stride=2),
           lambda x, w: TF.conv2d(x, w, stride=2), [(1, 1, 7, 6), (2, 1, 3, 2)],
           flops=lambda x, w: 2 * (1 * 2 * 3 * 3) * (1 * 3 * 2)),
    OpInfo("F.conv2d_stride3_padding2", lambda x, w, b: F.conv2d(x, w, b, stride=(3, 2), padding=2),
           lambda x, w, b: TF.conv2d(x, w, b, stride=(3, 2), padding=2), [(2, 2, 6, 5), (3, 2, 3, 3), (3,)]),
    OpInfo("F.conv2d_dilation2", lambda x, w: F.conv2d(x, w, padding=2, dilation=2),
           lambda x, w: TF.conv2d(x, w, padding=2, dilation=2), [(1, 2, 6, 7), (2, 2, 3, 3)]),
    OpInfo("F.conv_transpose2d", lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
           lambda x, w, b: TF.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1), [(2, 3, 4, 3), (3, 2, 3, 3), (2,)],
           flops=lambda x, w, b: 2 * numel(x) * w[1] * w[2] * w[3] + 2 * 2 * 8 * 6),
    OpInfo("F.conv_transpose2d_groups_dilation", lambda x, w: F.conv_transpose2d(x, w, groups=2, dilation=2),
           lambda x, w: TF.conv_transpose2d(x, w, groups=2, dilation=2), [(1, 4, 3, 2), (4, 1, 2, 3)]),
    OpInfo("F.conv2d_same_even_kernel", lambda x, w: F.conv2d(x, w, padding="same"),
           lambda x, w: TF.conv2d(x, w, padding="same"), [(1, 2, 5, 6), (3, 2, 2, 4)]),
    OpInfo("F.max_pool2d_ceil_mode", lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True),
           lambda x: TF.max_pool2d(x, 3, 2, 1, ceil_mode=True), [(2, 2, 6, 7)]),
    OpInfo("F.max_pool2d_ceil_mode_no_padding", lambda x: F.max_pool2d(x, 2, ceil_mode=True),
           lambda x: TF.max_pool2d(x, 2, ceil_mode=True), [(1, 2, 5, 5)]),
    OpInfo("F.max_pool1d", lambda x: F.max_pool1d(x, 3, 2, 1), lambda x: TF.max_pool1d(x, 3, 2, 1), [(2, 3, 9)]),
    OpInfo("F.avg_pool1d", lambda x: F.avg_pool1d(x, 2), lambda x: TF.avg_pool1d(x, 2), [(2, 3, 9)]),
    OpInfo("F.adaptive_avg_pool2d_none", lambda x: F.adaptive_avg_pool2d(x, (None, 3)),
           lambda x: TF.adaptive_avg_pool2d(x, (None, 3)), [(2, 3, 5, 7)]),
    OpInfo("F.sdpa_broadcast_kv_rank", lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
           lambda q, k, v: TF.scaled_dot_product_attention(q, k, v), [(2, 3, 4, 5), (4, 5), (4, 5)]),
    OpInfo("F.sdpa_float_mask_with_grad", lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
           lambda q, k, v, m: TF.scaled_dot_product_attention(q, k, v, attn_mask=m), [(2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 5), (4, 6)]),
    OpInfo("F.conv2d_groups", lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=2),
           lambda x, w, b: TF.conv2d(x, w, b, padding=1, groups=2), [(2, 4, 4, 5), (6, 2, 3, 3), (6,)]),
    OpInfo("F.conv2d_depthwise_same", lambda x, w: F.conv2d(x, w, padding="same", groups=3),
           lambda x, w: TF.conv2d(x, w, padding="same", groups=3), [(1, 3, 5, 4), (3, 1, 3, 3)]),
    OpInfo("F.conv2d_unbatched", lambda x, w: F.conv2d(x, w), lambda x, w: TF.conv2d(x, w), [(2, 4, 4), (3, 2, 2, 2)]),
    OpInfo("F.conv1d", lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=2), lambda x, w, b: TF.conv1d(x, w, b, stride=2, padding=2),
           [(2, 3, 9), (4, 3, 3), (4,)]),
    OpInfo("F.conv1d_dilation", lambda x, w: F.conv1d(x, w, dilation=2), lambda x, w: TF.conv1d(x, w, dilation=2), [(1, 2, 8), (3, 2, 3)]),
    OpInfo("F.max_pool2d", lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), [(2, 3, 4, 6)],
           flops=lambda x: 2 * 3 * 2 * 3 * 4),
    OpInfo("F.max_pool2d_odd_edges", lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), [(1, 2, 5, 7)]),
    OpInfo("F.max_pool2d_overlap_pad", lambda x: F.max_pool2d(x, 3, stride=2, padding=1),
           lambda x: TF.max_pool2d(x, 3, stride=2, padding=1), [(1, 2, 7, 5)]),
    OpInfo("F.max_pool2d_nonsquare_dilation", lambda x: F.max_pool2d(x, (2, 3), stride=(1, 2), dilation=2),
           lambda x: TF.max_pool2d(x, (2, 3), stride=(1, 2), dilation=2), [(2, 1, 6, 9)]),
    OpInfo("F.avg_pool2d", lambda x: F.avg_pool2d(x, 2), lambda x: TF.avg_pool2d(x, 2), [(2, 3, 4, 6)],
           flops=lambda x: 2 * 3 * 2 * 3 * 4),
    OpInfo("F.avg_pool2d_pad_include", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1),
           lambda x: TF.avg_pool2d(x, 3, stride=2, padding=1), [(1, 2, 7, 5)]),
    OpInfo("F.avg_pool2d_pad_exclude", lambda x: F.avg_pool2d(x, (3, 2), stride=(2, 1), padding=1, count_include_pad=False),
           lambda x: TF.avg_pool2d(x, (3, 2), stride=(2, 1), padding=1, count_include_pad=False), [(2, 1, 5, 4)]),
    OpInfo("F.adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, (3, 2)), lambda x: TF.adaptive_avg_pool2d(x, (3, 2)),
           [(2, 2, 7, 5)]),
    OpInfo("F.adaptive_avg_pool2d_global", lambda x: F.adaptive_avg_pool2d(x, 1), lambda x: TF.adaptive_avg_pool2d(x, 1),
           [(1, 3, 4, 4)]),
    # -------------------------------------------------------- F: recurrent
    _recurrent("F.rnn_tanh", "RNN", 4),
    _recurrent("F.rnn_tanh_length1", "RNN", 1),
    _recurrent("F.rnn_relu", "RNN", 3, nonlinearity="relu"),
    _recurrent("F.lstm", "LSTM", 4),
    _recurrent("F.lstm_length1_batch1", "LSTM", 1, batch=1),
    _recurrent("F.gru", "GRU", 4),
    _recurrent("F.gru_length1", "GRU", 1, hidden=3),
    # -------------------------------------------------------- F: attention
    OpInfo("F.sdpa", F.scaled_dot_product_attention, TF.scaled_dot_product_attention if TF else None,
           [(2, 2, 3, 4), (2, 2, 4, 4), (2, 2, 4, 5)], flops=lambda q, k, v: 2 * 4 * 3 * 4 * (4 + 5) + 5 * 4 * 3 * 4),
    OpInfo("F.sdpa_causal", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
           lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, is_causal=True), [(1, 4, 3), (1, 4, 3), (1, 4, 2)]),
    # causal rows are cut at the diagonal (top-left aligned) and run in blocks of 32 columns
    OpInfo("F.sdpa_causal_more_queries", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
           lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, is_causal=True), [(2, 5, 3), (2, 3, 3), (2, 3, 2)]),
    OpInfo("F.sdpa_causal_more_keys", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
           lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, is_causal=True), [(3, 2), (6, 2), (6, 1)]),
    OpInfo("F.sdpa_causal_long_rows", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
           lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, is_causal=True), [(37, 2), (37, 2), (37, 1)]),
    OpInfo("F.sdpa_bool_mask_fully_masked_row", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=ATTN_MASK),
           lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, attn_mask=_t(ATTN_MASK)), [(2, 3, 2), (2, 4, 2), (2, 4, 3)]),
    OpInfo("F.sdpa_float_mask_scale", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=_like(q, ATTN_BIAS), scale=0.3),
           lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, attn_mask=_like(q, ATTN_BIAS), scale=0.3),
           [(3, 4), (4, 4), (4, 2)]),
    OpInfo("F.sdpa_length1", F.scaled_dot_product_attention, TF.scaled_dot_product_attention if TF else None,
           [(2, 1, 1, 3), (2, 1, 1, 3), (2, 1, 1, 2)]),
    OpInfo("F.sdpa_return_weights",
           lambda q, k, v: md.cat([t.reshape(-1) for t in F.scaled_dot_product_attention(q, k, v, return_weights=True)]),
           lambda q, k, v: torch.cat([TF.scaled_dot_product_attention(q, k, v).reshape(-1),
                                      torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5, -1).reshape(-1)]),
           [(2, 3, 4), (2, 5, 4), (2, 5, 3)]),
    # ----------------------------------------------------------- F: losses
    OpInfo("F.cross_entropy", lambda x: F.cross_entropy(x, TARGET), lambda x: TF.cross_entropy(x, _t(TARGET)), [(5, 3)]),
    OpInfo(
        "F.cross_entropy_spatial",
        lambda x: F.cross_entropy(x, TARGET_SPATIAL),
        lambda x: TF.cross_entropy(x, _t(TARGET_SPATIAL)),
        [(2, 3, 4)],
    ),
    OpInfo(
        "F.cross_entropy_ignore_index",
        lambda x: F.cross_entropy(x, TARGET_IGNORED),
        lambda x: TF.cross_entropy(x, _t(TARGET_IGNORED)),
        [(5, 3)],
    ),
    OpInfo(
        "F.cross_entropy_weight",
        lambda x: F.cross_entropy(x, TARGET, weight=_like(x, CLASS_WEIGHT)),
        lambda x: TF.cross_entropy(x, _t(TARGET), weight=_like(x, CLASS_WEIGHT)),
        [(5, 3)],
    ),
    OpInfo(
        "F.cross_entropy_sum",
        lambda x: F.cross_entropy(x, TARGET, reduction="sum"),
        lambda x: TF.cross_entropy(x, _t(TARGET), reduction="sum"),
        [(5, 3)],
    ),
    OpInfo(
        "F.cross_entropy_none",
        lambda x: F.cross_entropy(x, TARGET_IGNORED, reduction="none"),
        lambda x: TF.cross_entropy(x, _t(TARGET_IGNORED), reduction="none"),
        [(5, 3)],
    ),
    OpInfo("F.cross_entropy_1d", lambda x: F.cross_entropy(x, np.int64(2)), lambda x: TF.cross_entropy(x, _t(2)), [(4,)]),
    OpInfo("F.nll_loss", lambda x: F.nll_loss(x, TARGET), lambda x: TF.nll_loss(x, _t(TARGET)), [(5, 3)]),
    OpInfo(
        "F.nll_loss_weight_ignore",
        lambda x: F.nll_loss(x, TARGET_IGNORED, weight=_like(x, CLASS_WEIGHT)),
        lambda x: TF.nll_loss(x, _t(TARGET_IGNORED), weight=_like(x, CLASS_WEIGHT)),
        [(5, 3)],
    ),
    OpInfo(
        "F.bce_with_logits",
        lambda x: F.binary_cross_entropy_with_logits(x, _like(x, BINARY)),
        lambda x: TF.binary_cross_entropy_with_logits(x, _like(x, BINARY)),
        [(2, 3)],
        domain=(-6, 6),
    ),
    OpInfo(
        "F.bce_with_logits_pos_weight_sum",
        lambda x: F.binary_cross_entropy_with_logits(x, _like(x, BINARY), pos_weight=_like(x, POS_WEIGHT), reduction="sum"),
        lambda x: TF.binary_cross_entropy_with_logits(x, _like(x, BINARY), pos_weight=_like(x, POS_WEIGHT), reduction="sum"),
        [(2, 3)],
        domain=(-6, 6),
    ),
    OpInfo("F.mse_loss", F.mse_loss, TF.mse_loss if TF else None, [(3, 4), (3, 4)]),
    OpInfo(
        "F.mse_loss_none",
        lambda a, b: F.mse_loss(a, b, reduction="none"),
        lambda a, b: TF.mse_loss(a, b, reduction="none"),
        [(3, 4), (3, 4)],
    ),
]
