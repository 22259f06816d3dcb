"""Every case of the derivative-coverage table on every backend: the value and its L-op compiled for
JAX, Dask and the Array API (numpy 2's namespace) agree with the numpy backend (which the coverage
table checks against finite differences) to rounding, or the build refuses the op by name.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_derivative_coverage import CASES, _sample

import rewritediff as rd
from rewritediff.backends import UnsupportedOpError

# scipy.special's functions, outside dask.array and the Array API standard
_SCIPY_SPECIAL = {
    "erfcx-0": "erfcx",
    "erf-0": "erf",
    "erfc-0": "erfc",
    "erfinv-0": "erfinv",
    "erfcinv-0": "erfcinv",
    "gammaln-0": "gammaln",
    "psi-0": "psi",
    "polygamma-0": "polygamma",
    "polygamma-1": "polygamma",
    "gamma-0": "gamma",
}

# case id -> the op the backend refuses at build time (with why, in the error)
UNSUPPORTED = {
    "jax": {
        "erfcinv-0": "erfcinv",  # jax.scipy.special has no erfcinv (erfinv(1 - x) loses precision near 0)
        "prod_others-0": "prod_pairs",  # the second derivative of prod: a loop along the axis, numpy only
        "prod_others-1": "prod_pairs",
    },
    "dask": {
        "det-0": "det",  # dask.array.linalg has no det
        "slogdet_logabs-0": "slogdet_logabs",  # nor slogdet
        "subtensor-3": "inc_subtensor",  # a scatter-add at repeated array indices
        "subtensor-4": "inc_subtensor",
        "inc_subtensor-1": "inc_subtensor",
        **_SCIPY_SPECIAL,
        "sort-0": "sort",  # dask.array has no sort
        "sort-1": "sort",
        "take_along_axis-0": "take_along_axis",  # nor take_along_axis
        "take_along_axis-1": "take_along_axis",
        "untake_along_axis-0": "untake_along_axis",
        "prod_others-0": "prod_pairs",
        "prod_others-1": "prod_pairs",
        # dask.array.linalg has no pinv, eigh, eigvalsh nor svdvals, and its svd no full_matrices
        "pinv-0": "pinv",
        "pinv-1": "pinv",
        "lstsq-0": "lstsq",  # spelled pinv(a) @ b outside JAX
        "lstsq-1": "lstsq",
        "eigh_values-0": "eigh_values",
        "eigh_values-1": "eigh_values",
        "eigh_vectors-0": "eigh_vectors",
        "eigh_vectors-1": "eigh_vectors",
        "svd_values-0": "svd_values",
        "svd_values-1": "svd_values",
        "svd_u-0": "svd_u",
        "svd_u-1": "svd_u",
        "svd_vt-0": "svd_vt",
        "gap_div-0": "gap_div",  # no finfo in dask.array
        "gap_div-1": "gap_div",
    },
    "array_api": {
        **_SCIPY_SPECIAL,
        "prod-0": "prod_others",  # needs cumprod, outside the standard
        "prod-1": "prod_others",
        "tensordot-0": "einsum",  # tensordot's gradient is an einsum, outside the standard
        "tensordot-1": "einsum",
        "einsum-0": "einsum",
        "einsum-1": "einsum",
        "einsum-2": "einsum",
        "diag-0": "diag",
        "diag-1": "diag",
        "diag_embed_like-0": "diag",
        "subtensor-3": "inc_subtensor",
        "subtensor-4": "inc_subtensor",
        "inc_subtensor-1": "inc_subtensor",
        "cumprod-0": "cumprod",  # not in the 2023.12 standard
        "cumprod-1": "cumprod",
        "cumprod-2": "cumprod",
        "sort-0": "untake_along_axis",
        "sort-1": "untake_along_axis",
        "take_along_axis-0": "take_along_axis",  # not in the 2023.12 standard
        "take_along_axis-1": "take_along_axis",
        "untake_along_axis-0": "untake_along_axis",
        "prod_others-0": "prod_others",
        "prod_others-1": "prod_others",
        "einsum_grad-0": "einsum",  # lowered through its expansion, an einsum
        "einsum_grad-1": "einsum",
        "einsum_grad-2": "einsum",
        "einsum_replace-0": "einsum",
    },
}
# sparse matrices are lowered to scipy.sparse by the numpy backend only: every backend refuses the
# first sparse op of each sparse case (its inputs are made sparse by sp_from_dense or sp_from_parts)
_SPARSE_REFUSED = {c.id: ("sp_from_parts" if c.values[0] == "sp_from_parts" else "sp_from_dense") for c in CASES if c.values[0].startswith("sp_")}
for _table in UNSUPPORTED.values():
    _table.update(_SPARSE_REFUSED)


def _require(backend: str) -> dict:
    if backend == "jax":
        pytest.importorskip("jax")
    elif backend == "dask":
        pytest.importorskip("dask.array")
        return {"compute": True, "chunks": 2}
    elif not hasattr(np.empty(0), "__array_namespace__"):
        pytest.skip("numpy without the Array API namespace")
    return {}


def _value_and_lop(case):
    op, shapes, build, domain, rtol, eps = case
    rng = np.random.default_rng(1234)
    domains = domain if isinstance(domain, list) else [domain] * len(shapes)
    xs_t = [rd.tensor(f"x{i}", shape=s) for i, s in enumerate(shapes)]
    y = build(*xs_t)
    xs = [_sample(d, s, rng) for d, s in zip(domains, shapes)]
    y_shape = np.shape(rd.function(xs_t, y)(*xs))
    u_t = rd.tensor("u", shape=y_shape)
    lops = list(rd.Lop(y, xs_t, u_t, disconnected_inputs="ignore"))
    return xs_t + [u_t], [y] + lops, xs + [rng.normal(size=y_shape)]


@pytest.mark.parametrize("backend", ["jax", "dask", "array_api"])
@pytest.mark.parametrize("case_id, case", [pytest.param(c.id, c.values, id=c.id) for c in CASES])
def test_case_matches_numpy(backend, case_id, case):
    options = _require(backend)
    inputs, outputs, args = _value_and_lop(case)
    refused = UNSUPPORTED[backend].get(case_id)
    if refused is not None:
        with pytest.raises(UnsupportedOpError, match=rf"op '{refused}' is not supported by the '{backend}' backend"):
            rd.function(inputs, outputs, on_unused_input="ignore", backend=backend, **options)
        return
    want = rd.function(inputs, outputs, on_unused_input="ignore")(*args)
    f = rd.function(inputs, outputs, on_unused_input="ignore", backend=backend, **options)
    got = f(*args)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        g = np.asarray(g)
        assert g.shape == np.shape(w)
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


FORWARD_ONLY = {
    "lt": lambda a: rd.lt(a, 0.0),
    "eq": lambda a: rd.eq(a, 0.5),
    "sign": rd.sign,
    "floor": rd.floor,
    "ceil": rd.ceil,
    "round": rd.round,
    "argmax": lambda a: rd.argmax(a, axis=0),
    "argmin": lambda a: rd.argmin(a, axis=1),
    "and_": lambda a: rd.and_(a > 0.0, a < 1.0),
    "or_": lambda a: rd.or_(a > 0.0, a < -1.0),
    "not_": lambda a: rd.not_(a > 0.0),
    "all": lambda a: rd.all(a > -3.0),
    "any": lambda a: rd.any(a > 0.0, axis=0),
    "zeros_like": rd.zeros_like,
    "ones_like": rd.ones_like,
    "shape": lambda a: a.shape,
    "shape_i": lambda a: rd.shape_i(a, 0),
    "slogdet_sign": lambda a: rd.linalg.slogdet(a)[0],
    "matrix_rank": lambda a: rd.linalg.lstsq(a, a)[2],
}


@pytest.mark.parametrize("backend", ["jax", "dask", "array_api"])
@pytest.mark.parametrize("op", sorted(FORWARD_ONLY))
def test_non_differentiable_ops_match_numpy(backend, op):
    options = _require(backend)
    x = rd.tensor("x", shape=(3, 3))
    y = FORWARD_ONLY[op](x)
    val = np.array([[0.5, -1.5, 2.0], [1.0, 0.25, -2.0], [-0.75, 3.0, 0.0]])
    if backend == "dask" and op in ("slogdet_sign", "matrix_rank"):
        with pytest.raises(UnsupportedOpError, match=f"'{op}' is not supported by the 'dask' backend"):
            rd.function([x], y, simplify=False, backend=backend, **options)
        return
    got = np.asarray(rd.function([x], y, simplify=False, backend=backend, **options)(val))
    want = np.asarray(rd.function([x], y, simplify=False)(val))
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
