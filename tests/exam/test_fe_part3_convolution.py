"""Final exam, problem 1: one channel, 3x3 kernel, stride 1, padding 1, bias 0, ReLU, then 2x2 max pooling."""
import numpy as np

import minidl as md
from minidl import nn

KERNEL = [[1, 0, -1], [2, 0, -2], [1, 0, -1]]
X1 = [[0, 0, 1, 0], [0, 1, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0]]
X2 = [[0, 0, 0, 1], [0, 0, 1, 0], [0, 0, 1, 0], [0, 0, 1, 0]]


def _layer():
    conv = nn.Conv2d(1, 1, 3, stride=1, padding=1).double()
    conv.load_state_dict({"weight": np.array(KERNEL, dtype=np.float64)[None, None], "bias": np.zeros(1)})
    return conv


def _run(image):
    conv = _layer()
    z = conv(md.tensor(np.array(image, dtype=np.float64)[None, None]))
    h = nn.ReLU()(z)
    pooled = nn.MaxPool2d(2, stride=2)(h)
    return z.numpy()[0, 0], h.numpy()[0, 0], pooled.numpy()[0, 0]


def test_fe_p1_1_convolution_and_relu():
    z, h, _ = _run(X1)
    np.testing.assert_array_equal(z, [[-1, -2, 1, 2], [-3, -1, 3, 1], [-4, 0, 4, 0], [-3, 0, 3, 0]])
    np.testing.assert_array_equal(h, [[0, 0, 1, 2], [0, 0, 3, 1], [0, 0, 4, 0], [0, 0, 3, 0]])


def test_fe_p1_2_shifted_input_gives_shifted_output():
    z, h, _ = _run(X2)
    np.testing.assert_array_equal(z, [[0, -1, -2, 1], [0, -3, -1, 3], [0, -4, 0, 4], [0, -3, 0, 3]])
    np.testing.assert_array_equal(h, [[0, 0, 0, 1], [0, 0, 0, 3], [0, 0, 0, 4], [0, 0, 0, 3]])
    np.testing.assert_array_equal(z[:, 1:], _run(X1)[0][:, :3])  # equivariance away from the border


def test_fe_p1_3_max_pooling():
    np.testing.assert_array_equal(_run(X1)[2], [[0, 3], [0, 4]])


def test_fe_p1_4_max_pooling_is_invariant_to_this_shift():
    np.testing.assert_array_equal(_run(X2)[2], [[0, 3], [0, 4]])
    np.testing.assert_array_equal(_run(X2)[2], _run(X1)[2])
