"""The Dask backend: lazy results, chunking of numpy arguments, and the same function on a distributed cluster."""

from __future__ import annotations

import numpy as np
import pytest

import rewritediff as rd
from benchmarks import cases, hand

da = pytest.importorskip("dask.array")


def test_numpy_arguments_are_chunked_along_the_first_axis_and_results_are_lazy():
    X, w = rd.matrix("X"), rd.vector("w")
    f = rd.function([X, w], [rd.exp(X) * 2.0, rd.dot(X, w)], backend="dask", chunks=4)
    Xv = np.arange(20.0).reshape(10, 2) / 10
    wv = np.array([1.0, -1.0])
    a, b = f(Xv, wv)
    assert isinstance(a, da.Array) and a.chunks == ((4, 4, 2), (2,))
    np.testing.assert_allclose(a.compute(), np.exp(Xv) * 2.0)
    np.testing.assert_allclose(b.compute(), Xv[:, 0] - Xv[:, 1])
    got = f(Xv, wv, compute=True)
    assert isinstance(got[0], np.ndarray)


def test_dask_arguments_are_taken_as_they_are():
    x = rd.vector("x")
    f = rd.function([x], rd.grad(rd.sum(rd.sqr(x)), x), backend="dask", compute=True)
    xv = da.from_array(np.arange(6.0), chunks=2)
    np.testing.assert_array_equal(f(xv), 2 * np.arange(6.0))


def _check_on(client_fn):
    """W1 and W2 gradients on dask (chunked rows) against the hand-written numpy references."""
    ins1, outs1 = cases.rd_w1(rd, None)
    data1 = cases.logreg_data(400, 8)
    f1 = rd.function(ins1, outs1, backend="dask", chunks=100)
    (g1,) = client_fn(f1(*data1))
    np.testing.assert_allclose(g1, hand.logreg_grad(*data1)[0], rtol=1e-12)
    ins2, outs2 = cases.rd_w2(rd, "log_softmax")
    data2 = cases.mlp_data(64, n_in=20, n_hidden=16, n_out=5)
    f2 = rd.function(ins2, outs2, backend="dask", chunks=16)
    got = client_fn(f2(*data2))
    for g, w in zip(got, hand.mlp_grads(*data2)):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-13)


def test_w1_w2_gradients_on_a_local_threaded_scheduler():
    import dask

    _check_on(lambda outs: dask.compute(*outs, scheduler="threads"))


def test_w1_w2_gradients_on_a_distributed_cluster_of_two_processes():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            assert len(client.scheduler_info()["workers"]) == 2
            _check_on(lambda outs: client.compute(outs, sync=True))


def test_out_of_core_benchmark_agrees_with_numpy(tmp_path, capsys):
    from benchmarks import dask_memory

    path = tmp_path / "X.npy"
    assert dask_memory.main(["--rows", "3000", "--cols", "7", "--chunk", "700", "--fit-rows", "1000", "--path", str(path)]) == 0
    X = np.load(path)
    assert X.shape == (3000, 7)
    rows = [line.split("|") for line in capsys.readouterr().out.splitlines()[2:]]
    norms = {(r[1].strip(), r[2].strip()): float(r[7]) for r in rows}
    y, w = dask_memory._labels_and_weights(1000, 7)
    want = np.linalg.norm(hand.logreg_grad(X[:1000], y, w)[0])
    assert norms[("dask", "1000 x 7")] == pytest.approx(want, rel=1e-10)
    assert norms[("numpy", "1000 x 7")] == pytest.approx(want, rel=1e-10)
    y, w = dask_memory._labels_and_weights(3000, 7)
    assert norms[("dask", "3000 x 7")] == pytest.approx(np.linalg.norm(hand.logreg_grad(X, y, w)[0]), rel=1e-10)
