"""Final exam, part 1 (multiple choice) as properties of the framework. See docs/exam.md."""
import numpy as np

import minidl as md
import minidl.functional as F
from minidl import nn
from minidl.models import VAE, Perceptron


def _separable(rng, n=40):
    """Two clouds on either side of the line x1 + x2 = 0 (a margin of 0.5)."""
    X = rng.uniform(-3, 3, size=(n, 2))
    margin = X.sum(axis=1)
    X = X[np.abs(margin) > 0.5]
    return X, np.where(X.sum(axis=1) > 0, 1, -1)


def test_fe_mc1_softmax_shift():
    v = md.tensor(np.array([0.3, -1.2, 2.0, 0.5]))
    base = F.softmax(v, dim=0).numpy()
    for t in (-5.0, 0.7, 40.0):
        np.testing.assert_allclose(F.softmax(v + t, dim=0).numpy(), base, rtol=1e-12)  # 1*t does not matter
    for s in (0.5, 2.0, -1.0):
        assert not np.allclose(F.softmax(v * s, dim=0).numpy(), base)  # the scale s does


def test_fe_mc2_relu_of_a_shifted_separable_set():
    rng = np.random.default_rng(0)
    X, y = _separable(rng)
    shifted = lambda beta: F.relu(md.tensor(X) + beta).numpy()  # noqa: E731
    big = shifted(10.0)
    assert np.all(big > 0)  # every point in the first orthant: ReLU is the identity there
    np.testing.assert_allclose(big, X + 10.0)
    assert Perceptron(2).fit(big, y, max_epochs=2000).converged  # D' is still separable
    crushed = shifted(-10.0)
    assert np.all(crushed == 0)  # every point maps to 0 while both labels remain
    result = Perceptron(2).fit(crushed, y, max_epochs=50)
    assert not result.converged and result.epochs == 50


def test_fe_mc3_skip_connections_keep_the_gradient_alive():
    def first_layer_gradient_norm(skip):
        md.manual_seed(0)
        layers = nn.ModuleList([nn.Linear(16, 16) for _ in range(30)])  # default init: each layer shrinks the gradient
        h = md.randn(8, 16)
        for layer in layers:
            f = layer(h).tanh()
            h = h + f if skip else f
        h.sum().backward()
        return np.linalg.norm(layers[0].weight.grad.numpy())

    plain, residual = first_layer_gradient_norm(False), first_layer_gradient_norm(True)
    assert residual > 1e4 * plain  # orders of magnitude


def test_fe_mc4_two_heads_with_scaled_weights_differ():
    rng = np.random.default_rng(1)
    X = md.tensor(rng.standard_normal((5, 4)))
    wq, wk, wv = (md.tensor(rng.standard_normal((4, 3))) for _ in range(3))

    def head(w_q, w_k, w_v):
        return F.scaled_dot_product_attention(X @ w_q, X @ w_k, X @ w_v, return_weights=True)

    z1, p1 = head(wq, wk, wv)
    z2, p2 = head(2 * wq, wk, wv / 2)
    assert not np.allclose(p1.numpy(), p2.numpy())  # doubling W_Q sharpens the softmax
    assert not np.allclose(z1.numpy(), z2.numpy())


def test_fe_mc5_elu_gradient_formula():
    rng = np.random.default_rng(2)
    layer = nn.Linear(4, 3).double()
    h_prev = md.tensor(rng.standard_normal((1, 4)), requires_grad=True)
    z = layer(h_prev)
    h = F.elu(z)
    upstream = rng.standard_normal((1, 3))
    h.backward(upstream)
    dz = upstream * np.minimum(np.exp(z.numpy()), 1.0)  # ELU'(z) = min(exp(z), 1)
    np.testing.assert_allclose(h_prev.grad.numpy(), dz @ layer.weight.numpy(), rtol=1e-12)  # W^T (dL/dh * g'(z))


def test_fe_mc6_perceptron_converges_and_convolutions_share_weights():
    X, y = _separable(np.random.default_rng(3))
    result = Perceptron(2).fit(X, y, max_epochs=1000)
    assert result.converged and result.updates > 0
    assert np.all(Perceptron(2).predict(X) != 0)
    conv = md.summary(nn.Conv2d(3, 16, 3, padding=1), input_size=(1, 3, 32, 32))
    dense = md.summary(nn.Linear(3 * 32 * 32, 16 * 32 * 32), input_size=(1, 3 * 32 * 32))
    assert conv.rows[0].output_shape == (1, 16, 32, 32)
    assert conv.totals["params"] == (3 * 3 * 3 + 1) * 16 == 448
    assert dense.totals["params"] == 3072 * 16384 + 16384
    assert dense.totals["params"] > 100_000 * conv.totals["params"]


def test_fe_mc7_vae_encoder_returns_a_distribution_and_samples_in_training():
    md.manual_seed(0)
    vae = VAE(input_dim=12, hidden_dim=8, latent_dim=3)
    x = md.rand(2, 12)
    mean, log_variance = vae.encode(x)
    assert mean.shape == log_variance.shape == (2, 3)
    np.testing.assert_array_equal(vae.encode(x)[0].numpy(), mean.numpy())  # the mean is deterministic
    z1, z2 = vae.reparameterize(mean, log_variance), vae.reparameterize(mean, log_variance)
    assert not np.allclose(z1.numpy(), z2.numpy())  # training mode samples
    vae.eval()
    np.testing.assert_array_equal(vae.reparameterize(mean, log_variance).numpy(), mean.numpy())
    logits, m, lv = vae(x)
    assert logits.shape == (2, 12) and np.isfinite(VAE.loss(logits, x, m, lv).item())


def test_fe_mc8_masked_attention_ignores_the_future():
    md.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True).eval()
    x = md.randn(1, 6, 8)
    changed = md.tensor(x.numpy().copy())
    changed.numpy()[0, 4:] += 3.0  # change the tokens after position i = 3
    i = 3
    causal = lambda t: layer(t, is_causal=True).numpy()  # noqa: E731
    np.testing.assert_allclose(causal(x)[0, : i + 1], causal(changed)[0, : i + 1], rtol=1e-6)
    assert not np.allclose(layer(x).numpy()[0, : i + 1], layer(changed).numpy()[0, : i + 1])  # an encoder sees them
