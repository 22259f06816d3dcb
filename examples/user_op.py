"""Adding ops of your own and giving them derivative rules.

Two ways: ``def`` an op in the rule language from existing ops (``logcosh``), or register a numpy
implementation with ``rules.define_op`` and state its derivative with a ``d`` rule (``elliot``,
x / (1 + |x|), shipped as ``rd.softsign``; a user op under another name shows the mechanism).
Both rules are checked against SymPy, then used by ``rd.grad`` and compiled.
"""

from __future__ import annotations

import numpy as np
import sympy

import rewritediff as rd
from rewritediff import rules

# 1. a composite op and a cheaper derivative than differentiating its expansion
mine = rules.load_string(
    """
    def logcosh(x) = log(cosh(x))
    d logcosh(x) = tanh(x)
    """,
    filename="user_op.rules",
)

# 2. an op implemented in numpy, with a SymPy form so its d rule can be checked
rules.define_op("elliot", lambda x: x / (1 + np.abs(x)), sympy=lambda x: x / (1 + sympy.Abs(x)))
mine += rules.load_string("d elliot(x) = 1 / (1 + abs(x)) ** 2", filename="user_op.rules")

logcosh = rules.op_function("logcosh")
elliot = rules.op_function("elliot")


def main() -> float:
    """Check the new rules, differentiate a loss using both ops; the max error against the derivatives by hand."""
    checked = rules.RuleSet()
    for rule in mine:
        if rule.kind == "d":
            checked.add(rule)
    problems = checked.check()
    print(f"SymPy check of the new d rules: {len(problems)} problem(s)")
    for p in problems:
        print(p)

    x = rd.vector("x")
    loss = (logcosh(x) + elliot(x)).sum()
    g = rd.grad(loss, x)
    print("gradient:", rd.pprint(rd.simplify(g)))

    f = rd.function([x], g)
    xs = np.linspace(-3, 3, 7)
    by_hand = np.tanh(xs) + 1 / (1 + np.abs(xs)) ** 2
    err = float(np.max(np.abs(f(xs) - by_hand)))
    print(f"max |rd.grad - by hand| = {err:.1e}")
    return err


if __name__ == "__main__":
    main()
