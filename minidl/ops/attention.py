"""Scaled dot-product attention as one primitive: softmax(Q K^T * scale + bias) V.

Shape: q (N, Lq, E), k (N, Lk, E), v (N, Lk, Ev) -> out (N, Lq, Ev) [, probs (N, Lq, Lk)];
the caller flattens leading dims into N and builds `bias` from the masks.
FLOPs: both GEMMs (2*N*Lq*Lk*E and 2*N*Lq*Lk*Ev) plus ~5 per score for the softmax.
"""
import numpy as np

from .. import kernels
from ..autograd.function import Function


class ScaledDotProductAttention(Function):
    def forward(self, q, k, v, bias, scale, keep, return_weights):
        self.q, self.k, self.v, self.scale, self.keep = q, k, v, scale, keep
        scores = np.matmul(q, k.swapaxes(-1, -2))
        self.probs = kernels.get("attention_softmax_forward")(scores, bias, scale)
        self.used = self.probs if keep is None else self.probs * keep  # keep: dropout mask, already / (1-p)
        out = np.matmul(self.used, v)
        return (out, self.probs) if return_weights else out

    def backward(self, grad_out, grad_probs=None):
        d_used = np.matmul(grad_out, self.v.swapaxes(-1, -2))
        grad_v = np.matmul(self.used.swapaxes(-1, -2), grad_out) if self.needs_input_grad[2] else None
        d_probs = d_used if self.keep is None else d_used * self.keep
        if grad_probs is not None:
            d_probs = d_probs + grad_probs
        d_scores = kernels.get("attention_softmax_backward")(self.probs, d_probs)
        d_scores *= d_scores.dtype.type(self.scale)
        grad_q = np.matmul(d_scores, self.k) if self.needs_input_grad[0] else None
        grad_k = np.matmul(d_scores.swapaxes(-1, -2), self.q) if self.needs_input_grad[1] else None
        return grad_q, grad_k, grad_v

    def macs(self, out, q, k, v):
        n, lq, e = q.shape
        return n * lq * k.shape[1] * (e + v.shape[2])  # Q K^T and P V

    def flops(self, out, q, k, v):
        n, lq, _ = q.shape
        return 2 * self.macs(out, q, k, v) + 5 * n * lq * k.shape[1]
