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
