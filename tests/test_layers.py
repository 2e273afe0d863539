"""Each part of minidl imports only its own layer and the layers below it (docs/design.md)."""
import ast
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Lowest first. Parts in one layer may import each other (Tensor, autograd and ops do).
LAYERS = [
    {"kernels"},
    {"tensor", "autograd", "ops", "random", "creation", "free_functions"},
    {"functional"},
    {"optim", "data", "summary", "serialization", "memory", "blas_idle", "profiler"},
    {"nn"},
    {"models"},
    {"train", "benchmark", "onnx"},
    {"cli", "__main__", "__init__"},
]
RANK = {part: i for i, layer in enumerate(LAYERS) for part in layer}


def _imports_by_part():
    found = {}
    package = os.path.join(REPO, "minidl")
    for root, _, files in os.walk(package):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(root, name)
            module = os.path.relpath(path, REPO)[:-3].split(os.sep)
            part = module[1] if len(module) > 1 else "__init__"
            for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
                if isinstance(node, ast.ImportFrom) and node.level:
                    base = module[: len(module) - node.level]  # a package's __init__ counts as its module
                    target = base + (node.module.split(".") if node.module else [a.name for a in node.names][:1])
                elif isinstance(node, ast.ImportFrom):
                    target = (node.module or "").split(".")
                elif isinstance(node, ast.Import):
                    target = node.names[0].name.split(".")
                else:
                    continue
                if target[:1] == ["minidl"] and len(target) > 1 and target[1] in RANK and target[1] != part:
                    found.setdefault(part, set()).add((target[1], os.path.relpath(path, REPO)))
    return found


def test_every_part_has_a_layer():
    parts = {n[:-3] if n.endswith(".py") else n for n in os.listdir(os.path.join(REPO, "minidl"))
             if n.endswith(".py") or os.path.isdir(os.path.join(REPO, "minidl", n, ))}
    parts -= {"__pycache__"}
    assert parts <= set(RANK), f"give these a layer in LAYERS: {sorted(parts - set(RANK))}"


@pytest.mark.parametrize("part", sorted(RANK))
def test_a_part_imports_nothing_above_its_layer(part):
    above = sorted((target, path) for target, path in _imports_by_part().get(part, ()) if RANK[target] > RANK[part])
    assert not above, f"{part} imports a higher layer: {above}"


def test_models_never_import_train_or_the_command_line():
    targets = {target for target, _ in _imports_by_part().get("models", ())}
    assert not targets & {"train", "cli", "benchmark"}


def test_the_readme_python_lines_work_after_a_plain_import():
    import subprocess
    import sys

    code = ("import sys, minidl\n"
            "print('minidl.train' in sys.modules)\n"
            "print(callable(minidl.train.run), callable(minidl.train.load), callable(minidl.data.load_rt_polarity))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True", "True", "True"]
