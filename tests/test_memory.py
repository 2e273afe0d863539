"""md.keep_freed_memory: opt-in only; import minidl leaves the process's allocator alone."""
import subprocess
import sys

import pytest

import minidl as md


def test_import_minidl_does_not_touch_the_allocator():
    code = (
        "import ctypes\n"
        "opened = []\n"
        "real = ctypes.CDLL\n"
        "ctypes.CDLL = lambda name, *a, **k: opened.append(name) or real(name, *a, **k)\n"
        "import minidl\n"
        "print(sorted(str(n) for n in opened))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "libc" not in out, f"import minidl opened {out.strip()}"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_keep_freed_memory_takes_effect_and_can_be_turned_off(monkeypatch):
    assert md.keep_freed_memory() is True
    monkeypatch.setenv("MINIDL_MALLOC_TUNING", "0")
    assert md.keep_freed_memory() is False
