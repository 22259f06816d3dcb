"""Leaf ops: input variables, shared variables and constants (made by terms.py, never by apply)."""

from __future__ import annotations

from typing import Any

from rewritediff.errors import RewriteDiffTypeError
from rewritediff.ops.registry import OpDef, register


def _no_apply(args: tuple, attrs: dict) -> Any:
    raise RewriteDiffTypeError("leaves are made with rd.tensor / rd.shared / rd.constant, not apply()")


for _name, _doc in (("input", "an input variable"), ("shared", "a variable holding a value"), ("const", "a constant")):
    register(OpDef(name=_name, infer=_no_apply, impl=lambda: None, arity=0, attrs={"value": None}, doc=_doc, group="leaf"))
