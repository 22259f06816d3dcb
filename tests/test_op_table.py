"""The op table is the one place that knows about ops: the engine and the rule helpers read
``OpDef`` fields instead of naming ops, and the facts they read agree between the readings.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import rewritediff as rd
from rewritediff.engine.egraph import EGraph
from rewritediff.ops import REGISTRY, names, signs
from rewritediff.rules import helpers

PACKAGE = Path(rd.__file__).resolve().parent
SCANNED = (
    sorted((PACKAGE / "engine").glob("*.py"))
    + [PACKAGE / "rules" / "helpers.py", PACKAGE / "rules" / "instantiate.py"]
    + [PACKAGE / "ad" / f"{m}.py" for m in ("reverse", "forward", "stable")]  # the differentiation sweeps
    + [PACKAGE / "lower_numpy.py", PACKAGE / "fusion.py"]
    + [PACKAGE / "gradient.py", PACKAGE / "ad" / "lift.py", PACKAGE / "ad" / "vectorize.py"]  # the gradient API, lifting, batching
    + sorted((PACKAGE / "printing").glob("*.py"))
    + [PACKAGE / "backends" / f"{m}.py" for m in ("emit", "generic", "jax", "dask", "array_api")]
)

# String literals equal to an op name that may stay, by (file, top-level name assigned):
ALLOWED = {
    # the guard language's operators: the rule parser reads `a == b` or `a + b` in a guard as a
    # call named like the elementwise op, and these tables evaluate such calls on plain values
    ("rules/helpers.py", "COMPARE"),
    ("rules/helpers.py", "ARITH"),
    # numpy ufuncs whose output numpy wants as the keyword out= (names of numpy's, not of ops)
    ("fusion.py", "_KEYWORD_OUT"),
    # numpy's array constructors a constant's text is written with (numpy's names: zeros, eye, arange)
    ("printing/layout.py", "_NUMPY_BUILDERS"),
    # Graphviz's own names: the DOT text formats and the renderer program
    ("printing/graphviz.py", "_DOT_TEXT_FORMATS"),
    ("printing/graphviz.py", "_DOT_PROGRAM"),
}


def _literal_op_names(source: str, rel: str, names: set[str]) -> list[tuple[int, str]]:
    """(line, literal) for each string literal in ``source`` (the file ``rel``) equal to an op name, outside the allowance.

    Attribute names (``getattr(t, "shape")``), ``__slots__`` and ``__all__`` entries are not op names,
    whatever they spell (``gradient.__all__`` lists its function ``zero_grad``).
    """
    tree = ast.parse(source)
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr", "setattr") and len(node.args) > 1:
            skip.add(id(node.args[1]))
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name) and (t.id in ("__slots__", "__all__") or (rel, t.id) in ALLOWED):
                    skip.update(id(n) for n in ast.walk(node))
    return sorted(
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names and id(node) not in skip
    )


@pytest.mark.parametrize("path", SCANNED, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_op_name_as_a_string_literal(path: Path) -> None:
    found = _literal_op_names(path.read_text(), path.relative_to(PACKAGE).as_posix(), set(REGISTRY))
    assert not found, f"{path.relative_to(PACKAGE)} names ops {found}: read an OpDef field, or a named constant of rewritediff.ops"


def test_the_scan_finds_an_op_name() -> None:
    src = 'def f(t):\n    return t.op == "exp" or getattr(t, "shape", None)\n__slots__ = ("add",)\nARITH = {"mul": 1}\n__all__ = ["sum"]\n'
    assert _literal_op_names(src, "engine/x.py", set(REGISTRY)) == [(2, "exp"), (4, "mul")]
    assert _literal_op_names(src, "rules/helpers.py", set(REGISTRY)) == [(2, "exp")]


def test_named_ops_are_registered() -> None:
    """Every op the drivers build through a constant of ``ops/names.py`` is an op of the table."""
    constants = {k: v for k, v in vars(names).items() if k.endswith("_OP")}
    assert len(constants) >= 17
    assert not {k: v for k, v in constants.items() if v not in REGISTRY}


@pytest.mark.parametrize(
    "build",
    [
        lambda x, y: rd.exp(x),
        lambda x, y: rd.sqrt(rd.exp(x)),  # positive, not only nonnegative
        lambda x, y: -rd.exp(x),  # negative
        lambda x, y: rd.exp(x) * -rd.exp(y),
        lambda x, y: rd.sqr(rd.exp(x) + 1.0),
        lambda x, y: rd.abs(x) + rd.sigmoid(y),
        lambda x, y: rd.maximum(x, rd.exp(y)),
        lambda x, y: rd.minimum(rd.exp(x), rd.sqr(y)),
        lambda x, y: rd.exp(x) / rd.softplus(y),
        lambda x, y: rd.log1p(rd.sqr(x)),
        lambda x, y: x**2.0,
        lambda x, y: rd.sum(rd.exp(x)),
        lambda x, y: rd.exp(x).dimshuffle("x", 0),
        lambda x, y: rd.reciprocal(-rd.cosh(x)),
        lambda x, y: rd.sin(x),
        lambda x, y: rd.exp(x) * rd.constant(np.array([1.0, np.nan, 2.0])),  # a NaN constant has no sign
        lambda x, y: rd.exp(x) * rd.constant(np.array([-1.0, -2.0, -0.5])),
    ],
)
def test_guards_and_egraph_read_one_sign_table(build) -> None:
    x, y = rd.vector("x"), rd.vector("y")
    t = build(x, y)
    eg = EGraph()
    facts = eg.data(eg.add_term(t)).signs
    for name, bit in (
        ("positive", signs.POS),
        ("nonnegative", signs.NONNEG),
        ("nonzero", signs.NONZERO),
        ("negative", signs.NEG),
        ("nonpositive", signs.NONPOS),
    ):
        assert getattr(helpers, name)(t) == bool(facts & bit), f"{name}({rd.pprint(t)})"


def test_sign_facts_hold_on_values() -> None:
    rng = np.random.default_rng(0)
    x, y = rd.vector("x"), rd.vector("y")
    f = rd.function([x, y], [-rd.exp(x) * rd.sqrt(rd.exp(y)), rd.minimum(rd.exp(x), rd.sqr(y) + 1.0)])
    neg, pos = f(rng.normal(size=50), rng.normal(size=50))
    assert helpers.negative(-rd.exp(x) * rd.sqrt(rd.exp(y))) and (neg < 0).all()
    assert helpers.positive(rd.minimum(rd.exp(x), rd.sqr(y) + 1.0)) and (pos > 0).all()


def test_cost_facts_are_fields() -> None:
    assert REGISTRY["exp"].transcendental and not REGISTRY["add"].transcendental
    assert REGISTRY["pow"].transcendental  # its numexpr form is `**`, a function call
    assert REGISTRY["sum"].cost_kind == "reduction" and REGISTRY["dot"].cost_kind == "product"
    assert REGISTRY["const"].cost_kind == "free" and REGISTRY["const"].leaf
    with pytest.raises(ValueError, match="cost_kind"):
        type(REGISTRY["exp"])(name="bogus", infer=None, impl=None, cost_kind="cheap")


def test_only_the_op_table_reads_an_ops_group() -> None:
    """``OpDef.group`` only derives defaults of explicit fields; every other module reads those fields."""
    readers = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "ops" / "registry.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr == "group" and not isinstance(getattr(node, "ctx", None), ast.Store):
                readers.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    # `m.group(1)` of a regex match is a call of the attribute: those are fine
    calls = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "group":
                calls.add(f"{path.relative_to(PACKAGE)}:{node.func.lineno}")
    assert [r for r in readers if r not in calls] == []


def test_notation_forms_fit_their_ops() -> None:
    """A printing form refers to as many arguments as its op takes (else the printers never use it)."""
    misfits = [
        (name, form.parts)
        for name, od in sorted(REGISTRY.items())
        for form in (od.text_form, od.latex_form)
        if form is not None and not od.arity_ok(form.nargs)
    ]
    assert misfits == []
