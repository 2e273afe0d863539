"""Embedding tables and positional embeddings."""
import math

import numpy as np

from .. import functional as F
from ..tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter


class Embedding(Module):
    """Looks up rows of `weight` (num_embeddings, embedding_dim); `padding_idx`'s row starts at 0
    and gets no gradient. Shape: (*) int -> (*, embedding_dim)."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, dtype=np.float32):
        super().__init__()
        if padding_idx is not None and padding_idx < 0:
            padding_idx += num_embeddings
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.weight = Parameter(np.zeros((num_embeddings, embedding_dim), dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, indices):
        return F.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self):
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


def sinusoidal_table(max_len, dim, dtype=np.float32):
    """PE[pos, 2i] = sin(pos / 10000^(2i/dim)), PE[pos, 2i+1] = cos(same) (Vaswani et al.)."""
    positions = np.arange(max_len)[:, None]
    rates = np.exp(-math.log(10000.0) * np.arange(0, dim, 2) / dim)
    table = np.zeros((max_len, dim))
    table[:, 0::2] = np.sin(positions * rates)
    table[:, 1::2] = np.cos(positions * rates[: dim // 2])
    return table.astype(dtype)


class PositionalEmbedding(Module):
    """Adds a position embedding to a sequence of vectors: learned (a parameter) or sinusoidal (fixed).

    Shape: (B, T, dim) with batch_first=True (default), else (T, B, dim) -> same; T <= max_len.
    """

    def __init__(self, max_len, dim, kind="learned", batch_first=True, dtype=np.float32):
        super().__init__()
        if kind not in ("learned", "sinusoidal"):
            raise ValueError(f"PositionalEmbedding: kind must be 'learned' or 'sinusoidal'; got {kind!r}")
        self.max_len, self.dim, self.kind, self.batch_first = max_len, dim, kind, batch_first
        if kind == "learned":
            self.weight = Parameter(np.zeros((max_len, dim), dtype=dtype))
            init.normal_(self.weight, std=0.02)
        else:
            self.register_buffer("weight", Tensor(sinusoidal_table(max_len, dim, dtype)), persistent=False)

    def forward(self, x):
        length = x.shape[1] if self.batch_first else x.shape[0]
        if length > self.max_len:
            raise ValueError(f"PositionalEmbedding: sequence of length {length} is longer than max_len={self.max_len}")
        pe = self.weight[:length]
        return x + (pe if self.batch_first else pe.unsqueeze(1))

    def extra_repr(self):
        return f"{self.max_len}, {self.dim}, kind={self.kind!r}"
