"""MultiheadAttention with PyTorch's parameters (in_proj_weight (3E, E), out_proj) and mask rules."""
import numpy as np

from .. import functional as F
from ..functional.attention import masked_attention
from ..tensor import Tensor
from . import init
from .linear import Linear
from .module import Module
from .parameter import Parameter


def _as_bias(mask, dtype, what):
    """PyTorch's MHA convention: a boolean mask is True where attention is NOT allowed; a float mask is added."""
    array = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if array.dtype == bool:
        return np.where(array, -np.inf, 0.0).astype(dtype)
    if array.dtype.kind != "f":
        raise TypeError(f"MultiheadAttention: {what} must be boolean or floating point; got {array.dtype}")
    return array.astype(dtype)


class MultiheadAttention(Module):
    """Multi-head scaled dot-product attention.

    Shape: query (L, B, E), key and value (S, B, E) ((B, L, E) with batch_first; (L, E) unbatched);
    attn_mask (L, S) or (B*heads, L, S); key_padding_mask (B, S)
    -> output like query, weights (B, L, S) averaged over heads (or (B, heads, L, S)) or None.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, batch_first=False, dtype=np.float32):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} must be divisible by num_heads {num_heads}")
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.head_dim = embed_dim // num_heads
        self.in_proj_weight = Parameter(np.zeros((3 * embed_dim, embed_dim), dtype=dtype))
        self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, dtype=dtype)) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        self.reset_parameters()

    def reset_parameters(self):
        init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _project(self, x, part):
        e = self.embed_dim
        w = self.in_proj_weight[part * e : (part + 1) * e]
        b = None if self.in_proj_bias is None else self.in_proj_bias[part * e : (part + 1) * e]
        batch, length = x.shape[0], x.shape[1]
        return F.linear(x, w, b).reshape(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def _project_packed(self, x):
        """q, k, v of (B, heads, L, head_dim), as views of one (B, L, 3E) projection."""
        batch, length = x.shape[0], x.shape[1]
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        return qkv.reshape(batch, length, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)

    def _mask(self, attn_mask, key_padding_mask, is_causal, batch, lq, lk, dtype):
        bias = None
        if attn_mask is not None:
            m = _as_bias(attn_mask, dtype, "attn_mask")
            if m.shape == (lq, lk):
                bias = m[None, None]
            elif m.shape == (batch * self.num_heads, lq, lk):
                bias = m.reshape(batch, self.num_heads, lq, lk)
            else:
                raise ValueError(
                    f"MultiheadAttention: attn_mask must have shape ({lq}, {lk}) or ({batch * self.num_heads}, {lq}, {lk}); got {m.shape}"
                )
        if key_padding_mask is not None:
            kp = _as_bias(key_padding_mask, dtype, "key_padding_mask")
            if kp.shape != (batch, lk):
                raise ValueError(f"MultiheadAttention: key_padding_mask must have shape ({batch}, {lk}); got {kp.shape}")
            kp = kp[:, None, None, :]
            bias = kp if bias is None else bias + kp
        return bias

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        self_attention = query is key is value  # then one GEMM projects q, k and v together
        unbatched = query.ndim == 2
        if unbatched:
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
            key_padding_mask = None if key_padding_mask is None else np.asarray(getattr(key_padding_mask, "data", key_padding_mask))[None]
        elif not self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        if query.shape[-1] != self.embed_dim or key.shape[-1] != self.embed_dim or value.shape[-1] != self.embed_dim:
            raise ValueError(
                f"MultiheadAttention: expected embed_dim {self.embed_dim}; got query {query.shape}, key {key.shape}, value {value.shape}"
            )
        batch, lq, lk = query.shape[0], query.shape[1], key.shape[1]
        if self_attention:
            q, k, v = self._project_packed(query)
        else:
            q, k, v = self._project(query, 0), self._project(key, 1), self._project(value, 2)
        bias = self._mask(attn_mask, key_padding_mask, is_causal, batch, lq, lk, q.dtype)
        # is_causal alone: the kernel's causal rows (no mask built); with attn_mask, the mask rules, as in PyTorch
        result = masked_attention(q, k, v, attn_mask=bias, is_causal=is_causal and attn_mask is None,
                                  dropout_p=self.dropout if self.training else 0.0, return_weights=need_weights)
        out, weights = result if need_weights else (result, None)
        out = self.out_proj(out.transpose(1, 2).reshape(batch, lq, self.embed_dim))
        if weights is not None and average_attn_weights:
            weights = weights.mean(dim=1)
        if unbatched:
            return out.squeeze(0), None if weights is None else weights.squeeze(0)
        return (out if self.batch_first else out.transpose(0, 1)), weights

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, batch_first={self.batch_first}"
