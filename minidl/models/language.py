"""Small language models and the prompted sentiment classifier of the final exam (FE-P2)."""
import numpy as np

from .. import functional as F
from .. import nn
from ..autograd.grad_mode import no_grad
from ..tensor import Tensor


class RNNLanguageModel(nn.Module):
    """Embedding -> RNN/LSTM/GRU -> linear to the vocabulary: next-token logits at every position.

    Shape: token ids (B, T) -> logits (B, T, vocab); `self.last_hidden` keeps the hidden states (B, T, H).
    """

    def __init__(self, vocab_size, embed_dim, hidden_dim, cell="rnn", nonlinearity="tanh", num_layers=1, bias=True, dropout=0.0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        kwargs = dict(num_layers=num_layers, bias=bias, batch_first=True, dropout=dropout)
        if cell == "rnn":
            self.rnn = nn.RNN(embed_dim, hidden_dim, nonlinearity=nonlinearity, **kwargs)
        elif cell in ("lstm", "gru"):
            self.rnn = getattr(nn, cell.upper())(embed_dim, hidden_dim, **kwargs)
        else:
            raise ValueError(f"RNNLanguageModel: cell must be 'rnn', 'lstm' or 'gru'; got {cell!r}")
        self.output = nn.Linear(hidden_dim, vocab_size, bias=bias)

    def forward(self, tokens):
        hidden, _ = self.rnn(self.embedding(tokens))
        self.last_hidden = hidden
        return self.output(hidden)


class SelfAttentionLM(nn.Module):
    """One single-head self-attention layer (no feed-forward, no residual) over word + position
    embeddings, then a linear map to the vocabulary (FE-P2.3's model).

    Shape: token ids (B, T) -> logits (B, T, vocab); `self.last_attention` (B, T, T) and
    `self.last_output` (B, T, d_k) keep the intermediate values.
    """

    def __init__(self, vocab_size, embed_dim, head_dim, max_len=64, causal=False, bias=False):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.position = nn.PositionalEmbedding(max_len, embed_dim)
        self.query = nn.Linear(embed_dim, head_dim, bias=bias)
        self.key = nn.Linear(embed_dim, head_dim, bias=bias)
        self.value = nn.Linear(embed_dim, head_dim, bias=bias)
        self.output = nn.Linear(head_dim, vocab_size, bias=bias)
        self.causal = causal

    def forward(self, tokens):
        x = self.position(self.embedding(tokens))
        z, weights = F.scaled_dot_product_attention(
            self.query(x), self.key(x), self.value(x), is_causal=self.causal, return_weights=True
        )
        self.last_attention, self.last_output = weights, z
        return self.output(z)


class PromptedSentimentLM:
    """Classify a review with a language model and the prompt "[review] The movie is [Z]".

    The prediction is +1 when P(next = "good") >= P(next = "bad") after the prompt,
    else -1 (FE-P2's rule). `lm` maps token ids (1, T) to logits (1, T, vocab);
    `vocab` maps words to ids (a dict or a tokenizer with `encode`).
    """

    def __init__(self, lm, vocab, template="{review} The movie is", positive="good", negative="bad", start=None):
        self.lm, self.vocab, self.template, self.start = lm, vocab, template, start
        self.positive, self.negative = self._id(positive), self._id(negative)

    def _id(self, word):
        if hasattr(self.vocab, "token_id"):
            return self.vocab.token_id(word)
        if word not in self.vocab:
            raise KeyError(f"PromptedSentimentLM: '{word}' is not in the vocabulary")
        return self.vocab[word]

    def encode(self, review):
        text = self.template.format(review=review)
        if hasattr(self.vocab, "encode"):
            ids = list(self.vocab.encode(text))
        else:
            ids = [self._id(w) for w in text.split()]
        return ([self._id(self.start)] if self.start else []) + ids

    def logits(self, review):
        """Next-token logits after the prompt: (vocab,)."""
        ids = np.array([self.encode(review)], dtype=np.int64)
        was_training = getattr(self.lm, "training", False)
        if hasattr(self.lm, "eval"):
            self.lm.eval()
        try:
            with no_grad():
                out = self.lm(Tensor(ids))
        finally:
            if hasattr(self.lm, "train"):
                self.lm.train(was_training)
        return out.numpy()[0, -1]

    def score(self, review):
        """log P(good) - log P(bad) after the prompt (the softmax normaliser cancels)."""
        logits = self.logits(review)
        return float(logits[self.positive] - logits[self.negative])

    def predict(self, reviews):
        """+1 or -1 for one review (a string) or a list of reviews."""
        if isinstance(reviews, str):
            return 1 if self.score(reviews) >= 0 else -1
        return np.array([self.predict(r) for r in reviews])
