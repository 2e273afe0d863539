"""`minidl explain`: every case runs and shows the exam's numbers as the framework computed them."""
import pytest

from minidl import cli
from minidl.cli import explain


def _run(case):
    lines = []
    explain.run(case, lines.append)
    return "\n".join(lines)


@pytest.mark.parametrize("case", list(explain.CASES))
def test_every_case_runs_and_prints(case):
    assert len(_run(case).splitlines()) > 3


@pytest.mark.parametrize(
    "case, expected",
    [
        ("fe-p1.1", ["[[-1. -2.  1.  2.]", "[-3. -1.  3.  1.]"]),
        ("fe-p1.3", ["2x2 max pooling", "[[0. 3.]", "[0. 4.]]"]),
        ("hw-q1", ["[[70. 25. 32.  0.]", "+ 2 = 70"]),
        ("hw-q2", ["885,120", "552,960,000", "W2 = (W1 - F + 2P)/S + 1 = (27 - 3 + 2*0)/1 + 1 = 25"]),
        ("fe-p2.1", ["t=3  plot     x_t=[1, 0, 0]    h_t=[1, 5]", "good = -5, bad = 5", "prediction: -1"]),
        ("fe-p2.3", ["z_8 = sum_j p_j v_j = [-0.028, 0.436]", "good = -0.464, bad = 0.464 -> prediction -1"]),
        ("hw-q5", ["0.2754", "0.5946", "HW-Q5(c)"]),
    ],
)
def test_cases_show_the_worked_numbers(case, expected):
    text = _run(case)
    for piece in expected:
        assert piece in text


def test_cli_lists_cases_and_rejects_unknown_ones(capsys):
    assert cli.main(["explain", "--list"]) == 0
    assert "fe-p2.1" in capsys.readouterr().out
    assert cli.main(["explain", "fe-p9"]) == 2
    assert capsys.readouterr().err == "minidl explain: unknown case 'fe-p9'; `minidl explain --list` shows them\n"
