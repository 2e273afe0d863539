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
    A float `attn_mask` that requires grad gets the gradient of the scores.
    Shape: q (..., Lq, E), k (..., Lk, E), v (..., Lk, Ev) -> (..., Lq, Ev)
    [and probabilities (..., Lq, Lk)]; the leading dims of q, k and v broadcast.
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
    if min(q.ndim, k.ndim, v.ndim) < 2:
        raise ValueError(f"{op}: q, k, v need at least 2 dims; got {q.shape}, {k.shape}, {v.shape}")
    try:
        lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(f"{op}: the leading dims of q {q.shape}, k {k.shape} and v {v.shape} do not broadcast") from None
    q, k, v = (t if t.shape[:-2] == lead else t.expand(lead + t.shape[-2:]) for t in (q, k, v))
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
    # a float mask that requires grad is an input too, for its gradient (that of the scores)
    mask_input = (attn_mask,) if isinstance(attn_mask, Tensor) and attn_mask.requires_grad else ()
    return ops.ScaledDotProductAttention.apply(q, k, v, *mask_input, bias=bias, causal=bool(is_causal), scale=scale,
                                               keep=keep, return_weights=return_weights)
