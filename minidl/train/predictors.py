"""`minidl.train.load(DIR)`: a trained checkpoint folder back as a ready-to-use predictor."""
import os
import re

import numpy as np

from .. import functional as F
from ..autograd.grad_mode import no_grad
from ..data import load_tokenizer, pad_collate
from ..models import CharTransformer, FashionCNN, PromptedSentimentLM, RNNLanguageModel, SentimentClassifier
from ..serialization import load as load_file
from ..tensor import Tensor
from .tasks import FashionTask


def _read_json(path):
    import json

    with open(path, encoding="utf-8") as f:
        return json.load(f)


# rt-polarity is lower-cased with punctuation split off as tokens ("a gorgeous , witty ,
# seductive movie ."), while apostrophes and hyphens stay inside words ("he's", "jean-claud").
_PUNCTUATION = re.compile(r"""(\.\.\.|[.,!?;:()"]|--)""")


def review_tokens(text):
    """A review as typed, in the training data's form: 'A gorgeous, witty movie.' -> 'a gorgeous , witty movie .'"""
    return " ".join(_PUNCTUATION.sub(r" \1 ", text.lower()).split())


class ReviewClassifier:
    """A `sentiment` checkpoint: predict(texts) -> [(label, probability of positive)]."""

    task = "sentiment"

    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model.eval(), tokenizer

    def predict(self, texts):
        unk = self.tokenizer.token_id("<unk>")
        examples = [(np.array(self.tokenizer.encode(review_tokens(t)) or [unk]), 0) for t in texts]
        ids, lengths, _ = pad_collate(examples)
        with no_grad():
            probs = F.softmax(self.model(ids, lengths), dim=-1).numpy()[:, 1]
        return [("positive" if p >= 0.5 else "negative", float(p)) for p in probs]


class PromptedReviewClassifier:
    """A `sentiment-prompt` checkpoint: predict(texts) -> [(label, P(good) / (P(good) + P(bad)))]."""

    task = "sentiment-prompt"

    def __init__(self, model, tokenizer, prompt):
        self.classifier = PromptedSentimentLM(model.eval(), tokenizer, template=prompt["template"], positive=prompt["positive"],
                                              negative=prompt["negative"], start=prompt["start"])

    def predict(self, texts):
        out = []
        for t in texts:
            score = self.classifier.score(review_tokens(t))
            out.append(("positive" if score >= 0 else "negative", float(1 / (1 + np.exp(-score)))))
        return out


class TextGenerator:
    """A `charlm` checkpoint: generate(prompt, tokens, temperature, top_k, seed) -> text."""

    task = "charlm"

    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model.eval(), tokenizer

    def generate(self, prompt="\n", tokens=200, temperature=1.0, top_k=None, seed=None):
        rng = np.random.default_rng(seed)
        ids = self.model.generate(self.tokenizer.encode(prompt or "\n"), tokens, temperature, top_k, rng)
        return self.tokenizer.decode(ids)


class ImageClassifier:
    """A `fashion` checkpoint: predict(images (N, 28, 28) uint8) -> class ids."""

    task = "fashion"

    CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    def __init__(self, model):
        self.model = model.eval()

    def predict(self, images):
        with no_grad():
            return self.model(Tensor(FashionTask.normalize(np.asarray(images)))).numpy().argmax(1)


def load(folder):
    """A predictor for a `minidl train` checkpoint folder: its model rebuilt, with its weights."""
    config, model, tokenizer = load_model(folder)
    task = config["task"]
    if task == "sentiment":
        return ReviewClassifier(model, tokenizer)
    if task == "sentiment-prompt":
        return PromptedReviewClassifier(model, tokenizer, config["prompt"])
    if task == "charlm":
        return TextGenerator(model, tokenizer)
    return ImageClassifier(model)


def load_model(folder):
    """(config, model, tokenizer or None) of a `minidl train` checkpoint folder, the model with its weights."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"no checkpoint folder {folder} (train one with `minidl train TASK --out {folder}`)")
    config_path = os.path.join(folder, "config.json")
    if not os.path.exists(config_path):
        raise FileNotFoundError(f"{folder} has no config.json: it is not a `minidl train` checkpoint folder")
    config = _read_json(config_path)
    builders = {"sentiment": SentimentClassifier, "sentiment-prompt": RNNLanguageModel, "charlm": CharTransformer, "fashion": FashionCNN}
    task = config.get("task")
    if task not in builders:
        raise ValueError(f"{config_path} names task {task!r}; minidl knows {sorted(builders)}")
    model = builders[task](**config["model"])
    model.load_state_dict(load_file(os.path.join(folder, "model.safetensors")))
    tokenizer = load_tokenizer(os.path.join(folder, "vocab.json")) if task != "fashion" else None
    return config, model, tokenizer
