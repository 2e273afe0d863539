"""`md.summary(model, input_size=...)`: parameters, MACs and FLOPs per layer, like torchinfo.

It runs one forward pass (without a graph) and attributes every primitive's
count to the innermost module running it, so the numbers are what the
framework really computes, attention and every RNN time step included.
"""
from dataclasses import dataclass

import numpy as np

from .autograd.function import _observers
from .autograd.grad_mode import no_grad
from .tensor import Tensor

CONVENTIONS = (
    "MACs: multiply-accumulates of convolutions (F*F*D1 per output value), linear layers and matmuls, "
    "attention (Q K^T and P V) and recurrent layers (every time step, every gate); "
    "FLOPs = 2 x MACs + element-wise work (activations, normalisation, pooling, softmax, bias additions); "
    "batch included. Conv output size: W2 = (W1 - F + 2P)/S + 1; parameters (F*F*D1 + 1)*K with bias."
)


@dataclass
class Row:
    name: str
    type: str
    depth: int
    output_shape: tuple
    params: int
    trainable_params: int
    macs: int
    flops: int


class Summary:
    """`.rows` (one Row per module call, the model itself first at depth 0) and `.totals`
    (params, trainable_params, macs, flops)."""

    def __init__(self, model, rows, totals):
        self.model, self.rows, self.totals = model, rows, totals

    def row(self, name):
        return next(r for r in self.rows if r.name == name)

    def __str__(self):
        header = f"{'Layer (type)':44s} {'Output shape':22s} {'Params':>13s} {'MACs':>16s} {'FLOPs':>16s}"
        lines = [header, "=" * len(header)]
        for r in self.rows:
            label = "  " * r.depth + (r.name if r.depth == 0 else f"{r.name} ({r.type})")
            lines.append(f"{label[:44]:44s} {str(r.output_shape)[:22]:22s} {r.params:>13,} {r.macs:>16,} {r.flops:>16,}")
        t = self.totals
        lines += [
            "=" * len(header),
            f"Total params: {t['params']:,}",
            f"Trainable params: {t['trainable_params']:,}",
            f"Non-trainable params: {t['params'] - t['trainable_params']:,}",
            f"Total MACs: {t['macs']:,} ({t['macs'] / 1e9:.2f} G)",
            f"Total FLOPs: {t['flops']:,} ({t['flops'] / 1e9:.2f} G)",
            "-" * len(header),
            CONVENTIONS,
        ]
        return "\n".join(lines)

    __repr__ = __str__


def _shape(out):
    if isinstance(out, Tensor):
        return tuple(out.shape)
    if isinstance(out, (tuple, list)):
        return _shape(next((o for o in out if o is not None), None)) if out else ()
    return ()


def _param_counts(module):
    params = list(module.parameters())
    return sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)


def summary(model, input_size=None, input_data=None, dtype=np.float32, print_summary=False):
    """Count parameters, MACs and FLOPs of `model` on one input.

    `input_size` is the full input shape, batch included (e.g. (1, 3, 224, 224));
    `input_data` gives the input(s) instead (e.g. token ids). Returns a Summary;
    `print(md.summary(...))` shows the table.
    """
    if input_data is None:
        if input_size is None:
            raise ValueError("summary: give input_size (batch included) or input_data")
        sizes = input_size if isinstance(input_size[0], (tuple, list)) else [input_size]
        inputs = [Tensor(np.zeros(tuple(s), dtype=dtype)) for s in sizes]
    else:
        inputs = list(input_data) if isinstance(input_data, (tuple, list)) else [input_data]
        inputs = [x if isinstance(x, Tensor) else Tensor(np.asarray(x)) for x in inputs]

    names = {id(m): n for n, m in model.named_modules()}
    stack, records, handles = [], [], []
    totals = {"macs": 0, "flops": 0}

    def before(module, args):
        record = {"module": module, "depth": len(stack), "macs": 0, "flops": 0}
        stack.append(record)
        records.append(record)

    def after(module, args, out):
        stack.pop()["output_shape"] = _shape(out)

    def observe(ctx, out, arrays):
        macs, flops = int(ctx.macs(out, *arrays)), int(ctx.flops(out, *arrays))
        totals["macs"] += macs
        totals["flops"] += flops
        for record in stack:  # inclusive: every enclosing module gets the count
            record["macs"] += macs
            record["flops"] += flops

    for _, module in model.named_modules():
        handles.append(module.register_forward_pre_hook(before))
        handles.append(module.register_forward_hook(after))
    _observers.append(observe)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            model(*inputs)
    finally:
        _observers.remove(observe)
        for h in handles:
            h.remove()
        model.train(was_training)

    rows = []
    for record in records:  # records[0] is the model itself (depth 0)
        module = record["module"]
        params, trainable = _param_counts(module)
        name = names.get(id(module), "?") or type(module).__name__
        rows.append(Row(name, type(module).__name__, record["depth"],
                        record.get("output_shape", ()), params, trainable, record["macs"], record["flops"]))
    params, trainable = _param_counts(model)
    result = Summary(model, rows, {"params": params, "trainable_params": trainable, **totals})
    if print_summary:
        print(result)
    return result
