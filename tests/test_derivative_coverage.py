"""Every op in the registry, checked by one table: L-op against finite differences, R-op
against a finite-difference J.v, and the two against each other by <u, J v> = <J^T u, v>.

Registering an op without an entry here (or in NON_DIFFERENTIABLE) fails
``test_every_op_is_covered``; an entry whose op has no derivative rule fails its check.
"""

import numpy as np
import pytest

import rewritediff as rd
from rewritediff.ops import REGISTRY
from rewritediff.verify import central_directional

EPS = 1e-6


def _sample(domain, shape, rng):
    if domain == "grid":
        return rng.integers(-8, 8, shape) * 0.125
    if domain == "pos":
        return rng.uniform(0.5, 2.0, shape)
    if domain == "open2":  # inside (0, 2), erfcinv's domain
        return rng.uniform(0.2, 1.8, shape)
    if domain == "neg":  # below 0, on both sides of -log(2) (log1mexp's two branches)
        return rng.uniform(-2.0, -0.1, shape)
    if domain == "unit":
        return rng.uniform(-0.8, 0.8, shape)
    if domain == "nz":
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)
    if domain == "distinct":
        return rng.permutation(np.arange(int(np.prod(shape)))).reshape(shape) * 0.37 + rng.uniform(0, 0.1, shape)
    return rng.uniform(-2.0, 2.0, shape)


def _spd(a):
    n = a.static_shape[0]
    return rd.dot(a, a.T) + rd.constant(3.0 * np.eye(n))


def _csr(a):
    return rd.sparse.csr_from_dense(a)


def _dense(s):
    return rd.sparse.dense_from_sparse(s)


def C(op, shapes, build, domain="any", rtol=1e-5, eps=EPS):
    """A case: the op it covers, input shapes, a builder, an input domain (one for all, or one per input)."""
    n = CASE_COUNT[op] = CASE_COUNT.get(op, -1) + 1
    return pytest.param(op, shapes, build, domain, rtol, eps, id=f"{op}-{n}")


CASE_COUNT: dict = {}
IDX = np.array([2, 0, 2])
TAKE = np.array([[2, 0, 1, 1], [0, 0, 2, 1], [1, 2, 2, 0]])

CASES = [
    # elementwise
    C("add", [(3, 4), (1, 4)], lambda a, b: a + b),
    C("add", [(3,), (3,), (3,)], lambda a, b, c: rd.add(a, b, c)),
    C("mul", [(3, 4), (3, 1)], lambda a, b: a * b),
    C("mul", [(3,), (3,), ()], lambda a, b, c: rd.mul(a, b, c)),
    C("sub", [(3,), ()], lambda a, b: a - b),
    C("true_div", [(3,), (3,)], lambda a, b: a / b, ["any", "pos"]),
    C("neg", [(3,)], lambda a: -a),
    C("reciprocal", [(3,)], lambda a: rd.reciprocal(a), "pos"),
    C("pow", [(3,), (3,)], lambda a, b: a**b, ["pos", "any"]),
    C("pow", [(3,)], lambda a: a**3.0),
    C("sqr", [(3,)], lambda a: rd.sqr(a)),
    C("exp", [(3,)], rd.exp),
    C("log", [(3,)], rd.log, "pos"),
    C("log1p", [(3,)], rd.log1p, "pos"),
    C("expm1", [(3,)], rd.expm1),
    C("sqrt", [(3,)], rd.sqrt, "pos"),
    C("sin", [(3,)], rd.sin),
    C("cos", [(3,)], rd.cos),
    C("tan", [(3,)], rd.tan, "unit"),
    C("tanh", [(3,)], rd.tanh),
    C("arcsin", [(3,)], rd.arcsin, "unit"),
    C("arccos", [(3,)], rd.arccos, "unit"),
    C("arctan", [(3,)], rd.arctan),
    C("sinh", [(3,)], rd.sinh),
    C("cosh", [(3,)], rd.cosh),
    C("erfcx", [(3,)], rd.erfcx),
    C("erf", [(3,)], rd.erf),
    C("erfc", [(3,)], rd.erfc),
    C("erfinv", [(3,)], rd.erfinv, "unit"),
    C("erfcinv", [(3,)], rd.erfcinv, "open2"),
    C("gammaln", [(3,)], rd.gammaln, "pos"),
    C("psi", [(3,)], rd.psi, "pos"),
    C("polygamma", [(3,)], lambda a: rd.polygamma(1.0, a), "pos"),
    C("polygamma", [(3,)], lambda a: rd.polygamma(2.0, a), "pos"),
    C("gamma", [(3,)], rd.gamma, "pos"),
    C("sigmoid", [(3,)], rd.sigmoid),
    C("softplus", [(3,)], rd.softplus),
    C("log1mexp", [(4,)], rd.log1mexp, "neg"),
    C("logaddexp", [(3, 4), (4,)], rd.logaddexp),
    C("xlogx", [(3,)], rd.xlogx, "pos"),
    C("xlogy0", [(3,), (3,)], rd.xlogy0, ["any", "pos"]),
    C("relu", [(3,)], rd.relu, "nz"),
    C("softsign", [(3,)], rd.softsign),
    C("log_sigmoid", [(3,)], rd.log_sigmoid),
    C("abs", [(3,)], rd.abs, "nz"),
    C("maximum", [(4,), (4,)], rd.maximum, "distinct"),
    C("minimum", [(4,), (4,)], rd.minimum, "distinct"),
    C("switch", [(4,), (4,)], lambda a, b: rd.switch(rd.constant(np.array([True, False, True, False])), a, b)),
    C("clip", [(4,), (4,), (4,)], lambda x, lo, hi: rd.clip(x, lo - 3.0, hi + 3.0)),
    C("clip", [(4,)], lambda x: rd.clip(x, -0.5, 0.5) * 1.0, "distinct"),
    C("cast", [(3,)], lambda a: rd.cast(rd.cast(a, "float32"), "float64"), "grid", 1e-3, 0.25),
    # reductions
    C("sum", [(3, 4)], lambda a: a.sum()),
    C("sum", [(3, 4)], lambda a: a.sum(axis=0)),
    C("sum", [(3, 4)], lambda a: a.sum(axis=-1, keepdims=True)),
    C("sum", [(2, 3, 4)], lambda a: a.sum(axis=(0, 2))),
    C("prod", [(3, 4)], lambda a: a.prod(axis=1), "nz"),
    C("prod", [(3,)], lambda a: a.prod(), "nz"),
    C("max", [(3, 4)], lambda a: a.max(axis=1), "distinct"),
    C("max", [(3, 4)], lambda a: a.max(), "distinct"),
    C("min", [(3, 4)], lambda a: a.min(axis=0, keepdims=True), "distinct"),
    C("mean", [(3, 4)], lambda a: a.mean(axis=1)),
    C("mean", [(3, 4)], lambda a: a.mean()),
    C("var", [(3, 4)], lambda a: a.var(axis=1)),
    C("var", [(3, 4)], lambda a: rd.var(a, ddof=1)),
    C("std", [(3, 4)], lambda a: a.std(axis=0), "distinct"),
    # products
    C("dot", [(2, 3), (3, 4)], rd.dot),
    C("dot", [(3,), (3, 4)], rd.dot),
    C("dot", [(2, 3), (3,)], rd.dot),
    C("dot", [(3,), (3,)], rd.dot),
    C("dot", [(), (3,)], rd.dot),
    C("matmul", [(2, 3, 4), (2, 4, 5)], rd.matmul),
    C("matmul", [(2, 3, 4), (4, 5)], rd.matmul),
    C("tensordot", [(2, 3, 4), (3, 4, 5)], lambda a, b: rd.tensordot(a, b, axes=2)),
    C("tensordot", [(2, 3), (4, 3)], lambda a, b: rd.tensordot(a, b, axes=((1,), (1,)))),
    C("outer", [(3,), (4,)], rd.outer),
    C("einsum", [(2, 3), (3, 4)], lambda a, b: rd.einsum("ij,jk->ik", a, b)),
    C("einsum", [(3, 3)], lambda a: rd.einsum("ii->", a)),
    C("einsum", [(2, 3), (3,), (2,)], lambda a, b, c: rd.einsum("ij,j,i->", a, b, c)),
    C("trace", [(3, 3)], rd.trace),
    C("diag", [(3,)], lambda a: rd.diag(a, k=1)),
    C("diag", [(3, 4)], lambda a: rd.diag(a)),
    # linear algebra
    C("matrix_inverse", [(3, 3)], lambda a: rd.linalg.inv(_spd(a))),
    C("det", [(3, 3)], lambda a: rd.linalg.det(_spd(a))),
    C("slogdet_logabs", [(3, 3)], lambda a: rd.linalg.slogdet(_spd(a))[1]),
    C("solve", [(3, 3), (3,)], lambda a, b: rd.linalg.solve(_spd(a), b)),
    C("solve", [(3, 3), (3, 2)], lambda a, b: rd.linalg.solve(_spd(a), b)),
    C("cholesky", [(3, 3)], lambda a: rd.linalg.cholesky(_spd(a))),
    C("cholesky", [(3, 3)], lambda a: rd.linalg.cholesky(_spd(a), lower=False)),
    C("solve_triangular", [(3, 3), (3,)], lambda a, b: rd.linalg.solve_triangular(_spd(a), b)),
    C("solve_triangular", [(3, 3), (3, 2)], lambda a, b: rd.linalg.solve_triangular(_spd(a), b, lower=False)),
    C("tril", [(3, 3)], lambda a: rd.apply("tril", a)),
    C("triu", [(3, 3)], lambda a: rd.apply("triu", a)),
    # shape
    C("dimshuffle", [(3, 4)], lambda a: a.T),
    C("dimshuffle", [(3, 1)], lambda a: a.dimshuffle("x", 0)),
    C("reshape", [(3, 4)], lambda a: a.reshape((2, 6))),
    C("broadcast_to", [(1, 4)], lambda a: rd.broadcast_to(a, (3, 4))),
    C("specify_shape", [(3,)], lambda a: rd.specify_shape(a, (3,))),
    C("specify_shape_like", [(3, 2), (3, 2)], lambda a, b: rd.apply("specify_shape_like", a, b) * b),
    C("join", [(2, 3), (1, 3)], lambda a, b: rd.concatenate([a, b], axis=0)),
    C("join", [(2, 3), (2, 1)], lambda a, b: rd.concatenate([a, b], axis=-1)),
    C("stack", [(3,), (3,)], lambda a, b: rd.stack([a, b], axis=1)),
    C("repeat", [(2, 3)], lambda a: rd.repeat(a, 2, axis=1)),
    C("repeat", [(2, 3)], lambda a: rd.repeat(a, 2)),
    C("tile", [(2, 3)], lambda a: rd.tile(a, (2, 2))),
    C("alloc", [(3,)], lambda a: rd.alloc(a, 2, 3)),
    C("fill", [(3,), ()], lambda a, v: rd.fill(a, v)),
    C("subtensor", [(5,)], lambda a: a[1:4]),
    C("subtensor", [(5, 3)], lambda a: a[::-2, 1]),
    C("subtensor", [(5,)], lambda a: a[None, -1]),
    C("subtensor", [(5, 3)], lambda a: a[IDX]),
    C("subtensor", [(5, 3)], lambda a: a[IDX, 1:]),
    C("set_subtensor", [(5,), (2,)], lambda a, b: rd.set_subtensor(a[1:3], b)),
    C("set_subtensor", [(5,), ()], lambda a, b: rd.set_subtensor(a[np.array([0, 3])], b)),
    C("inc_subtensor", [(5,), (2,)], lambda a, b: rd.inc_subtensor(a[1:3], b)),
    C("inc_subtensor", [(5, 2), (3, 2)], lambda a, b: rd.inc_subtensor(a[IDX], b)),
    # special
    C("softmax", [(2, 3)], lambda a: rd.softmax(a, axis=-1)),
    C("softmax", [(2, 3)], lambda a: rd.softmax(a, axis=None)),
    C("log_softmax", [(2, 3)], lambda a: rd.log_softmax(a, axis=1)),
    C("logsumexp", [(2, 3)], lambda a: rd.logsumexp(a, axis=1, keepdims=True)),
    C("logsumexp", [(2, 3)], lambda a: rd.logsumexp(a)),
    # helpers the rules use
    C("expand_like", [(3,), (3, 4)], lambda g, x: rd.apply("expand_like", g, x, axis=1)),
    C("reshape_like", [(12,), (3, 4)], lambda g, x: rd.apply("reshape_like", g, x)),
    C("sum_to", [(3, 4), (1, 4)], lambda g, x: rd.apply("sum_to", g, x)),
    C("broadcast_like", [(1, 4), (3, 4)], lambda g, x: rd.apply("broadcast_like", g, x)),
    C("diag_embed_like", [(3,), (3, 4)], lambda g, x: rd.apply("diag_embed_like", g, x, k=1)),
    C("unrepeat", [(2, 6), (2, 3)], lambda g, x: rd.apply("unrepeat", g, x, repeats=2, axis=1)),
    C("untile", [(4, 6), (2, 3)], lambda g, x: rd.apply("untile", g, x, reps=(2, 2))),
    C("phi", [(3, 3)], lambda a: rd.apply("phi", a)),
    C("join_part", [(5, 2), (2, 2), (3, 2)], lambda g, a, b: rd.apply("join_part", g, a, b, axis=0, i=1)),
    C("join_embed", [(3, 2), (2, 2), (3, 2)], lambda c, a, b: rd.apply("join_embed", c, a, b, axis=0, i=1)),
    # structural ops
    C("cumsum", [(3, 4)], lambda a: rd.cumsum(a, axis=1)),
    C("cumsum", [(3, 4)], lambda a: rd.cumsum(a)),
    C("cumprod", [(3, 4)], lambda a: rd.cumprod(a, axis=0), "nz"),
    C("cumprod", [(5,)], rd.cumprod, "nz"),
    C("cumprod", [(2, 8)], lambda a: rd.cumprod(a, axis=1), "grid"),  # zeros among the inputs
    C("flip", [(3, 4)], lambda a: rd.flip(a, axis=1)),
    C("flip", [(3, 4)], rd.flip),
    C("roll", [(3, 4)], lambda a: rd.roll(a, 1, axis=1)),
    C("roll", [(3, 4)], lambda a: rd.roll(a, -5)),
    C("sort", [(3, 4)], lambda a: rd.sort(a, axis=0), "distinct"),
    C("sort", [(3, 4)], lambda a: rd.sort(a, axis=None), "distinct"),
    C("take_along_axis", [(3, 4)], lambda a: rd.take_along_axis(a, rd.constant(TAKE), axis=1)),
    C("take_along_axis", [(3, 1)], lambda a: rd.take_along_axis(a, rd.constant(TAKE), axis=0)),
    C("untake_along_axis", [(3, 4), (3, 4)], lambda g, x: rd.apply("untake_along_axis", g, rd.constant(TAKE), x, axis=1)),
    C("prod_others", [(3, 4)], lambda a: rd.apply("prod_others", a, axis=(1,)), "nz"),
    C("prod_others", [(5,)], lambda a: rd.apply("prod_others", a), "grid"),  # zeros among the inputs
    C("sub", [(3, 5)], lambda a: rd.diff(a, n=2, axis=1)),
    C("mul", [(2, 3), (3, 2)], rd.kron),
    C("set_subtensor", [(3, 4)], lambda a: rd.pad(a, ((1, 0), (2, 1)), constant_values=1.5)),
    C("dot", [(3, 3)], lambda a: rd.matrix_power(a, 3)),
    C("matrix_inverse", [(3, 3)], lambda a: rd.matrix_power(_spd(a), -2)),
    C("sqrt", [(3, 4)], rd.norm),
    C("abs", [(4,)], lambda a: rd.norm(a, 1), "nz"),
    C("max", [(4,)], lambda a: rd.norm(a, np.inf), "distinct"),
    C("min", [(4,)], lambda a: rd.norm(a, -np.inf), "distinct"),
    C("pow", [(4,)], lambda a: rd.norm(a, 3), "nz"),
    C("max", [(3, 4)], lambda a: rd.norm(a, 1), "distinct"),
    C("sqrt", [(2, 3, 4)], lambda a: rd.norm(a, "fro", axis=(2, 0), keepdims=True)),
    # einsum's adjoint helpers, differentiated through their expansions into einsums
    C("einsum_grad", [(2, 4), (2, 3), (3, 4)], lambda g, a, b: rd.apply("einsum_grad", g, a, b, subscripts="ij,jk->ik", i=0)),
    C("einsum_grad", [(), (3, 3)], lambda g, a: rd.apply("einsum_grad", g, a, subscripts="ii->", i=0)),
    C("einsum_grad", [(2,), (2, 3), (3,)], lambda g, a, b: rd.apply("einsum_grad", g, a, b, subscripts="ij,k->i", i=1)),
    C("einsum_replace", [(2, 3), (2, 3), (3, 4)], lambda t, a, b: rd.apply("einsum_replace", t, a, b, subscripts="ij,jk->ik", i=0)),
    # linear algebra
    C("cho_solve", [(3, 3), (3,)], lambda a, b: rd.linalg.cho_solve((rd.linalg.cholesky(_spd(a)), True), b)),
    C("cho_solve", [(3, 3), (3, 2)], lambda a, b: rd.linalg.cho_solve(rd.linalg.cho_factor(_spd(a)), b)),
    C("cho_solve", [(3, 3), (3, 2)], lambda c, b: rd.linalg.cho_solve((c + rd.constant(3.0 * np.eye(3)), True), b)),
    C("pinv", [(3, 3)], lambda a: rd.linalg.pinv(_spd(a))),
    C("pinv", [(4, 3)], lambda a: rd.linalg.pinv(a + rd.constant(2.0 * np.eye(4, 3)))),
    C("lstsq", [(4, 3), (4,)], lambda a, b: rd.linalg.lstsq(a + rd.constant(2.0 * np.eye(4, 3)), b)[0]),
    C("lstsq", [(3, 3), (3, 2)], lambda a, b: rd.linalg.lstsq(_spd(a), b)[0]),
    # eigenvectors and singular vectors are defined up to sign: the rows use functions of them that are not
    C("eigh_values", [(3, 3)], lambda a: rd.linalg.eigvalsh(_spd(a))),
    C("eigh_values", [(3, 3)], lambda a: rd.linalg.eigh(a, UPLO="U")[0]),
    C("eigh_vectors", [(3, 3)], lambda a: rd.linalg.eigh(_spd(a))[1] ** 2),
    C("eigh_vectors", [(3, 3)], lambda a: rd.dot(rd.linalg.eigh(a, UPLO="U")[1] * rd.constant(np.array([1.0, 2.0, 3.0])), rd.linalg.eigh(a, UPLO="U")[1].T)),
    C("svd_values", [(3, 4)], lambda a: rd.linalg.svd(a, compute_uv=False)),
    C("svd_values", [(3, 3)], lambda a: rd.linalg.svd(a)[1]),
    C("svd_u", [(4, 3)], lambda a: rd.linalg.svd(a, full_matrices=False)[0] ** 2),
    C("svd_vt", [(3, 4)], lambda a: rd.linalg.svd(a, full_matrices=False)[2] ** 2),
    C("svd_u", [(3, 3)], lambda a: rd.dot(rd.linalg.svd(a, full_matrices=False)[0], rd.linalg.svd(a, full_matrices=False)[2])),
    C("gap_div", [(3, 3), (3,)], lambda x, w: rd.apply("gap_div", x, w), ["any", "distinct"]),
    C("gap_div", [(3, 3), (3,)], lambda x, w: rd.apply("gap_div", x, w, plus=True), ["any", "pos"]),
    # sparse matrices (rd.sparse): a dense input made sparse (every entry stored), results made dense
    C("sp_from_dense", [(3, 4)], lambda a: _dense(_csr(a))),
    C("sp_todense", [(3, 4)], lambda a: rd.sparse.dense_from_sparse(rd.sparse.csc_from_dense(a), sparse_grad=False)),
    C("sp_from_parts", [(4,)], lambda d: _dense(rd.sparse.CSR(d, np.array([0, 2, 1, 3]), np.array([0, 2, 2, 4]), (3, 4)))),
    C("sp_transpose", [(3, 4)], lambda a: _dense(_csr(a).T)),
    C("sp_dot", [(3, 4), (4,)], lambda a, b: _csr(a) @ b),
    C("sp_dot", [(3, 4), (4, 2)], lambda a, b: rd.sparse.structured_dot(_csr(a), b)),
    C("sp_dot", [(2, 3), (3, 4)], lambda a, b: a @ rd.sparse.csc_from_dense(b)),
    C("sp_spdot", [(3, 4), (4, 2)], lambda a, b: _dense(rd.sparse.true_dot(_csr(a), _csr(b)))),
    C("sp_spdot", [(3, 4), (4, 2)], lambda a, b: _csr(a) @ rd.sparse.csc_from_dense(b)),
    C("sp_mul", [(3, 4), ()], lambda a, c: _dense(_csr(a) * c)),
    C("sp_mul", [(3, 4), (3, 4)], lambda a, b: _dense(rd.sparse.multiply(_csr(a), b))),
    C("sp_mul", [(3, 4), (4,)], lambda a, b: _dense(_csr(a) * b)),
    C("sp_cast", [(3, 4)], lambda a: rd.cast(_dense(rd.cast(_csr(a), "float32")), "float64"), rtol=1e-3, eps=1e-3),
    C("sp_add", [(3, 4), (3, 4)], lambda a, b: _dense(_csr(a) + rd.sparse.csc_from_dense(b))),
    C("sp_sum", [(3, 4)], lambda a: rd.sparse.sp_sum(_csr(a))),
    C("sp_sum", [(3, 4)], lambda a: rd.sparse.sp_sum(_csr(a), axis=0, sparse_grad=True)),
    C("sp_sum", [(3, 4)], lambda a: rd.sparse.sp_sum(_csr(a), axis=1)),
    C("sp_values", [(3, 4), (3, 4)], lambda a, b: rd.apply("sp_values", _csr(a), b)),
    C("sp_with_data", [(3, 4), (12,)], lambda a, d: _dense(rd.apply("sp_with_data", _csr(a), d))),
    C("sp_sampled_dot", [(3, 4), (3, 2), (4, 2)], lambda s, a, b: _dense(rd.apply("sp_sampled_dot", _csr(s), a, b))),
    C("sp_sampled_dot", [(3, 4), (3,), (4,)], lambda s, a, b: _dense(rd.apply("sp_sampled_dot", _csr(s), a, b))),
    C("sp_fill", [(3, 4), (4,)], lambda a, g: _dense(rd.apply("sp_fill", _csr(a), g, axis=0))),
    C("sp_dense_fill", [(3, 4), (3,)], lambda a, g: rd.apply("sp_dense_fill", _csr(a), g, axis=1)),
]

# ops whose outputs carry no gradient: (how the gradient of their input must come out)
NON_DIFFERENTIABLE = {
    **dict.fromkeys(
        [
            "lt",
            "gt",
            "le",
            "ge",
            "eq",
            "neq",
            "sign",
            "floor",
            "ceil",
            "round",
            "isnan",
            "isinf",
            "argmax",
            "argmin",
            "slogdet_sign",
            "argsort",
            "searchsorted",
            "matrix_rank",
        ],
        "zero",
    ),
    **dict.fromkeys(["and_", "or_", "not_", "all", "any"], "zero"),
    **dict.fromkeys(["zeros_like", "ones_like", "shape", "shape_i", "count", "eye_like", "stand_in"], "disconnected"),
}
# ops whose derivative is deliberately not the mathematical one, tested in test_gradient.py,
# or that take no arguments, or whose next derivative is null by design (prod_pairs)
EXEMPT = {
    "sp_as_dense",  # rewritten when applied (never a node): the rules' type-directed helpers
    "sp_dense_like",
    "sp_zeros_like",  # a structured zero: disconnected from its argument, as zeros_like
    "einsum_grad",
    "einsum_replace",
    "zero_grad",
    "disconnected_grad",
    "undefined_grad",
    "grad_clip",
    "grad_scale",
    "arange",
    "eye",
    "prod_pairs",  # the Hessian of prod applied to a vector: its own derivative in x (a third derivative) is null; prod_others' cases check it
    "input",
    "shared",
    "const",
    "scan",  # a loop: its pullback and pushforward are built in Python; tests/test_scan.py checks them by finite differences
}


def test_every_op_is_covered():
    covered = {p.values[0] for p in CASES} | set(NON_DIFFERENTIABLE) | EXEMPT
    builtin = {n for n, op in REGISTRY.items() if getattr(op, "expand", None) is None}
    missing = sorted(builtin - covered)
    assert not missing, f"ops without a derivative-coverage case: {missing}"


@pytest.mark.parametrize("op, shapes, build, domain, rtol, eps", CASES)
def test_derivatives(op, shapes, build, domain, rtol, eps):
    rng = np.random.default_rng(1234)
    domains = domain if isinstance(domain, list) else [domain] * len(shapes)
    xs_t = [rd.tensor(f"x{i}", shape=s) for i, s in enumerate(shapes)]
    y = build(*xs_t)
    assert y.op == op or any(t.op == op for t in rd.terms.toposort([y])), f"the case does not build {op}"
    xs = [_sample(d, s, rng) for d, s in zip(domains, shapes)]
    f = rd.function(xs_t, y)
    y_val = np.asarray(f(*xs))
    u = rng.normal(size=y_val.shape)
    vs = [rng.normal(size=s) for s in shapes]
    # L-op against finite differences along random directions
    us_t = rd.tensor("u", shape=y_val.shape)
    lops = rd.Lop(y, xs_t, us_t, disconnected_inputs="ignore")
    lop_vals = [np.asarray(v) for v in rd.function(xs_t + [us_t], list(lops), on_unused_input="ignore")(*xs, u)]
    fd = central_directional(f, xs, vs, eps)
    lhs = float(np.sum(u * fd))
    rhs = float(sum(np.sum(g * v) for g, v in zip(lop_vals, vs)))
    assert rhs == pytest.approx(lhs, rel=rtol * 10, abs=1e-6), "L-op disagrees with finite differences"
    # R-op against finite differences
    vs_t = [rd.tensor(f"v{i}", shape=s) for i, s in enumerate(shapes)]
    rop = rd.Rop(y, xs_t, vs_t, disconnected_outputs="ignore")
    rop_val = np.asarray(rd.function(xs_t + vs_t, rop, on_unused_input="ignore")(*xs, *vs))
    np.testing.assert_allclose(rop_val, fd, rtol=rtol * 10, atol=1e-6, err_msg="R-op disagrees with finite differences")
    # adjointness of the two
    assert float(np.sum(u * rop_val)) == pytest.approx(rhs, rel=max(1e-8, rtol * 1e-3), abs=1e-9)


@pytest.mark.parametrize("op", sorted(NON_DIFFERENTIABLE))
def test_non_differentiable(op):
    x = rd.tensor("x", shape=(3, 3))
    build = {
        "lt": lambda a: rd.lt(a, 0.0),
        "gt": lambda a: rd.gt(a, 0.0),
        "le": lambda a: rd.le(a, 0.0),
        "ge": lambda a: rd.ge(a, 0.0),
        "eq": lambda a: rd.eq(a, 0.0),
        "neq": lambda a: rd.neq(a, 0.0),
        "sign": rd.sign,
        "floor": rd.floor,
        "ceil": rd.ceil,
        "round": rd.round,
        "isnan": rd.isnan,
        "isinf": rd.isinf,
        "argmax": lambda a: rd.argmax(a, axis=0),
        "argmin": lambda a: rd.argmin(a, axis=1),
        "slogdet_sign": lambda a: rd.linalg.slogdet(a)[0],
        "matrix_rank": lambda a: rd.linalg.lstsq(a, a)[2],
        "and_": lambda a: rd.and_(a > 0.0, a < 1.0),
        "or_": lambda a: rd.or_(a > 0.0, a < 1.0),
        "not_": lambda a: rd.not_(a > 0.0),
        "all": lambda a: rd.all(a > 0.0),
        "any": lambda a: rd.any(a > 0.0, axis=0),
        "zeros_like": rd.zeros_like,
        "ones_like": rd.ones_like,
        "shape": lambda a: a.shape,
        "shape_i": lambda a: rd.shape_i(a, 0),
        "count": lambda a: rd.apply("count", a, axis=0),
        "eye_like": lambda a: rd.apply("eye_like", a),
        "stand_in": lambda a: rd.apply("stand_in", a, of="exp", of_attrs=(), dtype="float64"),
        "argsort": lambda a: rd.argsort(a, axis=0),
        "searchsorted": lambda a: rd.searchsorted(rd.sort(a, axis=None), a),
    }[op]
    y = build(x)
    assert any(t.op == op for t in rd.terms.toposort([y]))
    cost = rd.cast(y, "float64").sum()
    if NON_DIFFERENTIABLE[op] == "zero":
        g = rd.grad(cost, x)
        np.testing.assert_array_equal(rd.function([x], g)(np.ones((3, 3))), np.zeros((3, 3)))
    else:
        with pytest.raises(rd.DisconnectedInputError):
            rd.grad(cost, x)
