"""The README and docs/ stay true: the exam page lists every exam test, and nothing points outside the repo."""
import ast
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _read(*parts):
    with open(os.path.join(REPO, *parts), encoding="utf-8") as f:
        return f.read()


def _exam_tests():
    folder = os.path.join(REPO, "tests", "exam")
    found = set()
    for name in sorted(os.listdir(folder)):
        if name.startswith("test_") and name.endswith(".py"):
            tree = ast.parse(_read("tests", "exam", name))
            found |= {f"tests/exam/{name}::{node.name}" for node in tree.body
                      if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}
    return found


def test_the_exam_page_lists_every_exam_test_and_only_those():
    listed = set(re.findall(r"`(tests/exam/\w+\.py::\w+)`", _read("docs", "exam.md")))
    assert listed == _exam_tests()


def test_readme_and_docs_name_no_file_outside_the_repository():
    for path in ["README.md"] + [os.path.join("docs", n) for n in os.listdir(os.path.join(REPO, "docs"))]:
        text = _read(path)
        assert "../" not in text, f"{path} points outside the repository"


def test_the_readme_starts_with_the_two_commands_and_stays_short():
    lines = _read("README.md").splitlines()
    assert len(lines) <= 150
    commands = [line for line in lines if line.startswith("pip install ")]
    assert commands[:2] == ["pip install . && minidl train sentiment", 'pip install -e ".[test]" && pytest']
    assert lines.index(commands[1]) < 25


def test_every_file_the_readme_links_exists():
    for target in re.findall(r"\]\(([^)#]+)\)", _read("README.md")):
        if not target.startswith("http"):
            assert os.path.exists(os.path.join(REPO, target)), target
