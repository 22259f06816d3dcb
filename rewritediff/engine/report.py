"""What a run of the engine reports: why it stopped, its size, per-rule counts, the steps that merged classes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from rewritediff.engine.rewrite import Rewrite


@dataclass
class Step:
    """One rule application that merged two classes."""

    iteration: int
    rewrite: Rewrite
    cid: int
    term: Any


class StopReason(StrEnum):
    """Why simplification stopped (the value is the report's text, so it compares equal to it)."""

    RUNNING = ""
    SATURATED = "saturated"
    ITERATION_LIMIT = "iteration limit"
    NODE_LIMIT = "node limit"
    TIME_LIMIT = "time limit"
    NOTHING_TO_DO = "nothing to do"
    PREPASS_ONLY = "pre-pass only"


@dataclass
class RunReport:
    """Why saturation stopped, its size, and per-rule match and firing counts."""

    stop_reason: StopReason = StopReason.RUNNING
    stop_detail: str = ""  # what goes with the reason (the graph's size for PREPASS_ONLY)
    iterations: int = 0
    pre_iterations: int = 0
    nodes: int = 0
    classes: int = 0
    seconds: float = 0.0
    matches: dict[str, int] = field(default_factory=dict)
    fired: dict[str, int] = field(default_factory=dict)
    bans: dict[str, int] = field(default_factory=dict)
    # fallbacks the engine took ("what (where: exception type)" -> count): guards it could not decide,
    # right-hand sides it could not build for a match; each leaves that rewrite out, nothing else
    fallbacks: dict[str, int] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)

    @property
    def stop_text(self) -> str:
        """The stop reason as the report prints it, with its detail."""
        return f"{self.stop_reason} {self.stop_detail}" if self.stop_detail else str(self.stop_reason)

    def __str__(self) -> str:
        lines = [f"stopped: {self.stop_text} after {self.iterations} iteration(s), {self.nodes} e-nodes, {self.classes} e-classes, {self.seconds * 1e3:.1f} ms"]
        for name in sorted((k for k in self.matches if self.matches[k]), key=lambda k: (-self.matches[k], k)):
            ban = f", banned {self.bans[name]}x" if self.bans.get(name) else ""
            lines.append(f"  {name}: {self.matches[name]} match(es), fired {self.fired.get(name, 0)}{ban}")
        for what, n in self.fallbacks.items():
            lines.append(f"  fallback: {what}: {n}x")
        return "\n".join(lines)
