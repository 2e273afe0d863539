"""Scaled dot-product attention, as `torch.nn.functional.scaled_dot_product_attention`."""
import math

import numpy as np

from .. import ops
from ..random import generator
from ..tensor import Tensor


def _mask_bias(attn_mask, lead, lq, lk, dtype):
    """A mask as an additive bias of shape (1 or N, Lq, Lk): 0 where allowed, -inf where not.
    (The causal rule is not a bias: the kernel stops each row at the diagonal instead.)"""
    if attn_mask is None:
        return None
    mask = np.asarray(attn_mask.data if isinstance(attn_mask, Tensor) else attn_mask)
    try:
        full = np.broadcast_to(mask, lead + (lq, lk))
    except ValueError:
        raise ValueError(
            f"scaled_dot_product_attention: attn_mask of shape {mask.shape} does not broadcast to the scores' "
            f"shape {lead + (lq, lk)}"
        ) from None
    bias = np.where(mask, 0, -np.inf).astype(dtype) if mask.dtype == bool else mask.astype(dtype)
    if all(n == 1 for n in mask.shape[:-2]):
        return np.broadcast_to(bias, mask.shape[:-2] + (lq, lk)).reshape(1, lq, lk)
    return np.ascontiguousarray(np.broadcast_to(bias, full.shape)).reshape(-1, lq, lk)


def scaled_dot_product_attention(q, k, v, attn_mask=None, is_causal=False, dropout_p=0.0, scale=None,
                                 return_weights=False, training=True):
    """softmax(q k^T * scale + mask) v, with scale = 1/sqrt(E) by default.

    `attn_mask` is boolean (True = may attend) or a float bias added to the
    scores; `is_causal` lets position i attend to positions <= i. A query that
    may attend to nothing gets a zero output, as in PyTorch. With
    `return_weights=True` the attention probabilities (before dropout) come back too.
    Shape: q (..., Lq, E), k (..., Lk, E), v (..., Lk, Ev) -> (..., Lq, Ev)
    [and probabilities (..., Lq, Lk)]; q, k and v share their leading dims.
    """
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: pass either attn_mask or is_causal=True, not both")
    return masked_attention(q, k, v, attn_mask, is_causal, dropout_p, scale, return_weights, training)


def masked_attention(q, k, v, attn_mask=None, is_causal=False, dropout_p=0.0, scale=None, return_weights=False,
                     training=True):
    """scaled_dot_product_attention with a mask and the causal rule at once: a key is
    allowed where both allow it (MultiheadAttention's key padding in a causal model).
    Shape: as scaled_dot_product_attention."""
    op = "scaled_dot_product_attention"
    if q.ndim < 2 or k.ndim != q.ndim or v.ndim != q.ndim:
        raise ValueError(f"{op}: q, k, v need the same rank >= 2; got {q.shape}, {k.shape}, {v.shape}")
    lead = q.shape[:-2]
    if k.shape[:-2] != lead or v.shape[:-2] != lead:
        raise ValueError(f"{op}: leading dims differ: q {q.shape}, k {k.shape}, v {v.shape}")
    if k.shape[-1] != q.shape[-1]:
        raise ValueError(f"{op}: q and k need the same width; got q {q.shape} and k {k.shape}")
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(f"{op}: k and v need the same length; got k {k.shape} and v {v.shape}")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"{op}: dropout_p must be in [0, 1); got {dropout_p}")
    lq, lk, e = q.shape[-2], k.shape[-2], q.shape[-1]
    scale = 1.0 / math.sqrt(e) if scale is None else float(scale)
    bias = _mask_bias(attn_mask, lead, lq, lk, q.dtype)
    keep = None
    if dropout_p > 0 and training:
        keep = (generator().random((int(np.prod(lead)) if lead else 1, lq, lk)) >= dropout_p).astype(q.dtype)
        keep /= 1.0 - dropout_p
    return ops.ScaledDotProductAttention.apply(q, k, v, bias=bias, causal=bool(is_causal), scale=scale, keep=keep,
                                               return_weights=return_weights)
