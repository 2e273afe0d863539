"""The causal character-level transformer that `minidl train charlm` trains."""
import numpy as np

from .. import functional as F
from .. import nn
from ..autograd.grad_mode import no_grad
from ..random import generator
from ..tensor import Tensor


def _gelu_tanh(x):
    """GELU's tanh form: on the vectorised tanh kernel, 5x cheaper here than erf (same curve to 1e-3)."""
    return F.gelu(x, approximate="tanh")


class CharTransformer(nn.Module):
    """A causal character-level transformer (pre-norm encoder layers, tanh-GELU, learned positions).

    Shape: ids (B, T) with T <= context -> next-character logits (B, T, vocab).
    """

    def __init__(self, vocab_size, d_model=128, n_layers=4, n_heads=4, context=64, dropout=0.0):
        super().__init__()
        self.context = context
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.position = nn.PositionalEmbedding(context, d_model)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(d_model, n_heads, 4 * d_model, dropout, activation=_gelu_tanh, batch_first=True,
                                       norm_first=True)
            for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, ids):
        x = self.position(self.embedding(ids))
        for layer in self.layers:
            x = layer(x, is_causal=True)
        return self.head(self.norm(x))

    def generate(self, ids, tokens, temperature=1.0, top_k=None, rng=None):
        """Sample `tokens` more ids after `ids` (a list); returns the whole list."""
        rng = rng or generator()
        ids = list(ids)
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                for _ in range(tokens):
                    window = np.array([ids[-self.context:]], dtype=np.int64)
                    logits = self(Tensor(window)).numpy()[0, -1].astype(np.float64) / max(temperature, 1e-6)
                    if top_k is not None and top_k < len(logits):
                        cutoff = np.sort(logits)[-top_k]
                        logits = np.where(logits < cutoff, -np.inf, logits)
                    p = np.exp(logits - logits.max())
                    ids.append(int(rng.choice(len(p), p=p / p.sum())))
        finally:
            self.train(was_training)
        return ids
