"""The review classifier that `minidl train sentiment` trains."""
import numpy as np

from .. import nn
from ..tensor import arange, where


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
        return self.classifier(self.dropout(out.amax(dim=1)))
