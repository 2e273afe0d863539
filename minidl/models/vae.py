"""Variational autoencoder (Kingma & Welling) with a Gaussian encoder and a Bernoulli decoder."""
from .. import functional as F
from .. import nn
from ..random import generator
from ..tensor import Tensor


class VAE(nn.Module):
    """encode(x) -> (mean, log_variance); z = mean + exp(log_variance / 2) * eps in training,
    z = mean in evaluation; decode(z) -> logits of the reconstruction.

    Shape: x (N, input_dim) in [0, 1] -> (logits (N, input_dim), mean (N, latent), log_variance (N, latent)).
    """

    def __init__(self, input_dim=784, hidden_dim=256, latent_dim=16):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(input_dim, hidden_dim), nn.ReLU())
        self.to_mean = nn.Linear(hidden_dim, latent_dim)
        self.to_log_variance = nn.Linear(hidden_dim, latent_dim)
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, input_dim))

    def encode(self, x):
        h = self.encoder(x)
        return self.to_mean(h), self.to_log_variance(h)

    def reparameterize(self, mean, log_variance):
        if not self.training:
            return mean
        eps = Tensor(generator().standard_normal(mean.shape).astype(mean.dtype))
        return mean + (0.5 * log_variance).exp() * eps

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        mean, log_variance = self.encode(x)
        return self.decode(self.reparameterize(mean, log_variance)), mean, log_variance

    @staticmethod
    def loss(logits, x, mean, log_variance):
        """Negative ELBO per example: reconstruction BCE + KL(q(z|x) || N(0, I)), averaged over the batch."""
        reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = -0.5 * (1 + log_variance - mean * mean - log_variance.exp()).sum()
        return (reconstruction + kl) / x.shape[0]
