"""`minidl export` writes a trained checkpoint as ONNX; `minidl summary --onnx` counts a file."""
import numpy as np

import minidl as md
from minidl import cli


def test_export_a_checkpoint_and_count_it(ort, tmp_path, capsys):
    run = tmp_path / "run"
    md.train.run("fashion", log=lambda *a: None, out=str(run), epochs=1, limit=64, batch_size=32)
    out = tmp_path / "fashion.onnx"
    assert cli.main(["export", "--checkpoint", str(run), "--out", str(out)]) == 0
    assert "written to" in capsys.readouterr().out
    predictor = md.train.load(str(run))
    images = np.random.default_rng(0).standard_normal((3, 1, 28, 28)).astype(np.float32)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    with md.no_grad():
        expected = predictor.model(md.tensor(images)).numpy()
    np.testing.assert_allclose(session.run(None, {"images": images})[0], expected, rtol=1e-4, atol=1e-5)

    assert cli.main(["summary", "--onnx", str(out), "--input-size", "1x1x28x28"]) == 0
    text = capsys.readouterr().out
    expected_params = sum(p.numel() for p in predictor.model.parameters())
    assert f"Total params: {expected_params:,}" in text


def test_summary_of_an_onnx_file_with_dynamic_inputs_asks_for_the_size(ort, tmp_path, capsys):
    md.onnx.export(md.nn.Linear(3, 2), md.zeros(4, 3), tmp_path / "m.onnx", dynamic_axes={"input_0": [0]})
    assert cli.main(["summary", "--onnx", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--input-size" in err[0]
    assert cli.main(["summary", "--onnx", str(tmp_path / "nope.onnx")]) == 2
    assert cli.main(["export", "--checkpoint", str(tmp_path / "none"), "--out", str(tmp_path / "x.onnx")]) == 1
    assert "no checkpoint folder" in capsys.readouterr().err


def test_import_minidl_does_not_import_onnx():
    import subprocess
    import sys

    code = "import sys, minidl; print('onnx' in sys.modules, 'minidl.onnx' in sys.modules, callable(minidl.onnx.export))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "True"]
