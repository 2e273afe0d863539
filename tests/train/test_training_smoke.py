"""Every `minidl train` task on a slice of its real data: the loss falls, the checkpoint reloads
and predicts, a run is reproducible, and --resume continues exactly."""
import json

import numpy as np
import pytest

from minidl import cli, train
from minidl.train.common import read_json

SMOKE = {
    "sentiment": dict(limit=800, epochs=3, batch_size=32, lr=3e-3),
    "sentiment-prompt": dict(limit=600, epochs=3, batch_size=32, lr=3e-3),
    "charlm": dict(limit=30000, steps=40, epochs=1, batch_size=16, lr=3e-3),
    "fashion": dict(limit=1200, epochs=2, batch_size=64, lr=2e-3),
}


def _train(name, out, **extra):
    return train.run(name, out=str(out), progress=False, log=lambda *_: None, **{**SMOKE[name], **extra})


@pytest.mark.parametrize("name", list(SMOKE))
def test_loss_falls_and_the_checkpoint_reloads(name, tmp_path, real_data):
    metrics = _train(name, tmp_path)
    losses = read_json(tmp_path / "metrics.json")["history"]["loss"]
    k = max(3, len(losses) // 5)
    assert np.mean(losses[-k:]) < np.mean(losses[:k]), f"{name}: loss did not fall"
    assert (tmp_path / "model.safetensors").exists() and (tmp_path / "config.json").exists()
    loaded = train.load(tmp_path)
    if name == "charlm":
        text = loaded.generate("ROMEO:", tokens=20, seed=0)
        assert text.startswith("ROMEO:") and len(text) == 26
        assert metrics["val_loss"] < 4.2  # below the uniform 65-way loss (4.17 nats) already
    elif name == "fashion":
        from minidl.data import load_fashion_mnist

        images = load_fashion_mnist()[2][:8]
        assert loaded.predict(images).shape == (8,)
    else:
        predictions = loaded.predict(["a gorgeous , witty , seductive movie .", "dull and lifeless ."])
        assert [label for label, _ in predictions] in ([l1, l2] for l1 in ("positive", "negative") for l2 in ("positive", "negative"))
        assert all(0 <= p <= 1 for _, p in predictions)


def test_same_seed_same_results(tmp_path, real_data):
    a = _train("fashion", tmp_path / "a", epochs=1)
    b = _train("fashion", tmp_path / "b", epochs=1)
    assert a["accuracy"] == b["accuracy"]
    assert read_json(tmp_path / "a" / "metrics.json")["history"]["loss"] == read_json(tmp_path / "b" / "metrics.json")["history"]["loss"]


def test_resume_continues_exactly(tmp_path, real_data):
    straight = _train("sentiment", tmp_path / "straight", epochs=2)
    _train("sentiment", tmp_path / "split", epochs=1)
    resumed = _train("sentiment", tmp_path / "split", epochs=2, resume=True)
    assert resumed["accuracy"] == straight["accuracy"]
    losses = lambda d: read_json(tmp_path / d / "metrics.json")["history"]["loss"]  # noqa: E731
    assert losses("split") == losses("straight")


def test_predict_and_sample_commands(tmp_path, real_data, capsys):
    _train("sentiment", tmp_path / "s", epochs=1)
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("a gorgeous movie .\nboring .\n")
    assert cli.main(["predict", "--checkpoint", str(tmp_path / "s"), "--input", str(reviews), "great fun ."]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].split()[0] in ("positive", "negative") and "p(positive)=" in lines[0]
    assert lines[0].endswith("great fun .") and lines[2].endswith("boring .")  # arguments first, then the file
    assert cli.main(["predict", "--checkpoint", str(tmp_path / "s"), "--json", "great fun ."]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["text"] == "great fun ." and row["label"] in ("positive", "negative") and 0 <= row["p_positive"] <= 1
    _train("charlm", tmp_path / "c", steps=5)
    assert cli.main(["sample", "--checkpoint", str(tmp_path / "c"), "--prompt", "KING", "--tokens", "10", "--seed", "1"]) == 0
    assert capsys.readouterr().out.startswith("KING")
    assert cli.main(["sample", "--checkpoint", str(tmp_path / "s")]) == 2
    assert "is a sentiment checkpoint; sample needs a charlm checkpoint" in capsys.readouterr().err
    assert cli.main(["predict", "--checkpoint", str(tmp_path / "c"), "some text"]) == 2
    assert "is a charlm checkpoint; predict needs sentiment or sentiment-prompt" in capsys.readouterr().err


def test_raw_reviews_are_tokenised_as_the_training_data_was(tmp_path, real_data):
    _train("sentiment", tmp_path / "s", epochs=1)
    model = train.load(tmp_path / "s")
    raw = model.predict(["A gorgeous, witty, seductive movie.", "Dull and lifeless..."])
    spaced = model.predict(["a gorgeous , witty , seductive movie .", "dull and lifeless ..."])
    assert raw == spaced
