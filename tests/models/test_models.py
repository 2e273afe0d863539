"""The small models of minidl.models beyond the exam cases."""
import numpy as np
import pytest

import minidl as md
from minidl import optim
from minidl.models import VAE, LogisticRegression, Perceptron, PromptedSentimentLM, RNNLanguageModel


def test_perceptron_rejects_bad_labels_and_shapes():
    with pytest.raises(ValueError, match=r"labels must be -1 or \+1; got \[0, 1\]"):
        Perceptron(2).fit(np.zeros((2, 2)), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"expected X \(N, 2\)"):
        Perceptron(2).fit(np.zeros((2, 3)), np.array([1, -1]))


def test_logistic_regression_learns_a_separable_problem():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    y = (X @ np.array([1.5, -2.0, 0.5]) > 0).astype(np.int64)
    md.manual_seed(0)
    model = LogisticRegression(3)
    losses = model.fit(X, y, lr=0.5, epochs=300)
    assert losses[-1] < 0.3 * losses[0]
    assert (model.predict(X) == y).mean() > 0.95
    assert np.all((model.predict_proba(X) >= 0) & (model.predict_proba(X) <= 1))


def test_vae_training_lowers_the_negative_elbo():
    rng = np.random.default_rng(1)
    prototypes = (rng.random((3, 20)) > 0.5).astype(np.float32)
    data = md.tensor(prototypes[rng.integers(0, 3, 96)])
    md.manual_seed(0)
    vae = VAE(input_dim=20, hidden_dim=16, latent_dim=2)
    opt = optim.Adam(vae.parameters(), lr=0.01)
    losses = []
    for _ in range(150):
        opt.zero_grad()
        logits, mean, log_variance = vae(data)
        loss = VAE.loss(logits, data, mean, log_variance)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_prompted_classifier_accepts_a_tokenizer_object():
    class Tokenizer:
        words = ["<s>", "great", "film", "The", "movie", "is", "good", "bad"]

        def token_id(self, word):
            return self.words.index(word)

        def encode(self, text):
            return [self.token_id(w) for w in text.split()]

    md.manual_seed(0)
    lm = RNNLanguageModel(8, 4, 5, cell="gru")
    classifier = PromptedSentimentLM(lm, Tokenizer(), start="<s>")
    assert classifier.encode("great film") == [0, 1, 2, 3, 4, 5]
    logits = classifier.logits("great film")
    assert classifier.predict("great film") == (1 if logits[6] >= logits[7] else -1)
    assert classifier.predict(["great film", "film"]).shape == (2,)
    assert lm.training  # the classifier restores the model's mode
