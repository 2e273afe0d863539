"""What a user sees when something is wrong: one line on stderr, exit 2 for usage and 1 for a
failure, 130 for Ctrl-C, nothing for a closed pipe; --debug shows the traceback."""
import os
import signal
import subprocess
import sys
import time

import pytest

from minidl import cli


def _run(capsys, *argv):
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_line(err, *words):
    assert err.count("\n") == 1 and err.endswith("\n"), f"not one line: {err!r}"
    for word in words:
        assert word in err, f"{word!r} not in {err!r}"


@pytest.mark.parametrize("argv, words", [
    (["train", "sentiment", "--batch-size", "0"], ["--batch-size", "positive whole number"]),
    (["train", "sentiment", "--epochs", "-1"], ["--epochs", "positive"]),
    (["train", "sentiment", "--steps", "-5"], ["--steps", "positive"]),
    (["train", "sentiment", "--lr", "nan"], ["--lr", "positive finite"]),
    (["train", "sentiment", "--lr", "-0.1"], ["--lr", "positive finite"]),
    (["summary", "conv2d", "--input", "256x27", "--out-channels", "4", "--kernel", "3"], ["--input", "256x27x27"]),
    (["explain", "hw-q99"], ["unknown case"]),
])
def test_usage_errors_exit_2_in_one_line(capsys, argv, words):
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse's own exit, after printing its one line
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    _one_line(err, *words)


def test_a_missing_checkpoint_folder_is_named(capsys, tmp_path):
    code, _, err = _run(capsys, "predict", "--checkpoint", str(tmp_path / "nope"), "fine")
    assert code == 1
    _one_line(err, "no checkpoint folder", str(tmp_path / "nope"))


def test_a_truncated_model_file_is_one_clear_line(capsys, tmp_path):
    from minidl import train

    folder = tmp_path / "s"
    train.run("sentiment", out=str(folder), limit=200, epochs=1, progress=False, log=lambda *_: None)
    model = folder / "model.safetensors"
    model.write_bytes(model.read_bytes()[:100])
    code, _, err = _run(capsys, "predict", "--checkpoint", str(folder), "fine")
    assert code == 1
    _one_line(err, "model.safetensors")


def test_a_missing_input_file_and_an_empty_one(capsys, tmp_path):
    folder = tmp_path / "missing.txt"
    code, _, err = _run(capsys, "predict", "--checkpoint", str(tmp_path), "--input", str(folder))
    assert code == 1
    _one_line(err, "No such file or directory", str(folder))
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    code, _, err = _run(capsys, "predict", "--checkpoint", str(tmp_path), "--input", str(empty))
    assert code == 2
    _one_line(err, "is empty")


def test_missing_data_with_no_network_says_how_to_get_it(capsys, tmp_path, monkeypatch):
    from minidl.data import download

    monkeypatch.setenv("MINIDL_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("MINIDL_MIRROR", raising=False)
    monkeypatch.setattr(download, "CANONICAL", {})  # no address outside this machine is touched
    code, _, err = _run(capsys, "train", "fashion", "--out", str(tmp_path / "run"), "--no-progress")
    assert code == 1
    _one_line(err, "fashion-mnist", "minidl data download fashion-mnist")
    assert not os.path.exists(tmp_path / "run" / "model.safetensors")


def test_resume_with_the_wrong_task_names_the_task(capsys, tmp_path):
    from minidl import train

    folder = tmp_path / "s"
    train.run("sentiment", out=str(folder), limit=200, epochs=1, progress=False, log=lambda *_: None)
    code, _, err = _run(capsys, "train", "charlm", "--resume", "--out", str(folder))
    assert code == 1
    _one_line(err, "holds a sentiment checkpoint, not charlm")


def _minidl(*argv, **kwargs):
    return subprocess.run([sys.executable, "-m", "minidl", *argv], capture_output=True, text=True, **kwargs)


def test_debug_shows_the_traceback(tmp_path):
    quiet = _minidl("predict", "--checkpoint", str(tmp_path / "nope"), "fine")
    assert quiet.returncode == 1 and "Traceback" not in quiet.stderr
    loud = _minidl("predict", "--checkpoint", str(tmp_path / "nope"), "fine", "--debug")
    assert loud.returncode == 1 and "Traceback" in loud.stderr and "FileNotFoundError" in loud.stderr


def test_a_closed_pipe_ends_quietly():
    done = subprocess.run(f"{sys.executable} -m minidl explain hw-q5 | head -3", shell=True, capture_output=True, text=True)
    assert len(done.stdout.splitlines()) == 3
    assert done.stderr == ""


def test_ctrl_c_during_training_names_the_last_checkpoint(tmp_path):
    out = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "minidl", "train", "sentiment", "--limit", "256", "--epochs", "500",
                                "--no-progress", "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "metrics.json").exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert err.count("\n") == 1 and err.startswith("interrupted; the last complete checkpoint (epoch ")
    assert f"is in {out}; continue with --resume" in err
