"""Scaled dot-product attention as one primitive: softmax(Q K^T * scale + bias) V.

Shape: q (..., Lq, E), k (..., Lk, E), v (..., Lk, Ev) -> out (..., Lq, Ev) [, probs (..., Lq, Lk)];
the leading dims are the same for all three (N = their product) and `bias` (1 or N, Lq, Lk)
comes from the masks; `causal` lets query i see keys j <= i only. q, k and v may be strided views (e.g. heads split from one packed
projection): the batched GEMMs read them in place.
FLOPs: both GEMMs (2*N*Lq*Lk*E and 2*N*Lq*Lk*Ev) plus ~5 per score for the softmax.
"""
import numpy as np

from .. import kernels
from ..autograd.function import Function


class ScaledDotProductAttention(Function):
    def forward(self, q, k, v, bias, causal, scale, keep, return_weights):
        self.q, self.k, self.v, self.scale, self.causal = q, k, v, scale, causal
        scores = np.matmul(q, k.swapaxes(-1, -2))  # (..., Lq, Lk), contiguous
        lq, lk = scores.shape[-2:]
        probs = kernels.get("attention_softmax_forward")(scores.reshape(-1, lq, lk), bias, scale, causal)
        self.probs = probs.reshape(scores.shape)
        self.keep = None if keep is None else keep.reshape(scores.shape)  # dropout mask, already / (1-p)
        self.used = self.probs if keep is None else self.probs * self.keep
        out = np.matmul(self.used, v)
        return (out, self.probs) if return_weights else out

    def backward(self, grad_out, grad_probs=None):
        d_used = np.matmul(grad_out, self.v.swapaxes(-1, -2))
        grad_v = np.matmul(self.used.swapaxes(-1, -2), grad_out) if self.needs_input_grad[2] else None
        d_probs = d_used if self.keep is None else d_used * self.keep
        if grad_probs is not None:
            d_probs = d_probs + grad_probs
        lq, lk = d_probs.shape[-2:]
        d_scores = kernels.get("attention_softmax_backward")(self.probs.reshape(-1, lq, lk), d_probs.reshape(-1, lq, lk),
                                                             self.causal)
        d_scores *= d_scores.dtype.type(self.scale)
        d_scores = d_scores.reshape(d_probs.shape)
        grad_q = np.matmul(d_scores, self.k) if self.needs_input_grad[0] else None
        grad_k = np.matmul(d_scores.swapaxes(-1, -2), self.q) if self.needs_input_grad[1] else None
        return grad_q, grad_k, grad_v

    def macs(self, out, q, k, v):
        return self.probs.size * (q.shape[-1] + v.shape[-1])  # Q K^T and P V

    def flops(self, out, q, k, v):
        return 2 * self.macs(out, q, k, v) + 5 * self.probs.size
