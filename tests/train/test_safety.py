"""Training runs that cannot destroy a good model: settings checked before anything is written,
an existing checkpoint kept unless asked, a non-finite loss stops with the last checkpoint intact."""
import math
import os
import sys

import pytest

from minidl import train
from minidl.train.checkpoint import CheckpointFolderError

QUICK = dict(limit=200, epochs=1, progress=False, log=lambda *_: None)


def _snapshot(folder):
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


@pytest.fixture
def trained(tmp_path):
    folder = tmp_path / "run"
    train.run("sentiment", out=str(folder), **QUICK)
    return folder


@pytest.mark.parametrize("setting", [dict(epochs=-1), dict(epochs=0), dict(batch_size=-1), dict(steps=-5),
                                     dict(lr=math.nan), dict(lr=0.0), dict(lr=math.inf), dict(clip=-1.0)])
def test_bad_settings_are_refused_before_anything_is_written(trained, setting):
    before = _snapshot(trained)
    with pytest.raises(ValueError, match=f"train: {next(iter(setting))} must be"):
        train.run("sentiment", out=str(trained), **{**QUICK, **setting})
    assert _snapshot(trained) == before


def test_a_folder_with_a_checkpoint_is_not_overwritten_unasked(trained):
    before = _snapshot(trained)
    with pytest.raises(CheckpointFolderError, match="already holds a sentiment checkpoint; continue it with --resume"):
        train.run("sentiment", out=str(trained), **QUICK)
    assert _snapshot(trained) == before


def test_overwrite_replaces_the_checkpoint_and_its_stale_files(trained):
    (trained / "training_curves.png").write_bytes(b"an old plot")
    train.run("sentiment", out=str(trained), overwrite=True, **{**QUICK, "seed": 3})
    assert not (trained / "training_curves.png").exists()
    assert (trained / "model.safetensors").exists() and train.load(trained).task == "sentiment"


def test_a_non_finite_loss_stops_and_leaves_the_last_checkpoint(trained, monkeypatch):
    from minidl.train.tasks import SentimentTask

    before = _snapshot(trained)
    real_loss = SentimentTask.loss

    def loss_becomes_nan(self, batch):
        return real_loss(self, batch) * float("nan")

    monkeypatch.setattr(SentimentTask, "loss", loss_becomes_nan)
    with pytest.raises(train.TrainingError, match=r"the loss became nan at step \d+ \(epoch 2\); the last good checkpoint "
                                                  r"\(epoch 1\) is in .*, unchanged; try a smaller --lr"):
        train.run("sentiment", out=str(trained), resume=True, **{**QUICK, "epochs": 2})
    assert _snapshot(trained) == before


def test_plot_without_matplotlib_is_refused_before_training(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    with pytest.raises(ImportError, match="--plot needs matplotlib"):
        train.run("sentiment", out=str(tmp_path / "run"), plot=True, **QUICK)
    assert not (tmp_path / "run").exists()


def test_resume_and_overwrite_together_is_refused(trained):
    with pytest.raises(CheckpointFolderError, match="contradict"):
        train.run("sentiment", out=str(trained), resume=True, overwrite=True, **QUICK)


@pytest.mark.parametrize("name", ["sentiment", "sentiment-prompt", "charlm", "fashion"])
def test_each_task_knows_how_many_batches_an_epoch_has(name, tmp_path, real_data):
    """The progress bar's total (and so its ETA) is the number of batches the epoch really yields."""
    import numpy as np

    from minidl.train import TASKS, TrainConfig

    settings = {**TASKS[name].defaults, "out": str(tmp_path), "limit": 300, "batch_size": 32}
    if name == "charlm":
        settings.update(limit=30000, steps=7)
    task = TASKS[name](TrainConfig(**settings))
    assert task.batches_per_epoch() == sum(1 for _ in task.batches(0, np.random.default_rng(0)))
