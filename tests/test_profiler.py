"""md.profiler: a row per primitive and pass and per kernel, counts as md.summary's, and nothing left on after."""
import numpy as np
import pytest

import minidl as md
import minidl.functional as F
from minidl import kernels, nn
from minidl.autograd import function


def _model():
    md.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))


def test_rows_for_each_primitive_pass_and_kernel_with_the_summarys_counts():
    model = _model()
    x, y = md.randn(2, 1, 8, 8, requires_grad=True), md.tensor(np.array([0, 2]))
    with md.profiler.profile() as prof:
        for _ in range(2):
            F.cross_entropy(model(x), y).backward()
    rows = prof.rows
    assert rows[("Conv2d", "forward")].calls == 2 and rows[("Conv2d", "backward")].calls == 2
    # columns this small are kept from the forward: one unfolding per step
    assert rows[("im2col", "kernel")].calls == 2 and rows[("col2im_pixels", "kernel")].calls == 2
    counted = md.summary(model, input_size=(2, 1, 8, 8))
    conv_macs = next(r.macs for r in counted.rows if r.name.endswith("0"))
    assert rows[("Conv2d", "forward")].macs == 2 * conv_macs
    assert all(r.seconds > 0 for r in rows.values())
    shares = sum(r.seconds for r in rows.values() if r.phase != "kernel") / prof.total_seconds()
    assert shares == pytest.approx(1.0)
    table = prof.table(sort_by="self_time")
    assert "Conv2d" in table and "backward" in table and "im2col" in table and "GFLOP/s" in table
    assert prof.table(sort_by="name", row_limit=3).count("\n") == 3 + 2  # header, rule, 3 rows, total


def test_nothing_stays_on_after_the_block_even_after_an_error():
    before = kernels.resolve("im2col")
    with pytest.raises(RuntimeError):
        with md.profiler.profile():
            assert kernels.im2col is not before  # the timing wrapper
            raise RuntimeError("inside")
    assert function._profilers == [] and kernels.im2col is before


def test_results_are_the_same_with_and_without_the_profiler():
    model, x = _model(), md.randn(2, 1, 8, 8)
    plain = model(x).numpy()
    with md.profiler.profile():
        profiled = model(x).numpy()
    np.testing.assert_array_equal(plain, profiled)


def test_a_bad_sort_key_is_named():
    with md.profiler.profile() as prof:
        md.randn(2, 2).exp()
    with pytest.raises(ValueError, match="sort_by must be one of"):
        prof.table(sort_by="speed")


def test_train_profile_prints_the_table_for_n_steps_and_saves_nothing(tmp_path, capsys, monkeypatch):
    from minidl import cli

    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "sentiment", "--profile", "3", "--limit", "200", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sentiment: 3 training steps profiled")
    assert "GRURecurrence" in out and "gru_forward" in out and "Self ms" in out
    assert not (tmp_path / "runs").exists()
