"""Every ```rules block in rules.md loads into a fresh rule set."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rewritediff import rules
from rewritediff.rules import RuleSet

RULES_MD = Path(__file__).resolve().parents[2] / "rules.md"


def blocks() -> list[tuple[int, str]]:
    text = RULES_MD.read_text()
    out = []
    for m in re.finditer(r"^```rules\n(.*?)^```", text, re.S | re.M):
        out.append((text[: m.start()].count("\n") + 2, m.group(1)))
    return out


def test_rules_md_has_examples():
    assert len(blocks()) >= 8


@pytest.mark.parametrize(("line", "block"), blocks(), ids=[f"line{line}" for line, _ in blocks()])
def test_block_loads(line, block):
    before = len(rules.default_rules())
    rs = RuleSet()
    loaded = rs.load_string(block, f"rules.md:block@{line}")
    assert loaded and len(rs) == len(loaded)
    assert len(rules.default_rules()) == before


def test_documented_error_message_is_current():
    text = RULES_MD.read_text()
    m = re.search(r"```text\n(.*?)\n    (.*?)\n```", text, re.S)
    assert m is not None
    message, rule = m.group(1), m.group(2)
    with pytest.raises(Exception) as info:
        RuleSet().load_string(rule)
    assert str(info.value) == f"{message}\n    {rule}"


@pytest.mark.parametrize(("line", "block"), blocks(), ids=[f"line{line}" for line, _ in blocks()])
def test_block_rules_are_right(line, block):
    """Each example's rules pass the checker: values at random inputs, dot-product tests, SymPy."""
    rs = rules.default_rules().copy()
    loaded = rs.load_string(block, f"rules.md:block@{line}", replace=True)
    mine = RuleSet()
    for rule in loaded:
        mine.add(rule, replace=True)
    problems = mine.check()
    assert not problems, "\n".join(str(p) for p in problems)


_RUN_DEFS = r"""
import sys
import numpy as np
import rewritediff as rd
from rewritediff import rules

loaded = rules.load_string(sys.argv[1], "rules.md")
for rule in loaded:
    if rule.kind != "def" or any(type(a).__name__ != "Var" for a in rule.lhs.args):
        continue
    xs = [rd.vector(f"x{i}") for i in range(len(rule.lhs.args))]
    cost = rd.sum(rd.apply(rule.lhs.op, *xs))
    values = [np.linspace(0.5, 1.5, 5) + 0.1 * i for i in range(len(xs))]
    for fusion in ("kernels", "numexpr", "none"):
        f = rd.function(xs, [cost, *rd.grad(cost, xs)], fusion=fusion)
        _, *grads = f(*values)
        for k, g in enumerate(grads):
            for j in range(5):
                up = [v.copy() for v in values]
                down = [v.copy() for v in values]
                up[k][j] += 1e-6
                down[k][j] -= 1e-6
                fd = (f(*up)[0] - f(*down)[0]) / 2e-6
                assert abs(g[j] - fd) < 1e-5 * max(1.0, abs(fd)), (rule.lhs.op, fusion, k, j, g[j], fd)
    print("ok", rule.lhs.op)
"""


def test_def_examples_differentiate_in_every_fusion_mode():
    """Every ``def`` op of the examples: its gradient through rd.function, each fusion mode, against finite differences."""
    import subprocess
    import sys

    ran = 0
    for _, block in blocks():
        if "def " not in block:
            continue
        proc = subprocess.run([sys.executable, "-c", _RUN_DEFS, block], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        ran += proc.stdout.count("ok ")
    assert ran >= 2


def test_python_blocks_run():
    import subprocess
    import sys

    code = [m.group(1) for m in re.finditer(r"^```python\n(.*?)^```", RULES_MD.read_text(), re.S | re.M)]
    assert code
    for src in code:
        proc = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
