"""Scaled dot-product attention as one primitive: softmax(Q K^T * scale + bias) V.

Shape: q (..., Lq, E), k (..., Lk, E), v (..., Lk, Ev) -> out (..., Lq, Ev) [, probs (..., Lq, Lk)];
the leading dims are the same for all three (N = their product) and `bias` (1 or N, Lq, Lk)
comes from the masks; `causal` lets query i see keys j <= i only. q, k and v may be strided
views (e.g. heads split from one packed projection): the batched GEMMs read them in place.
Forward and backward each run over the first leading dim in two halves on two threads when
the call is large enough to pay for the hand-off (minidl.kernels.threads).
FLOPs: both GEMMs (2*N*Lq*Lk*E and 2*N*Lq*Lk*Ev) plus ~5 per score for the softmax.
"""
import numpy as np

from .. import kernels
from ..autograd.function import Function
from ..kernels.threads import run_halves


def _rows(x, lo, hi):
    """x's items [lo, hi) along the first leading dim (all of x when it has no leading dims)."""
    return x if x.ndim == 2 else x[lo:hi]


class ScaledDotProductAttention(Function):
    def forward(self, q, k, v, *mask, bias, causal, scale, keep, return_weights):
        # `mask`: the float attn_mask when it needs a gradient; its values are already in `bias`
        self.q, self.k, self.v, self.scale, self.causal = q, k, v, scale, causal
        lead, lq, lk = q.shape[:-2], q.shape[-2], k.shape[-2]
        self.items = lead[0] if lead else 1  # what the two threads split
        per_item = int(np.prod(lead[1:], dtype=np.int64))  # bias rows per item
        self.probs = probs = np.empty(lead + (lq, lk), dtype=q.dtype)
        self.keep = None if keep is None else keep.reshape(probs.shape)  # dropout mask, already / (1-p)
        self.used = used = probs if keep is None else np.empty_like(probs)
        # laid out in memory as q (np.empty_like keeps the order of q's strides): heads split
        # from one packed projection then merge back without a copy
        out = np.empty_like(q) if v.shape[-1] == q.shape[-1] else np.empty(lead + (lq, v.shape[-1]), dtype=q.dtype)
        softmax = kernels.attention_softmax_forward
        split_bias = bias is not None and bias.shape[0] > 1

        def part(lo, hi):
            scores = np.matmul(_rows(q, lo, hi), _rows(k, lo, hi).swapaxes(-1, -2))
            b = bias[lo * per_item : hi * per_item] if split_bias else bias
            softmax(scores.reshape(-1, lq, lk), b, scale, causal, out=_rows(probs, lo, hi).reshape(-1, lq, lk))
            if keep is not None:
                np.multiply(_rows(probs, lo, hi), _rows(self.keep, lo, hi), out=_rows(used, lo, hi))
            np.matmul(_rows(used, lo, hi), _rows(v, lo, hi), out=_rows(out, lo, hi))

        run_halves(self.items, part, macs=probs.size * (q.shape[-1] + v.shape[-1]))
        return (out, probs) if return_weights else out

    def backward(self, grad_out, grad_probs=None):
        q, k, v, probs, used, keep = self.q, self.k, self.v, self.probs, self.used, self.keep
        lq, lk = probs.shape[-2:]
        need_q, need_k, need_v = self.needs_input_grad[:3]
        need_mask = len(self.needs_input_grad) > 3 and self.needs_input_grad[3]
        grad_q = np.empty_like(q) if need_q else None  # laid out as the inputs (see forward's out)
        grad_k = np.empty_like(k) if need_k else None
        grad_v = np.empty_like(v) if need_v else None
        grad_mask = np.empty_like(probs) if need_mask else None  # the engine sums it to the mask's shape
        softmax_backward = kernels.attention_softmax_backward
        scale = probs.dtype.type(self.scale)

        def part(lo, hi):
            g = _rows(grad_out, lo, hi)
            d_probs = np.matmul(g, _rows(v, lo, hi).swapaxes(-1, -2))  # a fresh array: updated in place below
            if need_v:
                np.matmul(_rows(used, lo, hi).swapaxes(-1, -2), g, out=_rows(grad_v, lo, hi))
            if keep is not None:
                d_probs *= _rows(keep, lo, hi)
            if grad_probs is not None:
                d_probs += _rows(grad_probs, lo, hi)
            p = _rows(probs, lo, hi)
            if need_mask:  # the gradient of scale * q k^T + mask, then scaled for q and k
                d_logits = softmax_backward(p.reshape(-1, lq, lk), d_probs.reshape(-1, lq, lk), self.causal,
                                            scale=probs.dtype.type(1)).reshape(p.shape)
                _rows(grad_mask, lo, hi)[...] = d_logits
                d_scores = d_logits * scale
            else:
                d_scores = softmax_backward(p.reshape(-1, lq, lk), d_probs.reshape(-1, lq, lk), self.causal,
                                            scale=scale).reshape(p.shape)
            if need_q:
                np.matmul(d_scores, _rows(k, lo, hi), out=_rows(grad_q, lo, hi))
            if need_k:
                np.matmul(d_scores.swapaxes(-1, -2), _rows(q, lo, hi), out=_rows(grad_k, lo, hi))

        run_halves(self.items, part, macs=probs.size * (q.shape[-1] + v.shape[-1]))  # the forward's: as measured
        return (grad_q, grad_k, grad_v, grad_mask) if need_mask else (grad_q, grad_k, grad_v)

    def macs(self, out, q, k, v, *mask):
        return self.probs.size * (q.shape[-1] + v.shape[-1])  # Q K^T and P V

    def flops(self, out, q, k, v, *mask):
        return 2 * self.macs(out, q, k, v) + 5 * self.probs.size
