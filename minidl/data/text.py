"""Tokenizers: words (with a frequency-limited vocabulary) and characters. Both save to JSON."""
import json
import os
from collections import Counter

PAD, UNK = "<pad>", "<unk>"


def _write_json(path, payload):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(payload, f, ensure_ascii=False)
    os.replace(tmp, path)


class WordTokenizer:
    """Whitespace tokens; `<pad>` is id 0 and `<unk>` id 1, then words by frequency (ties alphabetical).

    Example:
        >>> tok = WordTokenizer.build(["a good film", "a bad film"], min_freq=1)
        >>> tok.encode("a good day")     # [id(a), id(good), 1]
    """

    kind = "word"

    def __init__(self, words, lowercase=True):
        self.itos = list(words)
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.lowercase = lowercase

    @classmethod
    def build(cls, texts, min_freq=1, max_size=None, specials=(), lowercase=True):
        counts = Counter(w for t in texts for w in (t.lower() if lowercase else t).split())
        words = [w for w, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= min_freq]
        reserved = [PAD, UNK] + [s for s in specials if s not in (PAD, UNK)]
        words = [w for w in words if w not in reserved]
        if max_size is not None:
            words = words[: max(0, max_size - len(reserved))]
        return cls(reserved + words, lowercase)

    def __len__(self):
        return len(self.itos)

    @property
    def pad_id(self):
        return self.stoi[PAD]

    def token_id(self, word):
        return self.stoi.get(word.lower() if self.lowercase and not word.startswith("<") else word, self.stoi[UNK])

    def encode(self, text):
        return [self.token_id(w) for w in text.split()]

    def decode(self, ids):
        return " ".join(self.itos[int(i)] for i in ids)

    def save(self, path):
        _write_json(path, {"kind": self.kind, "lowercase": self.lowercase, "tokens": self.itos})

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            payload = json.load(f)
        return cls(payload["tokens"], payload.get("lowercase", True))


class CharTokenizer:
    """One id per distinct character, in sorted order."""

    kind = "char"

    def __init__(self, chars):
        self.itos = list(chars)
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def build(cls, text):
        return cls(sorted(set(text)))

    def __len__(self):
        return len(self.itos)

    def encode(self, text):
        missing = sorted(set(text) - set(self.stoi))
        if missing:
            raise ValueError(f"CharTokenizer: characters not in the vocabulary: {missing[:10]}")
        return [self.stoi[c] for c in text]

    def decode(self, ids):
        return "".join(self.itos[int(i)] for i in ids)

    def save(self, path):
        _write_json(path, {"kind": self.kind, "chars": self.itos})

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f)["chars"])


def load_tokenizer(path):
    with open(path, encoding="utf-8") as f:
        kind = json.load(f).get("kind")
    return {"word": WordTokenizer, "char": CharTokenizer}[kind].load(path)
