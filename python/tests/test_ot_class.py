"""reglab.ot.class_ot: class-based OT with a group lasso over the source classes, checked
against an independent conic solver (cvxpy with Clarabel, where installed), exact OT (POT's
emd) in the cases where the problem reduces to it, its own duality certificate, and POT's
entropic version ``ot.da.sinkhorn_l1l2_gl`` as its entropy goes to 0.

Tolerances: the solutions are not unique (the problem is convex, not strictly), so objectives
are compared, not plans. Ours stops at a relative duality gap of 1e-7 with marginals met to 1e-9
(relative); Clarabel's solutions meet the constraints to about 1e-8. With costs in [0, 1] and
unit mass the two objectives therefore agree to about 1e-7 (measured: 5e-9), and the certified
lower bound ``dual_bound`` must not exceed the conic solver's value by more than its feasibility
error (1e-8).
"""

import numpy as np
import ot
import pytest

import reglab.ot


def problem(n, m, seed, classes=3):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((n, 2)), rng.standard_normal((m, 2)) + 0.5
    a, b = rng.random(n) + 0.1, rng.random(m) + 0.1
    M = ot.dist(x, y)
    return a / a.sum(), b / b.sum(), M / M.max(), rng.integers(0, classes, n)


def group_lasso(T, labels):
    return sum(np.linalg.norm(T[labels == c], axis=0).sum() for c in np.unique(labels))


def objective(T, M, labels, reg):
    return float((M * T).sum() + reg * group_lasso(T, labels))


@pytest.mark.parametrize("n, m, seed", [(9, 7, 1), (12, 15, 2), (30, 20, 3)])
@pytest.mark.parametrize("reg", [0.05, 0.3, 1.0])
def test_matches_a_conic_solver(n, m, seed, reg):
    cp = pytest.importorskip("cvxpy")
    a, b, M, labels = problem(n, m, seed)
    T, log = reglab.ot.class_ot(a, labels, b, M, reg, log=True)
    assert log["converged"]

    X = cp.Variable((n, m), nonneg=True)
    norms = sum(cp.sum(cp.norm(X[labels == c, :], 2, axis=0)) for c in np.unique(labels))
    prob = cp.Problem(cp.Minimize(cp.sum(cp.multiply(M, X)) + reg * norms), [cp.sum(X, axis=1) == a, cp.sum(X, axis=0) == b])
    prob.solve(solver=cp.CLARABEL)
    assert prob.status == "optimal"

    assert abs(log["loss"][0] - prob.value) <= 1e-7
    assert log["dual_bound"] <= prob.value + 1e-8, "the certified lower bound is below the optimum"
    assert objective(T, M, labels, reg) == pytest.approx(log["loss"][0], rel=1e-12)


@pytest.mark.parametrize("n, m, seed", [(9, 7, 1), (30, 20, 3)])
def test_certificate_marginals_and_log(n, m, seed):
    a, b, M, labels = problem(n, m, seed)
    reg = 0.3
    T, log = reglab.ot.class_ot(a, labels, b, M, reg, log=True)
    assert T.shape == (n, m) and T.dtype == np.float64 and np.all(T >= 0)
    assert set(log) == {"loss", "cost", "regularizer", "dual_bound", "gap", "err", "niter", "converged", "classes_per_column"}
    assert log["converged"] and isinstance(log["niter"], int) and 0 < log["niter"] <= 100_000
    # the marginals, relative error ≤ stopThr = 1e-9
    err = np.abs(T.sum(axis=1) - a).sum() + np.abs(T.sum(axis=0) - b).sum()
    assert err <= 1e-9 and log["err"][0] == pytest.approx(err, rel=1e-6, abs=1e-15)
    # the values, recomputed
    assert log["cost"] == pytest.approx(float((M * T).sum()), rel=1e-12)
    assert log["regularizer"] == pytest.approx(group_lasso(T, labels), rel=1e-12)
    assert log["loss"] == [pytest.approx(log["cost"] + reg * log["regularizer"], rel=1e-14)]
    # the certificate: a lower bound, the gap within gapThr · (Σa · max|M| + |F|)
    assert 0 <= log["gap"] == pytest.approx(log["loss"][0] - log["dual_bound"])
    assert log["gap"] <= 1e-7 * (1.0 + log["loss"][0])
    # classes per column, from the plan
    per_column = [sum(np.linalg.norm(T[labels == c, j]) > 1e-9 for c in np.unique(labels)) for j in range(m)]
    np.testing.assert_array_equal(log["classes_per_column"], per_column)


@pytest.mark.parametrize("n, m, seed", [(9, 7, 1), (30, 20, 3)])
def test_zero_reg_and_singleton_classes_are_exact_ot(n, m, seed):
    a, b, M, labels = problem(n, m, seed)
    exact = ot.emd2(a, b, M)
    T, log = reglab.ot.class_ot(a, labels, b, M, 0.0, log=True)
    assert log["converged"] and abs(log["cost"] - exact) <= 1e-7
    # one class per point: R(T) = Σ T = 1 for every plan, so the plan is an exact OT plan
    T, log = reglab.ot.class_ot(a, np.arange(n), b, M, 0.5, log=True)
    assert log["converged"] and abs(log["cost"] - exact) <= 1e-7
    assert log["regularizer"] == pytest.approx(1.0, abs=1e-8)


def test_pots_entropic_version_approaches_it():
    # POT's sinkhorn_l1l2_gl minimizes ⟨M,T⟩ + reg_e Σ T log T + eta R(T). Its plans are
    # (nearly) feasible, so their class-OT objective F lies above our certified bound, and by
    # optimality F(T_e) − F* ≤ reg_e (H(T*) − H(T_e)) ≤ reg_e log(nm); it shrinks with reg_e.
    a, b, M, labels = problem(12, 15, 2)
    eta = 0.3
    _, log = reglab.ot.class_ot(a, labels, b, M, eta, log=True)
    gaps = []
    for reg_e in (1e-1, 1e-2, 3e-3):
        G = ot.da.sinkhorn_l1l2_gl(a, labels, b, M, reg_e, eta=eta, numItermax=500, numInnerItermax=5000, stopInnerThr=1e-12)
        assert np.abs(G.sum(axis=0) - b).sum() < 1e-8
        F = objective(G, M, labels, eta)
        assert F >= log["dual_bound"] - 1e-8
        assert F - log["loss"][0] <= reg_e * np.log(12 * 15)
        gaps.append(F - log["loss"][0])
    assert gaps[0] > gaps[1] > gaps[2] > 0 and gaps[2] < 1e-3


def test_larger_reg_serves_each_target_from_fewer_classes():
    a, b, M, labels = problem(30, 20, 3, classes=4)
    counts = [reglab.ot.class_ot(a, labels, b, M, reg, log=True)[1]["classes_per_column"].sum() for reg in (0.0, 0.1, 1.0)]
    assert counts[0] > counts[1] >= counts[2] >= 20


def test_labels_are_a_partition():
    a, b, M, labels = problem(9, 7, 1)
    T = reglab.ot.class_ot(a, labels, b, M, 0.3)
    # other values for the same classes: the same computation
    assert np.array_equal(reglab.ot.class_ot(a, 10 * labels + 7, b, M, 0.3), T)
    assert np.array_equal(reglab.ot.class_ot(a, (2 - labels).astype(np.uint8), b, M, 0.3), T)
    assert np.array_equal(reglab.ot.class_ot(a, labels.astype(float), b, M, 0.3), T)
    assert np.array_equal(reglab.ot.class_ot(a, labels.tolist(), b, M, 0.3), T)
    assert reglab.ot.class_ot(a, labels, b, M.astype(np.float32), 0.3).dtype == np.float32


def test_not_converged_warns():
    a, b, M, labels = problem(9, 7, 1)
    with pytest.warns(UserWarning, match="did not converge"):
        reglab.ot.class_ot(a, labels, b, M, 0.3, numItermax=5)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, log = reglab.ot.class_ot(a, labels, b, M, 0.3, numItermax=5, warn=False, log=True)
    assert not log["converged"] and log["niter"] == 5
