"""The linear passes over terms around saturation: clearing the redexes that only delete ops, flattening extracted products."""

from __future__ import annotations

import numpy as np

import rewritediff as rd
from rewritediff.engine.prepass import cancelling, clear_redexes, deleting, flatten_single_use
from rewritediff.engine.simplify import default_rewrites
from rewritediff.terms import apply, constant, toposort

from .helpers import evaluate


def _logdet_gradient() -> tuple[rd.Term, rd.Term]:
    A = rd.matrix("A")
    return A, rd.grad(rd.log(rd.linalg.det(A)), A)


def test_the_gradient_seed_is_cleared_before_saturation() -> None:
    # the seed 1 shaped like the 0-d cost (expand_like(1.0, cost)) and the products by it are gone
    A, g = _logdet_gradient()
    assert any(t.op == "expand_like" and t.args[1].ndim == 0 for t in toposort([g]))
    (cleared,), done = clear_redexes([g], default_rewrites())
    assert done
    assert not any(t.op == "expand_like" for t in toposort([cleared]))
    assert not any(t.op == "mul" and any(a.op == "const" and np.all(a.value == 1) for a in t.args) for t in toposort([cleared]))
    rng = np.random.default_rng(0)
    Av = rng.normal(size=(4, 4)) + 4 * np.eye(4)
    got, want = evaluate(cleared, {A: Av}), evaluate(g, {A: Av})
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(got, np.linalg.inv(Av).T, rtol=1e-10)


def test_saturation_of_the_cleared_gradient_stays_small() -> None:
    # the seed's products, left to the e-graph, made 54 e-nodes of this 9-node gradient
    _, g = _logdet_gradient()
    ex = rd.explain(g)
    assert ex.report.nodes < 20
    assert rd.pprint(ex.result) == "matrix_inverse(A).T"


def test_only_op_deleting_rewrites_are_used() -> None:
    # a rewrite that builds something (x * (1 / y) => x / y) is the e-graph's, with its variants
    chosen = [rw for rws in deleting(default_rewrites()).values() for _, rw in rws]
    assert chosen
    for rw in chosen:  # a variable of the pattern, or an n-ary op over variables (c * x: deleting when c is the unit)
        assert not rw.stabilizes
        assert type(rw.rhs).__name__ == "Var" or all(type(a).__name__ == "Var" for a in rw.rhs.args), rw.name
    x, y = rd.vector("x"), rd.vector("y")
    term = x * (1.0 / y)
    (same,), done = clear_redexes([term], default_rewrites())
    assert same is term and not done


def test_a_guard_that_does_not_hold_on_the_terms_leaves_the_term() -> None:
    # x + zeros_like(y) is x only when the shapes are provably equal; undeclared shapes are not
    x, y = rd.vector("x"), rd.vector("y")
    term = x + rd.zeros_like(y)
    (same,), done = clear_redexes([term], default_rewrites())
    assert same is term and not done
    xs, ys = rd.tensor("xs", shape=(3,)), rd.tensor("ys", shape=(3,))
    (cleared,), done = clear_redexes([xs + rd.zeros_like(ys)], default_rewrites())
    assert cleared is xs and len(done) == 1


def test_clearing_is_reported_as_rule_firings() -> None:
    # rd.explain still names the rule that removed the op, and the per-rule counts include it
    x = rd.tensor("x", shape=(3, 4))
    ex = rd.explain(apply("reshape", x, shape=(3, 4)))
    assert ex.result is x
    assert "reshape(x){shape=s} => x if static_shape(x) == s" in str(ex)
    assert sum(ex.report.fired.values()) >= 1


def test_a_product_used_once_is_spliced_into_its_user() -> None:
    a, b, c = rd.vector("a"), rd.vector("b"), rd.vector("c")
    inner = apply("mul", b, c)
    outer = apply("mul", a, inner)
    (flat,) = flatten_single_use([outer])
    assert flat.op == "mul" and len(flat.args) == 3
    assert {t.uid for t in flat.args} == {a.uid, b.uid, c.uid}


def test_a_shared_product_is_not_spliced() -> None:
    # splicing b * c into both users would compute it twice
    a, b, c = rd.vector("a"), rd.vector("b"), rd.vector("c")
    inner = apply("mul", b, c)
    outs = [apply("mul", a, inner), apply("add", a, inner)]
    assert flatten_single_use(outs) == outs
    assert flatten_single_use([inner, apply("mul", a, inner)])[1].args[1] is inner


def test_the_constants_of_a_spliced_product_are_folded() -> None:
    # -1 * x * (-1 * y) is x * y: the two constants meet in one product, fold to the unit, go
    x, y = rd.vector("x"), rd.vector("y")
    m1 = constant(-1.0)
    term = apply("mul", m1, x, apply("mul", m1, y))
    (flat,) = flatten_single_use([term])
    assert {t.uid for t in flat.args} == {x.uid, y.uid}
    rng = np.random.default_rng(1)
    xv, yv = rng.normal(size=5), rng.normal(size=5)
    np.testing.assert_allclose(evaluate(flat, {x: xv, y: yv}), xv * yv)


def test_integer_products_are_not_reassociated() -> None:
    i, j, k = (rd.tensor(n, dtype="int8", shape=(None,)) for n in "ijk")
    term = apply("mul", i, apply("mul", j, k))
    assert flatten_single_use([term]) == [term]


def _logistic_hessian() -> tuple[list[rd.Term], rd.Term]:
    X, y, w = rd.matrix("X"), rd.vector("y"), rd.vector("w")
    cost = rd.mean(rd.log1p(rd.exp(-y * (X @ w)))) + 0.05 * rd.sum(w**2)
    return [X, y, w], rd.hessian(cost, w)


def test_negations_are_cancelled_in_pairs_read_off_the_rules() -> None:
    # (-x) * y => -(x * y) and -(-x) => x: a product of two negations is the product of their arguments
    assert cancelling(default_rewrites())["mul"][0] == "neg"
    x, y, z = rd.vector("x"), rd.vector("y"), rd.vector("z")
    (two,), done = clear_redexes([(-x) * z * (-y)], default_rewrites())
    assert not any(t.op == "neg" for t in toposort([two])) and done
    assert {a.uid for a in two.args} == {x.uid, y.uid, z.uid}
    (three,), _ = clear_redexes([(-x) * (-z) * (-y)], default_rewrites())
    assert sum(t.op == "neg" for t in toposort([three])) == 1
    one = (-x) * z
    (same,), done = clear_redexes([one], default_rewrites())
    assert same is one and not done


def test_a_product_another_term_uses_is_not_taken_apart() -> None:
    # (-x) * z is used twice: cancelling across it would compute its factors again
    x, y, z = rd.vector("x"), rd.vector("y"), rd.vector("z")
    inner = (-x) * z
    outs = [inner * (-y), inner + y]
    cleared, _ = clear_redexes(outs, default_rewrites())
    assert cleared == outs


def test_the_logistic_hessian_saturates_small_and_exact() -> None:
    # the product of the Hessian holds -y twice; cleared, the e-graph stays near 100 e-nodes (235 before)
    inputs, h = _logistic_hessian()
    ex = rd.explain(h)
    assert ex.report.nodes < 150
    rng = np.random.default_rng(2)
    Xv, yv, wv = rng.normal(size=(7, 3)), rng.choice([-1.0, 1.0], size=7), rng.normal(size=3)
    p = 1.0 / (1.0 + np.exp(yv * (Xv @ wv)))
    want = (Xv.T * (yv * yv * p * (1 - p))) @ Xv / 7 + 0.1 * np.eye(3)
    got = evaluate(ex.result, dict(zip(inputs, (Xv, yv, wv))))
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_splicing_stops_at_the_e_graphs_width() -> None:
    # a chain of 100 products is not one product of 101 arguments (numpy's ufuncs take at most 32)
    from rewritediff.engine.egraph import MAX_FLAT

    xs = [rd.vector(f"x{k}") for k in range(101)]
    term = xs[0]
    for x in xs[1:]:
        term = apply("mul", term, x)
    (flat,) = flatten_single_use([term])
    assert all(len(t.args) <= MAX_FLAT for t in toposort([flat]))
    assert len(flat.args) > 2
    negs = [-x for x in xs]
    term = negs[0]
    for x in negs[1:]:
        term = apply("mul", term, x)
    (cleared,), _ = clear_redexes([term], default_rewrites())
    assert all(len(t.args) <= MAX_FLAT for t in toposort([cleared]))


def test_a_unary_op_over_a_spliced_product_is_kept() -> None:
    # sin(a * (b * c)): the product inside is flattened, the sine stays (one argument is no sum or product)
    a, b, c, d = rd.vector("a"), rd.vector("b"), rd.vector("c"), rd.vector("d")
    term = apply("add", d, rd.sin(apply("mul", a, apply("mul", b, c))))
    (flat,) = flatten_single_use([term])
    assert sum(t.op == "sin" for t in toposort([flat])) == 1
    rng = np.random.default_rng(3)
    env = {v: rng.normal(size=4) for v in (a, b, c, d)}
    np.testing.assert_allclose(evaluate(flat, env), evaluate(term, env), rtol=1e-14)


def test_the_scalar_constants_of_a_product_fold_into_one() -> None:
    # the gradient writes a negation's adjoint as a product by -1.0: three of them in one product
    # (through nested products nothing else uses) are one -1.0, an even number none
    x, y = rd.vector("x"), rd.vector("y")
    odd = -1.0 * rd.sin(x) * (y * -1.0) * -1.0
    even = (-1.0 * rd.sin(x)) * (y * -1.0)
    (o, e), _ = clear_redexes([odd, even], default_rewrites())
    consts = [[a.value.item() for a in t.args if a.op == "const"] for t in (o, e)]
    assert consts == [[-1.0], []]
    assert rd.count_ops(o) == 3 and rd.count_ops(e) == 2  # sin, one product (and the constant's sign)
    xv, yv = np.array([0.3, -1.2]), np.array([2.0, 0.5])
    np.testing.assert_allclose(evaluate(o, {x: xv, y: yv}), -np.sin(xv) * yv)
    np.testing.assert_allclose(evaluate(e, {x: xv, y: yv}), np.sin(xv) * yv)


def test_the_logistic_hessian_keeps_no_sign_factors() -> None:
    # -mean(y log p + (1 - y) log(1 - p)): the cost's sign, the log's and the mean's adjoint cancel
    X, y, w = rd.matrix("X"), rd.vector("y"), rd.vector("w")
    p = rd.sigmoid(X @ w)
    H = rd.simplify(rd.hessian(-(y * rd.log(p) + (1.0 - y) * rd.log(1.0 - p)).mean(), w))
    assert not any(t.op == "const" and np.all(t.value == -1) for t in toposort([H]))
    assert not any(t.op == "neg" for t in toposort([H]) if t.ndim == 2)


def test_a_broadcast_unit_factor_is_cleared_when_the_shapes_are_known() -> None:
    # the seed of sum's gradient, 1.0 broadcast to x's declared shape, times a term of that shape:
    # `expand_like(c, y) * x => c * x` with c = 1 deletes ops, so it runs on the terms
    x = rd.vector("x", shape=(7,))
    g = rd.grad(rd.sum(rd.exp(rd.sin(x)) / (1.0 + x**2)), x)
    assert any(t.op == "expand_like" for t in toposort([g]))
    (cleared,), done = clear_redexes([g], default_rewrites())
    assert not any(t.op == "expand_like" for t in toposort([cleared]))
    assert any("simplify.rules" in rw.name and "expand_like" in rw.rule.text for rw, _ in done)
    xv = np.linspace(-1.0, 2.0, 7)
    want = np.exp(np.sin(xv)) * (np.cos(xv) / (1 + xv**2) - 2 * xv / (1 + xv**2) ** 2)
    np.testing.assert_allclose(evaluate(cleared, {x: xv}), want, rtol=1e-12)


def test_a_broadcast_factor_other_than_the_unit_stays() -> None:
    # 2.0 broadcast to x's shape times x is 2.0 * x: that builds a product, which is the e-graph's to choose
    x = rd.vector("x", shape=(3,))
    term = apply("expand_like", constant(2.0), x) * x
    (same,), done = clear_redexes([term], default_rewrites())
    assert same is term and not done
