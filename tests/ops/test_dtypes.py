"""Every elementwise op and reduction, compiled over its input dtypes: the result has the inferred dtype and shape.

The inferred type comes from the op table; the result from running the compiled function (every
fusion mode) and from the op's ``impl`` (constant folding). All three must agree: an op has one
implementation.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import rewritediff as rd
from rewritediff.errors import RewriteDiffTypeError
from rewritediff.ops import REGISTRY
from rewritediff.ops.elementwise import ELEMENTWISE
from rewritediff.ops.reductions import REDUCTIONS

DTYPES = ("bool", "int8", "int64", "float32", "float64")
# (shape of each argument's variable, shape of its data): a vector, unknown lengths broadcasting
# against a column, and 0-d
SHAPES = [((3,), (3,)), ((None,), (3,)), ((), ())]
FUSIONS = ("kernels", "numexpr", "none")
BIG = 20000  # over one kernel block, so the kernel's loop runs


def _data(dtype: str, shape: tuple, k: int) -> np.ndarray:
    """Values every op is defined on (positive, at most 1 for arcsin/arccos), per dtype."""
    n = int(np.prod(shape, dtype=np.int64))
    if dtype == "bool":
        base = (np.arange(n) + k) % 2 == 0
    elif dtype.startswith("int"):
        base = (np.arange(n) + k) % 3 + 1
    else:
        base = ((np.arange(n) + k) % 5 + 1) / 5.0
    return np.asarray(base, dtype=dtype).reshape(shape)


def _elementwise_cases() -> list:
    cases = []
    for name, arity, *_ in ELEMENTWISE:
        if name == "cast":
            cases += [(name, (dt,), {"dtype": to}) for dt in DTYPES for to in DTYPES]
            continue
        n = arity if isinstance(arity, int) else arity[0]
        for dts in itertools.product(DTYPES, repeat=n):
            if n == 3 and len(set(dts[1:])) > 1 and "bool" not in dts[:1]:
                continue  # ternary ops: all value dtypes alike, or a bool first argument with any pair
            cases.append((name, dts, {}))
    return cases


CASES = _elementwise_cases()


def _check(term: rd.Term, inputs: list, data: list, fusion: str) -> None:
    """Compile ``term`` and compare the result's dtype and shape with the inferred type."""
    f = rd.function(inputs, term, simplify=False, fusion=fusion, on_unused_input="ignore")
    with np.errstate(all="ignore"):
        out = f(*data)
    got = np.asarray(out)
    assert got.dtype.name == term.dtype, f"{term}: inferred {term.dtype}, compiled ({fusion}) gives {got.dtype}\n{f.source}"
    assert isinstance(out, np.ndarray | np.generic), f"{term}: compiled gives a {type(out).__name__}"
    for d_static, d in zip(term.static_shape, got.shape):
        assert d_static is None or d_static == d, f"{term}: inferred shape {term.static_shape}, compiled gives {got.shape}"
    assert got.ndim == term.ndim


@pytest.mark.parametrize(("name", "dtypes", "attrs"), CASES, ids=[f"{n}-{'-'.join(d)}{'-' + a['dtype'] if a else ''}" for n, d, a in CASES])
def test_elementwise_result_dtype_is_the_inferred_one(name: str, dtypes: tuple, attrs: dict) -> None:
    # a binary or unary op alone is never fused (a kernel takes two numpy calls or more, a numexpr
    # program two ops): the chains below are; a ternary op alone may be a kernel
    fusions, shapes = (FUSIONS, SHAPES + [((None,), (BIG,))]) if len(dtypes) >= 3 else (("none",), SHAPES)
    for (static, shape), fusion in itertools.product(shapes, fusions):
        inputs = [rd.tensor(f"a{i}", shape=static, dtype=dt) for i, dt in enumerate(dtypes)]
        try:
            term = rd.apply(name, *inputs, **attrs)
        except RewriteDiffTypeError:
            return  # refused when typed (numpy has no such loop): nothing to compile
        data = [_data(dt, shape, i) for i, dt in enumerate(dtypes)]
        _check(term, inputs, data, fusion)
        # constant folding goes through impl: the same dtype
        with np.errstate(all="ignore"):
            folded = np.asarray(REGISTRY[name].impl(*data, **attrs))
        assert folded.dtype.name == term.dtype, f"{name}{dtypes}: inferred {term.dtype}, impl gives {folded.dtype}"
        assert folded.shape == np.broadcast_shapes(*[d.shape for d in data])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fusion", FUSIONS)
def test_fused_chains_keep_the_inferred_dtype(dtype: str, fusion: str) -> None:
    """Two ops in a row on large arrays (so a kernel or a numexpr program runs them)."""
    x = rd.tensor("x", shape=(None,), dtype=dtype)
    data = [_data(dtype, (BIG,), 0)]
    for name, *_ in ELEMENTWISE:
        od = REGISTRY[name]
        if od.arity != 1 or name == "cast":
            continue
        try:
            inner = rd.apply(name, x)
            term = rd.apply("sqr", rd.apply(name, inner)) if inner.dtype != "bool" else rd.apply("not_", rd.apply(name, inner))
        except RewriteDiffTypeError:
            continue
        _check(term, [x], data, fusion)


REDUCTION_NAMES = [r[0] for r in REDUCTIONS] + ["var", "std", "argmax", "argmin"]


@pytest.mark.parametrize("name", REDUCTION_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_reduction_result_dtype_is_the_inferred_one(name: str, dtype: str) -> None:
    for static, axis, keepdims in [((2, 3), None, False), ((None, 3), 0, False), ((2, None), 1, True), ((2, 3), (0, 1), True)]:
        if name in ("argmax", "argmin") and isinstance(axis, tuple):
            continue
        x = rd.tensor("x", shape=static, dtype=dtype)
        term = rd.apply(name, x, axis=axis, keepdims=keepdims)
        data = _data(dtype, (2, 3), 0)
        for fusion in FUSIONS:
            _check(term, [x], [data], fusion)
        folded = np.asarray(REGISTRY[name].impl(data, **term.attr_dict))
        assert folded.dtype.name == term.dtype, f"{name}({dtype}): inferred {term.dtype}, impl gives {folded.dtype}"
