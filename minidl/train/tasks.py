"""The four `minidl train` tasks. Each builds its data, model and optimizer and tells the
Trainer how to batch, score and evaluate. Defaults are the settings whose results README.md reports."""
import math
from dataclasses import asdict

import numpy as np

from .. import functional as F
from .. import optim
from ..data import CharTokenizer, WordTokenizer, load_fashion_mnist, load_rt_polarity, load_tiny_shakespeare, pad_collate
from ..models import CharTransformer, FashionCNN, RNNLanguageModel, SentimentClassifier
from ..random import manual_seed
from ..tensor import Tensor

PROMPT = ["the", "movie", "is"]  # rt-polarity is lower-cased: "[review] the movie is good/bad"
START = "<s>"


def _bucketed_count(n, batch_size, chunk=20):
    """How many batches _bucketed makes of n examples."""
    full, rest = divmod(n, batch_size * chunk)
    return full * chunk + -(-rest // batch_size)


def _bucketed(examples, batch_size, rng, chunk=20):
    """Shuffled batches of similar lengths (less padding): sort within shuffled chunks, shuffle the batches."""
    order = rng.permutation(len(examples))
    batches = []
    for start in range(0, len(order), batch_size * chunk):
        piece = sorted(order[start : start + batch_size * chunk], key=lambda i: len(examples[i][0]))
        batches += [piece[i : i + batch_size] for i in range(0, len(piece), batch_size)]
    for b in rng.permutation(len(batches)):
        yield pad_collate([examples[i] for i in batches[b]])


def _reviews(limit):
    """rt-polarity's fixed split; with `limit`, the first `limit` training and limit/5 test reviews (smoke runs)."""
    train_texts, train_y, test_texts, test_y = load_rt_polarity()
    if limit:
        n_test = max(50, limit // 5)
        return train_texts[:limit], train_y[:limit], test_texts[:n_test], test_y[:n_test]
    return train_texts, train_y, test_texts, test_y


class _Task:
    defaults = {}

    def __init__(self, config):
        self.config = config
        manual_seed(config.seed)

    def config_payload(self):
        return {"task": self.name, "model": self.model_args, "train": {k: v for k, v in asdict(self.config).items() if k != "extra"}}

    def batch_size(self, batch):
        return batch[0].shape[0]


class SentimentTask(_Task):
    """Embedding + bidirectional GRU + linear on rt-polarity, accuracy on the held-out 10 %."""

    name = "sentiment"
    defaults = dict(epochs=6, batch_size=64, lr=2e-3)

    def __init__(self, config):
        super().__init__(config)
        train_texts, train_y, test_texts, test_y = _reviews(config.limit)
        self.tokenizer = WordTokenizer.build(train_texts, min_freq=2)
        encode = lambda t: np.array(self.tokenizer.encode(t) or [self.tokenizer.token_id("<unk>")], dtype=np.int64)  # noqa: E731
        self.train = [(encode(t), y) for t, y in zip(train_texts, train_y)]
        self.test = [(encode(t), y) for t, y in zip(test_texts, test_y)]
        self.model_args = dict(vocab_size=len(self.tokenizer), embed_dim=128, hidden_dim=128, cell="gru", dropout=0.5,
                               pad_id=self.tokenizer.pad_id)
        self.model = SentimentClassifier(**self.model_args)
        self.optimizer = optim.Adam(self.model.parameters(), lr=config.lr)

    def batches(self, epoch, rng):
        return _bucketed(self.train, self.config.batch_size, rng)

    def batches_per_epoch(self):
        return _bucketed_count(len(self.train), self.config.batch_size)

    def loss(self, batch):
        ids, lengths, labels = batch
        return F.cross_entropy(self.model(ids, lengths), labels)

    def evaluate(self):
        correct, total, loss = 0, 0, 0.0
        for start in range(0, len(self.test), 256):
            ids, lengths, labels = pad_collate(self.test[start : start + 256])
            logits = self.model(ids, lengths)
            loss += F.cross_entropy(logits, labels, reduction="sum").item()
            correct += int((logits.numpy().argmax(1) == labels.numpy()).sum())
            total += len(labels)
        return {"accuracy": correct / total, "test_loss": loss / total}


class SentimentPromptTask(_Task):
    """An RNN language model on "<s> review the movie is good|bad", classified by FE-P2's rule:
    +1 when P(good | prompt) >= P(bad | prompt)."""

    name = "sentiment-prompt"
    defaults = dict(epochs=6, batch_size=64, lr=2e-3)
    answer_weight = 4.0  # the answer word is one token in ~25: weigh it up in the LM loss

    def __init__(self, config):
        super().__init__(config)
        train_texts, train_y, test_texts, test_y = _reviews(config.limit)
        self.tokenizer = WordTokenizer.build(
            list(train_texts) + [" ".join(PROMPT + ["good", "bad"])], min_freq=2, specials=(START,)
        )
        self.good, self.bad = self.tokenizer.token_id("good"), self.tokenizer.token_id("bad")
        prompt = [self.tokenizer.token_id(START)], [self.tokenizer.token_id(w) for w in PROMPT]
        self.prompts = lambda text: np.array(prompt[0] + self.tokenizer.encode(text) + prompt[1], dtype=np.int64)  # noqa: E731
        self.train = [(np.append(self.prompts(t), self.good if y else self.bad), y) for t, y in zip(train_texts, train_y)]
        self.test = [(self.prompts(t), y) for t, y in zip(test_texts, test_y)]
        self.model_args = dict(vocab_size=len(self.tokenizer), embed_dim=128, hidden_dim=256, cell="gru", dropout=0.0)
        self.model = RNNLanguageModel(**self.model_args)
        self.optimizer = optim.Adam(self.model.parameters(), lr=config.lr)

    def config_payload(self):
        payload = super().config_payload()
        payload["prompt"] = {"template": "{review} " + " ".join(PROMPT), "start": START, "positive": "good", "negative": "bad"}
        return payload

    def batches(self, epoch, rng):
        return _bucketed(self.train, self.config.batch_size, rng)

    def batches_per_epoch(self):
        return _bucketed_count(len(self.train), self.config.batch_size)

    def loss(self, batch):
        ids, lengths, _ = batch
        inputs, targets = ids[:, :-1], ids.numpy()[:, 1:].copy()
        steps = np.arange(targets.shape[1])[None, :]
        targets[steps >= (lengths.numpy()[:, None] - 1)] = -100  # padding: no loss
        logits = self.model(inputs)
        lm = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)
        last = lengths.numpy() - 2  # the position that predicts the answer word
        answer = logits[np.arange(len(last)), last]
        answers = ids.numpy()[np.arange(len(last)), last + 1]
        return lm + self.answer_weight * F.cross_entropy(answer, answers)

    def scores(self, examples):
        """log P(good) - log P(bad) after each prompt, batched."""
        ids, lengths, _ = pad_collate(examples)
        logits = self.model(ids).numpy()
        at = logits[np.arange(len(examples)), lengths.numpy() - 1]
        return at[:, self.good] - at[:, self.bad]

    def evaluate(self):
        predictions, labels = [], []
        for start in range(0, len(self.test), 256):
            chunk = self.test[start : start + 256]
            predictions += list(self.scores(chunk) >= 0)
            labels += [y for _, y in chunk]
        return {"accuracy": float(np.mean(np.array(predictions) == np.array(labels, dtype=bool)))}


class CharLMTask(_Task):
    """A causal transformer (4 layers, 4 heads, width 128, context 64) on Tiny Shakespeare."""

    name = "charlm"
    defaults = dict(epochs=6, batch_size=32, lr=2e-3)
    steps_per_epoch = 500
    eval_batches = 40
    warmup = 100

    def __init__(self, config):
        super().__init__(config)
        train_text, val_text = load_tiny_shakespeare()
        if config.limit:
            train_text, val_text = train_text[: config.limit], val_text[: max(5000, config.limit // 10)]
        self.tokenizer = CharTokenizer.build(train_text + val_text)
        self.train_ids = np.array(self.tokenizer.encode(train_text), dtype=np.int64)
        self.val_ids = np.array(self.tokenizer.encode(val_text), dtype=np.int64)
        self.model_args = dict(vocab_size=len(self.tokenizer), d_model=128, n_layers=4, n_heads=4, context=64)
        self.model = CharTransformer(**self.model_args)
        self.optimizer = optim.AdamW(self.model.parameters(), lr=config.lr, weight_decay=0.01)
        self.total_steps = config.steps or config.epochs * self.steps_per_epoch
        self.config.clip = self.config.clip or 1.0

    def _windows(self, ids, rng, count):
        starts = rng.integers(0, len(ids) - self.model.context - 1, size=count)
        block = np.stack([ids[s : s + self.model.context + 1] for s in starts])
        return Tensor(block[:, :-1]), block[:, 1:]

    def batches_per_epoch(self):
        return self.steps_per_epoch if not self.config.steps else min(self.steps_per_epoch, self.config.steps)

    def batches(self, epoch, rng):
        steps = self.batches_per_epoch()
        for _ in range(steps):
            yield self._windows(self.train_ids, rng, self.config.batch_size)

    def batch_size(self, batch):
        return batch[0].shape[0] * batch[0].shape[1]  # characters

    def after_step(self, step):
        """Linear warm-up, then cosine decay to a tenth of the peak learning rate."""
        peak = self.config.lr
        if step < self.warmup:
            lr = peak * (step + 1) / self.warmup
        else:
            progress = min(1.0, (step - self.warmup) / max(1, self.total_steps - self.warmup))
            lr = peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def loss(self, batch):
        inputs, targets = batch
        logits = self.model(inputs)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    def evaluate(self):
        rng = np.random.default_rng(1234)  # the same validation windows every time
        total = 0.0
        for _ in range(self.eval_batches):
            total += self.loss(self._windows(self.val_ids, rng, 32)).item()
        return {"val_loss": total / self.eval_batches}

    def plot_extra(self, folder, plt):
        """Attention of the first layer's heads (averaged) on a validation sample."""
        import os

        from ..autograd.grad_mode import no_grad

        sample = self.val_ids[:48]
        with no_grad():
            x = self.model.position(self.model.embedding(Tensor(sample[None])))
            h = self.model.layers[0].norm1(x)
            _, weights = self.model.layers[0].self_attn(h, h, h, is_causal=True)
        fig, ax = plt.subplots(figsize=(7, 6))
        ax.imshow(weights.numpy()[0], cmap="viridis")
        labels = [repr(c)[1:-1] for c in self.tokenizer.decode(sample)]
        ax.set_xticks(range(len(labels)), labels, fontsize=6)
        ax.set_yticks(range(len(labels)), labels, fontsize=6)
        ax.set(title="layer 1 attention (heads averaged), causal", xlabel="key", ylabel="query")
        fig.tight_layout()
        fig.savefig(os.path.join(folder, "attention.png"), dpi=110)
        plt.close(fig)


class FashionTask(_Task):
    """Two conv layers + pooling + linear on Fashion-MNIST, test accuracy."""

    name = "fashion"
    defaults = dict(epochs=5, batch_size=128, lr=1e-3)
    mean, std = 0.2860, 0.3530

    def __init__(self, config):
        super().__init__(config)
        train_x, train_y, test_x, test_y = load_fashion_mnist()
        if config.limit:
            train_x, train_y = train_x[: config.limit], train_y[: config.limit]
            test_x, test_y = test_x[: max(200, config.limit // 5)], test_y[: max(200, config.limit // 5)]
        self.train_x, self.train_y = self.normalize(train_x), train_y
        self.test_x, self.test_y = self.normalize(test_x), test_y
        self.model_args = dict(channels=[32, 64], num_classes=10, dropout=0.25)
        self.model = FashionCNN(**self.model_args)
        self.optimizer = optim.Adam(self.model.parameters(), lr=config.lr)
        self.tokenizer = None

    @classmethod
    def normalize(cls, images):
        return ((images.astype(np.float32) / 255.0 - cls.mean) / cls.std)[:, None]

    def batches_per_epoch(self):
        return -(-len(self.train_x) // self.config.batch_size)

    def batches(self, epoch, rng):
        order = rng.permutation(len(self.train_x))
        size = self.config.batch_size
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            yield Tensor(self.train_x[chunk]), self.train_y[chunk]

    def loss(self, batch):
        images, labels = batch
        return F.cross_entropy(self.model(images), labels)

    def evaluate(self):
        correct = 0
        for start in range(0, len(self.test_x), 1000):
            logits = self.model(Tensor(self.test_x[start : start + 1000]))
            correct += int((logits.numpy().argmax(1) == self.test_y[start : start + 1000]).sum())
        return {"accuracy": correct / len(self.test_x)}


TASKS = {t.name: t for t in (SentimentTask, SentimentPromptTask, CharLMTask, FashionTask)}
