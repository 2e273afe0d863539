"""md.save / md.load: safetensors only, every layer round-trips, damage is reported, nothing half-done."""
import os

import numpy as np
import pytest

import minidl as md
from minidl import nn, optim
from tests.nn.test_parity_with_pytorch import CASES


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_layer_round_trips(case, tmp_path):
    md.manual_seed(0)
    original = case.make(nn)
    path = tmp_path / "layer.safetensors"
    md.save(original.state_dict(), path)
    md.manual_seed(1)
    restored = case.make(nn)
    restored.load_state_dict(md.load(path))
    for (name, a), (_, b) in zip(original.state_dict().items(), restored.state_dict().items()):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_model_and_optimizer_round_trip_and_training_resumes_identically(tmp_path):
    def make():
        md.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
        return model, optim.Adam(model.parameters(), lr=0.01)

    def train(model, opt, seed):
        md.manual_seed(seed)
        for _ in range(5):
            opt.zero_grad()
            nn.CrossEntropyLoss()(model(md.randn(16, 3)), md.tensor(np.arange(16) % 2)).backward()
            opt.step()

    model, opt = make()
    train(model, opt, 1)
    md.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 1}, tmp_path / "ck.safetensors")
    train(model, opt, 2)

    model2, opt2 = make()
    checkpoint = md.load(tmp_path / "ck.safetensors")
    model2.load_state_dict(checkpoint["model"])
    opt2.load_state_dict(checkpoint["optimizer"])
    assert checkpoint["epoch"] == 1
    train(model2, opt2, 2)
    for a, b in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_file_is_plain_safetensors_without_pickle(tmp_path):
    path = tmp_path / "ck.safetensors"
    md.save({"w": np.ones((2, 3), np.float32)}, path)
    from safetensors.numpy import load_file

    assert load_file(path)["w"].shape == (2, 3)
    assert b"pickle" not in path.read_bytes()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_damaged_files_give_a_clear_error(tmp_path, damage):
    path = tmp_path / "ck.safetensors"
    md.save(nn.Linear(4, 3).state_dict(), path)
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x07" * 64, "empty": b""}[damage])
    with pytest.raises(md.CheckpointError, match="is not a readable safetensors checkpoint"):
        md.load(path)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        md.load("/nonexistent/ck.safetensors")


def test_a_mismatched_checkpoint_leaves_the_model_unchanged(tmp_path):
    path = tmp_path / "ck.safetensors"
    md.save(nn.Linear(4, 5).state_dict(), path)
    model = nn.Linear(4, 3)
    before = model.state_dict()
    with pytest.raises(RuntimeError, match=r"weight: expected \(3, 4\), got \(5, 4\)"):
        model.load_state_dict(md.load(path))
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_an_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ck.safetensors"
    md.save({"w": np.zeros(3)}, path)
    import safetensors.numpy

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(safetensors.numpy, "save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        md.save({"w": np.ones(3)}, path)
    np.testing.assert_array_equal(md.load(path)["w"], np.zeros(3))
    assert os.listdir(tmp_path) == ["ck.safetensors"]


def test_unsupported_objects_are_refused_before_writing(tmp_path):
    with pytest.raises(TypeError, match=r"cannot store a object at 'bad'"):
        md.save({"bad": object()}, tmp_path / "ck.safetensors")
    assert not (tmp_path / "ck.safetensors").exists()
