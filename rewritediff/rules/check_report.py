"""What the rule checker found: a :class:`Problem` per wrong value, and the :class:`Report` of a check."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewritediff.rules.ast import Rule

# ---- problems --------------------------------------------------------------------------------------


@dataclass
class Problem:
    """A rule that gives a wrong value: where it is, what was checked, the inputs that show it and both values."""

    rule: Rule
    what: str
    inputs: dict = field(default_factory=dict)
    expected: Any = None
    got: Any = None

    @property
    def message(self) -> str:
        """file:line:col: what is wrong, the inputs and both values."""
        with np.printoptions(precision=5, threshold=12, edgeitems=3, linewidth=200):
            ins = "; ".join(f"{k} = {_show(v)}" for k, v in self.inputs.items())
            lines = [f"{self.rule.source}: {self.what}", f"    {self.rule.text}"]
            if ins:
                lines.append(f"    inputs: {ins}")
            if self.expected is not None or self.got is not None:
                lines.append(f"    expected: {_show(self.expected)}")
                lines.append(f"    got:      {_show(self.got)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.message


def _show(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"{v.dtype}{list(v.shape)} {np.array2string(v, separator=', ')}" if v.ndim else f"{v.dtype} {v.item()!r}"
    return repr(v)


@dataclass
class Report:
    """What a check did: problems, and the rules it checked or could not (with why)."""

    problems: list[Problem] = field(default_factory=list)
    checked: list[Rule] = field(default_factory=list)
    skipped: list[tuple[Rule, str]] = field(default_factory=list)
    guard_needed: dict[str, bool] = field(default_factory=dict)  # per guarded rule: some sample outside the guard breaks it
