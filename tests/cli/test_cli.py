"""The `minidl` command line."""
import subprocess
import sys

import minidl
from minidl import cli


def test_no_arguments_lists_version_and_commands(capsys):
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    assert f"minidl {minidl.__version__}" in out and "demo" in out


def test_python_dash_m_runs_the_same_command_line():
    out = subprocess.run([sys.executable, "-m", "minidl", "version"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"minidl {minidl.__version__}"


def test_demo_prints_the_framework_computed_exam_numbers(capsys):
    assert cli.main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "t=8  is       x_t=[0, 0, 0]    h_t=[0, 5]" in out  # FE-P2.1's last hidden state
    assert "good = -5, bad = 5" in out and "prediction: -1" in out
    assert "[0.2754 0.1358 0.1934 0.1564 0.2391]" in out  # HW-Q5(a), row 1
