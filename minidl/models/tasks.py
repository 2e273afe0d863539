"""The models `minidl train` trains: a review classifier, a character transformer, an image CNN."""
import numpy as np

from .. import functional as F
from .. import nn
from ..random import generator
from ..tensor import Tensor, arange, where


class SentimentClassifier(nn.Module):
    """Embedding -> bidirectional GRU (or LSTM) -> max over time of the valid steps -> linear.

    Shape: ids (B, T) int, lengths (B,) -> logits (B, num_classes).
    """

    def __init__(self, vocab_size, embed_dim=128, hidden_dim=128, cell="gru", num_classes=2, dropout=0.5, pad_id=0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        rnn = {"gru": nn.GRU, "lstm": nn.LSTM}[cell]
        self.rnn = rnn(embed_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * hidden_dim, num_classes)

    def forward(self, ids, lengths=None):
        out, _ = self.rnn(self.dropout(self.embedding(ids)))
        if lengths is not None:  # padded steps must not win the max
            valid = arange(ids.shape[1])[None, :] < getattr(lengths, "data", np.asarray(lengths))[:, None]
            out = where(valid.numpy()[:, :, None], out, -1e4)
        return self.classifier(self.dropout(out.max(dim=1)))


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
        from ..autograd.grad_mode import no_grad

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


class FashionCNN(nn.Module):
    """Two 3x3 conv layers with ReLU and 2x2 max pooling, then a linear classifier.

    Shape: images (B, 1, 28, 28) -> logits (B, 10).
    """

    def __init__(self, channels=(32, 64), num_classes=10, dropout=0.25):
        super().__init__()
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(c2 * 7 * 7, num_classes)

    def forward(self, images):
        return self.classifier(self.dropout(self.features(images).flatten(1)))
