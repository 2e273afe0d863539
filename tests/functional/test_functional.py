"""Behaviour of F.* beyond the registry: stability, dropout, losses' options, clear errors."""
import numpy as np
import pytest

import minidl as md
import minidl.functional as F


def test_softmax_and_log_softmax_are_stable_for_huge_logits():
    logits = md.tensor(np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4]], dtype=np.float32), requires_grad=True)
    p = F.softmax(logits, dim=-1)
    assert np.all(np.isfinite(p.numpy()))
    np.testing.assert_allclose(p.numpy(), [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-6)
    lp = F.log_softmax(logits, dim=-1)
    assert np.all(np.isfinite(lp.numpy()))
    (lp[:, 0].sum() + p[:, 1].sum()).backward()
    assert np.all(np.isfinite(logits.grad.numpy()))


def test_cross_entropy_with_huge_logits_is_finite_and_correct():
    logits = md.tensor(np.array([[1e4, -1e4]]), requires_grad=True)
    loss = F.cross_entropy(logits, np.array([1]))
    assert loss.item() == pytest.approx(2e4)
    loss.backward()
    np.testing.assert_allclose(logits.grad.numpy(), [[1.0, -1.0]])


def test_elu_gradient_does_not_overflow_for_large_positive_inputs():
    x = md.tensor(np.array([1000.0, -2.0]), requires_grad=True)
    F.elu(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, np.exp(-2.0)])


def test_sigmoid_saturates_without_overflow():
    with np.errstate(over="raise"):
        out = F.sigmoid(md.tensor(np.array([-1000.0, 1000.0]))).numpy()
    np.testing.assert_array_equal(out, [0.0, 1.0])


def test_dropout_in_training_zeroes_and_rescales_with_the_seeded_generator():
    x = md.ones(1000, 10, requires_grad=True)
    md.manual_seed(0)
    y = F.dropout(x, p=0.3)
    kept = y.numpy() != 0
    assert 0.65 < kept.mean() < 0.75
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.numpy())  # gradient passes through the same mask
    md.manual_seed(0)
    np.testing.assert_array_equal(F.dropout(x, p=0.3).numpy(), y.numpy())


def test_dropout_edge_probabilities():
    x = md.randn(4, 4)
    assert F.dropout(x, p=0.0) is x
    assert np.all(F.dropout(x, p=1.0).numpy() == 0)
    with pytest.raises(ValueError, match="dropout: p must be in"):
        F.dropout(x, p=1.5)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="gelu"):
        F.gelu(md.randn(2), approximate="fast")


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: F.cross_entropy(md.randn(4, 3), md.tensor([0.0, 1.0, 2.0, 1.0])), TypeError,
         r"cross_entropy: target must hold class indices .*float32 .*logits of shape \(4, 3\)"),
        (lambda: F.cross_entropy(md.randn(4, 3), np.array([0, 1, 3, 1])), IndexError,
         r"index 3 is out of range for 3 classes \(input shape \(4, 3\)\)"),
        (lambda: F.cross_entropy(md.randn(4, 3), np.array([0, -1, 2, 1])), IndexError, r"index -1 is out of range"),
        (lambda: F.cross_entropy(md.randn(4, 3), np.array([0, 1, 2])), ValueError,
         r"target shape \(3,\) does not fit input shape \(4, 3\)"),
        (lambda: F.cross_entropy(md.randn(4, 3), np.array([0, 1, 2, 1]), reduction="avg"), ValueError, "reduction"),
        (lambda: F.embedding(np.array([0, 5]), md.randn(5, 2)), IndexError,
         r"embedding: index 5 is out of range for 5 embeddings \(weight shape \(5, 2\)\)"),
        (lambda: F.embedding(np.array([0.0, 1.0]), md.randn(5, 2)), TypeError, r"embedding: indices must have an integer dtype"),
        (lambda: F.linear(md.randn(2, 5), md.randn(4, 3)), ValueError,
         r"linear: input has 5 features \(shape \(2, 5\)\) but weight expects 3 \(shape \(4, 3\)\)"),
        (lambda: F.linear(md.randn(2, 3), md.randn(4, 3), md.randn(3)), ValueError,
         r"linear: bias of shape \(3,\) does not match weight \(4, 3\)"),
        (lambda: F.mse_loss(md.randn(2, 3), md.randn(3, 2)), ValueError, r"mse_loss: target shape \(3, 2\)"),
        (lambda: F.binary_cross_entropy_with_logits(md.randn(2), md.randn(3)), ValueError, r"target shape \(3,\)"),
    ],
)
def test_bad_input_gives_errors_naming_op_and_values(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_cross_entropy_ignore_index_all_ignored_gives_nan_like_pytorch():
    with np.errstate(invalid="ignore"):
        loss = F.cross_entropy(md.randn(2, 3), np.array([-100, -100]))
    assert np.isnan(loss.item())
