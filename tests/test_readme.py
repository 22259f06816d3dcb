"""Every code example in README.md runs: the Python blocks (in a fresh process) and the `$ rewritediff ...` lines."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from rewritediff.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def blocks(lang: str) -> list[str]:
    return [m.group(1) for m in re.finditer(rf"^```{lang}\n(.*?)^```", README.read_text(), re.S | re.M)]


def section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_two_setup_commands():
    setup = section("Set up")
    commands = re.findall(r"^```sh\n(.*?)\n```", setup, re.S | re.M)
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    # a fresh machine's system Python may refuse `pip install`: both commands use the project's venv
    assert commands[0] == "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && rewritediff demo"
    assert commands[1] == ". .venv/bin/activate && python -m pytest -q"


# each block runs once per fusion mode: rd.function's default is switched before the blocks run
_FUSION = (
    "import functools, rewritediff as rd, rewritediff.compiled as ln\n"
    "if '{fusion}' != 'kernels':\n"
    "    rd.function = ln.function = functools.partial(ln.function, fusion='{fusion}')\n"
)


@pytest.mark.parametrize("fusion", ["kernels", "numexpr", "none"])
def test_python_blocks_run(fusion):
    code = blocks("python")
    assert len(code) >= 2
    runner = _FUSION.format(fusion=fusion)
    runner += "import sys\nfor i, src in enumerate(sys.argv[1:]):\n    exec(compile(src, f'README.md block {i}', 'exec'), {'__name__': '__main__'})\n"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", runner, *code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "def compiled(X, y, w):" in proc.stdout
    assert "softplus" in proc.stdout
    assert "tanh(x)" in proc.stdout
    assert "[0.90909091 1.81818182 2.72727273]" in proc.stdout  # the ridge example: x / (1 + lam)


def test_quickstart_is_about_ten_lines():
    quick = re.search(r"^```python\n(.*?)^```", section("Quickstart"), re.S | re.M)
    assert quick is not None
    assert len(quick.group(1).strip().splitlines()) <= 12


def commands() -> list[str]:
    return [line[2:] for block in blocks("console") for line in block.splitlines() if line.startswith("$ ")]


@pytest.mark.parametrize("command", commands())
def test_command_lines_run(command, capsys, tmp_path, monkeypatch):
    argv = shlex.split(command)
    assert argv[0] == "rewritediff"
    (rules_block,) = blocks("rules")
    (tmp_path / "my.rules").write_text(rules_block)
    monkeypatch.chdir(tmp_path)
    code = main(argv[1:])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    assert captured.err == ""


def test_linked_files_exist():
    text = README.read_text()
    for target in re.findall(r"\]\(([^)#]+)\)", text):
        if target == "BENCHMARKS.md" and not (ROOT / target).exists():
            continue  # written by the benchmark harness
        assert (ROOT / target).exists(), target


def test_ops_section_names_only_real_functions_and_every_linalg_sparse_and_elementwise_one():
    import rewritediff as rd
    from rewritediff.ops import REGISTRY

    listed: dict[str, set[str]] = {"": set(), "linalg": set(), "sparse": set()}
    for line in section("Ops").split("\n* "):
        where = "linalg" if line.startswith("`rd.linalg`") else "sparse" if line.startswith("`rd.sparse`") else ""
        names = set(re.findall(r"`([A-Za-z_][A-Za-z_0-9]*)`", line)) - {"scipy"}
        listed[where] |= names
    for where, names in listed.items():
        module = getattr(rd, where) if where else rd
        missing = sorted(n for n in names if not callable(getattr(module, n, None)))
        assert not missing, f"README lists {missing} but rd{'.' + where if where else ''} has no such function"
    assert set(rd.linalg.__all__) - {"matrix_inverse"} <= listed["linalg"]
    assert {n for n in rd.sparse.__all__ if callable(getattr(rd.sparse, n)) and n[0].islower()} - {"as_sparse_variable", "is_sparse", "matrix"} <= listed[
        "sparse"
    ]
    elementwise = {n for n, op in REGISTRY.items() if op.elementwise and callable(getattr(rd, n, None))}
    assert elementwise <= listed[""], sorted(elementwise - listed[""])
