"""The perceptron (mistake-driven) and logistic regression (gradient descent)."""
from dataclasses import dataclass

import numpy as np

from .. import functional as F
from .. import nn, optim
from ..autograd.grad_mode import no_grad
from ..tensor import Tensor, as_array


@dataclass
class PerceptronResult:
    converged: bool  # an epoch passed with no mistake
    updates: int  # how many mistakes were corrected
    epochs: int  # epochs run


class Perceptron:
    """Rosenblatt's perceptron: predict sign(w.x + b); on a mistake, w += y x and b += y.

    Labels are -1 or +1. Shape: X (N, n_features), y (N,).
    """

    def __init__(self, n_features):
        self.w = Tensor(np.zeros(n_features))
        self.b = 0.0

    def decision_function(self, X) -> np.ndarray:
        return (Tensor(as_array(X, np.float64)) @ self.w).numpy() + self.b

    def predict(self, X) -> np.ndarray:
        return np.where(self.decision_function(X) > 0, 1, -1)

    def fit(self, X, y, max_epochs=1000) -> PerceptronResult:
        X, y = as_array(X, np.float64), as_array(y)
        if not set(np.unique(y)) <= {-1, 1}:
            raise ValueError(f"Perceptron.fit: labels must be -1 or +1; got {sorted(set(np.unique(y).tolist()))}")
        if X.ndim != 2 or X.shape[0] != y.shape[0] or X.shape[1] != self.w.shape[0]:
            raise ValueError(f"Perceptron.fit: expected X (N, {self.w.shape[0]}) and y (N,); got {X.shape} and {y.shape}")
        updates = 0
        for epoch in range(1, max_epochs + 1):
            mistakes = 0
            for xi, yi in zip(X, y):
                if yi * (float(xi @ self.w.data) + self.b) <= 0:
                    self.w.data += yi * xi
                    self.b += yi
                    mistakes += 1
            updates += mistakes
            if mistakes == 0:
                return PerceptronResult(True, updates, epoch)
        return PerceptronResult(False, updates, max_epochs)


class LogisticRegression(nn.Module):
    """p(y=1 | x) = sigmoid(w.x + b), trained by gradient descent on the cross-entropy.

    Shape: X (N, n_features) -> probabilities (N,); labels 0/1.
    """

    def __init__(self, n_features):
        super().__init__()
        self.linear = nn.Linear(n_features, 1)

    def forward(self, x):
        return self.linear(x).squeeze(-1)  # logits

    def fit(self, X, y, lr=0.1, epochs=200):
        X = Tensor(as_array(X, np.float32))
        y = Tensor(as_array(y, np.float32))
        opt = optim.SGD(self.parameters(), lr=lr)
        losses = []
        for _ in range(epochs):
            opt.zero_grad()
            loss = F.binary_cross_entropy_with_logits(self(X), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    def predict_proba(self, X) -> np.ndarray:
        with no_grad():
            return F.sigmoid(self(Tensor(as_array(X, np.float32)))).numpy()

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X) >= 0.5).astype(np.int64)
