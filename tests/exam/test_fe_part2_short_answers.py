"""Final exam, part 2 (short answers) as properties of the framework."""
import numpy as np

import minidl as md
import minidl.functional as F
from minidl import nn, optim


def test_fe_sa1_convolution_is_local_and_translation_equivariant():
    md.manual_seed(0)
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=False).double()
    x = md.tensor(np.random.default_rng(0).standard_normal((1, 1, 8, 8)), requires_grad=True)
    out = conv(x)
    out[0, 0, 4, 5].backward()  # one output pixel
    touched = np.argwhere(x.grad.numpy()[0, 0] != 0)
    assert touched.min(axis=0).tolist() == [3, 4] and touched.max(axis=0).tolist() == [5, 6]  # its 3x3 field only
    shifted = md.tensor(np.roll(x.numpy(), 1, axis=3))
    np.testing.assert_allclose(conv(shifted).numpy()[..., 2:-1], np.roll(out.numpy(), 1, axis=3)[..., 2:-1], rtol=1e-12)


def test_fe_sa2_zero_initialisation_never_breaks_symmetry():
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    for p in model.parameters():
        nn.init.zeros_(p)
    opt = optim.SGD(model.parameters(), lr=0.5)
    rng = np.random.default_rng(0)
    x, y = md.tensor(rng.standard_normal((16, 3)).astype(np.float32)), md.tensor(rng.integers(0, 2, 16))
    for _ in range(20):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    w1, b1, w2 = model[0].weight.numpy(), model[0].bias.numpy(), model[2].weight.numpy()
    assert np.all(w1 == w1[0]) and np.all(b1 == b1[0])  # every hidden unit has the same incoming weights
    assert np.all(w2 == w2[:, :1])  # ... and the same outgoing weights


def test_fe_sa3_softmax_weights_are_a_distribution_but_tanh_scores_are_not():
    rng = np.random.default_rng(1)
    q, k, v = (md.tensor(rng.standard_normal((6, 4))) for _ in range(3))
    _, weights = F.scaled_dot_product_attention(q, k, v, return_weights=True)
    w = weights.numpy()
    assert np.all(w >= 0)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-12)
    tanh_weights = ((q @ k.T) / 2.0).tanh().numpy()
    assert np.any(tanh_weights < 0) and not np.allclose(tanh_weights.sum(axis=1), 1.0)
